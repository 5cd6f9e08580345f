/**
 * When a busy `RingFeed` read loop lets the event loop run: timers,
 * `/metrics`, progress lines and signals (the first SIGINT) must not wait for
 * a whole pass over hundreds of lapped rings.
 *
 * @module
 */

import { delay, yieldToEventLoop } from "../runtime/delay.ts";

/** A busy consumer lets the event loop run at least this often, ms. */
export const YIELD_EVERY_MS = 2;
/**
 * One of those turns at least this often is a timer's, ms. Deno (2.9) looks
 * for a signal only every few dozen `setImmediate` turns while the loop has
 * work (measured in a 300-ring storm: SIGINT handled ~0.13 s after it was sent
 * with a turn every 2 ms, never in 200 s with one per 1.4 s pass), but at
 * once on a timer's turn, which costs about 1 ms.
 */
export const TIMER_YIELD_EVERY_MS = 100;

/** The pace of one read loop's turns of the event loop. */
export class LoopPace {
  #lastYield: number;
  #lastTimer: number;

  /** A pace starting `now` (ms, `performance.now()` time). */
  constructor(now = performance.now()) {
    this.#lastYield = now;
    this.#lastTimer = now;
  }

  /**
   * A turn of the event loop to await when one is due at `now` (at least
   * {@linkcode YIELD_EVERY_MS} since the last; a timer's at least every
   * {@linkcode TIMER_YIELD_EVERY_MS}), else undefined.
   */
  due(now: number): Promise<void> | undefined {
    if (now - this.#lastYield < YIELD_EVERY_MS) return undefined;
    this.#lastYield = now;
    if (now - this.#lastTimer < TIMER_YIELD_EVERY_MS) return yieldToEventLoop();
    this.#lastTimer = now;
    return delay(0);
  }

  /** The loop awaited something else at `now` (a sleep): the event loop ran. */
  ran(now: number): void {
    this.#lastYield = now;
  }
}
