/**
 * The durable NATS consumer's read rate: a real nats-server (file storage,
 * one replica) holds a stream filled beforehand, and each round reads all of
 * it through {@linkcode NatsFeed} with a new durable consumer (deliver
 * all, AckAll acknowledgements, full record validation, one callback per
 * trade). Once with 64-record messages, once with 1-record messages.
 *
 *   deno run --allow-net=127.0.0.1,localhost --allow-read --allow-write --allow-run --allow-env bench/nats_consume.ts [--quick]
 *
 * Prints, per message size, the rate in trades/s of each round (first to
 * last trade delivered) and their median, min and max, and the consumer's
 * CPU time per message (this process, user + system, over the same span).
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager, StorageType } from "@nats-io/jetstream";
import { encodeTrades } from "../common/wire/codec.ts";
import { formatCount } from "../common/runtime/format.ts";
import { tradeSubject } from "../common/wire/subjects.ts";
import {
  Side,
  TRADE_RECORD_SIZE,
  type TradeRecord,
} from "../common/wire/trade.ts";
import { startNatsServer } from "../tests/nats_server.ts";
import { feedOptions } from "../tests/_nats_feed.ts";
import { NatsFeed } from "../common/nats/feed.ts";

const STREAM = "BENCH";
const SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"];
/** Publishes awaiting their ack at once while filling the stream. */
const PUBLISH_WINDOW = 256;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Publishes `trades` trades in messages of `perMessage` records, round-robin over the symbols, into a new stream `stream` (subjects `market.>`). */
export async function fill(
  url: string,
  trades: number,
  perMessage: number,
  stream = STREAM,
): Promise<void> {
  const nc = await connect({ servers: url, noAsyncTraces: true });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: stream,
      subjects: ["market.>"],
      storage: StorageType.File,
      num_replicas: 1,
    });
    const js = jsm.jetstream();
    const subjects = SYMBOLS.map((symbol) => tradeSubject("binance", symbol));
    const seqs = SYMBOLS.map(() => 0);
    const now = BigInt(Date.now()) * 1_000_000n;
    const record: TradeRecord = {
      side: Side.Buy,
      flags: 0,
      seq: 0,
      tsEvent: now,
      tsRecv: now,
      priceFixed: 67_123_450_000_000n,
      size: 0.01,
      tradeId: 0n,
    };
    const inFlight = new Set<Promise<unknown>>();
    for (let sent = 0, message = 0; sent < trades; message++) {
      const symbol = message % SYMBOLS.length;
      const count = Math.min(perMessage, trades - sent);
      const payload = new Uint8Array(count * TRADE_RECORD_SIZE);
      const records = Array.from({ length: count }, () => {
        const seq = seqs[symbol]++;
        return { ...record, seq, tradeId: BigInt(seq) };
      });
      encodeTrades(records, payload);
      const ack = js.publish(subjects[symbol], payload);
      inFlight.add(ack);
      ack.finally(() => inFlight.delete(ack));
      if (inFlight.size >= PUBLISH_WINDOW) await Promise.race(inFlight);
      sent += count;
    }
    await Promise.all(inFlight);
  } finally {
    await nc.close();
  }
}

/**
 * Reads the whole stream `stream` once with a new durable consumer `name`;
 * returns trades/s. When given, `cpu.microsPerTrade` is set to this
 * process's CPU time (user + system) from the first trade to the last, per
 * trade: less sensitive to a loaded machine than the rate.
 */
export async function round(
  url: string,
  trades: number,
  name: string,
  stream = STREAM,
  cpu?: { microsPerTrade: number },
): Promise<number> {
  const feed = new NatsFeed(
    feedOptions(url, { durableName: name, symbols: SYMBOLS }, {
      name: "bench-consumer",
      connectTimeoutMs: 5000,
      streamName: stream,
      subjectPrefix: "market",
    }),
  );
  let first = 0;
  let checksum = 0;
  let cpuAtFirst = process.cpuUsage();
  await feed.subscribeTrades(SYMBOLS, (trade) => {
    if (first === 0) {
      first = performance.now();
      cpuAtFirst = process.cpuUsage();
    }
    checksum += trade.seq;
  }, { limit: trades });
  const seconds = (performance.now() - first) / 1000;
  const used = process.cpuUsage(cpuAtFirst);
  if (cpu) cpu.microsPerTrade = (used.user + used.system) / trades;
  const received = feed.stats().reduce((sum, s) => sum + s.received, 0);
  if (received !== trades || checksum === 0) {
    throw new Error(`round ${name} received ${received} of ${trades} trades`);
  }
  return trades / seconds;
}

async function bench(
  trades: number,
  perMessage: number,
  rounds: number,
): Promise<void> {
  await using server = await startNatsServer();
  await fill(server.url, trades, perMessage);
  const rates: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const cpu = { microsPerTrade: 0 };
    const rate = await round(server.url, trades, `bench-${i}`, STREAM, cpu);
    rates.push(rate);
    cpus.push(cpu.microsPerTrade * perMessage);
    console.log(
      `  round ${i + 1}: ${formatCount(Math.round(rate))} trades/s, CPU ${
        (cpu.microsPerTrade * perMessage).toFixed(2)
      } µs per message`,
    );
  }
  const show = (rate: number) => formatCount(Math.round(rate));
  console.log(
    `${perMessage}-record messages, ${formatCount(trades)} trades: median ${
      show(median(rates))
    } trades/s (min ${show(Math.min(...rates))}, max ${
      show(Math.max(...rates))
    }); CPU per message: median ${median(cpus).toFixed(2)} µs`,
  );
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { quick: { type: "boolean", default: false } },
  });
  const scale = values.quick ? 0.1 : 1;
  const rounds = values.quick ? 3 : 5;
  console.log("durable NATS consumer read rate (file storage, R1)");
  await bench(Math.round(3_000_000 * scale), 64, rounds);
  await bench(Math.round(300_000 * scale), 1, rounds);
}
