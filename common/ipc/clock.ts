/**
 * System clocks through `clock_gettime`, without allocating: the wall clock
 * for record timestamps and the monotonic clock for latency, both exact and
 * system-wide (comparable across processes on one machine).
 *
 * @module
 */

import { CLOCK_MONOTONIC, CLOCK_REALTIME, libc } from "../os/libc.ts";

/** A clock reading split into whole seconds and nanoseconds. */
export interface ClockReading {
  /** Whole seconds. */
  seconds: number;
  /** Nanoseconds, 0..999,999,999. */
  nanos: number;
}

const timespec = new Int32Array(4);
const timespecBytes = new Uint8Array(timespec.buffer);

function read(clock: number, into: ClockReading): ClockReading {
  libc().clock_gettime(clock, timespecBytes);
  into.seconds = timespec[1] * 2 ** 32 + (timespec[0] >>> 0);
  into.nanos = timespec[2];
  return into;
}

/** Reads the wall clock (ns since the Unix epoch, split) into `into` and returns it. */
export function readWallClock(into: ClockReading): ClockReading {
  return read(CLOCK_REALTIME, into);
}

const monotonic: ClockReading = { seconds: 0, nanos: 0 };

/** `CLOCK_MONOTONIC` in nanoseconds (exact while uptime is under 104 days, then to ±1 ns). */
export function monotonicNanos(): number {
  read(CLOCK_MONOTONIC, monotonic);
  return monotonic.seconds * 1e9 + monotonic.nanos;
}
