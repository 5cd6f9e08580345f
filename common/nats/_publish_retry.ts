/**
 * {@linkcode NatsPublisher}'s retries: a message whose attempt failed (no
 * ack in time, no responders, a disconnect, a transient JetStream error)
 * waits, and the pump publishes it again once its symbol's backoff is over,
 * in order: a symbol sends nothing new while one of its messages waits.
 * The next part of a split message waits the same way, without a backoff.
 *
 * @module
 */

import { backoff } from "@nats-io/nats-core";
import type { Logger } from "../runtime/log.ts";
import { RateLimitedLog } from "../runtime/rate_limited_log.ts";
import { type Lane, type Slot, SlotState } from "./_publish_lane.ts";
import { LABEL, WARN_EVERY_MS } from "./_publish_log.ts";

/** A publish without an ack for this long is retried, ms. */
export const ACK_TIMEOUT_MS = 2000;
/** Delay before the n-th retry (jittered), ms: of a message, or of setting up the stream. */
export const RETRY_BACKOFF = backoff([100, 250, 500, 1000]);

/** The messages waiting to be published again, and the count of retries. */
export class Retries {
  #waiting = 0;
  #retries = 0;
  readonly #lanes: readonly Lane[];
  readonly #publish: (slot: Slot) => void;
  readonly #schedulePump: () => void;
  /** Failed publishes, at most one line per {@linkcode WARN_EVERY_MS}. */
  readonly #warnings: RateLimitedLog;

  /** Retries of the messages of `lanes`: `publish` sends one again, `schedulePump` runs the pump soon. */
  constructor(
    lanes: readonly Lane[],
    options: {
      /** Where failed publishes are logged. */
      log: Logger;
      /** Publishes a slot's message again. */
      publish: (slot: Slot) => void;
      /** Runs the pump soon. */
      schedulePump: () => void;
    },
  ) {
    const { log } = options;
    this.#lanes = lanes;
    this.#publish = options.publish;
    this.#schedulePump = options.schedulePump;
    this.#warnings = new RateLimitedLog((m) => log.warn(m), WARN_EVERY_MS);
  }

  /** Messages waiting now. */
  get waiting(): number {
    return this.#waiting;
  }

  /** Messages published again after a failed attempt. */
  get retries(): number {
    return this.#retries;
  }

  /**
   * Queues a message to be published again: after the symbol's backoff when
   * the attempt failed for `reason`, else as soon as the connection is back.
   */
  later(slot: Slot, reason?: string): void {
    const lane = slot.lane!;
    this.wait(slot, true);
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
  wait(slot: Slot, retry: boolean): void {
    slot.state = SlotState.Waiting;
    slot.retry = retry;
    slot.lane!.waiting++;
    this.#waiting++;
    this.#schedulePump();
  }

  /** Resends, in order, the waiting messages of every symbol whose backoff is over. */
  resendDue(): void {
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
}
