/**
 * The NATS publisher's throughput and ack latency against a real nats-server
 * (started by the test harness: file storage, one replica): trades/s
 * published AND acknowledged, one message per trade (`batch_max_trades = 1`)
 * and batched (`batch_max_trades = 64`), over several rounds; and the ack
 * latency at a steady 10,000 trades/s.
 *
 *   deno run --allow-read --allow-write --allow-run --allow-env --allow-net=127.0.0.1 bench/nats_publish.ts [--rounds 5] [--quick] [--server nats://127.0.0.1:4222] [--only 1|64|paced]
 *
 * `--server` uses a running nats-server (JetStream on) instead of starting
 * one; `--only` runs one mode. Each round also reports this process's CPU
 * time (user + system) per message published, the figure least sensitive
 * to other load on the machine.
 *
 * Each round opens a fresh NatsPublisher on a fresh stream and sends trades
 * over three symbols as fast as the transport takes them (waiting for room
 * rather than dropping), from the first send until the last ack, then
 * deletes its stream. Prints every round, then the median, min and max rate
 * and the ack latency (publish → ack) p50/p99 per mode. Under full load the
 * ack latency is mostly queueing behind the in-flight window; the paced mode
 * shows it without.
 *
 * @module
 */

import { cpuUsage } from "node:process";
import { setImmediate } from "node:timers";
import { jetstreamManager } from "@nats-io/jetstream";
import { parseArgs } from "node:util";
import { encodeTrade } from "../common/wire/codec.ts";
import { parseConfig } from "../common/config/mod.ts";
import {
  formatCount,
  formatNanos,
  formatRate,
} from "../common/runtime/format.ts";
import { createLogger } from "../common/runtime/log.ts";
import { RecordOffset } from "../common/wire/record.ts";
import { Side, TRADE_RECORD_SIZE } from "../common/wire/trade.ts";
import { connectClient } from "../common/nats/connection.ts";
import { NatsPublisher } from "../common/nats/publisher.ts";
import { startNatsServer } from "../tests/nats_server.ts";

const SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"];
/**
 * The publisher's queue here: the producer waits for room below half of it,
 * so it stays a few windows (256 messages of up to 64 trades) ahead, as a
 * live feed does when NATS keeps up. With the default (1,000,000) it ran
 * 500,000 trades ahead: 24 MB of queue written and read back out of cache,
 * ~40% of the publisher's CPU in the 64-trade mode.
 */
const BENCH_QUEUE_TRADES = 65_536;
/** Trades sent between two turns of the event loop. */
const CHUNK = 1024;

/** One publishing mode: trades per message, how many trades, and pacing. */
export interface Mode {
  batchMaxTrades: number;
  trades: number;
  /** Trades per second; 0 = as fast as the transport takes them. */
  rate: number;
  /** The issue's target rate, if any. */
  target?: number;
}

/** What one round measured. */
export interface Round {
  rate: number;
  messages: number;
  p50: number;
  p99: number;
  /** This process's CPU time per message, µs. */
  cpuPerMessage: number;
  /** The share of it in the kernel (system time). */
  systemShare: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
}

function label(mode: Mode): string {
  return `batch_max_trades ${mode.batchMaxTrades}${
    mode.rate > 0 ? ` at ${formatRate(mode.rate)}` : ""
  }`;
}

/** Trades the stream acknowledged so far, over every symbol. */
function acknowledged(transport: NatsPublisher): number {
  let sum = 0;
  for (const trades of transport.sentPerSymbol()) sum += trades;
  return sum;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** One round on a fresh stream `BENCH_<batch>_<index>` (deleted afterwards); `index` must be unique per server. */
export async function round(
  url: string,
  mode: Mode,
  index: number,
): Promise<Round> {
  const base = parseConfig(undefined).transport.nats;
  const stream = `BENCH_${mode.batchMaxTrades}_${index}`;
  const transport = await NatsPublisher.open(SYMBOLS, {
    exchange: "binance",
    config: {
      ...base,
      servers: [url],
      jetstream: {
        ...base.jetstream,
        streamName: stream,
        subjectPrefix: `bench${mode.batchMaxTrades}r${index}`,
      },
      publish: {
        ...base.publish,
        batchMaxTrades: mode.batchMaxTrades,
        queueMaxTrades: BENCH_QUEUE_TRADES,
      },
    },
    log: createLogger("bench", "warn"),
  });
  while (!transport.ready()) await turn();
  const record = new Uint8Array(TRADE_RECORD_SIZE);
  encodeTrade({
    side: Side.Buy,
    flags: 0,
    seq: 0,
    tsEvent: 1_764_000_000_000_000_000n,
    tsRecv: 1_764_000_000_000_000_000n,
    priceFixed: 67_123_450_000_000n,
    size: 0.5,
    tradeId: 0n,
  }, record);
  const view = new DataView(record.buffer);
  const cpuBefore = cpuUsage();
  const started = performance.now();
  for (let i = 0; i < mode.trades; i++) {
    view.setUint32(RecordOffset.Seq, i + 1, true);
    view.setUint32(RecordOffset.TradeId, i + 1, true); // ids stay below 2^32
    transport.send(i % SYMBOLS.length, record);
    if (mode.rate > 0) {
      const due = started + ((i + 1) / mode.rate) * 1000;
      while (performance.now() < due) await turn();
    } else if (i % CHUNK === CHUNK - 1) {
      await (transport.room() ?? turn());
    }
  }
  // Acknowledged so far: sentPerSymbol() is a few additions, where stats()
  // also summarises the ack latency histogram (four scans of its buckets),
  // which at every turn took ~7% of this process's CPU from the publisher.
  // Checked every millisecond, not at every turn of the event loop: a loop
  // of setImmediate spun the publisher's thread at 100% the whole time the
  // queue drained (most of a round), ~15% of the profile and CPU taken from
  // nats-server, where Go's bench waits for its acks idle.
  while (acknowledged(transport) < mode.trades) await delay(1);
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuUsage(cpuBefore);
  const stats = transport.stats();
  await transport.close();
  const nc = await connectClient({ servers: url, noAsyncTraces: true });
  await (await jetstreamManager(nc)).streams.delete(stream);
  await nc.close();
  if (stats.dropped > 0 || stats.publishErrors > 0) {
    throw new Error(
      `round lost trades: ${stats.dropped} dropped, ${stats.publishErrors} rejected messages`,
    );
  }
  return {
    rate: mode.trades / seconds,
    messages: stats.messagesSent,
    p50: stats.ackLatency.p50,
    p99: stats.ackLatency.p99,
    cpuPerMessage: (cpu.user + cpu.system) / stats.messagesSent,
    systemShare: cpu.system / (cpu.user + cpu.system),
  };
}

/** Runs the modes `only` names (all when undefined), `rounds` each, against `url`, printing every round and a summary per mode. */
async function run(
  url: string,
  options: { rounds: number; quick: boolean; only: string | undefined },
): Promise<void> {
  const scale = options.quick ? 0.1 : 1;
  const modes: (Mode & { name: string })[] = [
    {
      name: "1",
      batchMaxTrades: 1,
      trades: 300_000 * scale,
      rate: 0,
      target: 60_000,
    },
    {
      name: "64",
      batchMaxTrades: 64,
      trades: 5_000_000 * scale,
      rate: 0,
      target: 1_000_000,
    },
    { name: "paced", batchMaxTrades: 64, trades: 30_000 * scale, rate: 10_000 },
  ];
  // round indices unique per server and run, as a shared server may hold earlier ones
  const base = Date.now() % 1_000_000;
  for (const mode of modes) {
    if (options.only !== undefined && options.only !== mode.name) continue;
    const results: Round[] = [];
    for (let i = 0; i < options.rounds; i++) {
      const result = await round(url, mode, base + i);
      results.push(result);
      console.log(
        `  ${label(mode)}, round ${i + 1}: trades ${formatRate(result.rate)} (${
          formatCount(mode.trades)
        } in ${formatCount(result.messages)} msgs), ${
          result.cpuPerMessage.toFixed(2)
        } µs CPU/msg (${
          (result.systemShare * 100).toFixed(0)
        }% system), ack p50 ${formatNanos(result.p50)} p99 ${
          formatNanos(result.p99)
        }`,
      );
    }
    const rates = results.map((r) => r.rate);
    const med = median(rates);
    const verdict = mode.target === undefined
      ? ""
      : `; target ≥ ${formatRate(mode.target)}: ${
        med >= mode.target ? "met" : "NOT met"
      }`;
    console.log(
      `${label(mode)}: trades published and acked ${
        formatRate(med)
      } median (min ${formatRate(Math.min(...rates))}, max ${
        formatRate(Math.max(...rates))
      }); ${
        median(results.map((r) => r.cpuPerMessage)).toFixed(2)
      } µs CPU/msg; ack p50 ${
        formatNanos(median(results.map((r) => r.p50)))
      } p99 ${formatNanos(median(results.map((r) => r.p99)))}${verdict}`,
    );
  }
}

if (import.meta.main) {
  const args = parseArgs({
    args: Deno.args,
    options: {
      rounds: { type: "string", default: "5" },
      quick: { type: "boolean", default: false },
      server: { type: "string" },
      only: { type: "string" },
    },
  });
  const rounds = Number(args.values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new RangeError(
      `Invalid --rounds ${args.values.rounds}: expected an integer ≥ 1`,
    );
  }
  const { only, quick, server } = args.values;
  if (only !== undefined && !["1", "64", "paced"].includes(only)) {
    throw new RangeError(
      `Invalid --only ${JSON.stringify(only)}: expected 1, 64 or paced`,
    );
  }
  const options = { rounds, quick, only };
  if (server !== undefined) {
    console.log(`nats-server ${server}; ${SYMBOLS.length} symbols`);
    await run(server, options);
  } else {
    await using started = await startNatsServer();
    console.log(
      `nats-server ${started.url}, file storage, R1; ${SYMBOLS.length} symbols`,
    );
    await run(started.url, options);
  }
}
