/**
 * What the NATS feed tests share: a publisher that stores trades with
 * per-(exchange, symbol) seqs in a stream and subject prefix unique to the
 * run, a reader around {@linkcode NatsFeed.subscribeTrades}, waits,
 * record comparisons, and the test wrappers (`NATS_URL`'s server or one of
 * the test's own).
 *
 * @module
 */

import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
  type JsMsg,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { encodeMessage, encodeTrade } from "../common/wire/codec.ts";
import type { NatsConsumerConfig } from "../common/config/mod.ts";
import { delay } from "../common/runtime/delay.ts";
import { streamSubjects, tradeSubject } from "../common/wire/subjects.ts";
import {
  Side,
  TRADE_RECORD_SIZE,
  type TradeRecord,
} from "../common/wire/trade.ts";
import type { FeedEvent } from "../common/transport/feed.ts";
import { NatsFeed, type NatsFeedOptions } from "../common/nats/feed.ts";
import {
  gatedTest,
  harnessPermissions,
  natsTest,
  OWN_SERVER_REASON,
} from "./_permissions.ts";
import { type NatsServer, startNatsServer } from "./nats_server.ts";
import { until as waitUntil } from "./_until.ts";

/** Unique per run, so a shared server (NATS_URL) holds nothing they could collide with. */
export const RUN = crypto.randomUUID().slice(0, 8);
export const STREAM = `MARKET_DATA_${RUN.toUpperCase()}`;
export const PREFIX = `mbtest${RUN}`;
export const SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"];
/** Longest wait for something that should happen, ms. */
export const LIVENESS_MS = 15_000;
/** How long a reader's subscription may run before its test fails, ms. */
export const FEED_DEADLINE_MS = 4 * LIVENESS_MS;

/** A published message: where it went and what it held. */
export interface Published {
  exchange: string;
  symbol: string;
  bytes: Uint8Array;
  streamSeq: number;
}

/** Publishes trades with per-(exchange, symbol) seqs into the stream, and remembers them. */
export class Publisher {
  readonly published: Published[] = [];
  #nc: NatsConnection;
  #js: JetStreamClient;
  readonly jsm: JetStreamManager;
  #seqs = new Map<string, number>();
  /** The stream's name. */
  readonly stream: string;
  #prefix: string;

  private constructor(
    nc: NatsConnection,
    jsm: JetStreamManager,
    names: { stream: string; prefix: string },
  ) {
    this.#nc = nc;
    this.jsm = jsm;
    this.#js = jsm.jetstream();
    this.stream = names.stream;
    this.#prefix = names.prefix;
  }

  /**
   * Connects and creates the stream ({@linkcode STREAM} on
   * {@linkcode PREFIX} unless `options` names others), with
   * `options.stream`'s settings (limits, allow_direct…) added.
   */
  static async open(
    url: string,
    options: { stream?: Partial<StreamConfig>; prefix?: string } = {},
  ): Promise<Publisher> {
    const prefix = options.prefix ?? PREFIX;
    const name = options.stream?.name ?? STREAM;
    const nc = await connect({
      servers: url,
      noAsyncTraces: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name,
      subjects: streamSubjects({ prefix }),
      storage: StorageType.File,
      ...options.stream,
    });
    return new Publisher(nc, jsm, { stream: name, prefix });
  }

  /**
   * Moves the seq of `symbol` on `exchange` by `by` (a publisher that gave
   * trades up), or back to 0 with `"restart"` (a new publisher run).
   */
  jump(exchange: string, symbol: string, by: number | "restart"): void {
    const key = `${exchange}.${symbol}`;
    this.#seqs.set(key, by === "restart" ? 0 : (this.#seqs.get(key) ?? 0) + by);
  }

  /** The next `count` trades of `symbol` on `exchange` (seqs continue per pair). */
  records(exchange: string, symbol: string, count: number): TradeRecord[] {
    const key = `${exchange}.${symbol}`;
    const first = this.#seqs.get(key) ?? 0;
    this.#seqs.set(key, first + count);
    return Array.from({ length: count }, (_, i) => {
      const seq = first + i;
      return {
        side: seq % 3 === 0 ? Side.Sell : Side.Buy,
        flags: seq % 5 === 0 ? 1 : 0,
        seq,
        tsEvent: 1_700_000_000_000_000_000n + BigInt(seq),
        tsRecv: 1_700_000_000_000_000_500n + BigInt(seq),
        priceFixed: 67_000_000_000_000n + BigInt(seq * 1_000_003),
        size: 0.001 * (seq + 1),
        tradeId: 9_000_000_000n + BigInt(seq),
      };
    });
  }

  /**
   * Publishes one message of `count` trades of `symbol` (on binance unless
   * told), retrying until stored; the message id makes a retry after a lost
   * ack harmless.
   */
  async publish(
    symbol: string,
    count: number,
    options: { exchange?: string } = {},
  ): Promise<Published> {
    const exchange = options.exchange ?? "binance";
    const bytes = encodeMessage(this.records(exchange, symbol, count));
    const subject = tradeSubject(exchange, symbol, { prefix: this.#prefix });
    const msgID = `${subject}#${this.published.length}`;
    for (let attempt = 1;; attempt++) {
      try {
        const ack = await this.#js.publish(subject, bytes, { msgID });
        const message = { exchange, symbol, bytes, streamSeq: ack.seq };
        this.published.push(message);
        return message;
      } catch (error) {
        if (attempt * 100 > LIVENESS_MS) throw error;
        await delay(100);
      }
    }
  }

  /** Publishes `messages` messages round-robin over `symbols`, of 1..4 records. */
  async publishMany(
    messages: number,
    symbols: readonly string[] = SYMBOLS,
  ): Promise<Published[]> {
    const sent: Published[] = [];
    for (let i = 0; i < messages; i++) {
      const index = this.published.length;
      sent.push(await this.publish(symbols[i % symbols.length], 1 + index % 4));
    }
    return sent;
  }

  /** Publishes raw bytes on a raw subject (invalid messages). */
  async publishRaw(subject: string, bytes: Uint8Array): Promise<number> {
    return (await this.#js.publish(subject, bytes)).seq;
  }

  /** Deletes the stream (a shared server keeps nothing) and disconnects. */
  async close(): Promise<void> {
    try {
      await this.jsm.streams.delete(this.stream);
    } catch {
      // already gone, or the server is down
    }
    await this.#nc.close();
  }
}

/** Trades held by `messages`. */
export function tradesIn(messages: readonly Published[]): number {
  return messages.reduce((sum, m) => sum + m.bytes.length, 0) /
    TRADE_RECORD_SIZE;
}

/** The records of `messages` in order, with where they came from. */
export function recordsOf(messages: readonly Published[]): Delivered[] {
  return messages.flatMap((m) =>
    Array.from({ length: m.bytes.length / TRADE_RECORD_SIZE }, (_, i) => ({
      exchange: m.exchange,
      symbol: m.symbol,
      index: -1,
      bytes: m.bytes.slice(i * TRADE_RECORD_SIZE, (i + 1) * TRADE_RECORD_SIZE),
    }))
  );
}

/** A delivered trade: its origin, symbol index and re-encoded record. */
export interface Delivered {
  exchange: string;
  symbol: string;
  index: number;
  bytes: Uint8Array;
}

/** A running subscription: what it delivered and reported, and how to stop it. */
export interface Reader {
  feed: NatsFeed;
  delivered: Delivered[];
  events: FeedEvent[];
  /** The streams announced (`onStream`), by index, as `exchange symbol`. */
  streams: string[];
  /** Resolves (or rejects) when subscribeTrades does. */
  done: Promise<void>;
  /** Aborts it and waits for it to end. */
  stop(): Promise<void>;
  /** Waits until it has delivered `count` trades. */
  received(count: number): Promise<void>;
  /** Waits for its consumer to be ready. */
  attached(): Promise<void>;
  /** Events of `kind`. */
  saw(kind: FeedEvent["kind"]): FeedEvent[];
}

export function consumerConfig(
  overrides: Partial<NatsConsumerConfig>,
): NatsConsumerConfig {
  return {
    durableName: "reader",
    exchange: "binance",
    symbols: SYMBOLS,
    deliver: "all",
    startTime: undefined,
    startSequence: undefined,
    replay: "instant",
    maxAckPending: 1000,
    ackWaitMs: 30_000,
    ...overrides,
  };
}

/** Where {@linkcode feedOptions} connects and what it reads, when not the tests' own. */
export interface ExchangeTarget {
  /** Connection name. @default "nats-feed-test" */
  name?: string;
  /** @default 2000 */
  connectTimeoutMs?: number;
  /** @default STREAM */
  streamName?: string;
  /** @default PREFIX */
  subjectPrefix?: string;
}

/** Options of a NatsFeed on `url` (no auth, no TLS) with {@linkcode consumerConfig}`(consumer)`. */
export function feedOptions(
  url: string,
  consumer: Partial<NatsConsumerConfig>,
  target: ExchangeTarget = {},
): NatsFeedOptions {
  return {
    connection: {
      servers: [url],
      name: target.name ?? "nats-feed-test",
      auth: { kind: "none" },
      tls: undefined,
      connectTimeoutMs: target.connectTimeoutMs ?? 2000,
    },
    consumer: consumerConfig(consumer),
    streamName: target.streamName ?? STREAM,
    subjectPrefix: target.subjectPrefix ?? PREFIX,
  };
}

export function read(
  url: string,
  options: Partial<NatsConsumerConfig> & {
    symbols?: string[];
    limit?: number;
    onTick?: (count: number) => void;
  } = {},
): Reader {
  const { symbols = SYMBOLS, limit, onTick, ...consumer } = options;
  const feed = new NatsFeed(feedOptions(url, consumer));
  const controller = new AbortController();
  const delivered: Delivered[] = [];
  const events: FeedEvent[] = [];
  const streams: string[] = [];
  const running = feed.subscribeTrades(symbols, (trade, origin, index) => {
    assert.equal(
      streams[index],
      `${origin.exchange} ${origin.symbol}`,
      "a trade of a stream announced at its index",
    );
    const bytes = new Uint8Array(TRADE_RECORD_SIZE);
    encodeTrade(trade.toTrade(origin), bytes);
    delivered.push({
      exchange: origin.exchange,
      symbol: origin.symbol,
      index,
      bytes,
    });
    onTick?.(delivered.length);
  }, {
    signal: controller.signal,
    limit,
    onEvent: (e) => events.push(e),
    onStream: (origin, index) => {
      assert.equal(index, streams.length, "streams announced in index order");
      streams.push(`${origin.exchange} ${origin.symbol}`);
    },
  });
  const saw = (kind: FeedEvent["kind"]) =>
    events.filter((e) => e.kind === kind);
  const done = bounded(running, () => {
    controller.abort();
    const seen = events.map((e) => `\n  ${e.kind}: ${e.message}`).join("");
    return `the feed did not end within ${
      FEED_DEADLINE_MS / 1000
    } s: ${delivered.length} trade(s) delivered, limit ${limit}; its events:${seen}`;
  });
  done.catch(() => {}); // awaited by the tests that expect it to fail
  return {
    feed,
    delivered,
    events,
    streams,
    done,
    saw,
    async stop() {
      controller.abort();
      await done;
    },
    received: (count) =>
      until(() => delivered.length >= count, `${count} trades delivered`),
    attached: () => until(() => saw("attached").length > 0, "attached"),
  };
}

/**
 * `running`, or, when it has not settled after {@linkcode FEED_DEADLINE_MS},
 * a failure saying `timedOut()` (which stops it) once it has: a feed that
 * never ends fails its test instead of hanging the suite.
 */
async function bounded(
  running: Promise<void>,
  timedOut: () => string,
): Promise<void> {
  if (await settlesWithin(running, FEED_DEADLINE_MS)) return await running;
  const message = timedOut();
  await settlesWithin(running.catch(() => {}), LIVENESS_MS);
  throw new Error(message);
}

/** Whether `promise` settles within `ms` (it is not awaited further). */
async function settlesWithin(
  promise: Promise<unknown>,
  ms: number,
): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), ms);
  });
  try {
    return await Promise.race([promise.then(() => "in", () => "in"), late]) !==
      "late";
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until `condition` holds, for at most LIVENESS_MS. */
export function until(condition: () => boolean, what: string): Promise<void> {
  return waitUntil(condition, what, { timeoutMs: LIVENESS_MS });
}

/** Runs `fn` with a JetStream manager on `url`, closing the connection after. */
export async function withJsm<T>(
  url: string,
  fn: (jsm: JetStreamManager, nc: NatsConnection) => Promise<T>,
): Promise<T> {
  const nc = await connect({ servers: url, noAsyncTraces: true });
  try {
    return await fn(await jetstreamManager(nc), nc);
  } finally {
    await nc.close();
  }
}

/**
 * Calls `each` with every message stream `stream` on `url` holds, in stream
 * order, read once with an ordered consumer that is stopped after
 * `options.timeoutMs` (default {@linkcode LIVENESS_MS}); returns how many
 * messages the stream held when the read began.
 */
export async function readStoredMessages(
  nats: { url: string; stream: string },
  each: (message: JsMsg) => void,
  options: { timeoutMs?: number } = {},
): Promise<number> {
  return await withJsm(nats.url, async (jsm, nc) => {
    const total = (await jsm.streams.info(nats.stream)).state.messages;
    if (total === 0) return total;
    const consumer = await jetstream(nc).consumers.get(nats.stream);
    const messages = await consumer.consume();
    const timer = setTimeout(
      () => messages.stop(),
      options.timeoutMs ?? LIVENESS_MS,
    );
    try {
      let read = 0;
      for await (const message of messages) {
        each(message);
        if (++read === total) break;
      }
    } finally {
      clearTimeout(timer);
      await messages.close();
    }
    return total;
  });
}

/** Asserts `actual` are exactly the records of `expected`, in order, bytes included. */
export function assertRecords(
  actual: Delivered[],
  expected: Published[],
): void {
  const want = recordsOf(expected);
  assert.equal(actual.length, want.length, "number of trades");
  actual.forEach((trade, i) => {
    assert.equal(trade.exchange, want[i].exchange, `trade ${i} exchange`);
    assert.equal(trade.symbol, want[i].symbol, `trade ${i} symbol`);
    assert.deepEqual(trade.bytes, want[i].bytes, `trade ${i} bytes`);
  });
}

/** The seqs delivered per symbol. */
export function seqsBySymbol(delivered: Delivered[]): Map<string, number[]> {
  const seqs = new Map<string, number[]>();
  for (const trade of delivered) {
    const view = new DataView(trade.bytes.buffer);
    const list = seqs.get(trade.symbol) ?? [];
    list.push(view.getUint32(4, true));
    seqs.set(trade.symbol, list);
  }
  return seqs;
}

/** `0, 1, …, count - 1`. */
export function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

/**
 * A test with a JetStream server (NATS_URL's, or its own) and a publisher on
 * it; `options.stream` adds settings to the stream (limits, allow_direct…).
 */
export function natsExchangeTest(
  name: string,
  fn: (server: { url: string }, publisher: Publisher) => Promise<void>,
  options: { stream?: Partial<StreamConfig> } = {},
): void {
  natsTest({
    name: `NatsFeed: ${name}`,
    async fn(_t, url) {
      const publisher = await Publisher.open(url, { stream: options.stream });
      try {
        await fn({ url }, publisher);
      } finally {
        await publisher.close();
      }
    },
  });
}

/** A test that restarts its JetStream server: always one of its own. */
export function ownServerExchangeTest(
  name: string,
  fn: (server: NatsServer, publisher: Publisher) => Promise<void>,
): void {
  gatedTest({
    name: `NatsFeed: ${name}`,
    permissions: harnessPermissions(),
    reason: OWN_SERVER_REASON,
    async fn() {
      await using server = await startNatsServer();
      const publisher = await Publisher.open(server.url);
      try {
        await fn(server, publisher);
      } finally {
        await publisher.close();
      }
    },
  });
}
