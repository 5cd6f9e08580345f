/**
 * The `deno task demo` shape, measured: `live` (three rings, one per symbol)
 * waits for them, then `serve` publishes synthetic trades at a fixed rate for
 * a few seconds; live's one-way latency (ts_recv → delivery, from its
 * `--summary-json`) and the CPU of both processes (utime + stime from
 * /proc/PID/stat over the steady part of the round) per wait strategy, in
 * interleaved rounds.
 *
 *   deno run --allow-read --allow-write --allow-run --allow-env --allow-sys=loadavg bench/demo_latency.ts \
 *     [--seconds 10] [--rounds 3] [--rate 5000] [--waits backoff,spin] [--before DIR]
 *
 * `--before DIR`: also run the roles of another checkout (e.g. the last
 * commit, from `git archive HEAD | tar -x -C DIR`) in the same rounds, to
 * compare before and after on one machine state. Figures are printed, never
 * asserted; the load average is printed with them.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { CLOCK_TICKS, cpuTicks, median, spread } from "./_process.ts";

const HERE = new URL("..", import.meta.url).pathname;
/** The permissions the role tasks grant, plus reading the temp config. */
const PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-ffi",
  "--allow-net=127.0.0.1,localhost",
];
/** Time for both roles to settle before CPU is counted, ms. */
const WARM_UP_MS = 1000;

/** One variant: a checkout and live's wait strategy. */
interface Variant {
  /** Printed name. */
  name: string;
  /** Checkout root (ends with /). */
  root: string;
  /** `--wait` of live. */
  wait: string;
}

/** What one round of a variant measured. */
interface Round {
  p50Ns: number;
  p99Ns: number;
  liveCpu: number;
  serveCpu: number;
  received: number;
  lost: number;
}

function spawn(root: string, main: string, args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, `${root}${main}`, ...args],
    cwd: root,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let seen = "";
  let notify = () => {};
  const done = (async () => {
    for await (
      const chunk of child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      seen += chunk;
      notify();
    }
    notify();
    return seen;
  })();
  const until = async (text: string) => {
    while (!seen.includes(text)) {
      const closed = await Promise.race([
        new Promise<false>((resolve) => notify = () => resolve(false)),
        done.then(() => true),
      ]);
      if (closed && !seen.includes(text)) {
        throw new Error(`${main} exited before "${text}":\n${seen}`);
      }
    }
  };
  return { child, done, until };
}

/** utime + stime of `pid`, seconds. */
function cpuSeconds(pid: number): number {
  return cpuTicks(pid) / CLOCK_TICKS;
}

async function round(
  variant: Variant,
  config: string,
  seconds: number,
  rate: number,
): Promise<Round> {
  const live = spawn(variant.root, "trading_core/main.ts", [
    "--config",
    config,
    "--summary-json",
    "--wait",
    variant.wait,
  ]);
  await live.until("waiting for ring");
  const serve = spawn(variant.root, "data_manager/main.ts", [
    "--config",
    config,
    "--rate",
    String(rate),
  ]);
  try {
    await new Promise((resolve) => setTimeout(resolve, WARM_UP_MS));
    const live0 = cpuSeconds(live.child.pid);
    const serve0 = cpuSeconds(serve.child.pid);
    const t0 = performance.now();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const live1 = cpuSeconds(live.child.pid);
    const serve1 = cpuSeconds(serve.child.pid);
    const elapsed = (performance.now() - t0) / 1000;
    serve.child.kill("SIGINT");
    await serve.child.status;
    await new Promise((resolve) => setTimeout(resolve, 200));
    live.child.kill("SIGINT");
    await live.child.status;
    const output = await live.done;
    await serve.done;
    const summary = JSON.parse(output.trim().split("\n").at(-1)!) as {
      received: number;
      lost: number;
      latencyNs: { p50: number; p99: number };
    };
    return {
      p50Ns: summary.latencyNs.p50,
      p99Ns: summary.latencyNs.p99,
      liveCpu: (live1 - live0) / elapsed,
      serveCpu: (serve1 - serve0) / elapsed,
      received: summary.received,
      lost: summary.lost,
    };
  } catch (error) {
    for (const role of [serve, live]) {
      try {
        role.child.kill("SIGKILL");
      } catch {
        // exited
      }
    }
    throw error;
  }
}

const micros = (ns: number) => `${(ns / 1000).toFixed(1)} µs`;
const percent = (share: number) => `${(share * 100).toFixed(1)} %`;

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seconds: { type: "string", default: "10" },
      rounds: { type: "string", default: "3" },
      rate: { type: "string", default: "5000" },
      waits: { type: "string", default: "backoff,spin" },
      before: { type: "string" },
    },
  });
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const rate = Number(values.rate);
  if (!(seconds > 0) || !(Number.isInteger(rounds) && rounds > 0)) {
    throw new RangeError(
      `Invalid --seconds ${values.seconds} or --rounds ${values.rounds}: expected > 0 and an integer > 0`,
    );
  }
  const trees = [{ label: "", root: HERE }];
  if (values.before !== undefined) {
    trees[0].label = "after ";
    trees.unshift({
      label: "before ",
      root: values.before.endsWith("/") ? values.before : `${values.before}/`,
    });
  }
  const variants: Variant[] = trees.flatMap((tree) =>
    values.waits.split(",").map((wait) => ({
      name: `${tree.label}${wait}`,
      root: tree.root,
      wait,
    }))
  );
  const dir = await Deno.makeTempDir({ prefix: "marketbus_demo_latency_" });
  const results = new Map<string, Round[]>(variants.map((v) => [v.name, []]));
  console.log(
    `demo shape: serve --rate ${rate} (3 symbols) → live, ${seconds} s per round (+${
      WARM_UP_MS / 1000
    } s warm-up), ${rounds} interleaved rounds; load average ${
      Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
    }`,
  );
  try {
    let n = 0;
    for (let r = 0; r < rounds; r++) {
      for (const variant of variants) {
        const prefix = `/mbdemo${Deno.pid}_${n++}_`;
        const config = `${dir}/demo.toml`;
        await Deno.writeTextFile(
          config,
          `[data_manager]
symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
[transport.ipc]
shm_path_prefix = "${prefix}"
[data_source]
symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
[data_source.ipc]
shm_path_prefix = "${prefix}"
[log]
progress_interval = "0"
`,
        );
        const result = await round(variant, config, seconds, rate);
        results.get(variant.name)!.push(result);
        console.log(
          `  round ${r + 1} ${variant.name}: p50 ${micros(result.p50Ns)} p99 ${
            micros(result.p99Ns)
          } live CPU ${percent(result.liveCpu)} serve CPU ${
            percent(result.serveCpu)
          } received ${result.received} lost ${result.lost}`,
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  console.log(
    `\n| variant | live p50 | live p99 | live CPU | serve CPU |\n|---|---|---|---|---|`,
  );
  for (const [name, list] of results) {
    const column = (pick: (r: Round) => number, f: (x: number) => string) =>
      spread(list.map(pick), f);
    console.log(
      `| ${name} | ${column((r) => r.p50Ns, micros)} | ${
        column((r) => r.p99Ns, micros)
      } | ${column((r) => r.liveCpu, percent)} | ${
        column((r) => r.serveCpu, percent)
      } |`,
    );
  }
  console.log(
    `(median (min – max) over ${rounds} rounds; lost ${
      median([...results.values()].flat().map((r) => r.lost))
    } median; load average now ${
      Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
    })`,
  );
}
