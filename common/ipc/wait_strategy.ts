/**
 * What a consumer does when none of its rings has a new trade: spin, yield
 * the CPU, or spin briefly and then sleep on the rings' futex words.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import {
  futexWaitAsync,
  futexWaitvAsync,
  futexWaitvSupported,
  libc,
} from "./_libc.ts";
import { RingState } from "./layout.ts";
import type { RingReader } from "./ring_reader.ts";

/**
 * `spin`: busy-poll (lowest latency, one core at 100%). `backoff`: busy-poll
 * for a few µs, then sleep until the producer wakes us (near-zero CPU when
 * idle). `yield`: poll, giving the CPU to other threads between polls.
 */
export type WaitStrategy = "spin" | "backoff" | "yield";

/** The accepted strategies. */
export const WAIT_STRATEGIES: readonly WaitStrategy[] = [
  "spin",
  "backoff",
  "yield",
];

/** Options of {@linkcode RingWaiter}. */
export interface RingWaiterOptions {
  /** How long `backoff` busy-polls before sleeping, ms (default 0.02 = 20 µs). */
  spinMs?: number;
  /** The longest single sleep, ms (default 100): status checks run at least this often. */
  maxSleepMs?: number;
}

/** Lets timers, signals and I/O run, resuming within microseconds (unlike setTimeout's ≥ 1 ms). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** How often a spinning consumer lets the event loop run, ms. */
const SPIN_YIELD_MS = 1;
/** Sleep granularity when futex_waitv is missing and several rings are watched. */
const FALLBACK_SLEEP_MS = 2;

/** Decides how a consumer waits when its rings are empty. */
export class RingWaiter {
  /** The strategy. */
  readonly strategy: WaitStrategy;
  #spinMs: number;
  #maxSleepMs: number;
  #idleSince = -1;
  #lastYield = 0;
  #polls = 0;
  #sleeps = 0;
  #sleeping: Promise<void> | undefined;

  /** Creates a waiter for `strategy`. */
  constructor(strategy: WaitStrategy, options: RingWaiterOptions = {}) {
    if (!WAIT_STRATEGIES.includes(strategy)) {
      throw new RangeError(
        `Invalid wait strategy "${strategy}": expected "spin", "backoff" or "yield"`,
      );
    }
    this.strategy = strategy;
    this.#spinMs = options.spinMs ?? 0.02;
    this.#maxSleepMs = options.maxSleepMs ?? 100;
    if (
      !(this.#spinMs >= 0) || !(this.#maxSleepMs > 0) ||
      !Number.isFinite(this.#maxSleepMs)
    ) {
      throw new RangeError(
        `Invalid wait timing (spin ${this.#spinMs} ms, max sleep ${this.#maxSleepMs} ms): expected spin ≥ 0 and a finite max sleep > 0`,
      );
    }
  }

  /** Times the consumer went to sleep. */
  get sleeps(): number {
    return this.#sleeps;
  }

  /** Call after a poll that found trades. */
  busy(): void {
    this.#idleSince = -1;
  }

  /**
   * Call after a poll of `readers` found nothing. Returns a promise to await
   * before polling again, or undefined to poll again at once.
   */
  idle(readers: readonly RingReader[]): Promise<void> | undefined {
    const now = performance.now();
    if (this.#idleSince < 0) this.#idleSince = now;
    switch (this.strategy) {
      case "spin":
        if (now - this.#lastYield < SPIN_YIELD_MS) return undefined;
        this.#lastYield = now;
        return yieldToEventLoop();
      case "yield":
        libc().sched_yield();
        if ((++this.#polls & 63) !== 0) return undefined;
        return yieldToEventLoop();
      case "backoff":
        if (now - this.#idleSince < this.#spinMs) return undefined;
        return this.#sleep(readers);
    }
  }

  /** Sleeps on every ring's wake word until the producer writes, a ring changes state, or the timeout. */
  #sleep(readers: readonly RingReader[]): Promise<void> | undefined {
    const waiters = readers.map((reader) => reader.beginSleep());
    // Re-check after announcing ourselves: a trade committed before the
    // producer could see us sleeping is visible now.
    const ready = readers.some((reader) =>
      reader.hasData() || reader.state() !== RingState.Open
    );
    if (ready) {
      for (const reader of readers) reader.endSleep();
      return undefined;
    }
    this.#sleeps++;
    let wait: Promise<void>;
    if (waiters.length === 1) {
      wait = futexWaitAsync(
        waiters[0].word,
        waiters[0].expected,
        this.#maxSleepMs,
      );
    } else if (futexWaitvSupported()) {
      wait = futexWaitvAsync(waiters, this.#maxSleepMs);
    } else {
      wait = futexWaitAsync(
        waiters[0].word,
        waiters[0].expected,
        FALLBACK_SLEEP_MS,
      );
    }
    this.#sleeping = wait.finally(() => {
      for (const reader of readers) reader.endSleep();
      this.#sleeping = undefined;
    });
    return this.#sleeping;
  }

  /** Ends a sleep in progress (e.g. on shutdown) and resolves once it has. */
  async interrupt(readers: readonly RingReader[]): Promise<void> {
    if (this.#sleeping === undefined) return;
    for (const reader of readers) reader.interrupt();
    await this.#sleeping;
  }
}
