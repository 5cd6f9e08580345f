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
 * - Every message carries a `Nats-Msg-Id` (its first trade's id and seq, its
 *   count): a retry is stored once. A duplicate ack on a first attempt (an
 *   earlier run stored it) is counted apart and warned about. Failed
 *   publishes are retried with backoff, per symbol in order; rejected ones
 *   (a permanent JetStream error) are counted and logged, rate-limited.
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
 * Acks come to one inbox subscription (`{inbox}.{attempt id}`), not one
 * request per message: no timer and no promise per publish.
 *
 * @module
 */

import { createInbox, type NatsConnection } from "@nats-io/nats-core";
import type { NatsTransportConfig } from "../config/mod.ts";
import { WordViewCache } from "../wire/mod.ts";
import type { LatencyHistogram } from "../metrics/latency_histogram.ts";
import type { Logger } from "../runtime/log.ts";
import {
  type NatsConnectionCounters,
  natsConnectionOptions,
} from "./connection.ts";
import { normalizeExchange } from "../wire/subjects.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import type { TradePublisher } from "../transport/publisher.ts";
import {
  type Chunk,
  CHUNK_TRADES,
  giveUpAll,
  type Lane,
  newChunk,
  newLane,
  oldestLane,
  RECORD_WORDS,
  takeTrades,
  unackedTrades,
} from "./_publish_lane.ts";
import { headerBytes } from "./_publish_message.ts";
import { checkRunEpoch, newRunEpoch } from "../wire/run_epoch.ts";
import { checkPublishSettings, MessageSizes } from "./_publish_limits.ts";
import { LossReports, type NatsLoss, publishLosses } from "./_publish_loss.ts";
import { type NatsPublisherStats, publisherSummary } from "./_publish_stats.ts";
import { PublisherConnection } from "./_publish_connection.ts";
import { PublishWindow } from "./_publish_window.ts";
import { pumpLanes, type PumpState } from "./_publish_pump.ts";
import { LABEL } from "./_publish_log.ts";
import { formatCount } from "../runtime/format.ts";
import type { Labels, MetricFamily } from "../metrics/exposition.ts";
import { natsPublisherFamilies } from "./publisher_metrics.ts";

export type { NatsLoss, NatsPublisherStats };
export { ACK_TIMEOUT_MS } from "./_publish_retry.ts";

/** How often acks are checked for timeouts and due retries run, ms. */
const TICK_MS = 100;
/** Options of {@linkcode NatsPublisher.open}. */
export interface NatsPublisherOptions {
  /** Exchange name (part of the subjects and message ids). */
  exchange: string;
  /** Connection, stream and publishing settings. */
  config: NatsTransportConfig;
  /** Where connection, stream and publishing events are logged. */
  log: Logger;
  /**
   * The run's epoch, carried by every message in a `Marketbus-Epoch` header
   * (default: a random one; see `common/wire/run_epoch.ts`).
   */
  epoch?: number;
}

/** Publishes trades into a JetStream stream; see the module documentation. */
export class NatsPublisher implements TradePublisher {
  /** Transport name. */
  readonly name = "nats";
  /** The run epoch every message carries (`Marketbus-Epoch`). */
  readonly epoch: number;
  #config: NatsTransportConfig;
  #log: Logger;
  #lanes: Lane[];
  #queueMax: number;
  #maxInFlight: number;
  #words = new WordViewCache();
  #spareChunks: Chunk[] = [];
  #arrivals = 0;
  #pumpScheduled = false;
  #pumpTask = () => this.#pump();
  /** After a slot was released: lets close() finish, pumps what is left. */
  #released = () => {
    if (this.#idle !== undefined && this.#isIdle()) this.#idle.resolve();
    if (this.#queued > 0 || this.#window.waiting > 0) this.#schedulePump();
  };
  #pumpState: PumpState | undefined;
  #link: PublisherConnection;
  #window: PublishWindow;
  #tick: ReturnType<typeof setInterval>;
  #closing: Promise<void> | undefined;
  #unflushed = 0;
  #idle: PromiseWithResolvers<void> | undefined;
  #room: PromiseWithResolvers<void> | undefined;
  #queued = 0;
  #dropped = 0;
  /** Of the queue-full drops, those while suspended by the lease. */
  #droppedSuspended = 0;
  #droppedClosed = 0;
  /** Publishes only while it holds (see {@linkcode guard}). */
  #lease: (() => boolean) | undefined;
  #cut = false; // the connection was cut as the lease ended
  /** Trades given up on once fenced (another serve took over); -1 until then. */
  #fenced = -1;
  readonly #reports: LossReports;

  private constructor(
    symbols: readonly string[],
    options: NatsPublisherOptions,
  ) {
    const { config, log } = options;
    const { publish, jetstream } = config;
    this.#config = config;
    this.#log = log;
    checkPublishSettings(publish);
    this.epoch = options.epoch === undefined
      ? newRunEpoch()
      : checkRunEpoch(options.epoch, "run epoch");
    const batchMax = publish.batchMaxTrades;
    this.#maxInFlight = publish.maxInFlight;
    this.#queueMax = publish.queueMaxTrades;
    const exchange = normalizeExchange(options.exchange);
    this.#lanes = symbols.map((symbol) =>
      newLane(exchange, symbol, { prefix: jetstream.subjectPrefix })
    );
    const stream = jetstream.streamName;
    const sizes = new MessageSizes({
      batchMax,
      headerBytes: Math.max(
        ...this.#lanes.map((lane) => headerBytes(lane.origin, batchMax)),
      ),
      stream,
    });
    const inbox = createInbox();
    this.#link = new PublisherConnection(config, {
      log,
      inbox,
      hooks: {
        onReply: (_error, msg) => this.#window.reply(msg),
        applyLimits: (maxPayload, maxMsgSize) =>
          this.#window.applyLimits(maxPayload, maxMsgSize),
        onReady: (nc) => this.#onReady(nc),
        onDisconnect: () => this.#window.disconnected(),
        onFail: () => this.#resolveRoom(),
      },
    });
    this.#window = new PublishWindow(this.#lanes, {
      link: this.#link,
      log,
      stream,
      replyPrefix: `${inbox}.`,
      maxInFlight: this.#maxInFlight,
      batchMax,
      sizes,
      schedulePump: () => this.#schedulePump(),
      released: this.#released,
      epoch: this.epoch,
    });
    this.#reports = new LossReports(log, { stream, queueMax: this.#queueMax });
    this.#tick = setInterval(() => this.#onTick(), TICK_MS);
    this.#link.start();
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
    if (this.#fenced >= 0) {
      this.#fenced++;
      return;
    }
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

  /**
   * Sends what is queued now instead of at the next microtask: a source that
   * blocks its thread between trades calls it (through the pipeline) first.
   * Returns a promise, settled once the frames reached the socket (the
   * write needs a turn of the event loop), or undefined when nothing was
   * sent.
   */
  flush(): Promise<void> | undefined {
    if (this.#pumpScheduled) this.#pump();
    return this.#window.frames.flush();
  }

  /**
   * Writes only while `lease()` is true (a registry claim within its
   * lease), asked before every write, new or retried: while false it is
   * suspended (trades queue up to `queue_max_trades`, drops counted) and
   * resumes within a tick once it holds again.
   */
  guard(lease: () => boolean): void {
    this.#lease = lease;
  }

  /** Connected, stream ensured, within its lease, not failed, fenced or closing. */
  ready(): boolean {
    return this.#link.ready && this.#closing === undefined &&
      this.#fenced < 0 && this.#lease?.() !== false;
  }

  /**
   * Resolves once the queue is below half full; `undefined` when it already
   * is, or the transport is closing or failed (never waits on a dead
   * transport). A publisher that must not drop trades awaits it.
   */
  room(): Promise<void> | undefined {
    if (
      this.#queued < this.#queueMax / 2 || this.#closing !== undefined ||
      this.#link.failure !== undefined
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
    return this.#link.failed();
  }

  /** The NATS publishing families for `/metrics` (per-symbol series labelled by `symbols`). */
  metrics(symbols: readonly Labels[]): MetricFamily[] {
    return natsPublisherFamilies(this, symbols);
  }

  /** Current counters. */
  stats(): NatsPublisherStats {
    return this.#window.stats({
      queued: this.#queued,
      queueMax: this.#queueMax,
      dropped: this.#dropped,
    });
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
    return this.#link.counters;
  }

  /** Publish → ack latencies, ns (the live histogram: read, don't record). */
  get ackLatency(): LatencyHistogram {
    return this.#window.ackLatency;
  }

  /** Progress fragment: trades and messages acknowledged, in flight, queued, dropped, already stored (when any), retries, errors, ack latency. */
  summary(): string {
    return publisherSummary(
      this.stats(),
      this.#closing ? " (closed)" : this.ready() ? "" : " (not ready)",
    );
  }

  /**
   * Stops accepting trades, publishes what is queued and waits for the acks,
   * for at most `publish.flushTimeoutMs` (not at all when suspended by its
   * lease: nothing could go out); then drains and closes the
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
    return publishLosses({
      dropped: this.#dropped,
      droppedClosed: this.#droppedClosed,
      droppedSuspended: this.#droppedSuspended,
      queueMax: this.#queueMax,
      failed: this.#link.failure !== undefined,
      rejections: this.#window.rejections,
      unflushed: this.#unflushed,
      fenced: Math.max(0, this.#fenced),
    });
  }

  async #close(): Promise<void> {
    this.#resolveRoom();
    if (this.#fenced >= 0) { // nothing more goes out: not drained
      clearInterval(this.#tick);
      await this.#link.close({ drain: false });
      return;
    }
    // Suspended by the lease at shutdown (the registry unconfirmed for a
    // lease, NATS most likely down): counted at once rather than holding
    // the stop for flush_timeout on the chance that it comes back.
    const suspended = this.#lease?.() === false;
    if (this.#link.failure === undefined && !suspended && !this.#isIdle()) {
      this.#idle = Promise.withResolvers();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#idle.promise,
        this.#link.failed(),
        new Promise((resolve) => {
          timer = setTimeout(resolve, this.#config.publish.flushTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
    const unflushed = this.#queued + unackedTrades(this.#lanes);
    this.#unflushed = unflushed;
    this.#reports.closing(unflushed, {
      queued: this.#queued,
      failed: this.#link.failure !== undefined,
      suspended,
      flushTimeoutMs: this.#config.publish.flushTimeoutMs,
    });
    this.#reports.alreadyStored(this.#window.alreadyStored);
    clearInterval(this.#tick);
    await this.#link.close();
  }

  /** The stream is ensured: publishes on `nc`. */
  #onReady(nc: NatsConnection): void {
    this.#window.useConnection(nc);
    this.#log.info(
      `${LABEL}: publishing to stream ${this.#config.jetstream.streamName} (${this.#lanes.length} subjects, ${this.#maxInFlight} in flight, up to ${this.#window.cap} trades per message)`,
    );
    this.#schedulePump();
  }

  /** Drops the oldest queued trade over all symbols. */
  #dropOldest(): void {
    takeTrades(oldestLane(this.#lanes), 1, this.#spareChunks);
    this.#queued -= 1;
    this.#dropped++;
    if (this.#lease?.() === false) this.#droppedSuspended++;
  }

  #resolveRoom(): void {
    this.#room?.resolve();
    this.#room = undefined;
  }

  #isIdle(): boolean {
    return this.#queued === 0 && this.#window.unacked === 0;
  }

  #schedulePump(): void {
    if (!this.#pumpScheduled) {
      this.#pumpScheduled = true;
      queueMicrotask(this.#pumpTask);
    }
  }

  /** Another serve took these symbols over: gives up on what is queued or unacknowledged, for good. */
  fence(): void {
    if (this.#fenced >= 0) return;
    const held = giveUpAll(this.#lanes, this.#spareChunks);
    this.#queued = 0;
    this.#fenced = held;
    this.#log.error(
      `${LABEL}: another serve took these symbols over: publishing nothing more, ${
        formatCount(held)
      } queued or unacknowledged trades given up on (fenced)`,
    );
    this.#resolveRoom();
    this.#idle?.resolve();
  }

  #pump(): void {
    this.#pumpScheduled = false;
    if (this.#fenced >= 0) return;
    if (this.#lease?.() === false) return; // suspended: #onTick resumes it
    if (!this.#link.ready) return;
    const window = this.#window;
    if (window.waiting > 0) window.resendDue();
    const state = this.#pumpState ??= {
      lanes: this.#lanes,
      nextLane: 0,
      queued: 0,
      maxInFlight: this.#maxInFlight,
      spare: this.#spareChunks,
    };
    state.queued = this.#queued;
    pumpLanes(state, window);
    this.#queued = state.queued;
    if (this.#room !== undefined && this.#queued < this.#queueMax / 2) {
      this.#resolveRoom();
    }
  }

  #onTick(): void {
    const now = performance.now();
    this.#window.timeOut(now);
    if (this.#window.waiting > 0 || this.#queued > 0) this.#schedulePump();
    const suspended = this.#lease?.() === false;
    // Its lease ended: what the connection still holds must not go out.
    if (suspended && !this.#cut) this.#link.cut();
    this.#cut = suspended;
    this.#reports.tick(now, {
      dropped: this.#dropped,
      alreadyStored: this.#window.alreadyStored,
      suspended,
    });
  }
}
