/**
 * The NATS path through the real entrypoints, against a nats-server started
 * for the run (file storage, one replica):
 *
 * - latency: `serve --nats --no-ipc --rate 10000` → one durable
 *   `live --nats`; live's one-way latency from ts_recv to its callback;
 * - throughput and fan-out: `serve --nats --no-ipc` alone, then with 4
 *   durable `live` consumers reading while it publishes, at full speed and
 *   paced at 200k trades/s; serve's rate (published and acknowledged) and
 *   the consumers' rates. On 2 cores, full speed measures CPU sharing between
 *   6 processes more than NATS; the paced rows show whether fan-out slows a
 *   publisher that the machine can serve.
 *
 *   deno run --allow-read --allow-write --allow-run --allow-env --allow-net=127.0.0.1,localhost bench/nats_path.ts [--quick] [--latency-only] [--split] [--rounds N]
 *
 * `--latency-only` skips the throughput and fan-out rounds; `--rounds N`
 * sets the rounds (default 3, 2 with `--quick`); `--split` adds as many
 * latency rounds with bench/_nats_latency_probe.ts in place of `live`, which
 * split the latency at the server's store time: publish → stored and stored
 * → callback.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startNatsServer } from "../tests/nats_server.ts";
import { formatNanos, formatRate } from "../common/runtime/format.ts";
import { lastJson, median, serveRate, spread, startRole } from "./_process.ts";
import type { LatencySplit } from "./_nats_latency_probe.ts";

/** The paced fan-out check: a rate the 2-core machine can also consume 4 times over. */
const PACED_RATE = 200_000;

interface Summary {
  received: number;
  gaps: number;
  lost: number;
  ratePerSecond: number;
  latencyNs: { p50: number; p99: number };
}

async function writeConfig(dir: string, url: string, round: string) {
  const path = `${dir}/${round}.toml`;
  await Deno.writeTextFile(
    path,
    `[data_manager]
symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
[transport.ipc]
enabled = false
[transport.nats]
servers = ["${url}"]
[transport.nats.jetstream]
stream_name = "BENCH_${round}"
subject_prefix = "bench${round}"
max_age = "0"
max_msgs_per_subject = -1
[data_source]
type = "nats"
symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
[data_source.nats]
stream_name = "BENCH_${round}"
subject_prefix = "bench${round}"
[data_source.nats.connection]
servers = ["${url}"]
[log]
progress_interval = "0"
`,
  );
  return path;
}

async function serve(config: string, args: string[]): Promise<number> {
  const role = startRole("data_manager/main.ts", [
    "--config",
    config,
    "--nats",
    ...args,
  ]);
  const output = await role.done;
  if (!(await role.child.status).success) {
    throw new Error(`serve failed:\n${output}`);
  }
  return serveRate(output);
}

function live(config: string, durable: string, args: string[]) {
  return startRole("trading_core/main.ts", [
    "--config",
    config,
    "--durable",
    durable,
    "--summary-json",
    ...args,
  ]);
}

/** One trade creates the stream, so consumers with deliver "new" can attach first. */
async function createStream(config: string): Promise<void> {
  await serve(config, ["--max-trades", "3", "--rate", "0"]);
}

async function latencyRound(config: string, trades: number) {
  await createStream(config);
  const consumer = live(config, "latency", [
    "--deliver",
    "new",
    "--max-trades",
    String(trades),
  ]);
  await consumer.until("NATS consumer: connected");
  await new Promise((resolve) => setTimeout(resolve, 300)); // consumer created
  await serve(config, ["--rate", "10000", "--max-trades", String(trades)]);
  const summary = lastJson<Summary>(await consumer.done);
  return summary;
}

const PROBE = new URL("./_nats_latency_probe.ts", import.meta.url).pathname;

/**
 * A latency round with bench/_nats_latency_probe.ts in place of `live`:
 * the latency split at the server's store time.
 */
async function splitRound(
  config: string,
  target: { url: string; stream: string; trades: number },
): Promise<LatencySplit> {
  await createStream(config);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1,localhost",
      "--allow-ffi",
      "--allow-env",
      "--allow-read",
      PROBE,
      target.url,
      target.stream,
      String(target.trades),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const ready = Promise.withResolvers<void>();
  const output = (async () => {
    let text = "";
    for await (
      const chunk of child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      text += chunk;
      if (text.startsWith("ready\n")) ready.resolve();
    }
    ready.reject(new Error(`the latency probe exited:\n${text}`));
    return text;
  })();
  await ready.promise;
  await serve(config, [
    "--rate",
    "10000",
    "--max-trades",
    String(target.trades),
  ]);
  const text = await output;
  if (!(await child.status).success) {
    throw new Error(`the latency probe failed:\n${text}`);
  }
  return lastJson<LatencySplit>(text);
}

async function fanOutRound(
  config: string,
  options: { trades: number; readers: number; rate: number },
) {
  const { trades, readers, rate } = options;
  await createStream(config);
  const consumers = Array.from(
    { length: readers },
    (_, i) =>
      live(config, `fan${i}`, [
        "--deliver",
        "new",
        "--max-trades",
        String(trades),
      ]),
  );
  for (const consumer of consumers) {
    await consumer.until("NATS consumer: connected");
  }
  if (readers > 0) await new Promise((resolve) => setTimeout(resolve, 300));
  const published = await serve(config, [
    "--rate",
    String(rate),
    "--max-trades",
    String(trades),
  ]);
  const summaries = await Promise.all(
    consumers.map(async (consumer) => lastJson<Summary>(await consumer.done)),
  );
  return { published, summaries };
}

/** The throughput and fan-out rounds, with their medians. */
async function fanOutRounds(
  dir: string,
  url: string,
  options: { rounds: number; trades: number },
): Promise<void> {
  const { rounds, trades: bulkTrades } = options;
  const rates: Record<string, number[]> = {};
  const readRates: number[] = [];
  for (let i = 0; i < rounds; i++) {
    for (const rate of [0, PACED_RATE]) {
      for (const readers of [0, 4]) {
        const { published, summaries } = await fanOutRound(
          await writeConfig(dir, url, `F${i}_${rate}_${readers}`),
          { trades: bulkTrades, readers, rate },
        );
        (rates[`${rate}/${readers}`] ??= []).push(published);
        if (rate === 0) {
          for (const s of summaries) readRates.push(s.ratePerSecond);
        }
        console.log(
          `  round ${i + 1}, offered ${
            rate === 0 ? "full speed" : formatRate(rate)
          }, ${readers} consumers: serve ${formatRate(published)}${
            summaries.map((s) =>
              `, consumer ${
                formatRate(s.ratePerSecond)
              } (received ${s.received}, gaps ${s.gaps})`
            ).join("")
          }`,
        );
      }
    }
  }
  for (const rate of [0, PACED_RATE]) {
    const alone = rates[`${rate}/0`];
    const four = rates[`${rate}/4`];
    const slowdown = (1 - median(four) / median(alone)) * 100;
    console.log(
      `median serve → stream, offered ${
        rate === 0 ? "full speed" : formatRate(rate)
      }: alone ${spread(alone, formatRate)}, with 4 durable consumers ${
        spread(four, formatRate)
      }, slowdown ${slowdown.toFixed(0)}%`,
    );
  }
  console.log(
    `median durable consumer rate: ${spread(readRates, formatRate)}`,
  );
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean" },
      "latency-only": { type: "boolean" },
      split: { type: "boolean" },
      rounds: { type: "string" },
    },
  });
  const rounds = values.rounds === undefined
    ? values.quick ? 2 : 3
    : Number(values.rounds);
  if (!(Number.isSafeInteger(rounds) && rounds >= 1)) {
    console.error(
      `Invalid --rounds ${
        JSON.stringify(values.rounds)
      }: expected an integer >= 1`,
    );
    Deno.exit(2);
  }
  const latencyTrades = values.quick ? 20_000 : 50_000;
  const bulkTrades = values.quick ? 500_000 : 2_000_000;
  await using server = await startNatsServer();
  const dir = await Deno.makeTempDir({ prefix: "marketbus_nats_path_" });
  try {
    console.log(
      `NATS path: nats-server ${server.url}, file storage, R1, 3 symbols, ${rounds} rounds`,
    );
    const p50: number[] = [];
    const p99: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const summary = await latencyRound(
        await writeConfig(dir, server.url, `L${i}`),
        latencyTrades,
      );
      p50.push(summary.latencyNs.p50);
      p99.push(summary.latencyNs.p99);
      console.log(
        `  latency round ${
          i + 1
        }: received ${summary.received}, gaps ${summary.gaps}, p50 ${
          formatNanos(summary.latencyNs.p50)
        }, p99 ${formatNanos(summary.latencyNs.p99)}`,
      );
    }
    console.log(
      `median latency at 10k trades/s: p50 ${spread(p50, formatNanos)}, p99 ${
        spread(p99, formatNanos)
      }`,
    );
    for (let i = 0; values.split && i < rounds; i++) {
      const split = await splitRound(
        await writeConfig(dir, server.url, `S${i}`),
        { url: server.url, stream: `BENCH_S${i}`, trades: latencyTrades },
      );
      const show = ({ p50, p99 }: { p50: number; p99: number }) =>
        `p50 ${formatNanos(p50)} p99 ${formatNanos(p99)}`;
      console.log(
        `  latency split round ${i + 1}: total ${
          show(split.total)
        }; publish → stored ${show(split.toStored)}; stored → callback ${
          show(split.storedToCallback)
        }; ${split.tradesPerMessage.toFixed(2)} trades per message`,
      );
    }
    if (!values["latency-only"]) {
      await fanOutRounds(dir, server.url, { rounds, trades: bulkTrades });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
