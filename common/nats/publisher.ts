/**
 * The NATS JetStream transport: trades wait in a bounded per-symbol queue and
 * go out in pipelined, adaptively batched, idempotent publishes.
 *
 * - `send` only copies the 48 bytes into the symbol's queue (preallocated
 *   chunks) and schedules the pump; it never blocks and never throws on NATS
 *   trouble.
 * - At most `maxInFlight` messages await their ack. When a slot is free a
 *   symbol's queued trades go out at once, so a lone trade travels alone;
 *   trades that queue up while the window is full go out together, up to
 *   `batchMaxTrades` per message.
 * - Every message carries a `Nats-Msg-Id` built from its first trade (trade
 *   id and per-symbol seq) and count, so a retried message is stored once,
 *   and distinct trades sharing a trade id are not. A duplicate ack on a
 *   message's first attempt means an earlier run stored the same data: not
 *   stored twice, counted apart and warned about. Failed publishes (no ack in
 *   time, no responders, disconnect) are retried with backoff, per symbol in
 *   order: a symbol sends nothing new while one of its messages waits for a
 *   retry. Rejected ones (a permanent JetStream error) are counted and logged,
 *   each distinct reason rate-limited on its own.
 * - Messages never exceed the server's `max_payload` nor the stream's
 *   `max_msg_size` (headers included): the trades per message are capped
 *   once per connection, when the stream is ensured. A message refused for
 *   its size anyway (the limits changed meanwhile) is sent again as smaller
 *   messages, in order; nothing of its symbol goes out before all of it is
 *   stored. The first of them keeps the refused message's id, so that one
 *   stored by an earlier attempt (its ack lost) is not stored again. When
 *   not even one trade fits, the transport fails.
 * - While NATS is unreachable the queue fills; beyond `queueMaxTrades` the
 *   oldest trades are dropped and counted.
 *
 * Acks are read from one inbox subscription (`{inbox}.{attempt id}`) rather
 * than one request per message: that avoids a timer and a promise per publish.
 *
 * @module
 */

import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import {
  backoff,
  createInbox,
  errors,
  headers,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
} from "@nats-io/nats-core";
import type { NatsTransportConfig } from "../config/mod.ts";
import { formatBytes, formatCount, formatNanos } from "../runtime/format.ts";
import { WordViewCache } from "../wire/words.ts";
import {
  LatencyHistogram,
  type LatencySummary,
} from "../metrics/latency_histogram.ts";
import type { Logger } from "../runtime/log.ts";
import { longestNatsMessageId, natsMessageId } from "../wire/message_id.ts";
import { RateLimitedLog } from "../runtime/rate_limited_log.ts";
import {
  connectNats,
  natsAuthError,
  type NatsConnectionCounters,
  natsConnectionOptions,
  newConnectionCounters,
} from "./connection.ts";
import { RecordOffset, type TradeOrigin } from "../wire/record.ts";
import {
  normalizeExchange,
  normalizeSymbol,
  tradeSubject,
} from "../wire/subjects.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import {
  ensureStream,
  StreamConfigError,
  streamMaxMsgSize,
} from "./stream_setup.ts";
import type { PublisherStats, TradePublisher } from "../transport/publisher.ts";

/** Who connects, in connection log lines. */
const ROLE = "publisher";
const LABEL = `NATS ${ROLE}`;
/** Records per queue chunk. */
const CHUNK_TRADES = 256;
const RECORD_WORDS = TRADE_RECORD_SIZE / 4;
/** A publish without an ack for this long is retried, ms. */
export const ACK_TIMEOUT_MS = 2000;
/** How often acks are checked for timeouts and due retries run, ms. */
const TICK_MS = 100;
/** Repeated warnings (drops, failed publishes) are logged at most this often, ms. */
const WARN_EVERY_MS = 5000;
/** JetStream's `err_code` for "message size exceeds maximum allowed". */
const MESSAGE_TOO_BIG = 10054;
/** Distinct rejection reasons rate-limited on their own; more share one limit. */
const MAX_REASONS = 16;
/** Delay before the n-th retry of a message (jittered), ms. */
const RETRY_BACKOFF = backoff([100, 250, 500, 1000]);
/**
 * A symbol whose oldest unacknowledged message has waited this long gets no
 * new message until that one is acknowledged or retried, ms. A message lost
 * with a dying stream leader is retried only after ACK_TIMEOUT_MS; without
 * this fence, later messages of its symbol sent to a newly elected leader
 * would be stored before it. An election takes seconds (nats-server's
 * minimum election timeout is 4 s), far longer than this.
 */
const FENCE_MS = 1000;

/** Counters of {@linkcode NatsPublisher}. */
export interface NatsPublisherStats extends PublisherStats {
  /** Trades in acknowledged messages. */
  tradesSent: number;
  /** Messages JetStream rejected for good. */
  publishErrors: number;
  /** Trades in those messages: lost. */
  tradesRejected: number;
  /** Messages published again after a failed attempt. */
  retries: number;
  /** Trades dropped, oldest first, because the queue was full (or sent after close). */
  dropped: number;
  /** Messages JetStream or the server refused for their size, sent again as smaller ones. */
  splits: number;
  /** Trades per message at most now: `batchMaxTrades`, or fewer to fit the size limits. */
  tradesPerMessage: number;
  /** Acks that said the message was already stored (a retry after a lost ack, or data an earlier run stored). */
  duplicates: number;
  /**
   * Trades in messages the stream held already on their first attempt: the
   * same data stored by an earlier run within the duplicate window, not
   * stored twice. Counted in `tradesSent` too.
   */
  alreadyStored: number;
  /** Publishes awaiting their ack now. */
  inFlight: number;
  /** Trades queued, not yet published. */
  queueDepth: number;
  /** Publish → ack latency, ns. */
  ackLatency: LatencySummary;
}

/** Options of {@linkcode NatsPublisher.open}. */
export interface NatsPublisherOptions {
  /** Exchange name (part of the subjects and message ids). */
  exchange: string;
  /** Connection, stream and publishing settings. */
  config: NatsTransportConfig;
  /** Where connection, stream and publishing events are logged. */
  log: Logger;
}

/** Trades {@linkcode NatsPublisher} gave up on, one way: see {@linkcode NatsPublisher.losses}. */
export interface NatsLoss {
  /**
   * Dropped because the queue was full, handed over after close, rejected by
   * JetStream, or not acknowledged at close.
   */
  kind: "dropped" | "closed" | "rejected" | "unflushed";
  /** How many trades. */
  trades: number;
  /** One line saying how many and why. */
  text: string;
}

interface Chunk {
  words: Int32Array;
  bytes: Uint8Array;
  /** Arrival number of each record, to find the oldest trade over all symbols. */
  arrivals: Float64Array;
  head: number;
  tail: number;
}

interface Lane {
  subject: string;
  origin: TradeOrigin;
  /** Trades of this symbol in acknowledged messages. */
  sent: number;
  /** Queued trades; every chunk but the last is full when appended, and the first holds the oldest. */
  chunks: Chunk[];
  queued: number;
  /** Messages built and not yet acknowledged or rejected, in publish order. */
  unacked: Slot[];
  /** How many of `unacked` are split (refused for their size): nothing behind them goes out. */
  splitting: number;
  /** How many of `unacked` wait for a retry. */
  waiting: number;
  /** Retries wait until then (performance.now() ms). */
  retryAt: number;
}

const enum SlotState {
  Free,
  InFlight,
  Waiting,
  /** Acked as a duplicate of a bigger message it was split from: reading what the stream holds. */
  Checking,
}

interface Slot {
  index: number;
  bytes: Uint8Array;
  view: DataView;
  state: SlotState;
  lane: Lane | undefined;
  /** The part of the trades in the current message. */
  payload: Uint8Array;
  /** Trades in the slot. */
  count: number;
  /** Trades before the current message (stored already): non-zero once split. */
  offset: number;
  /** Trades in the current message. */
  sending: number;
  /** Refused for its size once: sent as smaller messages, one at a time. */
  split: boolean;
  /** The next publish of a waiting slot is a retry (not the next part of a split one). */
  retry: boolean;
  /** An attempt with the current message's id may have been stored (sent, no answer). */
  maybeStored: boolean;
  /** The current message has the id of the bigger one it was split from. */
  keptId: boolean;
  headers: MsgHdrs | undefined;
  /** Id of the current attempt (in its reply subject); stale replies do not match. */
  attempt: number;
  /** performance.now() of the current attempt. */
  sentAt: number;
  /** Failed attempts so far: the next retry waits longer. */
  failures: number;
}

function checkSetting(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(
      `Invalid publish.${name} ${value}: expected an integer ≥ ${min}`,
    );
  }
  return value;
}

function newChunk(): Chunk {
  const words = new Int32Array(CHUNK_TRADES * RECORD_WORDS);
  return {
    words,
    bytes: new Uint8Array(words.buffer),
    arrivals: new Float64Array(CHUNK_TRADES),
    head: 0,
    tail: 0,
  };
}

/** Bytes of the header block of a message of `lane` at most (the longest `Nats-Msg-Id`). */
function headerBytes(lane: Lane, batchMax: number): number {
  const block = headers();
  block.set(
    "Nats-Msg-Id",
    longestNatsMessageId(lane.origin, { count: batchMax }),
  );
  return new TextEncoder().encode(block.toString()).length;
}

/** Publishes trades into a JetStream stream; see the module documentation. */
export class NatsPublisher implements TradePublisher {
  /** Transport name. */
  readonly name = "nats";
  #config: NatsTransportConfig;
  #log: Logger;
  #lanes: Lane[];
  #batchMax: number;
  /** Trades per message at most now (size limits); see {@linkcode NatsPublisher.#applyLimits}. */
  #cap: number;
  /** The longest header block of any message, bytes. */
  #headerBytes: number;
  #queueMax: number;
  #maxInFlight: number;
  #words = new WordViewCache();
  #spareChunks: Chunk[] = [];
  #slots: Slot[] = [];
  #freeSlots: number[] = [];
  #inbox = createInbox();
  #replyPrefix = `${this.#inbox}.`;
  #attempts = 0;
  #arrivals = 0;
  #pumpScheduled = false;
  #pumpTask = () => this.#pump();
  #nextLane = 0;
  // connection
  #abort = new AbortController();
  #connecting: Promise<void>;
  #nc: NatsConnection | undefined;
  #jsm: JetStreamManager | undefined;
  #connected = false;
  #ensured = false;
  #ensuring = false;
  #ensureRetry: ReturnType<typeof setTimeout> | undefined;
  #ensureFailures = 0;
  #failure: Error | undefined;
  #failed = Promise.withResolvers<Error>();
  #tick: ReturnType<typeof setInterval>;
  #closing: Promise<void> | undefined;
  #unflushed = 0;
  #idle: PromiseWithResolvers<void> | undefined;
  #room: PromiseWithResolvers<void> | undefined;
  // counters
  #queued = 0;
  #unacked = 0;
  #waiting = 0;
  #inFlight = 0;
  #messagesSent = 0;
  #tradesSent = 0;
  #publishErrors = 0;
  #tradesRejected = 0;
  #retries = 0;
  #dropped = 0;
  #droppedClosed = 0;
  #droppedReported = 0;
  #splits = 0;
  /** Trades rejected per reason. */
  #rejectedBy = new Map<string, number>();
  #lastDropReport = -Infinity;
  #duplicates = 0;
  #alreadyStored = 0;
  #alreadyStoredReported = 0;
  #lastAlreadyStoredReport = -Infinity;
  #ackLatency = new LatencyHistogram();
  #connection = newConnectionCounters();
  /** Warnings, at most one per kind ("retry", "split", "stream") per {@linkcode WARN_EVERY_MS}. */
  readonly #warnings: RateLimitedLog;
  /** Rejections, at most one line per reason per {@linkcode WARN_EVERY_MS}. */
  readonly #rejections: RateLimitedLog;

  private constructor(
    symbols: readonly string[],
    options: NatsPublisherOptions,
  ) {
    const { config, log } = options;
    const { publish, jetstream } = config;
    this.#config = config;
    this.#log = log;
    this.#maxInFlight = checkSetting("maxInFlight", publish.maxInFlight, 1);
    this.#batchMax = checkSetting("batchMaxTrades", publish.batchMaxTrades, 1);
    this.#cap = this.#batchMax;
    this.#queueMax = checkSetting("queueMaxTrades", publish.queueMaxTrades, 1);
    if (!(publish.flushTimeoutMs >= 0 && publish.flushTimeoutMs < Infinity)) {
      throw new RangeError(
        `Invalid publish.flushTimeoutMs ${publish.flushTimeoutMs}: expected a finite number of ms ≥ 0`,
      );
    }
    const exchange = normalizeExchange(options.exchange);
    this.#lanes = symbols.map((symbol) => {
      const subject = tradeSubject(exchange, symbol, {
        prefix: jetstream.subjectPrefix,
      });
      return {
        subject,
        origin: { exchange, symbol: normalizeSymbol(symbol) },
        sent: 0,
        chunks: [newChunk()],
        queued: 0,
        unacked: [],
        splitting: 0,
        waiting: 0,
        retryAt: 0,
      };
    });
    this.#headerBytes = Math.max(
      ...this.#lanes.map((lane) => headerBytes(lane, this.#batchMax)),
    );
    this.#warnings = new RateLimitedLog((m) => log.warn(m), WARN_EVERY_MS);
    this.#rejections = new RateLimitedLog((m) => log.error(m), WARN_EVERY_MS);
    this.#tick = setInterval(() => this.#onTick(), TICK_MS);
    this.#connecting = this.#connect();
  }

  /**
   * Starts publishing `symbols` (addressed by index in {@linkcode send}) and
   * returns at once: the connection is made in the background, waiting for
   * a server as long as it takes, and the stream is ensured each time it comes
   * up. Trades sent meanwhile are queued. When the servers reject the
   * credentials or the stream cannot take the configured settings, the
   * transport stops publishing and {@linkcode failed} resolves.
   *
   * @throws {ConfigError} when the creds or TLS files cannot be read.
   * @throws {RangeError} for a bad symbol, exchange or publish setting.
   */
  static async open(
    symbols: readonly string[],
    options: NatsPublisherOptions,
  ): Promise<NatsPublisher> {
    await natsConnectionOptions(options.config);
    return new NatsPublisher(symbols, options);
  }

  /** Subjects, in symbol order. */
  get subjects(): string[] {
    return this.#lanes.map((lane) => lane.subject);
  }

  /** Queues one 48-byte record of symbol `symbol` found at `offset` in `record` (4-byte aligned). */
  send(symbol: number, record: Uint8Array, offset = 0): void {
    const lane = this.#lanes[symbol];
    const source = this.#words.wordsAt(record, offset, TRADE_RECORD_SIZE);
    if (this.#closing !== undefined) {
      this.#dropped++;
      this.#droppedClosed++;
      return;
    }
    if (this.#queued >= this.#queueMax) this.#dropOldest();
    let chunk = lane.chunks[lane.chunks.length - 1];
    if (chunk.tail === CHUNK_TRADES) {
      chunk = this.#spareChunks.pop() ?? newChunk();
      lane.chunks.push(chunk);
    }
    const words = chunk.words;
    const from = this.#words.base;
    const to = chunk.tail * RECORD_WORDS;
    for (let i = 0; i < RECORD_WORDS; i++) words[to + i] = source[from + i];
    chunk.arrivals[chunk.tail] = this.#arrivals++;
    chunk.tail++;
    lane.queued++;
    this.#queued++;
    if (!this.#pumpScheduled) {
      this.#pumpScheduled = true;
      queueMicrotask(this.#pumpTask);
    }
  }

  /** Queues `count` records of symbol `symbol` stored back to back from byte 0 of `records`. */
  sendBatch(symbol: number, records: Uint8Array, count: number): void {
    for (let i = 0; i < count; i++) {
      this.send(symbol, records, i * TRADE_RECORD_SIZE);
    }
  }

  /** Connected, stream ensured, not failed or closing. */
  ready(): boolean {
    return this.#canPublish() && this.#closing === undefined;
  }

  /**
   * Resolves once the queue is below half full; `undefined` when it already
   * is, or the transport is closing or failed (never waits on a dead
   * transport). A publisher that must not drop trades awaits it.
   */
  room(): Promise<void> | undefined {
    if (
      this.#queued < this.#queueMax / 2 || this.#closing !== undefined ||
      this.#failure !== undefined
    ) {
      return undefined;
    }
    this.#room ??= Promise.withResolvers();
    return this.#room.promise;
  }

  /**
   * Resolves with the error when the transport gave up for good: the servers
   * rejected the credentials ({@linkcode NatsAuthError}), the stream cannot
   * take the configured settings ({@linkcode StreamConfigError}), or nats.js
   * closed the connection. Pending otherwise.
   */
  failed(): Promise<Error> {
    return this.#failed.promise;
  }

  /** Current counters. */
  stats(): NatsPublisherStats {
    return {
      messagesSent: this.#messagesSent,
      bytesSent: this.#tradesSent * TRADE_RECORD_SIZE,
      sendErrors: this.#publishErrors,
      bufferOverflows: this.#dropped,
      bufferUtilization: this.#queued / this.#queueMax,
      tradesSent: this.#tradesSent,
      publishErrors: this.#publishErrors,
      tradesRejected: this.#tradesRejected,
      retries: this.#retries,
      dropped: this.#dropped,
      splits: this.#splits,
      tradesPerMessage: this.#cap,
      duplicates: this.#duplicates,
      alreadyStored: this.#alreadyStored,
      inFlight: this.#inFlight,
      queueDepth: this.#queued,
      ackLatency: this.#ackLatency.summary(),
    };
  }

  /** Trades acknowledged by the stream, per symbol. */
  sentPerSymbol(): number[] {
    return this.#lanes.map((lane) => lane.sent);
  }

  /** Trades queued (not yet published), per symbol. */
  queuedPerSymbol(): number[] {
    return this.#lanes.map((lane) => lane.queued);
  }

  /** The connection's state and reconnect counts. */
  get connection(): Readonly<NatsConnectionCounters> {
    return this.#connection;
  }

  /** Publish → ack latencies, ns (the live histogram: read, don't record). */
  get ackLatency(): LatencyHistogram {
    return this.#ackLatency;
  }

  /** Progress fragment: trades and messages acknowledged, in flight, queued, dropped, already stored (when any), retries, errors, ack latency. */
  summary(): string {
    const stats = this.stats();
    const { ackLatency } = stats;
    return `nats ${formatCount(stats.tradesSent)} trades in ${
      formatCount(stats.messagesSent)
    } msgs ${formatBytes(stats.bytesSent)} in flight ${stats.inFlight} queued ${
      formatCount(stats.queueDepth)
    } (${(stats.bufferUtilization * 100).toFixed(0)}%) dropped ${
      formatCount(stats.dropped)
    }${
      stats.alreadyStored > 0
        ? ` already stored ${formatCount(stats.alreadyStored)}`
        : ""
    } retries ${stats.retries} errors ${stats.publishErrors} ack p50 ${
      formatNanos(ackLatency.p50)
    } p99 ${formatNanos(ackLatency.p99)}${
      this.#closing ? " (closed)" : this.ready() ? "" : " (not ready)"
    }`;
  }

  /**
   * Stops accepting trades, publishes what is queued and waits for the acks,
   * for at most `publish.flushTimeoutMs`; then drains and closes the
   * connection. Logs how many trades were not flushed (queued, or published
   * without an ack). Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /**
   * One entry per way trades were given up on (dropped, rejected, and once
   * {@linkcode close} finished, not acknowledged: queued, or published
   * without an ack), saying how many and why; empty when every trade was
   * stored.
   */
  losses(): NatsLoss[] {
    const losses: NatsLoss[] = [];
    const full = this.#dropped - this.#droppedClosed;
    if (full > 0) {
      losses.push({
        kind: "dropped",
        trades: full,
        text: `${
          formatCount(full)
        } trades dropped by the NATS publisher, oldest first: its queue (transport.nats.publish.queue_max_trades = ${
          formatCount(this.#queueMax)
        }) was full${
          this.#failure === undefined ? "" : " after publishing had stopped"
        }`,
      });
    }
    if (this.#droppedClosed > 0) {
      losses.push({
        kind: "closed",
        trades: this.#droppedClosed,
        text: `${
          formatCount(this.#droppedClosed)
        } trades dropped by the NATS publisher: handed to it after it closed`,
      });
    }
    if (this.#tradesRejected > 0) {
      const reasons = [...this.#rejectedBy].map(([reason, trades]) =>
        `${formatCount(trades)} for "${reason}"`
      );
      losses.push({
        kind: "rejected",
        trades: this.#tradesRejected,
        text: `${formatCount(this.#tradesRejected)} trades in ${
          formatCount(this.#publishErrors)
        } messages rejected for good by JetStream: ${reasons.join(", ")}`,
      });
    }
    if (this.#unflushed > 0) {
      losses.push({
        kind: "unflushed",
        trades: this.#unflushed,
        text: `${
          formatCount(this.#unflushed)
        } trades were not acknowledged by the NATS stream before shutdown`,
      });
    }
    return losses;
  }

  async #close(): Promise<void> {
    this.#resolveRoom();
    if (this.#failure === undefined && !this.#isIdle()) {
      this.#idle = Promise.withResolvers();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#idle.promise,
        this.#failed.promise,
        new Promise((resolve) => {
          timer = setTimeout(resolve, this.#config.publish.flushTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
    let unflushed = this.#queued;
    for (const lane of this.#lanes) {
      for (const slot of lane.unacked) unflushed += slot.count - slot.offset;
    }
    this.#unflushed = unflushed;
    if (unflushed > 0) {
      this.#log.warn(
        `${LABEL}: closing with ${unflushed} trades not flushed (${this.#queued} queued, ${
          unflushed - this.#queued
        } awaiting an ack) ${
          this.#failure === undefined
            ? `after waiting ${this.#config.publish.flushTimeoutMs} ms`
            : "since publishing stopped"
        }`,
      );
    } else {
      this.#log.info(`${LABEL}: flushed everything before closing`);
    }
    this.#reportAlreadyStored();
    clearInterval(this.#tick);
    clearTimeout(this.#ensureRetry);
    this.#abort.abort(new Error("NATS transport closed"));
    const nc = this.#nc;
    if (nc !== undefined) {
      // after a failure the connection is closing already
      if (this.#failure === undefined && !nc.isClosed()) {
        await (this.#connected ? nc.drain() : nc.close()).catch(() =>
          nc.close()
        );
      }
      await nc.closed();
    }
    await this.#connecting;
  }

  // ------------------------------------------------------------------ connection

  async #connect(): Promise<void> {
    let nc: NatsConnection;
    try {
      nc = await connectNats(this.#config, {
        log: this.#log,
        role: ROLE,
        counters: this.#connection,
        signal: this.#abort.signal,
      });
    } catch (error) {
      if (!this.#abort.signal.aborted) this.#fail(error);
      return;
    }
    if (this.#abort.signal.aborted) {
      await nc.close(); // connected just as close() gave up waiting
      return;
    }
    this.#nc = nc;
    this.#jsm = await jetstreamManager(nc, { checkAPI: false });
    nc.subscribe(`${this.#inbox}.*`, {
      callback: (_error, msg) => this.#onReply(msg),
    });
    nc.closed().then((error) => {
      this.#connected = false;
      this.#ensured = false;
      if (error && !this.#abort.signal.aborted) {
        this.#fail(natsAuthError(error, this.#config) ?? error);
      }
    });
    this.#connected = true;
    // Before #ensure, which may fail and close the connection: an iterator
    // made after the close would never end.
    const statuses = nc.status();
    this.#ensure();
    for await (const status of statuses) {
      if (status.type === "disconnect") {
        this.#onDisconnect();
      } else if (status.type === "reconnect") {
        this.#connected = true;
        this.#ensure();
      }
    }
  }

  /**
   * Ensures the stream (again after every reconnect), then lets the pump
   * publish. With `recheck`, checks a stream already ensured without
   * stopping the pump.
   */
  #ensure(options: { recheck?: boolean } = {}): void {
    if (
      this.#ensuring || (this.#ensured && !options.recheck) ||
      !this.#connected || this.#failure !== undefined ||
      this.#abort.signal.aborted
    ) {
      return;
    }
    // Where one trade does not fit, not even the stream's API requests do.
    // (Only while the pump stands still: the cap ignores the stream's limit
    // until it is read.)
    if (!this.#ensured && !this.#applyLimits()) return;
    this.#ensuring = true;
    const { jetstream } = this.#config;
    const jsm = this.#jsm!;
    ensureStream(jsm, jetstream, { log: this.#log }).then(
      () => streamMaxMsgSize(jsm, jetstream.streamName),
    ).then(
      (maxMsgSize) => {
        this.#ensuring = false;
        this.#ensureFailures = 0;
        if (!this.#connected) return; // the reconnect ensures it again
        if (!this.#applyLimits(maxMsgSize)) return;
        if (options.recheck && this.#ensured) return;
        this.#ensured = true;
        this.#log.info(
          `${LABEL}: publishing to stream ${jetstream.streamName} (${this.#lanes.length} subjects, ${this.#maxInFlight} in flight, up to ${this.#cap} trades per message)`,
        );
        this.#schedulePump();
      },
      (error) => {
        this.#ensuring = false;
        if (error instanceof StreamConfigError) {
          this.#fail(error);
          return;
        }
        this.#warnings.log(
          "stream",
          `${LABEL}: cannot set up stream ${jetstream.streamName} yet (${
            error instanceof Error ? error.message : String(error)
          }); retrying`,
        );
        this.#ensureRetry = setTimeout(
          () => this.#ensure(),
          RETRY_BACKOFF.backoff(this.#ensureFailures++),
        );
      },
    );
  }

  /**
   * Caps the trades per message to what fits, headers included, in the
   * connected server's `max_payload` and the stream's `max_msg_size` (when
   * known), and logs a cap below `batchMaxTrades`; once per connection, so
   * the hot path never measures. Fails the transport and returns false when
   * not even one trade fits.
   */
  #applyLimits(maxMsgSize?: number): boolean {
    const limits: { bytes: number; what: string; remedy: string }[] = [];
    const maxPayload = this.#nc?.info?.max_payload;
    if (maxPayload !== undefined && maxPayload > 0) {
      limits.push({
        bytes: maxPayload,
        what: `the NATS server's max_payload is ${maxPayload} bytes`,
        remedy: "raise max_payload in the nats-server configuration",
      });
    }
    const stream = this.#config.jetstream.streamName;
    if (maxMsgSize !== undefined) {
      limits.push({
        bytes: maxMsgSize,
        what: `stream ${stream}'s max_msg_size is ${maxMsgSize} bytes`,
        remedy: `raise it (\`nats stream edit ${stream} --max-msg-size ${
          this.#headerBytes + this.#batchMax * TRADE_RECORD_SIZE
        }\`) or remove it`,
      });
    }
    let cap = this.#batchMax;
    let binding = limits[0];
    for (const limit of limits) {
      const fit = Math.floor(
        (limit.bytes - this.#headerBytes) / TRADE_RECORD_SIZE,
      );
      if (fit < cap) {
        cap = Math.max(0, fit);
        binding = limit;
      }
    }
    if (cap === 0) {
      this.#fail(
        new Error(
          `one trade does not fit in a message: ${binding.what}, and a message of one trade needs up to ${
            this.#headerBytes + TRADE_RECORD_SIZE
          } (${TRADE_RECORD_SIZE} bytes of trade, up to ${this.#headerBytes} of headers): ${binding.remedy}`,
        ),
      );
      return false;
    }
    if (cap !== this.#cap && cap < this.#batchMax) {
      this.#log.info(
        `${LABEL}: messages hold at most ${cap} trades, not ${this.#batchMax}: ${binding.what} (${TRADE_RECORD_SIZE} bytes per trade, up to ${this.#headerBytes} of headers)`,
      );
    }
    this.#cap = cap;
    return true;
  }

  #onDisconnect(): void {
    this.#connected = false;
    this.#ensured = false;
    // Whatever was in flight will never be acked on this connection: resend
    // it (same ids, so what was stored is dropped as a duplicate) as soon as
    // the connection is back.
    for (const lane of this.#lanes) {
      for (const slot of lane.unacked) {
        if (slot.state === SlotState.InFlight) {
          this.#settle(slot);
          slot.maybeStored = true;
          this.#retryLater(slot);
        }
      }
      lane.retryAt = 0;
    }
  }

  #fail(error: unknown): void {
    if (this.#failure !== undefined) return;
    const failure = error instanceof Error ? error : new Error(String(error));
    this.#failure = failure;
    this.#connected = false;
    this.#ensured = false;
    this.#log.error(
      `${LABEL}: publishing stopped, trades are queued and then dropped: ${failure.message}`,
    );
    this.#failed.resolve(failure);
    this.#resolveRoom();
    if (this.#nc !== undefined && !this.#nc.isClosed()) {
      this.#nc.close().catch(() => {});
    }
  }

  // ------------------------------------------------------------------ queue

  /** Drops the oldest queued trade over all symbols. */
  #dropOldest(): void {
    let oldest = this.#lanes[0];
    let arrival = Infinity;
    for (const lane of this.#lanes) {
      if (lane.queued === 0) continue;
      const chunk = lane.chunks[0];
      if (chunk.arrivals[chunk.head] < arrival) {
        arrival = chunk.arrivals[chunk.head];
        oldest = lane;
      }
    }
    this.#take(oldest, 1);
    this.#dropped++;
  }

  /** Removes the `count` oldest queued trades of `lane`, copying them to `into` when given. */
  #take(lane: Lane, count: number, into?: Uint8Array): void {
    let done = 0;
    while (done < count) {
      const chunk = lane.chunks[0];
      const n = Math.min(count - done, chunk.tail - chunk.head);
      into?.set(
        chunk.bytes.subarray(
          chunk.head * TRADE_RECORD_SIZE,
          (chunk.head + n) * TRADE_RECORD_SIZE,
        ),
        done * TRADE_RECORD_SIZE,
      );
      chunk.head += n;
      done += n;
      if (chunk.head === chunk.tail) {
        if (lane.chunks.length > 1) {
          lane.chunks.shift();
          chunk.head = chunk.tail = 0;
          this.#spareChunks.push(chunk);
        } else {
          chunk.head = chunk.tail = 0;
        }
      }
    }
    lane.queued -= count;
    this.#queued -= count;
  }

  #resolveRoom(): void {
    this.#room?.resolve();
    this.#room = undefined;
  }

  #canPublish(): boolean {
    return this.#connected && this.#ensured && this.#failure === undefined;
  }

  #isIdle(): boolean {
    return this.#queued === 0 && this.#unacked === 0;
  }

  // ------------------------------------------------------------------ publishing

  #schedulePump(): void {
    if (!this.#pumpScheduled) {
      this.#pumpScheduled = true;
      queueMicrotask(this.#pumpTask);
    }
  }

  #pump(): void {
    this.#pumpScheduled = false;
    if (!this.#canPublish()) return;
    if (this.#waiting > 0) this.#resendDue();
    const lanes = this.#lanes;
    const fence = performance.now() - FENCE_MS;
    while (this.#queued > 0 && this.#unacked < this.#maxInFlight) {
      let built = false;
      for (
        let n = 0;
        n < lanes.length && this.#unacked < this.#maxInFlight;
        n++
      ) {
        const lane = lanes[this.#nextLane];
        this.#nextLane = (this.#nextLane + 1) % lanes.length;
        if (lane.queued === 0 || lane.waiting > 0 || lane.splitting > 0) {
          continue;
        }
        // Keep the symbol's order: nothing new behind a message that may be lost.
        if (lane.unacked.length > 0 && lane.unacked[0].sentAt < fence) continue;
        this.#publish(this.#build(lane));
        built = true;
      }
      if (!built) break;
    }
    if (this.#room !== undefined && this.#queued < this.#queueMax / 2) {
      this.#resolveRoom();
    }
  }

  /** Packs up to the cap of the lane's oldest queued trades into a message. */
  #build(lane: Lane): Slot {
    const slot = this.#freeSlot();
    const count = Math.min(lane.queued, this.#cap);
    this.#take(lane, count, slot.bytes);
    slot.lane = lane;
    slot.count = count;
    slot.failures = 0;
    this.#setMessage(slot, 0, count);
    lane.unacked.push(slot);
    this.#unacked++;
    return slot;
  }

  /**
   * Makes the slot's next message: `sending` of its trades from `offset` on,
   * with their `Nats-Msg-Id`, or with `keepId` the id of the message it is
   * the first part of.
   */
  #setMessage(
    slot: Slot,
    offset: number,
    sending: number,
    keepId = false,
  ): void {
    slot.offset = offset;
    slot.sending = sending;
    const from = offset * TRADE_RECORD_SIZE;
    slot.payload = slot.bytes.subarray(
      from,
      from + sending * TRADE_RECORD_SIZE,
    );
    if (keepId) {
      slot.keptId = true;
      return;
    }
    const firstTradeId = slot.view.getBigUint64(
      from + RecordOffset.TradeId,
      true,
    );
    const firstSeq = slot.view.getUint32(from + RecordOffset.Seq, true);
    slot.headers = headers();
    slot.headers.set(
      "Nats-Msg-Id",
      natsMessageId(slot.lane!.origin, firstTradeId, {
        count: sending,
        firstSeq,
      }),
    );
    slot.maybeStored = false;
    slot.keptId = false;
  }

  #freeSlot(): Slot {
    const index = this.#freeSlots.pop();
    if (index !== undefined) return this.#slots[index];
    const bytes = new Uint8Array(this.#batchMax * TRADE_RECORD_SIZE);
    const slot: Slot = {
      index: this.#slots.length,
      bytes,
      view: new DataView(bytes.buffer),
      state: SlotState.Free,
      lane: undefined,
      payload: bytes,
      count: 0,
      offset: 0,
      sending: 0,
      split: false,
      retry: false,
      maybeStored: false,
      keptId: false,
      headers: undefined,
      attempt: -1,
      sentAt: 0,
      failures: 0,
    };
    this.#slots.push(slot);
    return slot;
  }

  #publish(slot: Slot): void {
    const lane = slot.lane!;
    // the attempt id names the slot (id mod maxInFlight) and this attempt
    const id = this.#attempts++ * this.#maxInFlight + slot.index;
    slot.attempt = id;
    slot.state = SlotState.InFlight;
    slot.sentAt = performance.now();
    this.#inFlight++;
    try {
      this.#nc!.publish(lane.subject, slot.payload, {
        reply: this.#replyPrefix + id,
        headers: slot.headers,
      });
    } catch (error) {
      this.#settle(slot);
      if (
        error instanceof errors.InvalidArgumentError &&
        error.message.includes("max_payload")
      ) {
        // nats.js checks the server's max_payload (headers included)
        this.#shrink(slot, error.message);
      } else if (error instanceof errors.InvalidArgumentError) {
        this.#reject(slot, error.message);
      } else {
        this.#retryLater(
          slot,
          error instanceof Error ? error.message : String(error),
        );
      }
    }
  }

  /** Resends, in order, the waiting messages of every symbol whose backoff is over. */
  #resendDue(): void {
    const now = performance.now();
    for (const lane of this.#lanes) {
      if (lane.waiting === 0 || lane.retryAt > now) continue;
      for (const slot of [...lane.unacked]) {
        if (slot.state === SlotState.Waiting) {
          lane.waiting--;
          this.#waiting--;
          if (slot.retry) this.#retries++;
          this.#publish(slot);
        }
        // Nothing behind a split message goes out before all of it is stored.
        if (slot.split) break;
      }
    }
  }

  #onReply(msg: Msg): void {
    const id = Number(msg.subject.slice(this.#replyPrefix.length));
    const slot = this.#slots[id % this.#maxInFlight];
    if (slot?.attempt !== id || slot.state !== SlotState.InFlight) return;
    this.#settle(slot);
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      // No stream leader (an election) or no stream (deleted): check the
      // stream in the background, and keep retrying meanwhile, so that
      // publishing resumes as soon as a leader answers.
      if (this.#ensured) this.#ensure({ recheck: true });
      this.#retryLater(
        slot,
        "no responders (is the stream there, has it a leader?)",
      );
      return;
    }
    let ack: {
      duplicate?: boolean;
      seq?: number;
      error?: { code?: number; err_code?: number; description?: string };
    };
    try {
      ack = msg.json();
    } catch {
      this.#reject(
        slot,
        `unreadable ack ${JSON.stringify(msg.string())}`,
        "unreadable ack",
      );
      return;
    }
    if (ack.error !== undefined) {
      const code = ack.error.code ?? 0;
      const reason = `${code} ${ack.error.description ?? "unknown error"}`;
      if (ack.error.err_code === MESSAGE_TOO_BIG) {
        this.#shrink(slot, reason);
      } else if (code >= 500 || code === 429 || code === 408) {
        this.#retryLater(slot, reason);
      } else {
        this.#reject(slot, reason);
      }
      return;
    }
    this.#ackLatency.record((performance.now() - slot.sentAt) * 1e6);
    if (ack.duplicate === true) {
      this.#duplicates++;
      if (slot.keptId) {
        this.#checkStored(slot, ack.seq);
        return;
      }
      // first attempt: an earlier run stored it (reported by the tick)
      if (!slot.maybeStored) this.#alreadyStored += slot.sending;
    }
    this.#stored(slot, slot.sending);
  }

  /**
   * Counts `trades` of the slot from its current offset as stored, and makes
   * its next part or releases it.
   */
  #stored(slot: Slot, trades: number): void {
    this.#messagesSent++;
    this.#tradesSent += trades;
    slot.lane!.sent += trades;
    const next = slot.offset + trades;
    if (next < slot.count) {
      // the next part of a split message
      slot.failures = 0;
      this.#setMessage(slot, next, Math.min(slot.count - next, this.#cap));
      this.#wait(slot, false);
      return;
    }
    this.#done(slot);
  }

  /**
   * A duplicate ack for the first part of a split message, which carries the
   * id of the message it was split from: the stream holds a message with
   * that id, but which one? Either the bigger message (an attempt whose ack
   * was lost before the split) or this part (an attempt of it whose ack was
   * lost), or, when nothing with this id may have been stored in this run, an
   * earlier run's message. Every one of them starts at this part's first
   * trade, so the stored message's size (read at the ack's stream sequence)
   * says how many trades are stored from there. JetStream keeps at most one
   * message per id within the duplicate window, whatever order the attempts
   * arrive in, so the other parts are sent only if that one does not cover
   * them. When it cannot be read (no permission, gone), this part is counted
   * as stored (every attempt with this id in this run held it) and the rest
   * is sent: at worst some trades are stored twice.
   */
  #checkStored(slot: Slot, seq: number | undefined): void {
    slot.state = SlotState.Checking;
    const id = slot.headers?.get("Nats-Msg-Id");
    const at = slot.offset;
    const earlier = !slot.maybeStored;
    const read = seq === undefined
      ? Promise.reject(new Error("the ack has no stream sequence"))
      : this.#jsm!.streams.getMessage(this.#config.jetstream.streamName, {
        seq,
      });
    read.then((message) => {
      const trades = (message?.data.length ?? 0) / TRADE_RECORD_SIZE;
      if (
        message?.header.get("Nats-Msg-Id") !== id ||
        !Number.isInteger(trades) || trades < 1 || trades > slot.count - at
      ) {
        throw new Error(`stream sequence ${seq} holds another message`);
      }
      return trades;
    }).catch((error) => {
      this.#warnings.log(
        "split",
        `${LABEL}: cannot read the message ${id} the stream holds (${
          error instanceof Error ? error.message : String(error)
        }); counting the ${slot.sending} trades of its first part as stored and sending the rest, which may store some twice`,
      );
      return slot.sending;
    }).then((trades) => {
      if (slot.state !== SlotState.Checking || slot.offset !== at) return;
      if (earlier) this.#alreadyStored += trades;
      this.#stored(slot, trades);
    });
  }

  /** Logs the trades counted as already stored since the last report, if any. */
  #reportAlreadyStored(): void {
    const trades = this.#alreadyStored - this.#alreadyStoredReported;
    if (trades === 0) return;
    this.#log.warn(
      `${LABEL}: ${
        formatCount(trades)
      } trades were already in stream ${this.#config.jetstream.streamName} with the same Nats-Msg-Id within its duplicate_window (an earlier run of the same data?) and were not stored twice (${
        formatCount(this.#alreadyStored)
      } in all)`,
    );
    this.#alreadyStoredReported = this.#alreadyStored;
    this.#lastAlreadyStoredReport = performance.now();
  }

  /** Ends the current attempt of an in-flight message; stale replies to it are ignored. */
  #settle(slot: Slot): void {
    this.#inFlight--;
    slot.attempt = -1;
  }

  /**
   * Queues a message to be published again: after the symbol's backoff when
   * the attempt failed for `reason`, else as soon as the connection is back.
   */
  #retryLater(slot: Slot, reason?: string): void {
    const lane = slot.lane!;
    this.#wait(slot, true);
    if (reason === undefined) return;
    lane.retryAt = Math.max(
      lane.retryAt,
      performance.now() + RETRY_BACKOFF.backoff(slot.failures++),
    );
    this.#warnings.log(
      "retry",
      `${LABEL}: publish to ${lane.subject} failed (${reason}); retrying`,
    );
  }

  /** Marks a message to be published again by the pump: a `retry`, or the next part of a split one. */
  #wait(slot: Slot, retry: boolean): void {
    slot.state = SlotState.Waiting;
    slot.retry = retry;
    slot.lane!.waiting++;
    this.#waiting++;
    this.#schedulePump();
  }

  /**
   * A message too big for the server or the stream (their limits changed
   * since they were read): sends its trades again in messages half as big,
   * and lowers the cap for new ones. Nothing of its symbol goes out before
   * all of it is stored. Fails the transport when one trade alone is too big.
   */
  #shrink(slot: Slot, reason: string): void {
    const lane = slot.lane!;
    if (!slot.split) {
      slot.split = true;
      lane.splitting++;
    }
    if (slot.sending === 1) {
      this.#wait(slot, true); // counted as not flushed
      this.#fail(
        new Error(
          `one trade does not fit in a message on ${lane.subject} (${reason}): the server's max_payload or the stream's max_msg_size is below ${
            this.#headerBytes + TRADE_RECORD_SIZE
          } bytes (${TRADE_RECORD_SIZE} bytes of trade, up to ${this.#headerBytes} of headers): raise it`,
        ),
      );
      return;
    }
    const smaller = Math.min(slot.sending >> 1, this.#cap);
    this.#cap = smaller;
    this.#splits++;
    this.#warnings.log(
      "split",
      `${LABEL}: a message of ${slot.sending} trades on ${lane.subject} was too big (${reason}); sending its trades again in messages of up to ${smaller}`,
    );
    // The first part keeps the refused message's id: an earlier attempt of
    // that message may have been stored, its ack lost (it is resent after a
    // reconnect, and the reconnect is what brings a lowered max_payload).
    // JetStream stores at most one message per id within the duplicate
    // window, whichever attempt comes first, so either the earlier attempt
    // or this part is stored, never both; a duplicate ack says which
    // (#checkStored). Later parts get ids of their own.
    this.#setMessage(slot, slot.offset, smaller, true);
    this.#wait(slot, false);
  }

  /** Gives up on a message JetStream refused for good: counted per reason, logged rate-limited per reason. */
  #reject(slot: Slot, reason: string, kind = reason): void {
    const trades = slot.count - slot.offset;
    this.#publishErrors++;
    this.#tradesRejected += trades;
    const key = this.#rejectedBy.has(kind) ||
        this.#rejectedBy.size < MAX_REASONS
      ? kind
      : "other reasons";
    this.#rejectedBy.set(key, (this.#rejectedBy.get(key) ?? 0) + trades);
    this.#rejections.log(
      key,
      `${LABEL}: JetStream rejected a message of ${trades} trades on ${
        slot.lane!.subject
      } (${reason}); its trades are lost`,
    );
    this.#done(slot);
  }

  /** Releases an acknowledged or rejected message's slot. */
  #done(slot: Slot): void {
    const lane = slot.lane!;
    lane.unacked.splice(lane.unacked.indexOf(slot), 1);
    this.#unacked--;
    if (slot.split) {
      slot.split = false;
      lane.splitting--;
    }
    slot.offset = 0;
    slot.state = SlotState.Free;
    slot.lane = undefined;
    slot.headers = undefined;
    this.#freeSlots.push(slot.index);
    if (this.#idle !== undefined && this.#isIdle()) this.#idle.resolve();
    if (this.#queued > 0 || this.#waiting > 0) this.#schedulePump();
  }

  #onTick(): void {
    const now = performance.now();
    if (this.#connected && this.#inFlight > 0) {
      for (const slot of this.#slots) {
        if (
          slot.state === SlotState.InFlight &&
          now - slot.sentAt > ACK_TIMEOUT_MS
        ) {
          this.#settle(slot);
          slot.maybeStored = true;
          this.#retryLater(slot, `no ack within ${ACK_TIMEOUT_MS} ms`);
        }
      }
    }
    if (this.#waiting > 0) this.#schedulePump();
    if (
      this.#dropped > this.#droppedReported &&
      now - this.#lastDropReport >= WARN_EVERY_MS
    ) {
      this.#log.warn(
        `${LABEL}: queue full (${this.#queueMax} trades): dropped ${
          this.#dropped - this.#droppedReported
        } of the oldest trades (${this.#dropped} in all)`,
      );
      this.#droppedReported = this.#dropped;
      this.#lastDropReport = now;
    }
    if (now - this.#lastAlreadyStoredReport >= WARN_EVERY_MS) {
      this.#reportAlreadyStored();
    }
  }
}
