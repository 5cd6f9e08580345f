/**
 * Backtest throughput end to end (read, merge, bars, strategy, broker): a
 * seeded 3-symbol recording (tests/_recording.ts) of 1,000,000 and
 * 5,000,000 trades is written under `data/` (the task reads only there),
 * then `deno task backtest --strategy strategies/ma_crossover.ts --data DIR
 * --out DIR` runs over it, the sizes in interleaved rounds. Prints per
 * round and as median (min – max): trades/s (trades / the process's wall
 * time, start-up included) and peak RSS (of the role, as GNU time reports
 * it: the task's command line is run directly, under /usr/bin/time). Goal (issue 18): ≥ 2 M trades/s over 5 M trades,
 * memory flat in the input size.
 *
 *   deno run --allow-read --allow-write --allow-run bench/backtest.ts [--rounds 3] [--format csv|ndjson] [--sizes 1000000,5000000] [--root DIR]
 *
 * `--root` runs the backtest of another checkout (its `deno task backtest`).
 * Without a backtest task in that deno.json (the backtest role comes with
 * branch i18-backtest) it says so and exits 0, so `deno task bench` goes on.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { median, spread } from "./_process.ts";
import { writeRecording } from "../tests/_recording.ts";

/** One backtest run: its rate and peak memory. */
interface Round {
  trades: number;
  seconds: number;
  peakRssMb: number;
}

/**
 * `deno task backtest`'s command line in `root`'s deno.json, as arguments of
 * `deno` (run directly, so that the child is the role and its memory is its
 * own); undefined when there is no such task.
 */
async function taskArgs(root: string): Promise<string[] | undefined> {
  const config = JSON.parse(await Deno.readTextFile(`${root}/deno.json`));
  const task = config.tasks?.backtest;
  const command: string = typeof task === "string" ? task : task?.command;
  if (!command?.startsWith("deno ")) return undefined;
  return command.slice("deno ".length).split(" ");
}

/** Runs the backtest task over `data` once. */
async function run(
  root: string,
  task: string[],
  data: string,
  out: string,
  trades: number,
): Promise<Round> {
  const started = performance.now();
  // GNU time reports the child's peak RSS (/proc/<pid>/status would need --allow-all).
  const child = new Deno.Command("/usr/bin/time", {
    args: [
      "-f",
      "maxrss %M",
      Deno.execPath(),
      ...task,
      "--strategy",
      "strategies/ma_crossover.ts",
      "--data",
      data,
      "--out",
      out,
    ],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = await child.output();
  const seconds = (performance.now() - started) / 1000;
  const stderr = new TextDecoder().decode(output.stderr);
  if (!output.success) {
    throw new Error(`backtest exited ${output.code}: ${stderr}`);
  }
  const kb = /maxrss (\d+)/.exec(stderr)?.[1];
  if (kb === undefined) {
    throw new Error(`no peak RSS from /usr/bin/time: ${stderr}`);
  }
  const peak = Number(kb) / 1024;
  const summary = JSON.parse(await Deno.readTextFile(`${out}/summary.json`));
  if (summary.trades !== trades) {
    throw new Error(
      `backtest processed ${summary.trades} trades, expected ${trades}`,
    );
  }
  return { trades, seconds, peakRssMb: peak };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rounds: { type: "string", default: "3" },
      format: { type: "string", default: "csv" },
      sizes: { type: "string", default: "1000000,5000000" },
      root: {
        type: "string",
        default: new URL("..", import.meta.url).pathname,
      },
    },
  });
  const rounds = Number(values.rounds);
  const format = values.format as "csv" | "ndjson";
  const sizes = values.sizes.split(",").map(Number);
  const root = values.root;
  const base = `${root}/data/bench_backtest_${Deno.pid}`;
  const task = await taskArgs(root);
  if (task === undefined) {
    // On a branch without the backtest role: `deno task bench` goes on.
    console.log(
      `backtest: skipped: ${
        root.replace(/\/$/, "")
      }/deno.json has no "deno …" backtest task (it comes with trading_core/backtest, branch i18-backtest); run it where that is merged, or pass --root of such a checkout`,
    );
    Deno.exit(0);
  }
  const rate = (r: Round) => r.trades / r.seconds;
  const m = (value: number) => `${(value / 1e6).toFixed(2)} M/s`;
  try {
    const dirs = new Map<number, string>();
    for (const size of sizes) {
      const dir = `${base}/${format}_${size}`;
      await Deno.mkdir(dir, { recursive: true });
      const files = await writeRecording(dir, {
        trades: size,
        format,
        seed: 1,
      });
      let bytes = 0;
      for (const file of files) bytes += (await Deno.stat(file)).size;
      console.log(
        `backtest: ${
          size.toLocaleString("en-US")
        } trades of 3 symbols as ${files.length} ${format} file(s), ${
          (bytes / 1e6).toFixed(0)
        } MB`,
      );
      dirs.set(size, dir);
    }
    const results = new Map<number, Round[]>(sizes.map((size) => [size, []]));
    for (let i = 0; i < rounds; i++) {
      for (const size of sizes) {
        const result = await run(
          root,
          task,
          dirs.get(size)!,
          `${base}/out_${size}`,
          size,
        );
        results.get(size)!.push(result);
        console.log(
          `  round ${i + 1}, ${size.toLocaleString("en-US")} trades: ${
            m(rate(result))
          } (${result.seconds.toFixed(2)} s), peak RSS ${
            result.peakRssMb.toFixed(0)
          } MB`,
        );
      }
    }
    for (const size of sizes) {
      const list = results.get(size)!;
      console.log(
        `${size.toLocaleString("en-US")} trades: ${
          spread(list.map(rate), m)
        }, peak RSS ${
          median(list.map((r) => r.peakRssMb)).toFixed(0)
        } MB; goal ≥ 2 M/s: ${
          median(list.map(rate)) >= 2e6 ? "met" : "NOT met"
        }`,
      );
    }
  } finally {
    await Deno.remove(base, { recursive: true }).catch(() => {});
  }
}
