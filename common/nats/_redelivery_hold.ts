/**
 * Puts back in stream order the messages a durable consumer redelivers
 * after a run left them unacknowledged.
 *
 * The server does not redeliver in stream order: a message pulled by a
 * request whose client had gone is queued for redelivery at once, the rest
 * when their ack_wait expires, so the queue can start with the last one
 * (seen with nats-server 2.14.9: 15, 10, 11, 12, 13, 14). Delivered as they
 * come, a symbol's trades would go backwards. The hold keeps the messages of
 * a pass until every awaited redelivery is in (or its time is up), then
 * hands them over sorted by stream sequence, to be delivered all (the limit
 * of a subscription is checked after them: AckAll acknowledges by delivery
 * sequence, so stopping in the middle would leave some delivered messages
 * unacknowledged, to be delivered again, or acknowledge some never
 * delivered).
 *
 * @module
 */

import type { JsMsg } from "@nats-io/jetstream";

/** A held message and its stream sequence. */
export interface HeldMessage {
  message: JsMsg;
  streamSeq: number;
}

/** The messages of a pass held until the awaited redeliveries are in. */
export class RedeliveryHold {
  /** How long, from the start of the pass, the hold may wait, ms. */
  readonly #maxWaitMs: number;
  readonly #floor: number;
  readonly #last: number;
  #awaited: number;
  #held: HeldMessage[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Awaits `count` redeliveries of the messages after stream sequence
   * `floor` (acknowledged) up to `last` (the last delivered), for at most
   * `maxWaitMs`.
   */
  constructor(
    count: number,
    options: { floor: number; last: number; maxWaitMs: number },
  ) {
    this.#awaited = count;
    this.#floor = options.floor;
    this.#last = options.last;
    this.#maxWaitMs = options.maxWaitMs;
  }

  /** Calls `onTimeout` once `maxWaitMs` have passed, unless stopped before. */
  start(onTimeout: () => void): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      onTimeout();
    }, this.#maxWaitMs);
  }

  /** Stops the timer {@linkcode RedeliveryHold.start} started. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Holds `held`; true once every awaited redelivery is held. */
  add(held: HeldMessage): boolean {
    this.#held.push(held);
    if (held.streamSeq > this.#floor && held.streamSeq <= this.#last) {
      this.#awaited--;
    }
    return this.#awaited <= 0;
  }

  /**
   * The held messages in stream order, and the last one received (the one
   * to acknowledge once all are delivered); the hold is stopped and empty
   * after.
   */
  take(): { messages: HeldMessage[]; last: JsMsg | undefined } {
    this.stop();
    const held = this.#held;
    this.#held = [];
    const last = held.at(-1)?.message;
    return { messages: held.sort((a, b) => a.streamSeq - b.streamSeq), last };
  }
}
