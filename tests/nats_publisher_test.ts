// The NATS publisher against real nats-server processes: every trade stored
// exactly once and in per-symbol order, adaptive batching, idempotent
// retries, an outage in the middle, the bounded queue, close(), rejections
// (counted and logged per reason), the stream's max_msg_size (messages capped
// to it, split when it is lowered under a running publisher, a failure when
// one trade cannot fit), and authentication (right and wrong credentials, no
// retry storm). With NATS_URL
// readable, the tests that neither stop nor configure the server run on that
// one instead, in a stream and subject prefix unique to the run, deleted after
// each test.

import assert from "node:assert/strict";
import {
  jetstream,
  jetstreamManager,
  type StreamConfig,
  type StreamUpdateConfig,
} from "@nats-io/jetstream";
import { nkeys } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { decodeTrades, encodeTrade } from "../common/wire/codec.ts";
import {
  type NatsAuth,
  type NatsPublishConfig,
  type NatsTransportConfig,
  parseConfig,
} from "../common/config/mod.ts";
import { delay } from "../common/runtime/delay.ts";
import { yieldToEventLoop } from "../common/runtime/delay.ts";
import type { Logger } from "../common/runtime/log.ts";
import { natsMessageId } from "../common/wire/message_id.ts";
import { connectNats, NatsAuthError } from "../common/nats/mod.ts";
import { parseTradeSubject } from "../common/wire/subjects.ts";
import { Side, TRADE_RECORD_SIZE } from "../common/wire/trade.ts";
import { ACK_TIMEOUT_MS, NatsPublisher } from "../common/nats/publisher.ts";
import { StreamConfigError } from "../common/nats/stream_setup.ts";
import {
  gatedTest,
  harnessPermissions,
  natsTest,
  OWN_SERVER_REASON,
} from "./_permissions.ts";
import { type NatsServer, startNatsServer } from "./nats_server.ts";
import { captureLog } from "./_capture_log.ts";
import { withJsm } from "./_nats_feed.ts";

const SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"];
const EXCHANGE = "binance";
/** Unique per run, so a shared server (NATS_URL) holds nothing they could collide with. */
const RUN = crypto.randomUUID().slice(0, 8);
const STREAM = `TRANSPORT_TEST_${RUN.toUpperCase()}`;
const PREFIX = `test${RUN}.market`;
const PERMISSIONS = harnessPermissions();

function transportConfig(
  url: string,
  options: { publish?: Partial<NatsPublishConfig>; auth?: NatsAuth } = {},
): NatsTransportConfig {
  const base = parseConfig(undefined).transport.nats;
  return {
    ...base,
    enabled: true,
    servers: [url],
    auth: options.auth ?? { kind: "none" },
    connectTimeoutMs: 2000,
    jetstream: { ...base.jetstream, streamName: STREAM, subjectPrefix: PREFIX },
    publish: { ...base.publish, flushTimeoutMs: 20_000, ...options.publish },
  };
}

/** How the tests open a transport; the rest comes from {@linkcode transportConfig}. */
interface OpenOptions {
  publish?: Partial<NatsPublishConfig>;
  auth?: NatsAuth;
  symbols?: string[];
  log?: Logger;
}

function open(url: string, options: OpenOptions = {}): Promise<NatsPublisher> {
  return NatsPublisher.open(options.symbols ?? SYMBOLS, {
    exchange: EXCHANGE,
    config: transportConfig(url, options),
    log: options.log ?? captureLog().log,
  });
}

/** Opens a transport with a captured log and waits until it is ready. */
async function openReady(
  url: string,
  options: Omit<OpenOptions, "log"> = {},
): Promise<{ transport: NatsPublisher; lines: string[] }> {
  const { log, lines } = captureLog();
  const transport = await open(url, { ...options, log });
  await waitFor("ready", () => transport.ready());
  return { transport, lines };
}

/** Generates trades with increasing ids (and per-symbol seq) and remembers what was sent. */
class Trades {
  readonly symbols: readonly string[];
  readonly sent = new Map<string, bigint[]>();
  #record = new Uint8Array(TRADE_RECORD_SIZE);
  #nextId: bigint;
  #step: bigint;
  #seq: number[];

  /** With `sameId`, every trade has trade id `firstId` (a feed or file may repeat ids, or use 0). */
  constructor(
    symbols: readonly string[],
    options: { firstId?: bigint; sameId?: boolean } = {},
  ) {
    this.symbols = symbols;
    this.#nextId = options.firstId ?? 1n;
    this.#step = options.sameId ? 0n : 1n;
    this.#seq = symbols.map(() => 0);
    for (const symbol of symbols) this.sent.set(symbol, []);
  }

  get count(): number {
    return [...this.sent.values()].reduce((n, ids) => n + ids.length, 0);
  }

  /** Sends the next trade of `symbol` (an index) into `transport`. */
  send(transport: NatsPublisher, symbol: number): bigint {
    const tradeId = this.#nextId;
    this.#nextId += this.#step;
    this.#encode(symbol, tradeId);
    transport.send(symbol, this.#record);
    this.sent.get(this.symbols[symbol])!.push(tradeId);
    return tradeId;
  }

  /** Sends an already sent trade again (same id), without remembering it twice. */
  resend(transport: NatsPublisher, symbol: number, tradeId: bigint): void {
    this.#encode(symbol, tradeId);
    transport.send(symbol, this.#record);
  }

  #encode(symbol: number, tradeId: bigint): void {
    encodeTrade({
      side: Side.Buy,
      flags: 0,
      seq: ++this.#seq[symbol],
      tsEvent: 1_764_000_000_000_000_000n,
      tsRecv: 1_764_000_000_000_100_000n,
      priceFixed: 67_123_450_000_000n,
      size: 0.5,
      tradeId,
    }, this.#record);
  }
}

interface Stored {
  symbol: string;
  id: string;
  tradeIds: bigint[];
  seqs: number[];
}

/** Every message of the stream, in stream order, with its trades' ids. */
async function readStream(url: string): Promise<Stored[]> {
  const nc = await connect({ servers: url, noAsyncTraces: true });
  try {
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const total = (await jsm.streams.info(STREAM)).state.messages;
    const stored: Stored[] = [];
    if (total === 0) return stored;
    const messages = await (await js.consumers.get(STREAM)).consume();
    for await (const message of messages) {
      const { exchange, symbol } = parseTradeSubject(message.subject, {
        prefix: PREFIX,
      });
      assert.equal(exchange, EXCHANGE);
      const decoded = decodeTrades(message.data, { exchange, symbol });
      stored.push({
        symbol,
        id: message.headers?.get("Nats-Msg-Id") ?? "",
        tradeIds: decoded.map((t) => t.tradeId),
        seqs: decoded.map((t) => t.seq),
      });
      if (stored.length === total) break;
    }
    await messages.close();
    return stored;
  } finally {
    await nc.close();
  }
}

/**
 * Asserts the stream holds exactly `expected` (trade ids per symbol, in
 * order), each message with its own id: that of its first trade (trade id and
 * seq) and its count, or, for the first part of a message split for its size,
 * the id of that bigger message.
 */
function assertStored(
  stored: readonly Stored[],
  expected: ReadonlyMap<string, readonly bigint[]>,
): void {
  const got = new Map([...expected.keys()].map((s) => [s, [] as bigint[]]));
  const ids = new Set<string>();
  for (const { symbol, id, tradeIds, seqs } of stored) {
    const count = Number(id.split(":")[3]);
    assert.ok(count >= tradeIds.length, `${id}: ${tradeIds.length} trades`);
    assert.equal(
      id,
      natsMessageId({ exchange: EXCHANGE, symbol }, tradeIds[0], {
        count,
        firstSeq: seqs[0],
      }),
    );
    assert.ok(!ids.has(id), `${id} stored twice`);
    ids.add(id);
    got.get(symbol)!.push(...tradeIds);
  }
  for (const [symbol, ids] of expected) {
    const stream = got.get(symbol)!;
    assert.equal(stream.length, ids.length, `${symbol}: stored vs expected`);
    assert.deepEqual(stream, ids, `${symbol}: every trade once, in order`);
  }
}

async function waitFor(
  what: string,
  condition: () => boolean,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    }
    await delay(5);
  }
}

/** Sends trades round-robin over the symbols, yielding every `every`. */
async function sendMany(
  transport: NatsPublisher,
  trades: Trades,
  count: number,
  every = 500,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    trades.send(transport, i % trades.symbols.length);
    if (i % every === every - 1) await yieldToEventLoop();
  }
}

/** Deletes the test's stream, so a shared server (NATS_URL) keeps nothing. */
async function deleteStream(url: string): Promise<void> {
  const nc = await connect({ servers: url, noAsyncTraces: true });
  try {
    await (await jetstreamManager(nc)).streams.delete(STREAM);
  } catch {
    // never created, or already deleted
  } finally {
    await nc.close();
  }
}

/** A test with a JetStream server: NATS_URL's, or its own. */
function natsPublisherTest(
  name: string,
  fn: (server: { url: string }) => Promise<void>,
): void {
  natsTest({
    name: `NatsPublisher: ${name}`,
    async fn(_t, url) {
      try {
        await fn({ url });
      } finally {
        await deleteStream(url);
      }
    },
  });
}

/** A test that stops its JetStream server: always one of its own. */
function ownServerTransportTest(
  name: string,
  fn: (server: NatsServer) => Promise<void>,
): void {
  gatedTest({
    name: `NatsPublisher: ${name}`,
    permissions: PERMISSIONS,
    reason: OWN_SERVER_REASON,
    async fn() {
      await using server = await startNatsServer();
      await fn(server);
    },
  });
}

natsPublisherTest(
  "every trade is stored exactly once, in per-symbol order",
  async (server) => {
    const { log, lines } = captureLog();
    const transport = await open(server.url, { log });
    assert.equal(transport.name, "nats");
    assert.deepEqual(transport.subjects, [
      `${PREFIX}.binance.BTCUSDT.trades`,
      `${PREFIX}.binance.ETHUSDT.trades`,
      `${PREFIX}.binance.SOLUSDT.trades`,
    ]);
    const trades = new Trades(SYMBOLS);
    await sendMany(transport, trades, 30_000); // the first ones before the connection is up
    await transport.close();
    const stats = transport.stats();
    assert.equal(stats.tradesSent, 30_000);
    assert.equal(stats.bytesSent, 30_000 * TRADE_RECORD_SIZE);
    assert.equal(stats.dropped, 0);
    assert.equal(stats.bufferOverflows, 0);
    assert.equal(stats.publishErrors, 0);
    assert.equal(stats.sendErrors, 0);
    assert.equal(stats.queueDepth, 0);
    assert.equal(stats.inFlight, 0);
    assert.equal(stats.ackLatency.count, stats.messagesSent);
    assertStored(await readStream(server.url), trades.sent);
    assert.ok(
      lines.includes("info: NATS publisher: flushed everything before closing"),
      lines.join("\n"),
    );
    assert.match(transport.summary(), /^nats 30,000 trades in [\d,]+ msgs /);
  },
);

natsPublisherTest(
  "a lone trade goes out alone; a burst is batched per symbol",
  async (server) => {
    const transport = await open(server.url, {
      publish: { batchMaxTrades: 16, maxInFlight: 4 },
    });
    await waitFor("ready", () => transport.ready());
    const trades = new Trades(SYMBOLS);
    for (let i = 0; i < 3; i++) {
      trades.send(transport, i);
      await waitFor("acked", () => transport.stats().tradesSent === i + 1);
    }
    assert.equal(transport.stats().messagesSent, 3);
    for (let i = 0; i < 5000; i++) trades.send(transport, i % 3); // one burst
    await transport.close();
    const stored = await readStream(server.url);
    assertStored(stored, trades.sent);
    assert.deepEqual(stored.slice(0, 3).map((m) => m.tradeIds.length), [
      1,
      1,
      1,
    ]);
    const burst = stored.slice(3);
    assert.ok(burst.length < 5000, `${burst.length} messages for 5000 trades`);
    assert.ok(burst.every((m) => m.tradeIds.length <= 16));
    assert.ok(burst.some((m) => m.tradeIds.length === 16));
    assert.equal(transport.stats().messagesSent, stored.length);
  },
);

natsPublisherTest(
  "batchMaxTrades 1 sends one message per trade",
  async (server) => {
    const transport = await open(server.url, {
      publish: { batchMaxTrades: 1, maxInFlight: 4 },
    });
    await waitFor("ready", () => transport.ready());
    const trades = new Trades(SYMBOLS);
    for (let i = 0; i < 2000; i++) trades.send(transport, i % 3);
    await transport.close();
    const stored = await readStream(server.url);
    assert.equal(stored.length, 2000);
    assert.equal(transport.stats().messagesSent, 2000);
    assertStored(stored, trades.sent);
  },
);

natsPublisherTest(
  "distinct trades sharing a trade id (0, as a file may carry) are all stored, none taken for a duplicate",
  async (server) => {
    const transport = await open(server.url, { symbols: ["BTCUSDT"] });
    const trades = new Trades(["BTCUSDT"], { firstId: 0n, sameId: true });
    await sendMany(transport, trades, 1000);
    await transport.close();
    const stats = transport.stats();
    assert.equal(stats.duplicates, 0);
    assert.equal(stats.alreadyStored, 0);
    const stored = await readStream(server.url);
    assertStored(stored, trades.sent);
    assert.equal(stats.tradesSent, 1000);
    assert.deepEqual(transport.losses(), []);
  },
);

natsPublisherTest(
  "the same data published again by a later run (same trade ids and seqs) is stored once: counted as already stored and warned, not lost",
  async (server) => {
    const publish = { batchMaxTrades: 1 }; // the same messages in both runs
    const first = await open(server.url, { symbols: ["BTCUSDT"], publish });
    const trades = new Trades(["BTCUSDT"]);
    await sendMany(first, trades, 100);
    await first.close();
    assert.equal(first.stats().alreadyStored, 0);
    const { log, lines } = captureLog();
    const again = await open(server.url, {
      symbols: ["BTCUSDT"],
      publish,
      log,
    });
    await sendMany(again, new Trades(["BTCUSDT"]), 100);
    await again.close();
    const stats = again.stats();
    assert.equal(stats.tradesSent, 100);
    assert.equal(stats.duplicates, 100);
    assert.equal(stats.alreadyStored, 100);
    assert.deepEqual(again.losses(), []);
    assert.match(again.summary(), / already stored 100 /);
    const warnings = lines.filter((l) => l.includes("already in stream"));
    assert.ok(warnings.length >= 1, lines.join("\n"));
    assert.match(
      warnings[0],
      new RegExp(
        `^warn: NATS publisher: \\d+ trades were already in stream ${STREAM} with the same Nats-Msg-Id within its duplicate_window \\(an earlier run of the same data\\?\\) and were not stored twice \\(\\d+ in all\\)$`,
      ),
    );
    assert.match(warnings.at(-1)!, /\(100 in all\)$/);
    assertStored(await readStream(server.url), trades.sent);
  },
);

ownServerTransportTest(
  "an outage: trades sent before, during and after are stored once, in order",
  async (server) => {
    const { log, lines } = captureLog();
    const transport = await open(server.url, { log });
    const trades = new Trades(SYMBOLS);
    let producing = true;
    const producer = (async () => {
      while (producing) {
        for (let i = 0; i < 30; i++) trades.send(transport, i % 3);
        await delay(1);
      }
    })();
    await waitFor(
      "2,000 trades acked",
      () => transport.stats().tradesSent >= 2000,
    );
    await server.halt();
    await waitFor("the outage is seen", () => !transport.ready());
    const before = trades.count;
    await waitFor(
      "trades queued during the outage",
      () => trades.count > before + 1000,
    );
    assert.ok(transport.stats().queueDepth > 0);
    await server.start();
    await waitFor("ready again", () => transport.ready());
    const after = trades.count;
    await waitFor(
      "trades sent after the outage",
      () => trades.count > after + 1000,
    );
    producing = false;
    await producer;
    await transport.close();
    const stats = transport.stats();
    assert.equal(stats.dropped, 0);
    assert.equal(stats.publishErrors, 0);
    assertStored(await readStream(server.url), trades.sent);
    const reconnects = lines.filter((l) => l.includes("reconnected to"));
    assert.equal(reconnects.length, 1, lines.join("\n"));
    const disconnects = lines.filter((l) => l.includes("disconnected from"));
    assert.equal(disconnects.length, 1, lines.join("\n"));
  },
);

ownServerTransportTest(
  "NATS down at start: the queue keeps the newest trades, drops and counts the oldest",
  async (server) => {
    await server.halt();
    const { log, lines } = captureLog();
    const transport = await open(server.url, {
      log,
      symbols: ["BTCUSDT", "ETHUSDT"],
      publish: { queueMaxTrades: 100 },
    });
    assert.equal(transport.ready(), false);
    const trades = new Trades(["BTCUSDT", "ETHUSDT"]);
    for (let i = 0; i < 250; i++) trades.send(transport, i % 2);
    let stats = transport.stats();
    assert.equal(stats.dropped, 150);
    assert.equal(stats.bufferOverflows, 150);
    assert.equal(stats.queueDepth, 100);
    assert.equal(stats.bufferUtilization, 1);
    const room = transport.room();
    assert.ok(room instanceof Promise, "no room while the queue is full");
    await waitFor(
      "the drop warning",
      () =>
        lines.some((l) => /queue full \(100 trades\): dropped 150 /.test(l)),
    );
    await server.start();
    await room;
    await waitFor(
      "the queue is flushed",
      () => transport.stats().tradesSent === 100,
    );
    assert.equal(transport.room(), undefined);
    await transport.close();
    stats = transport.stats();
    const stored = await readStream(server.url);
    const storedTrades = stored.reduce((n, m) => n + m.tradeIds.length, 0);
    assert.equal(stats.dropped + storedTrades, trades.count);
    // the oldest 150 of all went: ids 151..250, alternating symbols
    const newest = new Map(
      [...trades.sent].map((
        [symbol, ids],
      ) => [symbol, ids.filter((id) => id > 150n)]),
    );
    assertStored(stored, newest);
  },
);

ownServerTransportTest(
  "close() with NATS unreachable gives up after flushTimeout and says what was lost",
  async (server) => {
    await server.halt();
    const { log, lines } = captureLog();
    const transport = await open(server.url, {
      log,
      publish: { flushTimeoutMs: 200 },
    });
    const trades = new Trades(SYMBOLS);
    for (let i = 0; i < 10; i++) trades.send(transport, i % 3);
    await transport.close();
    assert.ok(
      lines.includes(
        "warn: NATS publisher: closing with 10 trades not flushed (10 queued, 0 awaiting an ack) after waiting 200 ms",
      ),
      lines.join("\n"),
    );
    trades.send(transport, 0); // after close: not accepted, counted
    assert.equal(transport.stats().dropped, 1);
    // not "queue full": no advice to raise queue_max_trades goes with it
    assert.deepEqual(transport.losses().map((l) => [l.kind, l.trades]), [
      ["closed", 1],
      ["unflushed", 10],
    ]);
  },
);

natsPublisherTest(
  "a stream that cannot take the settings stops publishing with StreamConfigError",
  async (server) => {
    const nc = await connect({ servers: server.url, noAsyncTraces: true });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: STREAM,
      subjects: [`${PREFIX}.>`],
      storage: "memory",
    });
    await nc.close();
    const { log, lines } = captureLog();
    const transport = await open(server.url, { log });
    const error = await transport.failed();
    assert.ok(error instanceof StreamConfigError, String(error));
    assert.equal(transport.ready(), false);
    assert.ok(
      lines.some((l) =>
        l.startsWith("error: NATS publisher: publishing stopped")
      ),
    );
    const trades = new Trades(SYMBOLS);
    trades.send(transport, 0); // still accepted (queued), never thrown
    assert.equal(transport.stats().queueDepth, 1);
    await transport.close();
  },
);

natsPublisherTest(
  "a deleted stream is created again and publishing resumes",
  async (server) => {
    const { log, lines } = captureLog();
    const transport = await open(server.url, { log });
    const first = new Trades(SYMBOLS);
    await sendMany(transport, first, 1000);
    await waitFor("acked", () => transport.stats().tradesSent === 1000);
    const nc = await connect({ servers: server.url, noAsyncTraces: true });
    await (await jetstreamManager(nc)).streams.delete(STREAM);
    await nc.close();
    const second = new Trades(SYMBOLS, { firstId: 1001n });
    await sendMany(transport, second, 1000);
    await transport.close();
    assert.equal(transport.stats().publishErrors, 0);
    assert.equal(lines.filter((l) => l.includes("created stream")).length, 2);
    assertStored(await readStream(server.url), second.sent);
  },
);

/** Creates the test's stream with `config` beside its subjects, before a transport does. */
async function addStream(
  url: string,
  config: Partial<StreamConfig>,
): Promise<void> {
  await withJsm(url, (jsm) =>
    jsm.streams.add({
      name: STREAM,
      subjects: [`${PREFIX}.>`],
      ...config,
    }));
}

/** Changes settings of the test's stream. */
async function updateStream(
  url: string,
  config: Partial<StreamConfig>,
): Promise<void> {
  // `sealed` is typed as create-only, but the server seals a stream on update
  await withJsm(
    url,
    (jsm) => jsm.streams.update(STREAM, config as Partial<StreamUpdateConfig>),
  );
}

// Counter streams need nats-server 2.12: the pinned one, not any NATS_URL.
ownServerTransportTest(
  "messages JetStream refuses for good are counted per reason, every distinct reason logged (rate-limited), and not retried",
  async (server) => {
    // A counter stream refuses messages without an increment header …
    await addStream(server.url, { allow_msg_counter: true });
    const { transport, lines } = await openReady(server.url, {
      publish: { batchMaxTrades: 8, maxInFlight: 1 },
    });
    const trades = new Trades(SYMBOLS);
    for (let i = 0; i < 8; i++) trades.send(transport, 0);
    await waitFor("rejected", () => transport.stats().tradesRejected === 8);
    for (let i = 0; i < 8; i++) trades.send(transport, 1); // same reason: held back
    await waitFor("rejected", () => transport.stats().tradesRejected === 16);
    // … and a sealed one refuses everything: another reason, logged at once.
    await updateStream(server.url, { sealed: true });
    for (let i = 0; i < 3; i++) trades.send(transport, 2);
    await waitFor("rejected", () => transport.stats().tradesRejected === 19);
    await transport.close();
    const stats = transport.stats();
    assert.equal(stats.tradesSent, 0);
    assert.equal(stats.publishErrors, 3);
    assert.equal(stats.sendErrors, stats.publishErrors);
    assert.equal(stats.retries, 0);
    const rejected = lines.filter((l) => l.includes("JetStream rejected"));
    assert.equal(rejected.length, 2, rejected.join("\n"));
    const subject = (symbol: string) =>
      `${PREFIX.replaceAll(".", "\\.")}\\.binance\\.${symbol}\\.trades`;
    assert.match(
      rejected[0],
      new RegExp(
        `^error: NATS publisher: JetStream rejected a message of 8 trades on ${
          subject("BTCUSDT")
        } \\(400 message counter increment is missing\\); its trades are lost$`,
      ),
    );
    assert.match(
      rejected[1],
      new RegExp(
        `^error: NATS publisher: JetStream rejected a message of 3 trades on ${
          subject("SOLUSDT")
        } \\(400 invalid operation on sealed stream\\); its trades are lost$`,
      ),
    );
    assert.deepEqual(transport.losses(), [{
      kind: "rejected",
      trades: 19,
      text:
        `19 trades in 3 messages rejected for good by JetStream: 16 for "400 message counter increment is missing", 3 for "400 invalid operation on sealed stream"`,
    }]);
  },
);

natsPublisherTest(
  "messages are capped to the stream's max_msg_size, headers included: every trade stored, none rejected",
  async (server) => {
    await addStream(server.url, { max_msg_size: 300 });
    const { transport, lines } = await openReady(server.url, {
      publish: { batchMaxTrades: 64 },
    });
    const trades = new Trades(SYMBOLS);
    await sendMany(transport, trades, 3000);
    await transport.close();
    const stats = transport.stats();
    assert.equal(stats.publishErrors, 0);
    assert.equal(stats.splits, 0, "capped before publishing");
    assert.ok(stats.tradesPerMessage < 64, `${stats.tradesPerMessage}`);
    assert.deepEqual(transport.losses(), []);
    assert.ok(
      lines.some((l) =>
        new RegExp(
          `messages hold at most ${stats.tradesPerMessage} trades, not 64: stream ${STREAM}'s max_msg_size is 300 bytes`,
        ).test(l)
      ),
      lines.join("\n"),
    );
    const stored = await readStream(server.url);
    assertStored(stored, trades.sent);
    assert.ok(stored.every((m) => m.tradeIds.length <= stats.tradesPerMessage));
  },
);

natsPublisherTest(
  "max_msg_size lowered while publishing: refused messages are split and sent again, in order, nothing lost",
  async (server) => {
    const { transport, lines } = await openReady(server.url, {
      publish: { batchMaxTrades: 64 },
    });
    // read at connect time only: the transport learns it from refusals
    await updateStream(server.url, { max_msg_size: 400 });
    const trades = new Trades(SYMBOLS);
    await sendMany(transport, trades, 3000);
    await transport.close();
    const stats = transport.stats();
    assert.equal(stats.publishErrors, 0);
    assert.equal(stats.tradesSent, 3000);
    assert.ok(stats.splits > 0, "nothing was split");
    assert.deepEqual(transport.losses(), []);
    assert.ok(
      lines.some((l) => /too big \(400 message size exceeds maximum/.test(l)),
      lines.join("\n"),
    );
    assertStored(await readStream(server.url), trades.sent);
  },
);

ownServerTransportTest(
  "the server's max_payload lowered by a config reload: after the reconnect the cap follows, too-big messages are split, nothing lost, order kept",
  async (server) => {
    const { transport, lines } = await openReady(server.url, {
      publish: { batchMaxTrades: 64 },
    });
    const trades = new Trades(SYMBOLS);
    await sendMany(transport, trades, 3000);
    await waitFor("acked", () => transport.stats().tradesSent === 3000);
    // A reload lowers the limit without telling connected clients: the next
    // big publish gets the connection closed ("Maximum Payload Violation"),
    // and the reconnect brings the new INFO.
    await Deno.writeTextFile(server.configFile, "max_payload: 512\n", {
      append: true,
    });
    Deno.kill(server.pid, "SIGHUP");
    await waitFor(
      "the reload",
      () => server.log.includes("Reloaded: max_payload = 512"),
    );
    await sendMany(transport, trades, 6000);
    await waitFor(
      "the new cap",
      () => transport.stats().tradesPerMessage < 64,
    );
    await sendMany(transport, trades, 3000);
    await transport.close();
    const stats = transport.stats();
    assert.deepEqual(transport.losses(), [], lines.join("\n"));
    assert.equal(stats.publishErrors, 0);
    assert.ok(stats.splits > 0, "the message that broke the limit was split");
    assert.ok(
      lines.some((l) =>
        /too big \('payload' max_payload size exceeded\)/.test(l)
      ),
      lines.join("\n"),
    );
    // 95 bytes of headers at most (66 of Nats-Msg-Id, 29 of Marketbus-Epoch):
    // 8 trades, where the payload alone would take 10
    assert.equal(stats.tradesPerMessage, 8);
    assert.ok(
      lines.some((l) => /max_payload is 512 bytes/.test(l)),
      lines.join("\n"),
    );
    assertStored(await readStream(server.url), trades.sent);
  },
);

/**
 * A TCP proxy to a server on `port`: what the server sends can be swallowed
 * (acks lost), and every connection through it cut.
 */
class AckLosingProxy implements AsyncDisposable {
  /** Drop what the server sends while set. */
  swallow = false;
  #listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  #conns = new Set<Deno.Conn>();
  #pipes: Promise<void>[] = [];
  #accepting: Promise<void>;

  constructor(port: number) {
    this.#accepting = this.#accept(port);
  }

  /** `nats://` URL of the proxy. */
  get url(): string {
    return `nats://127.0.0.1:${(this.#listener.addr as Deno.NetAddr).port}`;
  }

  /** Closes every connection made through the proxy so far. */
  cut(): void {
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // closed by its pipe already
      }
    }
    this.#conns.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    this.cut();
    await this.#accepting;
    await Promise.all(this.#pipes);
  }

  async #accept(port: number): Promise<void> {
    try {
      for await (const client of this.#listener) {
        const server = await Deno.connect({ hostname: "127.0.0.1", port });
        this.#conns.add(client).add(server);
        this.#pipes.push(
          this.#pipe(client, server, () => false),
          this.#pipe(server, client, () => this.swallow),
        );
      }
    } catch {
      // the listener was closed
    }
  }

  async #pipe(
    from: Deno.Conn,
    to: Deno.Conn,
    drop: () => boolean,
  ): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (
        let n = await from.read(buffer);
        n !== null;
        n = await from.read(buffer)
      ) {
        if (drop()) continue;
        for (let at = 0; at < n;) at += await to.write(buffer.subarray(at, n));
      }
    } catch {
      // cut
    } finally {
      for (const conn of [from, to]) {
        try {
          conn.close();
        } catch {
          // closed already
        }
      }
    }
  }
}

ownServerTransportTest(
  "a message stored but whose ack was lost, split for its size after the reconnect: its first part keeps its id, the duplicate ack says all of it is stored, nothing is stored twice",
  async (server) => {
    await using proxy = new AckLosingProxy(server.port);
    const { transport, lines } = await openReady(proxy.url, {
      symbols: ["BTCUSDT"],
      publish: { batchMaxTrades: 64, maxInFlight: 1 },
    });
    const trades = new Trades(["BTCUSDT"]);
    proxy.swallow = true; // the ack will be lost
    for (let i = 0; i < 64; i++) trades.send(transport, 0); // one message
    const storedMessages = () =>
      withJsm(
        server.url,
        async (jsm) => (await jsm.streams.info(STREAM)).state.messages,
      );
    const deadline = Date.now() + 10_000;
    while (await storedMessages() === 0) {
      assert.ok(Date.now() < deadline, "the message was never stored");
      await delay(20);
    }
    assert.equal(transport.stats().tradesSent, 0, "its ack got through");
    // A reload lowers max_payload; the reconnect brings it, and the message
    // must be resent in parts of at most 9 trades.
    await Deno.writeTextFile(server.configFile, "max_payload: 512\n", {
      append: true,
    });
    Deno.kill(server.pid, "SIGHUP");
    await waitFor(
      "the reload",
      () => server.log.includes("Reloaded: max_payload = 512"),
    );
    proxy.swallow = false;
    proxy.cut();
    await waitFor("acked", () => transport.stats().tradesSent === 64);
    await transport.close();
    const stats = transport.stats();
    assert.deepEqual(transport.losses(), [], lines.join("\n"));
    assert.ok(stats.splits > 0, "the resent message was not split");
    assert.ok(stats.duplicates > 0);
    assert.equal(stats.alreadyStored, 0, "its own earlier attempt");
    const stored = await readStream(server.url);
    assert.equal(stored.length, 1, JSON.stringify(stored.map((m) => m.id)));
    assertStored(stored, trades.sent);
  },
);

natsPublisherTest(
  "a stream whose max_msg_size cannot hold one trade: the transport fails at start, saying what to raise",
  async (server) => {
    await addStream(server.url, { max_msg_size: 100 });
    const { log, lines } = captureLog();
    const transport = await open(server.url, { log });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const error = await Promise.race([
      transport.failed(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("never failed")), 10_000);
      }),
    ]).finally(() => clearTimeout(timer));
    assert.match(
      error.message,
      new RegExp(
        `^one trade does not fit in a message: stream ${STREAM}'s max_msg_size is 100 bytes, and a message of one trade needs up to \\d+ \\(48 bytes of trade, up to \\d+ of headers\\): raise it`,
      ),
    );
    new Trades(SYMBOLS).send(transport, 0);
    await transport.close();
    assert.equal(
      lines.filter((l) => l.includes("one trade does not fit")).length,
      1,
    );
    assert.deepEqual(transport.losses().map((l) => l.kind), ["unflushed"]);
  },
);

gatedTest({
  name:
    "NatsPublisher: a stalled server: publishes without an ack in time are retried and stored once, in order",
  permissions: [...PERMISSIONS, { name: "run" }],
  reason: OWN_SERVER_REASON,
  async fn() {
    await using server = await startNatsServer();
    const { transport, lines } = await openReady(server.url);
    const trades = new Trades(SYMBOLS);
    Deno.kill(server.pid, "SIGSTOP");
    try {
      await sendMany(transport, trades, 3000);
      await waitFor(
        "the ack timeout",
        () =>
          transport.stats().retries > 0 ||
          lines.some((l) => l.includes("no ack within")),
        ACK_TIMEOUT_MS + 5000,
      );
    } finally {
      Deno.kill(server.pid, "SIGCONT");
    }
    await sendMany(transport, trades, 3000);
    await transport.close();
    const stats = transport.stats();
    assert.ok(stats.retries > 0);
    assert.equal(stats.publishErrors, 0);
    // duplicates of its own retries, not data an earlier run stored
    assert.equal(stats.alreadyStored, 0);
    assertStored(await readStream(server.url), trades.sent);
  },
});

// ---------------------------------------------------------------- auth

interface AuthCase {
  kind: string;
  server: Record<string, unknown>;
  right: NatsAuth;
  wrong: NatsAuth;
  secret: string;
}

function authCases(): AuthCase[] {
  const user = nkeys.createUser();
  const stranger = nkeys.createUser();
  const seed = (pair: nkeys.KeyPair) =>
    new TextDecoder().decode(pair.getSeed());
  return [
    {
      kind: "token",
      server: { authorization: { token: "right-token" } },
      right: { kind: "token", token: "right-token" },
      wrong: { kind: "token", token: "wrong-token" },
      secret: "wrong-token",
    },
    {
      kind: "user",
      server: {
        authorization: { users: [{ user: "publisher", password: "right-pw" }] },
      },
      right: { kind: "user", user: "publisher", password: "right-pw" },
      wrong: { kind: "user", user: "publisher", password: "wrong-pw" },
      secret: "wrong-pw",
    },
    {
      kind: "nkey",
      server: { authorization: { users: [{ nkey: user.getPublicKey() }] } },
      right: { kind: "nkey", seed: seed(user) },
      wrong: { kind: "nkey", seed: seed(stranger) },
      secret: seed(stranger),
    },
  ];
}

/** Connection attempts the server turned down, as its log shows so far. */
function refusals(server: NatsServer): number {
  return server.log.match(/authentication error/g)?.length ?? 0;
}

/**
 * {@linkcode refusals} once the server's log has caught up: its output is
 * read asynchronously, so a refusal can show a moment after the client gave
 * up (counted against the next attempt, it failed 1 run in ~20). Waits until
 * the count holds for 300 ms, at most 5 s.
 */
async function settledRefusals(server: NatsServer): Promise<number> {
  const deadline = Date.now() + 5000;
  let count = refusals(server);
  while (Date.now() < deadline) {
    await delay(300);
    const now = refusals(server);
    if (now === count) break;
    count = now;
  }
  return count;
}

for (const auth of authCases()) {
  gatedTest({
    name:
      `NatsPublisher: ${auth.kind} auth: right credentials publish, wrong ones fail fast with NatsAuthError`,
    permissions: PERMISSIONS,
    reason: OWN_SERVER_REASON,
    async fn() {
      await using server = await startNatsServer({ config: auth.server });
      const transport = await open(server.url, { auth: auth.right });
      const trades = new Trades(SYMBOLS);
      await sendMany(transport, trades, 30);
      await transport.close();
      assert.equal(transport.stats().tradesSent, 30);
      assert.equal(refusals(server), 0);

      const { log, lines } = captureLog();
      await assert.rejects(
        connectNats(transportConfig(server.url, { auth: auth.wrong }), { log }),
        (error: Error) => {
          assert.ok(error instanceof NatsAuthError, String(error));
          assert.equal(error.authKind, auth.kind);
          assert.ok(
            error.message.startsWith(
              `NATS server ${server.url} rejected the credentials`,
            ),
            error.message,
          );
          assert.ok(!error.message.includes(auth.secret), error.message);
          return true;
        },
      );
      assert.ok(lines.every((l) => !l.includes(auth.secret)));
      const refused = await settledRefusals(server);
      assert.ok(refused >= 1 && refused <= 2, `${refused} refused attempts`);

      const failing = await open(server.url, { auth: auth.wrong });
      const error = await failing.failed();
      assert.ok(error instanceof NatsAuthError, String(error));
      assert.equal(failing.ready(), false);
      await delay(1500); // several reconnect intervals: no further attempts
      const after = await settledRefusals(server);
      assert.ok(after <= refused + 2, `${after} refused attempts`);
      await failing.close();
    },
  });
}

gatedTest({
  name:
    "NatsPublisher: credentials refused on reconnect stop the transport with NatsAuthError",
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  async fn() {
    await using first = await startNatsServer({
      config: { authorization: { token: "right-token" } },
    });
    const transport = await open(first.url, {
      auth: { kind: "token", token: "right-token" },
    });
    await waitFor("ready", () => transport.ready());
    await first.halt();
    // the same address comes back with other credentials
    await using second = await startNatsServer({
      config: { port: first.port, authorization: { token: "rotated-token" } },
    });
    const error = await transport.failed();
    assert.ok(error instanceof NatsAuthError, String(error));
    await delay(1500);
    assert.ok(refusals(second) <= 2, `${refusals(second)} refused attempts`);
    await transport.close();
  },
});

natsPublisherTest(
  "close() while suspended by the registry lease counts the queue at once instead of waiting flush_timeout for nothing",
  async (server) => {
    const { transport, lines } = await openReady(server.url); // flush_timeout 20 s
    transport.guard(() => false);
    const trades = new Trades(SYMBOLS);
    for (let i = 0; i < 10; i++) trades.send(transport, i % 3);
    const started = performance.now();
    await transport.close();
    const waited = performance.now() - started;
    assert.ok(waited < 10_000, `close waited ${waited} ms`);
    assert.ok(
      lines.includes(
        "warn: NATS publisher: closing with 10 trades not flushed (10 queued, 0 awaiting an ack) at once: NATS publishing was suspended by the registry lease",
      ),
      lines.join("\n"),
    );
    assert.deepEqual(transport.losses().map((l) => [l.kind, l.trades]), [
      ["unflushed", 10],
    ]);
  },
);

natsPublisherTest(
  "queue full while suspended by the registry lease: the drop warning and the loss line name the lease, not NATS slowness",
  async (server) => {
    const { transport, lines } = await openReady(server.url, {
      publish: { queueMaxTrades: 10 },
    });
    transport.guard(() => false);
    const trades = new Trades(SYMBOLS);
    for (let i = 0; i < 25; i++) trades.send(transport, i % 3);
    await waitFor(
      "the drop warning",
      () =>
        lines.some((l) =>
          l.includes(
            "queue full (10 trades) while NATS publishing is suspended by the registry lease (heartbeats unconfirmed): dropped 15 ",
          )
        ),
    );
    await transport.close();
    const dropped = transport.losses().find((l) => l.kind === "dropped");
    assert.match(
      dropped?.text ?? "",
      /15 of them while NATS publishing was suspended by the registry lease/,
    );
  },
);
