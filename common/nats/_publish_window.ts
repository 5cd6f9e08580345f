/**
 * {@linkcode NatsPublisher}'s messages from publish to ack: at most
 * `maxInFlight` at once, each in a slot holding its trades. Acks come on one
 * inbox subscription (`{inbox}.{attempt id}`); a failed attempt is retried,
 * a message refused for its size is sent again as smaller ones, in order,
 * and one JetStream rejects for good is given up on.
 *
 * @module
 */

import type { Msg, NatsConnection } from "@nats-io/nats-core";
import type { MsgImpl } from "@nats-io/nats-core/internal";
import { LatencyHistogram } from "../metrics/latency_histogram.ts";
import type { Logger } from "../runtime/log.ts";
import { RateLimitedLog } from "../runtime/rate_limited_log.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import {
  isTransient,
  type JetStreamAck,
  MESSAGE_TOO_BIG,
  scanAck,
  type ScannedAck,
  storedTrades,
} from "./_publish_acks.ts";
import { FrameWriter } from "./_publish_frames.ts";
import type { PublisherConnection } from "./_publish_connection.ts";
import {
  type Chunk,
  type Lane,
  newSlot,
  type Slot,
  SlotState,
  takeTrades,
} from "./_publish_lane.ts";
import type { MessageSizes } from "./_publish_limits.ts";
import { LABEL, WARN_EVERY_MS } from "./_publish_log.ts";
import { Rejections } from "./_publish_loss.ts";
import { messageIdOf, setMessage } from "./_publish_message.ts";
import { ACK_TIMEOUT_MS, Retries } from "./_publish_retry.ts";
import type { NatsPublisherStats } from "./_publish_stats.ts";

/** Options of {@linkcode PublishWindow}. */
export interface PublishWindowOptions {
  /** The connection (failed when not even one trade fits). */
  link: PublisherConnection;
  /** Where split warnings and rejections are logged. */
  log: Logger;
  /** The stream's name. */
  stream: string;
  /** `{inbox}.`: the prefix of the reply subjects. */
  replyPrefix: string;
  /** `publish.maxInFlight`. */
  maxInFlight: number;
  /** `publish.batchMaxTrades`. */
  batchMax: number;
  /** The sizes of messages against the limits. */
  sizes: MessageSizes;
  /** Runs the pump soon. */
  schedulePump: () => void;
  /** Called after a slot was released (its message acknowledged or rejected). */
  released: () => void;
  /** The run epoch of every message's `Marketbus-Epoch` header (default: none). */
  epoch?: number;
}

/** The messages in flight or waiting to be published again; see the module documentation. */
export class PublishWindow {
  readonly #lanes: readonly Lane[];
  readonly #link: PublisherConnection;
  readonly #log: Logger;
  readonly #stream: string;
  readonly #replyPrefix: string;
  readonly #replyBytes: Uint8Array;
  /** Writes the HPUB frames; {@linkcode FrameWriter.flush} sends what it holds now. */
  readonly frames: FrameWriter;
  readonly #ack: ScannedAck = { seq: 0, duplicate: false };
  /** performance.now() read once per turn of the event loop: see {@linkcode PublishWindow.now}. */
  #clock = 0;
  #clockValid = false;
  #clockReset = () => {
    this.#clockValid = false;
  };
  readonly #maxInFlight: number;
  readonly #batchMax: number;
  readonly #sizes: MessageSizes;
  readonly #released: () => void;
  /** Trades per message at most now (size limits); see {@linkcode PublishWindow.applyLimits}. */
  #cap: number;
  /** The connection, once the stream is ensured. */
  #nc: NatsConnection | undefined;
  #slots: Slot[] = [];
  #freeSlots: number[] = [];
  #attempts = 0;
  #unacked = 0;
  #inFlight = 0;
  #messagesSent = 0;
  #tradesSent = 0;
  #splits = 0;
  #duplicates = 0;
  #alreadyStored = 0;
  #ackLatency = new LatencyHistogram();
  readonly #retries: Retries;
  readonly #rejections: Rejections;
  /** Split warnings, at most one per {@linkcode WARN_EVERY_MS}. */
  readonly #warnings: RateLimitedLog;

  /** An empty window for the messages of `lanes`. */
  constructor(lanes: readonly Lane[], options: PublishWindowOptions) {
    const { log } = options;
    this.#lanes = lanes;
    this.#link = options.link;
    this.#log = log;
    this.#stream = options.stream;
    this.#replyPrefix = options.replyPrefix;
    this.#replyBytes = new TextEncoder().encode(options.replyPrefix);
    this.#maxInFlight = options.maxInFlight;
    this.#batchMax = options.batchMax;
    this.#cap = options.batchMax;
    this.#sizes = options.sizes;
    this.#released = options.released;
    this.frames = new FrameWriter(options.epoch);
    this.#warnings = new RateLimitedLog((m) => log.warn(m), WARN_EVERY_MS);
    this.#rejections = new Rejections(log);
    this.#retries = new Retries(lanes, {
      log,
      publish: (slot) => this.publish(slot),
      schedulePump: options.schedulePump,
    });
  }

  /** Messages built and not yet acknowledged or rejected. */
  get unacked(): number {
    return this.#unacked;
  }

  /** Messages waiting to be published again. */
  get waiting(): number {
    return this.#retries.waiting;
  }

  /** Trades per message at most now. */
  get cap(): number {
    return this.#cap;
  }

  /** Trades the stream held already on their message's first attempt. */
  get alreadyStored(): number {
    return this.#alreadyStored;
  }

  /** Publish → ack latencies, ns. */
  get ackLatency(): LatencyHistogram {
    return this.#ackLatency;
  }

  /** The messages JetStream rejected for good. */
  get rejections(): Rejections {
    return this.#rejections;
  }

  /** Publishes on `nc` (a nats.js connection) from now on, through a {@linkcode FrameWriter}. */
  useConnection(nc: NatsConnection): void {
    this.#nc = nc;
    this.frames.use(nc);
  }

  /**
   * performance.now(), read at most once per synchronous run (a pump, or
   * the acks of one read from the socket): the messages published, or the
   * acks handled, together share one reading.
   */
  now(): number {
    if (!this.#clockValid) {
      this.#clock = performance.now();
      this.#clockValid = true;
      queueMicrotask(this.#clockReset);
    }
    return this.#clock;
  }

  /** Counters, with the queue's figures. */
  stats(
    queue: { queued: number; queueMax: number; dropped: number },
  ): NatsPublisherStats {
    return {
      messagesSent: this.#messagesSent,
      bytesSent: this.#tradesSent * TRADE_RECORD_SIZE,
      sendErrors: this.#rejections.messages,
      bufferOverflows: queue.dropped,
      bufferUtilization: queue.queued / queue.queueMax,
      tradesSent: this.#tradesSent,
      publishErrors: this.#rejections.messages,
      tradesRejected: this.#rejections.trades,
      retries: this.#retries.retries,
      dropped: queue.dropped,
      splits: this.#splits,
      tradesPerMessage: this.#cap,
      duplicates: this.#duplicates,
      alreadyStored: this.#alreadyStored,
      inFlight: this.#inFlight,
      queueDepth: queue.queued,
      ackLatency: this.#ackLatency.summary(),
    };
  }

  /**
   * Caps the trades per message to what fits in the server's `maxPayload`
   * and the stream's `maxMsgSize` (see {@linkcode MessageSizes.fit}), and
   * logs a cap below `batchMaxTrades`; once per connection, so the hot path
   * never measures. Fails the transport and returns false when not even
   * one trade fits.
   */
  applyLimits(maxPayload: number | undefined, maxMsgSize?: number): boolean {
    const fit = this.#sizes.fit(maxPayload, maxMsgSize);
    if (fit.error !== undefined) {
      this.#link.fail(fit.error);
      return false;
    }
    if (fit.note !== undefined && fit.cap !== this.#cap) {
      this.#log.info(fit.note);
    }
    this.#cap = fit.cap;
    return true;
  }

  /** Packs up to the cap of the lane's oldest queued trades (emptied chunks go to `spare`) into a message. */
  build(lane: Lane, spare: Chunk[]): Slot {
    const slot = this.#freeSlot();
    const count = Math.min(lane.queued, this.#cap);
    takeTrades(lane, count, spare, slot.bytes);
    slot.lane = lane;
    slot.count = count;
    slot.failures = 0;
    setMessage(slot, 0, count);
    lane.unacked.push(slot);
    this.#unacked++;
    return slot;
  }

  /** Publishes the slot's current message (a new attempt). */
  publish(slot: Slot): void {
    const lane = slot.lane!;
    const nc = this.#nc!;
    if (nc.isClosed() || nc.isDraining()) {
      this.#retries.later(slot, "the connection is closed");
      return;
    }
    const size = this.frames.headerLength(slot.idLength) + slot.payload.length;
    if (size > (nc.info?.max_payload ?? Infinity)) {
      // the words nats.js's own check used
      this.#shrink(slot, "'payload' max_payload size exceeded");
      return;
    }
    // the attempt id names the slot (id mod maxInFlight) and this attempt
    const id = this.#attempts++ * this.#maxInFlight + slot.index;
    slot.attempt = id;
    slot.state = SlotState.InFlight;
    slot.sentAt = this.now();
    this.#inFlight++;
    this.frames.hpub(
      lane.subjectBytes,
      this.#replyBytes,
      id,
      slot.id,
      slot.idLength,
      slot.payload,
    );
  }

  /** Resends, in order, the waiting messages of every symbol whose backoff is over. */
  resendDue(): void {
    this.#retries.resendDue();
  }

  /** Handles a reply to an attempt: an ack, an error, or no responders. */
  reply(msg: Msg): void {
    const id = this.#attemptOf(msg);
    const slot = this.#slots[id % this.#maxInFlight];
    if (slot?.attempt !== id || slot.state !== SlotState.InFlight) return;
    this.#settle(slot);
    const data = msg.data;
    const scanned = this.#ack;
    if (scanAck(data, scanned)) {
      this.#acked(slot, scanned.seq, scanned.duplicate);
      return;
    }
    if (data.length === 0 && msg.headers?.code === 503) {
      // No stream leader (an election) or no stream (deleted): check the
      // stream in the background, and keep retrying meanwhile, so that
      // publishing resumes as soon as a leader answers.
      this.#link.recheck();
      this.#retries.later(
        slot,
        "no responders (is the stream there, has it a leader?)",
      );
      return;
    }
    let ack: JetStreamAck;
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
      } else if (isTransient(code)) {
        this.#retries.later(slot, reason);
      } else {
        this.#reject(slot, reason);
      }
      return;
    }
    this.#acked(slot, ack.seq, ack.duplicate === true);
  }

  /** The attempt id at the end of a reply's subject (read from its bytes when nats.js has them). */
  #attemptOf(msg: Msg): number {
    const subject = (msg as MsgImpl)._msg?.subject;
    if (!(subject instanceof Uint8Array)) {
      return Number(msg.subject.slice(this.#replyPrefix.length));
    }
    let id = 0;
    for (let i = this.#replyBytes.length; i < subject.length; i++) {
      const digit = subject[i] - 0x30;
      if (digit < 0 || digit > 9) return -1;
      id = id * 10 + digit;
    }
    return id;
  }

  /** The stream stored the slot's message at `seq`, or held it already (`duplicate`). */
  #acked(slot: Slot, seq: number | undefined, duplicate: boolean): void {
    this.#ackLatency.record((this.now() - slot.sentAt) * 1e6);
    if (duplicate) {
      this.#duplicates++;
      if (slot.keptId) {
        this.#checkStored(slot, seq);
        return;
      }
      // first attempt: an earlier run stored it (reported by the tick)
      if (!slot.maybeStored) this.#alreadyStored += slot.sending;
    }
    this.#stored(slot, slot.sending);
  }

  /** Retries the messages without an ack for {@linkcode ACK_TIMEOUT_MS} at `now` (performance.now() ms), when connected. */
  timeOut(now: number): void {
    if (!this.#link.connected || this.#inFlight === 0) return;
    for (const slot of this.#slots) {
      if (
        slot.state === SlotState.InFlight &&
        now - slot.sentAt > ACK_TIMEOUT_MS
      ) {
        this.#settle(slot);
        slot.maybeStored = true;
        this.#retries.later(slot, `no ack within ${ACK_TIMEOUT_MS} ms`);
      }
    }
  }

  /**
   * The connection dropped: whatever was in flight will never be acked on
   * it. Resends it (same ids, so what was stored is dropped as a duplicate)
   * as soon as the connection is back.
   */
  disconnected(): void {
    for (const lane of this.#lanes) {
      for (const slot of lane.unacked) {
        if (slot.state === SlotState.InFlight) {
          this.#settle(slot);
          slot.maybeStored = true;
          this.#retries.later(slot);
        }
      }
      lane.retryAt = 0;
    }
  }

  #freeSlot(): Slot {
    const index = this.#freeSlots.pop();
    if (index !== undefined) return this.#slots[index];
    const slot = newSlot(this.#slots.length, this.#batchMax);
    this.#slots.push(slot);
    return slot;
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
      setMessage(slot, next, Math.min(slot.count - next, this.#cap));
      this.#retries.wait(slot, false);
      return;
    }
    this.#done(slot);
  }

  /** A duplicate ack (at stream sequence `seq`) for the first part of a split message: see {@linkcode storedTrades}. */
  #checkStored(slot: Slot, seq: number | undefined): void {
    slot.state = SlotState.Checking;
    const at = slot.offset;
    const earlier = !slot.maybeStored;
    storedTrades(this.#link.jsm!, this.#stream, {
      seq,
      id: messageIdOf(slot),
      max: slot.count - at,
      sending: slot.sending,
      warnings: this.#warnings,
    }).then((trades) => {
      if (slot.state !== SlotState.Checking || slot.offset !== at) return;
      if (earlier) this.#alreadyStored += trades;
      this.#stored(slot, trades);
    });
  }

  /** Ends the current attempt of an in-flight message; stale replies to it are ignored. */
  #settle(slot: Slot): void {
    this.#inFlight--;
    slot.attempt = -1;
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
      this.#retries.wait(slot, true); // counted as not flushed
      this.#link.fail(this.#sizes.tradeTooBig(lane.subject, reason));
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
    setMessage(slot, slot.offset, smaller, true);
    this.#retries.wait(slot, false);
  }

  /** Gives up on a message JetStream refused for good: counted per reason, logged rate-limited per reason. */
  #reject(slot: Slot, reason: string, kind = reason): void {
    this.#rejections.add(slot.count - slot.offset, {
      subject: slot.lane!.subject,
      reason,
      kind,
    });
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
    this.#freeSlots.push(slot.index);
    this.#released();
  }
}
