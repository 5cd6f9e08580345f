/**
 * The synthetic source as a {@linkcode TradeSource}: paces a
 * {@linkcode SyntheticGenerator} and stamps the receive time.
 *
 * @module
 */

import { delay, yieldToEventLoop } from "../../common/runtime/delay.ts";
import { monotonicNanos, readWallClock } from "../../common/runtime/clock.ts";
import { ThreadSleep } from "../../common/runtime/thread_sleep.ts";
import { TRADE_RECORD_SIZE } from "../../common/wire/trade.ts";
import type { TradeSink, TradeSource } from "../source.ts";
import {
  SyntheticGenerator,
  type SyntheticGeneratorOptions,
} from "./generator.ts";

/** The longest the feed sleeps between pacing checks, ms. */
const MAX_PAUSE_MS = 50;
/**
 * A paced feed sleeps through gaps up to this long with futex waits (to
 * the microsecond), and through longer ones on a timer first, ms.
 */
const THREAD_SLEEP_MAX_MS = 2;
/**
 * The last stretch of a gap slept on Deno's blocking pool is slept
 * blocking the thread, ms: an await on the pool ends 15–50 µs late (and
 * costs ~20 µs more CPU: hence once per {@linkcode YIELD_EVERY_MS}); a
 * blocking wait ends on time.
 */
const BLOCKING_SLEEP_MS = 0.06;
/** A timer fires up to about this late: a long gap's timer ends this early and a thread sleep ends the gap, ms. */
const TIMER_MARGIN_MS = 1.5;
/** A paced feed lets the event loop run (metrics, signals, NATS) at least this often, ms. */
const YIELD_EVERY_MS = 1;
/** The sink's room is checked at least every this many trades. */
const ROOM_EVERY = 64;
/** The wall clock is read for the first trade of a chunk and then every this many trades. */
const CLOCK_EVERY = 16;

/** Deterministic random-walk trades at a configured rate. */
export class SyntheticSource implements TradeSource {
  /** Source kind. */
  readonly kind = "synthetic";
  #source: SyntheticGenerator;
  #seed: number;
  #paced: boolean;

  /** A feed of `symbols` (options as for {@linkcode SyntheticGenerator}). */
  constructor(
    symbols: readonly string[],
    options: SyntheticGeneratorOptions = {},
  ) {
    this.#source = new SyntheticGenerator(symbols, options);
    this.#seed = options.seed ?? 1;
    this.#paced = (options.rate ?? 0) > 0;
  }

  /** Symbols, by index. */
  get symbols(): readonly string[] {
    return this.#source.symbols;
  }

  /** Trades produced so far. */
  get produced(): number {
    return this.#source.produced;
  }

  /** Progress fragment. */
  summary(): string {
    return `synthetic seed ${this.#seed}${this.#source.done ? " (done)" : ""}`;
  }

  /**
   * Publishes paced trades into `sink` until done (max trades) or aborted.
   * A paced feed publishes each trade at its due time, sleeping through
   * gaps up to {@linkcode THREAD_SLEEP_MAX_MS} with futex waits until an
   * absolute monotonic time that block the thread, except at least every
   * {@linkcode YIELD_EVERY_MS}: that gap is slept on Deno's blocking pool,
   * and the event loop (sockets, timers, signals) runs meanwhile, but for
   * its last {@linkcode BLOCKING_SLEEP_MS}. Longer gaps are slept on a
   * timer first. Due times count from the start: the rate never drifts.
   */
  async run(sink: TradeSink, options: { signal: AbortSignal }): Promise<void> {
    const { signal } = options;
    const source = this.#source;
    const record = new Uint8Array(TRADE_RECORD_SIZE);
    const view = new DataView(record.buffer);
    const clock = { seconds: 0, nanos: 0 };
    const sleep = this.#paced ? ThreadSleep.open() : undefined;
    let lastYield = nowMs();
    while (!signal.aborted && !source.done) {
      const now = nowMs();
      const due = source.due(now);
      if (due === 0) {
        const wait = source.nextDueInMs(now);
        if (sleep === undefined || wait > THREAD_SLEEP_MAX_MS) {
          const margin = sleep === undefined ? 0 : TIMER_MARGIN_MS;
          await delay(Math.min(MAX_PAUSE_MS, wait - margin), signal);
          lastYield = nowMs();
        } else if (now + wait - lastYield >= YIELD_EVERY_MS) {
          // The event loop's turn: it runs while this gap is slept.
          if (wait > BLOCKING_SLEEP_MS) {
            await sleep.untilAsync((now + wait - BLOCKING_SLEEP_MS) * 1e6);
          } else {
            await yieldToEventLoop();
          }
          lastYield = nowMs();
        } else {
          sleep.until((now + wait) * 1e6);
        }
        continue;
      }
      for (let i = 0; i < due; i += ROOM_EVERY) {
        if (signal.aborted) return;
        const room = sink.room();
        if (room) {
          await room;
          if (signal.aborted) return;
        }
        const count = Math.min(ROOM_EVERY, due - i);
        if (!publishRun(source, sink, record, view, clock, count)) break;
      }
      // Paced, the thread may block until the next trade: send now what the
      // transports would otherwise send at the next microtask (the ring's
      // commit), and give the event loop the turn a socket write needs. That
      // turn is not a yield: it ends as soon as the write did, before what
      // was read meanwhile is handled (NATS's acks), so the yield every
      // YIELD_EVERY_MS stays due (counting it as one left the acks unread
      // until NATS's window of 256 was full and trades queued for ms).
      if (this.#paced) {
        const sent = sink.flush?.();
        // A stalled server can hold a socket write for ever: a stop ends the wait.
        if (sent !== undefined) await untilSettledOr(sent, signal);
      }
      // Unpaced, or paced but behind: the event loop's turn now and then.
      if (!this.#paced || nowMs() - lastYield >= 2 * YIELD_EVERY_MS) {
        await yieldToEventLoop();
        lastYield = nowMs();
      }
    }
  }
}

/**
 * Publishes the source's next `count` trades (at most {@linkcode ROOM_EVERY})
 * into `sink` through `record` (written through `view`), reading the wall clock every
 * {@linkcode CLOCK_EVERY}; false once the source is done. A small
 * synchronous function of its own: V8 optimizes it within a few thousand
 * trades, where the same loop inside the async `run` stayed in the middle
 * tier for the first 100–200k trades (serve's warm-up, issue 16).
 */
function publishRun(
  source: SyntheticGenerator,
  sink: TradeSink,
  record: Uint8Array,
  view: DataView,
  clock: { seconds: number; nanos: number },
  count: number,
): boolean {
  for (let i = 0; i < count; i++) {
    if (i % CLOCK_EVERY === 0) readWallClock(clock);
    const symbol = source.next(view, 0, clock.seconds, clock.nanos);
    if (symbol < 0) return false;
    sink.publish(symbol, record);
  }
  return true;
}

/** The monotonic clock in ms: the generator's time, and the clock the thread sleeps on. */
function nowMs(): number {
  return monotonicNanos() / 1e6;
}

/** Resolves when `promise` settles or `signal` aborts, whichever comes first. */
function untilSettledOr(
  promise: Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener("abort", done);
      resolve();
    };
    signal.addEventListener("abort", done);
    promise.then(done, done);
  });
}
