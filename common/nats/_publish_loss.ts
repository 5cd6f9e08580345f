/**
 * The trades {@linkcode NatsPublisher} gave up on, and its log lines about
 * them: messages JetStream rejected (counted per reason), trades dropped from
 * the full queue or not flushed at close, and trades the stream held already
 * (not lost, but warned about).
 *
 * @module
 */

import type { Logger } from "../runtime/log.ts";
import { formatCount } from "../runtime/format.ts";
import { RateLimitedLog } from "../runtime/rate_limited_log.ts";
import { LABEL, WARN_EVERY_MS } from "./_publish_log.ts";

/** Distinct rejection reasons rate-limited on their own; more share one limit. */
const MAX_REASONS = 16;

/** Trades {@linkcode NatsPublisher} gave up on, one way: see {@linkcode NatsPublisher.losses}. */
export interface NatsLoss {
  /**
   * Dropped because the queue was full, handed over after close, rejected by
   * JetStream, or not acknowledged at close.
   */
  kind: "dropped" | "closed" | "rejected" | "unflushed" | "fenced";
  /** How many trades. */
  trades: number;
  /** One line saying how many and why. */
  text: string;
}

/** The publisher's counts behind {@linkcode publishLosses}. */
export interface LossCounts {
  /** Trades dropped in all (queue full or handed over after close). */
  dropped: number;
  /** Of those, handed over after close. */
  droppedClosed: number;
  /** Of the queue-full drops, those while publishing was suspended by the registry lease. */
  droppedSuspended: number;
  /** `publish.queueMaxTrades`. */
  queueMax: number;
  /** Publishing stopped for good. */
  failed: boolean;
  /** The rejected messages. */
  rejections: Rejections;
  /** Trades not acknowledged at close. */
  unflushed: number;
  /** Trades given up on once another serve took the symbols over (see {@linkcode NatsPublisher.fence}). */
  fenced: number;
}

/** Messages JetStream rejected for good: counted per reason, each reason logged rate-limited on its own. */
export class Rejections {
  #messages = 0;
  #trades = 0;
  /** Trades rejected per reason. */
  #byReason = new Map<string, number>();
  /** At most one line per reason per {@linkcode WARN_EVERY_MS}. */
  readonly #log: RateLimitedLog;

  /** Logs errors to `log`. */
  constructor(log: Logger) {
    this.#log = new RateLimitedLog((m) => log.error(m), WARN_EVERY_MS);
  }

  /** Messages rejected. */
  get messages(): number {
    return this.#messages;
  }

  /** Trades in them: lost. */
  get trades(): number {
    return this.#trades;
  }

  /** Counts and logs a message of `trades` on `subject` rejected for `reason`, of kind `kind` (the reason unless given). */
  add(
    trades: number,
    options: {
      /** The message's subject. */
      subject: string;
      /** Why, in the log line. */
      reason: string;
      /** The reason it is counted under. @default {reason} */
      kind?: string;
    },
  ): void {
    const kind = options.kind ?? options.reason;
    this.#messages++;
    this.#trades += trades;
    const key = this.#byReason.has(kind) || this.#byReason.size < MAX_REASONS
      ? kind
      : "other reasons";
    this.#byReason.set(key, (this.#byReason.get(key) ?? 0) + trades);
    this.#log.log(
      key,
      `${LABEL}: JetStream rejected a message of ${trades} trades on ${options.subject} (${options.reason}); its trades are lost`,
    );
  }

  /** `N for "reason"` per reason, in the order they first came. */
  reasons(): string[] {
    return [...this.#byReason].map(([reason, trades]) =>
      `${formatCount(trades)} for "${reason}"`
    );
  }
}

/** One entry per way trades were given up on; see {@linkcode NatsPublisher.losses}. */
export function publishLosses(counts: LossCounts): NatsLoss[] {
  const losses: NatsLoss[] = [];
  const { droppedClosed, rejections, unflushed } = counts;
  const full = counts.dropped - droppedClosed;
  if (full > 0) {
    losses.push({
      kind: "dropped",
      trades: full,
      text: `${
        formatCount(full)
      } trades dropped by the NATS publisher, oldest first: its queue (transport.nats.publish.queue_max_trades = ${
        formatCount(counts.queueMax)
      }) was full${counts.failed ? " after publishing had stopped" : ""}${
        counts.droppedSuspended > 0
          ? `, ${
            formatCount(counts.droppedSuspended)
          } of them while NATS publishing was suspended by the registry lease (heartbeats unconfirmed)`
          : ""
      }`,
    });
  }
  if (droppedClosed > 0) {
    losses.push({
      kind: "closed",
      trades: droppedClosed,
      text: `${
        formatCount(droppedClosed)
      } trades dropped by the NATS publisher: handed to it after it closed`,
    });
  }
  if (rejections.trades > 0) {
    losses.push({
      kind: "rejected",
      trades: rejections.trades,
      text: `${formatCount(rejections.trades)} trades in ${
        formatCount(rejections.messages)
      } messages rejected for good by JetStream: ${
        rejections.reasons().join(", ")
      }`,
    });
  }
  if (counts.fenced > 0) {
    losses.push({
      kind: "fenced",
      trades: counts.fenced,
      text: `${
        formatCount(counts.fenced)
      } trades given up on by the NATS publisher: another serve took these symbols over (registry), so it published nothing more, not even what it held (fenced)`,
    });
  }
  if (unflushed > 0) {
    losses.push({
      kind: "unflushed",
      trades: unflushed,
      text: `${
        formatCount(unflushed)
      } trades were not acknowledged by the NATS stream before shutdown`,
    });
  }
  return losses;
}

/**
 * The warnings about trades dropped from the full queue and trades the
 * stream held already, each at most once per {@linkcode WARN_EVERY_MS},
 * and the line at close saying whether everything was flushed.
 */
export class LossReports {
  readonly #log: Logger;
  readonly #stream: string;
  readonly #queueMax: number;
  #droppedReported = 0;
  #lastDropReport = -Infinity;
  #alreadyStoredReported = 0;
  #lastAlreadyStoredReport = -Infinity;

  /** Reports to `log` about a queue of `queueMax` trades publishing into `stream`. */
  constructor(
    log: Logger,
    options: {
      /** The stream's name. */
      stream: string;
      /** `publish.queueMaxTrades`. */
      queueMax: number;
    },
  ) {
    this.#log = log;
    this.#stream = options.stream;
    this.#queueMax = options.queueMax;
  }

  /** Logs the trades dropped (naming the registry lease when `suspended` by it) and those already stored since the last lines, when due at `now` (performance.now() ms). */
  tick(
    now: number,
    counts: { dropped: number; alreadyStored: number; suspended: boolean },
  ): void {
    const { dropped } = counts;
    if (
      dropped > this.#droppedReported &&
      now - this.#lastDropReport >= WARN_EVERY_MS
    ) {
      this.#log.warn(
        `${LABEL}: queue full (${this.#queueMax} trades)${
          counts.suspended
            ? " while NATS publishing is suspended by the registry lease (heartbeats unconfirmed)"
            : ""
        }: dropped ${
          dropped - this.#droppedReported
        } of the oldest trades (${dropped} in all)`,
      );
      this.#droppedReported = dropped;
      this.#lastDropReport = now;
    }
    if (now - this.#lastAlreadyStoredReport >= WARN_EVERY_MS) {
      this.alreadyStored(counts.alreadyStored);
    }
  }

  /** Logs the trades counted as already stored since the last report (`alreadyStored` in all), if any. */
  alreadyStored(alreadyStored: number): void {
    const trades = alreadyStored - this.#alreadyStoredReported;
    if (trades === 0) return;
    this.#log.warn(
      `${LABEL}: ${
        formatCount(trades)
      } trades were already in stream ${this.#stream} with the same Nats-Msg-Id within its duplicate_window (an earlier run of the same data?) and were not stored twice (${
        formatCount(alreadyStored)
      } in all)`,
    );
    this.#alreadyStoredReported = alreadyStored;
    this.#lastAlreadyStoredReport = performance.now();
  }

  /**
   * Logs, at close, the trades not flushed (`unflushed` in all, `queued` of
   * them never published) after waiting `flushTimeoutMs`, or since
   * publishing stopped when `failed`, or at once when `suspended` by the
   * registry lease; or that everything was flushed.
   */
  closing(
    unflushed: number,
    options: {
      queued: number;
      failed: boolean;
      suspended: boolean;
      flushTimeoutMs: number;
    },
  ): void {
    if (unflushed > 0) {
      this.#log.warn(
        `${LABEL}: closing with ${unflushed} trades not flushed (${options.queued} queued, ${
          unflushed - options.queued
        } awaiting an ack) ${
          options.failed
            ? "since publishing stopped"
            : options.suspended
            ? "at once: NATS publishing was suspended by the registry lease"
            : `after waiting ${options.flushTimeoutMs} ms`
        }`,
      );
    } else {
      this.#log.info(`${LABEL}: flushed everything before closing`);
    }
  }
}
