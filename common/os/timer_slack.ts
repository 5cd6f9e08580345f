/**
 * The calling thread's timer slack (`prctl(PR_SET_TIMERSLACK)`): how late
 * the kernel may end the thread's timed sleeps to batch wake-ups, 50 µs by
 * default. A thread that sleeps until a precise time (a paced publisher, a
 * consumer expecting a trade) lowers it.
 *
 * @module
 */

import { libc } from "./libc.ts";

/** prctl option: set the calling thread's timer slack, ns. */
const PR_SET_TIMERSLACK = 29;

/** The slack of a thread that sleeps until precise times, ns. */
export const PRECISE_TIMER_SLACK_NS = 1000;

/**
 * Sets the calling thread's timer slack to `nanos` (1 µs by default);
 * returns whether the kernel took it.
 */
export function setTimerSlack(nanos = PRECISE_TIMER_SLACK_NS): boolean {
  return libc().prctl(PR_SET_TIMERSLACK, BigInt(nanos), 0n, 0n, 0n) === 0;
}
