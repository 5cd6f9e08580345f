/**
 * Catch-up then live, the acceptance run: `serve --nats` (ring and
 * JetStream) at `--rate` trades/s over 3 symbols, `live --catch-up 1m`
 * started `--late` seconds later; live runs on for `--after` seconds once
 * every symbol caught up, then serve stops and live drains its rings.
 * Prints the trades replayed from JetStream, the time to caught up, the
 * catch-up rate (trades delivered per second until the last switch), and
 * whether live got every trade once and in order (per symbol: received =
 * last seq, no seq break, nothing lost). `--latency` runs live with a
 * strategy (bench/_catch_up_strategy.ts) that splits the one-way latency
 * at the switch (a strategy decodes every trade: the catch-up is slower).
 *
 *   deno run --allow-read --allow-write --allow-run --allow-env --allow-net=127.0.0.1,localhost bench/catch_up.ts [--rate 100000] [--late 20] [--after 5] [--latency]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startNatsServer } from "../tests/nats_server.ts";
import { formatRate } from "../common/runtime/format.ts";
import { lastJson, startRole } from "./_process.ts";
import type { LiveSummary } from "../trading_core/live_report.ts";

const SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"];
const STRATEGY = new URL("./_catch_up_strategy.ts", import.meta.url).pathname;

const { values } = parseArgs({
  options: {
    rate: { type: "string", default: "100000" },
    late: { type: "string", default: "20" },
    after: { type: "string", default: "5" },
    latency: { type: "boolean", default: false },
  },
});
const rate = Number(values.rate);
const lateS = Number(values.late);
const afterS = Number(values.after);

/** A config for both roles: ring and NATS, a unique prefix, rings of 2^20 slots. */
async function writeConfig(dir: string, url: string): Promise<string> {
  const unique = crypto.randomUUID().slice(0, 8);
  const path = `${dir}/catch_up.toml`;
  const list = JSON.stringify(SYMBOLS);
  await Deno.writeTextFile(
    path,
    `[data_manager]
symbols = ${list}
[transport.ipc]
shm_path_prefix = "/mbbench${unique}_"
capacity = 1048576
[transport.nats]
servers = ["${url}"]
[transport.nats.jetstream]
stream_name = "CATCHUP_${unique}"
subject_prefix = "catchup${unique}"
[data_source]
type = "ipc"
symbols = ${list}
[data_source.ipc]
shm_path_prefix = "/mbbench${unique}_"
[data_source.nats]
stream_name = "CATCHUP_${unique}"
subject_prefix = "catchup${unique}"
[data_source.nats.connection]
servers = ["${url}"]
[log]
progress_interval = "2s"
`,
  );
  return path;
}

const CAUGHT =
  /(\w+): caught up in ([\d.]+) s, (\d+) trades replayed from JetStream/g;

await using server = await startNatsServer();
const dir = await Deno.makeTempDir({ prefix: "marketbus_catch_up_" });
try {
  const config = await writeConfig(dir, server.url);
  const serve = startRole("data_manager/main.ts", [
    "--config",
    config,
    "--nats",
    "--rate",
    String(rate),
  ]);
  await new Promise((resolve) => setTimeout(resolve, lateS * 1000));
  const live = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-ffi",
      "--allow-env",
      "--allow-net=127.0.0.1,localhost",
      "trading_core/main.ts",
      "--config",
      config,
      "--catch-up",
      "1m",
      "--summary-json",
      ...(values.latency ? ["--strategy", STRATEGY] : []),
    ],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Log lines go to stdout (info) and stderr (warnings); the summary is stdout's last line.
  let log = "";
  let stdout = "";
  const reading = Promise.all([
    (async () => {
      for await (
        const text of live.stderr.pipeThrough(new TextDecoderStream())
      ) log += text;
    })(),
    (async () => {
      for await (
        const text of live.stdout.pipeThrough(new TextDecoderStream())
      ) {
        stdout += text;
        log += text;
      }
    })(),
  ]);
  let served: string;
  try {
    const deadline = performance.now() + 300_000;
    while ([...log.matchAll(CAUGHT)].length < SYMBOLS.length) {
      if (performance.now() > deadline) throw new Error(`no catch-up:\n${log}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await new Promise((resolve) => setTimeout(resolve, afterS * 1000));
  } finally {
    serve.child.kill("SIGINT");
    served = await serve.done;
    await new Promise((resolve) => setTimeout(resolve, 2000)); // live drains
    live.kill("SIGINT");
    await live.status;
    await reading;
  }
  const summary = lastJson<LiveSummary>(stdout);
  const caught = [...log.matchAll(CAUGHT)];
  const replayed = caught.reduce((sum, found) => sum + Number(found[3]), 0);
  const seconds = Math.max(...caught.map((found) => Number(found[2])));
  const published = served.match(/stopped after [\d.]+s: ([\d,]+) trades/);
  // Per symbol, not in aggregate: live counts any seq other than the last + 1
  // as a break, so no break and received == lastSeq mean seq 1..lastSeq each
  // once, in order; the sum of those equal to what serve published means no
  // symbol lost its tail.
  const streams = Object.values(summary.exchanges.binance ?? {});
  const exact = streams.length === SYMBOLS.length &&
    streams.every((s) =>
      s.gaps === 0 && s.lost === 0 && s.received === s.lastSeq
    ) &&
    streams.reduce((sum, s) => sum + s.received, 0) ===
      Number(published?.[1].replaceAll(",", ""));
  console.log(
    `serve --nats ${formatRate(rate)}, live --catch-up 1m ${lateS} s late:`,
  );
  for (const found of caught) {
    console.log(
      `  ${found[1]}: caught up in ${found[2]} s, ${found[3]} trades replayed`,
    );
  }
  console.log(
    `  replayed ${replayed} trades in ${seconds} s: ${
      formatRate(replayed / seconds)
    } from JetStream while live went on`,
  );
  console.log(
    `  published ${
      published?.[1] ?? "?"
    }, received ${summary.received}, lost ${summary.lost}, seq breaks ${summary.gaps}: ${
      exact ? "every trade once, in order, per symbol" : "NOT EXACT"
    }`,
  );
  const split = log.match(/latency before the switch.*/);
  if (split) console.log(`  ${split[0]} (every 16th trade, --latency)`);
} finally {
  await Deno.remove(dir, { recursive: true });
}
