/**
 * Polling for a condition that should come true soon, bounded so that a
 * test that waits for something that never happens fails instead of
 * hanging.
 *
 * @module
 */

import { delay } from "../common/runtime/delay.ts";

/** Generous bound for anything that only has to happen eventually (the machine is shared). */
export const LIVENESS_MS = 30_000;

/** Options of {@linkcode until}. */
export interface UntilOptions {
  /** Longest wait, ms of the wall clock (Date.now, which tests may leave alone when they freeze performance.now). */
  timeoutMs: number;
  /** Between two looks, ms. @default 5 */
  pollMs?: number;
}

/** Waits until `condition` holds; throws `never: <what>` after `options.timeoutMs`. */
export async function until(
  condition: () => boolean,
  what: string,
  options: UntilOptions,
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await delay(options.pollMs ?? 5);
  }
}
