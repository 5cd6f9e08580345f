/**
 * A timer that an `AbortSignal` cuts short, the wait for the signal itself,
 * and a yield to the event loop.
 *
 * @module
 */

import { setImmediate } from "node:timers";

/** Resolves after `ms` milliseconds, or as soon as `signal` aborts (never rejects). */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}

/**
 * Resolves once `signal` aborts (at once if it already has; never rejects):
 * race it against work that may block for good.
 */
export function whenAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/** Lets timers, signals and I/O run, resuming within microseconds (unlike setTimeout's ≥ 1 ms). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
