/**
 * `stream_per_exchange` against one stream, on a 3-node JetStream cluster
 * (nats-server processes from tests/nats_server.ts on loopback, R3 file
 * streams): the total publish throughput of 3 exchanges (one
 * {@linkcode NatsPublisher} each, 3 symbols, `batch_max_trades` 64, as
 * `serve` publishes) into one stream `{S}` against 3 streams `{S}_{EXCHANGE}`
 * whose leaders are spread over the 3 nodes (moved with
 * `$JS.API.STREAM.LEADER.STEPDOWN` and a preferred node when two share one).
 *
 *   deno run --allow-read --allow-write --allow-run --allow-env --allow-net=127.0.0.1,localhost bench/stream_per_exchange.ts [--rounds 5] [--trades 1000000]
 *
 * Publisher `k` is given node `k`'s URL only, so it connects there (nats.js
 * shuffles a list of several unless `noRandomize`; a list of one leaves no
 * choice). One warm-up round of each mode is run first and not counted.
 * Rounds interleave the two modes (the order alternates), each on fresh
 * streams of one cluster, deleted after; a round counts from the first send
 * until the last ack of every publisher. Prints every round with where the
 * leaders sat (stream info `cluster.leader`: where the cluster placed them,
 * after the moves, and again after the round); a per-exchange round whose
 * leaders were not on 3 different nodes before and after is reported as not
 * spread and left out of the medians. Then the medians and their ratio.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { parseArgs } from "node:util";
import type { NatsConnection } from "@nats-io/nats-core";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { parseConfig } from "../common/config/mod.ts";
import { connectClient } from "../common/nats/connection.ts";
import { NatsPublisher } from "../common/nats/publisher.ts";
import { formatRate } from "../common/runtime/format.ts";
import { createLogger } from "../common/runtime/log.ts";
import { encodeTrade } from "../common/wire/codec.ts";
import { RecordOffset } from "../common/wire/record.ts";
import { exchangeStreamName } from "../common/wire/subjects.ts";
import { Side, TRADE_RECORD_SIZE } from "../common/wire/trade.ts";
import { type NatsCluster, startNatsCluster } from "../tests/nats_server.ts";

const EXCHANGES = ["binance", "kraken", "coinbase"];
const SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"];
/** Trades sent between two turns of the event loop. */
const CHUNK = 1024;
type Mode = "one stream" | "stream per exchange";

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
}

function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The node (index) leading `stream`, from its info's `cluster.leader`. */
async function leaderOf(
  jsm: JetStreamManager,
  cluster: NatsCluster,
  stream: string,
): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const leader = (await jsm.streams.info(stream)).cluster?.leader;
    const at = cluster.servers.findIndex((node) => node.name === leader);
    if (at >= 0) return at;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`stream ${stream} has no leader after 10 s`);
}

/** Moves the leaders of `streams` so stream `k` is led by node `k`. */
async function spreadLeaders(
  nc: NatsConnection,
  cluster: NatsCluster,
  streams: string[],
): Promise<{ placed: number[]; leaders: number[] }> {
  const jsm = await jetstreamManager(nc);
  const placed: number[] = [];
  const leaders: number[] = [];
  for (const [k, stream] of streams.entries()) {
    let at = await leaderOf(jsm, cluster, stream);
    placed.push(at);
    for (let tries = 0; at !== k && tries < 10; tries++) {
      const preferred = cluster.servers[k].name;
      await nc.request(
        `$JS.API.STREAM.LEADER.STEPDOWN.${stream}`,
        JSON.stringify({ placement: { preferred } }),
        { timeout: 5000 },
      ).catch(() => {}); // a failed step-down is retried below
      await new Promise((resolve) => setTimeout(resolve, 300));
      at = await leaderOf(jsm, cluster, stream);
    }
    leaders.push(at);
  }
  return { placed, leaders };
}

/** One publisher per exchange, ready: its stream created (R3). */
async function openPublishers(
  cluster: NatsCluster,
  mode: Mode,
  round: number,
): Promise<NatsPublisher[]> {
  const base = parseConfig(undefined).transport.nats;
  const publishers = await Promise.all(
    EXCHANGES.map((exchange, k) =>
      NatsPublisher.open(SYMBOLS, {
        exchange,
        config: {
          ...base,
          servers: [cluster.urls[k]], // node k, whatever the shuffle
          jetstream: {
            ...base.jetstream,
            streamName: mode === "one stream"
              ? `SPX${round}`
              : exchangeStreamName(`SPX${round}`, exchange),
            streamExchange: mode === "one stream" ? undefined : exchange,
            subjectPrefix: `spx${round}`,
            replicas: 3,
          },
          publish: { ...base.publish, queueMaxTrades: 65_536 },
        },
        log: createLogger("bench", "warn"),
      })
    ),
  );
  while (!publishers.every((p) => p.ready())) await turn();
  return publishers;
}

/** Trades `publisher` had acknowledged so far. */
function acknowledged(publisher: NatsPublisher): number {
  let sum = 0;
  for (const trades of publisher.sentPerSymbol()) sum += trades;
  return sum;
}

/** Sends `trades` trades through `publisher` as fast as it takes them, until acknowledged. */
async function drive(publisher: NatsPublisher, trades: number): Promise<void> {
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
  for (let i = 0; i < trades; i++) {
    view.setUint32(RecordOffset.Seq, Math.floor(i / SYMBOLS.length) + 1, true);
    view.setUint32(RecordOffset.TradeId, i + 1, true);
    publisher.send(i % SYMBOLS.length, record);
    if (i % CHUNK === CHUNK - 1) await (publisher.room() ?? turn());
  }
  while (acknowledged(publisher) < trades) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** A round's total trades/s over the 3 publishers, and where the leaders sat. */
interface RoundResult {
  rate: number;
  seconds: number;
  /** Where the cluster placed the leaders (per exchange mode). */
  placed: number[];
  /** The leaders when the round started, after the moves. */
  leaders: number[];
  /** The leaders when the round ended. */
  after: number[];
}

/** Whether `leaders` are 3 different nodes. */
function spread(leaders: readonly number[]): boolean {
  return new Set(leaders).size === EXCHANGES.length;
}

/** One round of `mode`: total trades/s over the 3 publishers, and where the leaders sat. */
async function round(
  cluster: NatsCluster,
  options: { mode: Mode; round: number; trades: number },
): Promise<RoundResult> {
  const { mode, trades } = options;
  const publishers = await openPublishers(cluster, mode, options.round);
  const nc = await connectClient({ servers: cluster.urls });
  const streams = mode === "one stream"
    ? [`SPX${options.round}`]
    : EXCHANGES.map((e) => exchangeStreamName(`SPX${options.round}`, e));
  try {
    const { placed, leaders } = mode === "one stream"
      ? {
        placed: [],
        leaders: [
          await leaderOf(await jetstreamManager(nc), cluster, streams[0]),
        ],
      }
      : await spreadLeaders(nc, cluster, streams);
    const started = performance.now();
    await Promise.all(publishers.map((p) => drive(p, trades)));
    const seconds = (performance.now() - started) / 1000;
    for (const publisher of publishers) {
      const stats = publisher.stats();
      if (stats.dropped > 0 || stats.publishErrors > 0) {
        throw new Error(`round lost trades: ${JSON.stringify(stats)}`);
      }
    }
    const jsm = await jetstreamManager(nc);
    const after: number[] = [];
    for (const stream of streams) {
      after.push(await leaderOf(jsm, cluster, stream));
    }
    const rate = (trades * EXCHANGES.length) / seconds;
    return { rate, seconds, placed, leaders, after };
  } finally {
    await Promise.all(publishers.map((p) => p.close()));
    const jsm = await jetstreamManager(nc);
    for (const stream of streams) await jsm.streams.delete(stream);
    await nc.close();
  }
}

/** The line of a round. */
function describe(label: string, mode: Mode, got: RoundResult): string {
  const moved = got.after.join(",") === got.leaders.join(",")
    ? ""
    : `, then ${got.after.join(", ")} at the end`;
  const placed = got.placed.length > 0
    ? `; placed on ${got.placed.join(", ")}`
    : "";
  const unspread = mode === "stream per exchange" &&
      !(spread(got.leaders) && spread(got.after))
    ? " NOT SPREAD (a step-down failed or an election moved one): not counted"
    : "";
  return `  ${label} ${mode}: ${formatRate(got.rate)} in ${
    got.seconds.toFixed(2)
  } s (leader${got.leaders.length > 1 ? "s" : ""} on node ${
    got.leaders.join(", ")
  }${moved}${placed})${unspread}`;
}

/** Reads `--rounds` and `--trades`; exits 2 on a bad value. */
function readArgs(): { rounds: number; trades: number } {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rounds: { type: "string", default: "5" },
      trades: { type: "string", default: "1000000" },
    },
  });
  const rounds = Number(values.rounds);
  const trades = Number(values.trades);
  for (const [flag, value] of [["--rounds", rounds], ["--trades", trades]]) {
    if (!Number.isInteger(value) || (value as number) < 1) {
      console.error(`Invalid ${flag} ${value}: expected a positive integer`);
      Deno.exit(2);
    }
  }
  return { rounds, trades };
}

if (import.meta.main) {
  const { rounds, trades } = readArgs();
  console.log(
    `publish throughput, 3-node cluster, R3 file streams, ${EXCHANGES.length} exchanges x ${SYMBOLS.length} symbols, ${trades} trades per exchange per round, batch_max_trades 64, publisher k connected to node k only; ${navigator.hardwareConcurrency} CPUs shared by the 3 nodes and the publishers (one Deno thread)`,
  );
  await using cluster = await startNatsCluster();
  const rates: Record<Mode, number[]> = {
    "one stream": [],
    "stream per exchange": [],
  };
  let index = 0;
  let unspread = 0;
  for (const mode of ["one stream", "stream per exchange"] as const) {
    const got = await round(cluster, { mode, round: index++, trades });
    console.log(describe("warm-up (not counted)", mode, got));
  }
  for (let r = 0; r < rounds; r++) {
    const order: Mode[] = r % 2 === 0
      ? ["one stream", "stream per exchange"]
      : ["stream per exchange", "one stream"];
    for (const mode of order) {
      const got = await round(cluster, { mode, round: index++, trades });
      console.log(describe(`round ${r + 1}`, mode, got));
      if (
        mode === "stream per exchange" &&
        !(spread(got.leaders) && spread(got.after))
      ) {
        unspread++;
      } else rates[mode].push(got.rate);
    }
  }
  const one = median(rates["one stream"]);
  const per = median(rates["stream per exchange"]);
  const count = (mode: Mode) => `${rates[mode].length} rounds`;
  console.log(
    `median one stream:          ${formatRate(one)} (${count("one stream")})`,
  );
  console.log(
    `median stream per exchange: ${formatRate(per)} (${
      count("stream per exchange")
    } spread, ${unspread} not spread left out)`,
  );
  console.log(`ratio per exchange / one:   ${(per / one).toFixed(2)}`);
}
