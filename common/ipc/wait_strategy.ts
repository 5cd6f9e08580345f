/**
 * What a consumer does when none of its rings has a new trade: spin, yield
 * the CPU, or spin briefly and then sleep on the rings' futex words.
 *
 * @module
 */

import { libc } from "../os/libc.ts";
import {
  futexWait,
  type FutexWaiter,
  futexWaitvSupported,
} from "../os/futex.ts";
import { yieldToEventLoop } from "../runtime/delay.ts";
import { ThreadSleep } from "../runtime/thread_sleep.ts";
import { ArrivalGaps, type SpinBudget } from "./_arrival_gaps.ts";
import { FutexSet } from "./_futex_set.ts";
import { RingState } from "./layout.ts";
import type { RingReader } from "./ring_reader.ts";
import { ResizeWatch } from "./resize_watch.ts";

/**
 * `spin`: busy-poll (lowest latency, one core at 100%). `backoff`: busy-poll
 * for a few µs, then sleep until the producer wakes us (near-zero CPU when
 * idle); on a regular feed, sleep on a timer until just before the next
 * expected trade and spin through its arrival (bounded by a spin budget).
 * `yield`: poll, giving the CPU to other threads between polls.
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
  /**
   * Sleep by blocking the thread for at most this long, ms (default 0 = no:
   * await the sleep on Deno's blocking pool). A blocking sleep costs about
   * 20 µs less CPU per wake-up, but timers and signals wait for it to end:
   * right for a consumer process, not for one that also produces.
   */
  blockingSleepMs?: number;
  /**
   * What `backoff` may spend spinning through the expected arrivals of a
   * regular feed (default 15% of the mean gap, at most 0.1 ms per arrival);
   * `{ share: 1, maxWindowMs: 0 }` turns the anticipation off.
   */
  spinBudget?: SpinBudget;
}

/** How often a spinning consumer lets the event loop run, ms. */
const SPIN_YIELD_MS = 1;
/** Sleep granularity when futex_waitv is missing and several rings are watched. */
const FALLBACK_SLEEP_MS = 2;
/** A timed sleep shorter than this is spun instead, ms. */
const MIN_TIMED_SLEEP_MS = 0.01;
/**
 * The last stretch before a spin window is slept without telling the
 * producer, ms: a trade that comes that early waits at most this long (no
 * cross-core wake-up), and, found as the nap ends, counts as a miss and
 * moves the next window earlier.
 */
const NAP_MS = 0.05;

/** Decides how a consumer waits when its rings are empty. */
export class RingWaiter {
  /** The strategy. */
  readonly strategy: WaitStrategy;
  #spinMs: number;
  #maxSleepMs: number;
  #blockingSleepMs: number;
  /**
   * A watch on the files of the rings slept on (opened at the first sleep;
   * undefined: inotify not available): a sleep ends with a size check
   * (`statx`) only of the rings another process modified meanwhile, or of
   * every ring when that is not known. A truncated ring would crash the
   * consumer with SIGBUS at its next touch.
   */
  #resizes: ResizeWatch<RingReader> | undefined | null = null;
  #idleSince = -1;
  /** Spin before sleeping? Only while idle periods are short enough for a spin to end them. */
  #spinFirst = true;
  #lastYield = 0;
  /** A blocking sleep ended more than a yield interval after the last yield: yield before the next wait, not right after the wake. */
  #yieldOwed = false;
  #polls = 0;
  #sleeps = 0;
  /** The rhythm of arrivals (`backoff`). */
  #gaps: ArrivalGaps;
  /** Naps: a futex wait no one wakes, with the thread's timer slack lowered (made at the first nap). */
  #napper: ThreadSleep | undefined;
  /** When the last nap started, if no poll came up empty since (0: none): trades found now came during it. */
  #napStart = 0;
  /** The readers of the last {@linkcode idle} call, and the trades they had received at the last arrival. */
  #idleReaders: readonly RingReader[] = [];
  #received = 0;
  #sleeping: Promise<void> | undefined;
  /** The futex words of the readers last slept on, built once per set of readers. */
  #set: FutexSet | undefined;
  #setReaders: readonly RingReader[] = [];
  /** The readers whose files {@linkcode #resizes} watches, in the order last slept on. */
  #watched: readonly RingReader[] = [];

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
    this.#blockingSleepMs = options.blockingSleepMs ?? 0;
    this.#gaps = new ArrivalGaps(options.spinBudget);
    if (
      !(this.#spinMs >= 0) || !(this.#maxSleepMs > 0) ||
      !Number.isFinite(this.#maxSleepMs) ||
      !(this.#blockingSleepMs >= 0 && this.#blockingSleepMs <= 1000)
    ) {
      throw new RangeError(
        `Invalid wait timing (spin ${this.#spinMs} ms, max sleep ${this.#maxSleepMs} ms): expected spin ≥ 0, a finite max sleep > 0 and a blocking sleep from 0 to 1000 ms (got ${this.#blockingSleepMs})`,
      );
    }
  }

  /** Times the consumer went to sleep. */
  get sleeps(): number {
    return this.#sleeps;
  }

  /** What `backoff` learned of the feed's rhythm. */
  get arrivals(): ArrivalGaps {
    return this.#gaps;
  }

  /** Trades received from the readers last waited on since the last call. */
  #receivedSince(): number {
    let received = 0;
    for (const reader of this.#idleReaders) received += reader.received;
    const trades = received - this.#received;
    this.#received = received;
    return trades;
  }

  /** Call after a poll that found trades. */
  busy(): void {
    if (this.#idleSince >= 0 && this.strategy === "backoff") {
      const now = performance.now();
      this.#gaps.arrived(now, this.#receivedSince(), this.#napStart || now);
    }
    this.#napStart = 0;
    this.#idleSince = -1;
  }

  /**
   * Call after a poll of `readers` found nothing. Returns a promise to await
   * before polling again, or undefined to poll again at once.
   *
   * @throws {RingTruncatedError} (or rejects with it) when a ring was
   * truncated while the consumer slept: close the readers.
   */
  idle(readers: readonly RingReader[]): Promise<void> | undefined {
    if (this.strategy === "spin") {
      // The clock is read every 64th empty poll only: a read costs more than
      // the poll, and would delay a spinning reader's next look at the ring.
      if ((++this.#polls & 63) !== 0) return undefined;
      const now = performance.now();
      if (now - this.#lastYield < SPIN_YIELD_MS) return undefined;
      this.#lastYield = now;
      return yieldToEventLoop();
    }
    const now = performance.now();
    if (this.#idleSince < 0) this.#idleSince = now;
    this.#idleReaders = readers;
    this.#napStart = 0;
    switch (this.strategy) {
      case "yield":
        libc().sched_yield();
        if ((++this.#polls & 63) !== 0) return undefined;
        return yieldToEventLoop();
      default:
        return this.#backoff(readers, now);
    }
  }

  /**
   * `backoff`: the yield a blocking wake-up left owed; then, before a spin
   * window around the expected arrival, a timed sleep until it; in the
   * window, spin; else spin briefly (when idle periods are short) and sleep
   * until woken.
   */
  #backoff(
    readers: readonly RingReader[],
    now: number,
  ): Promise<void> | undefined {
    if (this.#yieldOwed) {
      this.#yieldOwed = false;
      this.#lastYield = now;
      return yieldToEventLoop();
    }
    const gaps = this.#gaps;
    if (now < gaps.spinTo) {
      const wakeAt = gaps.wakeAt;
      const left = wakeAt - now;
      if (left < MIN_TIMED_SLEEP_MS) return undefined;
      if (left > NAP_MS) return this.#sleep(readers, wakeAt - NAP_MS);
      return this.#nap(wakeAt, left);
    }
    if (this.#spinFirst && now - this.#idleSince < this.#spinMs) {
      return undefined;
    }
    return this.#sleep(readers);
  }

  /**
   * Sleeps on every ring's wake word until the producer writes, a ring
   * changes state, or the timeout. One ring: FUTEX_WAIT. Several: one
   * futex_waitv call, or for more than 128 rings one per group of 127 on
   * Deno's blocking pool (never blocking the thread then). A kernel without
   * futex_waitv: the first ring's word, with a short timeout. A timed
   * sleep ends by `wakeAt` (ms, performance.now() time) at the latest.
   */
  #sleep(
    readers: readonly RingReader[],
    wakeAt = Infinity,
  ): Promise<void> | undefined {
    this.#watchFiles(readers);
    const waiters = readers.map((reader) => reader.beginSleep());
    // Re-check after announcing ourselves: a trade committed before the
    // producer could see us sleeping is visible now.
    const ready = readers.some((reader) =>
      reader.hasData() || reader.state() !== RingState.Open
    );
    if (ready) {
      for (const reader of readers) reader.endSleep(false);
      return undefined;
    }
    this.#sleeps++;
    let blocking = this.#blockingSleepMs > 0;
    const untilWake = Math.max(0, wakeAt - performance.now());
    let longest = Math.min(
      blocking ? this.#blockingSleepMs : this.#maxSleepMs,
      untilWake,
    );
    let wait: Promise<void> | undefined;
    try {
      if (waiters.length === 1) {
        wait = futexWait(waiters[0].word, waiters[0].expected, {
          timeoutMs: longest,
          blocking,
        });
      } else if (futexWaitvSupported()) {
        const set = this.#futexSet(readers, waiters);
        for (let i = 0; i < waiters.length; i++) {
          set.expect(i, waiters[i].expected);
        }
        if (blocking && set.grouped) {
          blocking = false;
          longest = Math.min(this.#maxSleepMs, untilWake);
        }
        wait = set.wait({ timeoutMs: longest, blocking });
      } else {
        const timeoutMs = Math.min(longest, FALLBACK_SLEEP_MS);
        wait = futexWait(waiters[0].word, waiters[0].expected, {
          timeoutMs,
          blocking,
        });
      }
    } catch (error) {
      this.#woke(readers);
      throw error;
    }
    if (wait === undefined) {
      // No yield right after the wake-up (a trade may be waiting): it is
      // owed to the next wait, after the consumer read what woke it.
      this.#yieldOwed = performance.now() - this.#lastYield >= SPIN_YIELD_MS;
      this.#woke(readers);
      return undefined;
    }
    this.#sleeping = wait.finally(() => {
      this.#sleeping = undefined;
      this.#woke(readers);
    });
    return this.#sleeping;
  }

  /**
   * Sleeps `ms` without announcing it to the producers (a trade does not
   * end it), to be polling again at `wakeAt`; learns how late naps end.
   */
  #nap(wakeAt: number, ms: number): Promise<void> | undefined {
    // open() is undefined only without libc, which backoff's sleeps need.
    this.#napper ??= ThreadSleep.open()!;
    const woke = () => this.#gaps.wokeLate(wakeAt, performance.now());
    this.#napStart = performance.now();
    const nap = this.#napper.for(ms, this.#blockingSleepMs > 0);
    if (nap !== undefined) return nap.then(woke);
    woke();
    return undefined;
  }

  /** The futex words of `readers`, reusing the last set while the readers are the same. */
  #futexSet(
    readers: readonly RingReader[],
    waiters: readonly FutexWaiter[],
  ): FutexSet {
    const last = this.#setReaders;
    if (
      this.#set === undefined || last.length !== readers.length ||
      readers.some((reader, i) => reader !== last[i])
    ) {
      this.#set = new FutexSet(waiters.map((waiter) => waiter.word));
      this.#setReaders = [...readers];
    }
    return this.#set;
  }

  /**
   * Ends the sleep on `readers`, and decides whether the next idle period
   * starts with a spin: only if this one was short enough for a spin to have
   * ended it (trades further apart than the spin would only burn CPU).
   *
   * @throws {RingTruncatedError} once every other reader's sleep is ended,
   * when a ring was truncated during the sleep.
   */
  #woke(readers: readonly RingReader[]): void {
    this.#spinFirst = performance.now() - this.#idleSince < 2 * this.#spinMs;
    let failure: unknown;
    let modified: ReadonlySet<RingReader> | undefined;
    try {
      modified = this.#resizes?.changed();
    } catch (error) {
      failure = error; // then check every ring
    }
    for (const reader of readers) {
      try {
        reader.endSleep(modified === undefined || modified.has(reader));
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
  }

  /** Watches the files of exactly `readers` (their events tell which to check after a sleep). */
  #watchFiles(readers: readonly RingReader[]): void {
    if (this.#resizes === null) this.#resizes = ResizeWatch.open<RingReader>();
    const watch = this.#resizes;
    if (watch === undefined) return;
    const last = this.#watched;
    if (
      last.length === readers.length &&
      readers.every((reader, i) => reader === last[i])
    ) return;
    const now = new Set(readers);
    for (const reader of watch.keys()) {
      if (!now.has(reader)) watch.remove(reader);
    }
    for (const reader of readers) {
      if (!watch.has(reader)) watch.add(reader, reader.fd);
    }
    this.#watched = [...readers];
  }

  /**
   * Releases the watch on the rings' files (a watch keeps a file's memory
   * until removed): call when done with this waiter, after its readers
   * stopped sleeping. A later sleep watches again.
   */
  close(): void {
    this.#resizes?.close();
    this.#resizes = null;
    this.#watched = [];
  }

  /** Ends a sleep in progress (e.g. on shutdown) and resolves once it has. */
  async interrupt(readers: readonly RingReader[]): Promise<void> {
    if (this.#sleeping === undefined) return;
    for (const reader of readers) reader.interrupt();
    await this.#sleeping;
  }
}
