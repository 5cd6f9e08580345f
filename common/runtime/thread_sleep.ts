/**
 * Precise sleeps of the calling thread: a futex wait that no one wakes, on a
 * word of its own, with the thread's timer slack lowered to 1 µs. Until a
 * time of the monotonic clock, for pacing a feed trade by trade (an absolute
 * `CLOCK_MONOTONIC` deadline with futex_waitv; a relative timeout on kernels
 * before 5.16: due times computed from the start never drift, however late a
 * wake-up is), or for a span, for a consumer napping until a trade is due.
 *
 * @module
 */

import { LibcUnavailableError } from "../os/libc.ts";
import { FutexVector, futexWait, futexWaitvSupported } from "../os/futex.ts";
import { setTimerSlack } from "../os/timer_slack.ts";
import { monotonicNanos } from "./clock.ts";

/** Blocks the thread until the monotonic clock reaches a time. */
export class ThreadSleep {
  /** Off the V8 heap (an ArrayBuffer's own memory): its address never moves. */
  #word = new Int32Array(new ArrayBuffer(4));
  #pointer: Deno.PointerObject;
  #vector: FutexVector | undefined;

  private constructor() {
    this.#pointer = Deno.UnsafePointer.of(this.#word)!;
    if (futexWaitvSupported()) this.#vector = new FutexVector([this.#pointer]);
  }

  /**
   * Lowers this thread's timer slack and returns the sleeper, or undefined
   * when libc cannot be loaded (no FFI permission): pace with timers then.
   */
  static open(): ThreadSleep | undefined {
    try {
      setTimerSlack();
    } catch (error) {
      if (error instanceof LibcUnavailableError) return undefined;
      throw error;
    }
    return new ThreadSleep();
  }

  /**
   * Blocks until `CLOCK_MONOTONIC` reads `nanos`, ns (at once if it has),
   * or a little earlier: the caller looks at the clock again.
   */
  until(nanos: number): void {
    this.#wait(nanos, true);
  }

  /**
   * Like {@linkcode until}, on Deno's blocking pool: the event loop runs
   * meanwhile (sockets, timers, signals), and the promise resolves some
   * 15–50 µs after the time.
   */
  async untilAsync(nanos: number): Promise<void> {
    await this.#wait(nanos, false);
  }

  /**
   * Sleeps `ms`, blocking the thread (undefined once it ended) or on Deno's
   * blocking pool (a promise).
   */
  for(ms: number, blocking: boolean): Promise<void> | undefined {
    return futexWait(this.#pointer, 0, { timeoutMs: ms, blocking });
  }

  #wait(nanos: number, blocking: boolean): Promise<void> | undefined {
    const timeoutMs = (nanos - monotonicNanos()) / 1e6;
    if (!(timeoutMs > 0)) return undefined;
    const options = { timeoutMs, blocking };
    return this.#vector !== undefined
      ? this.#vector.wait(options)
      : futexWait(this.#pointer, 0, options);
  }
}
