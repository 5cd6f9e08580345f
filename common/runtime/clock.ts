/**
 * System clocks through `clock_gettime`, without allocating: the wall clock
 * for record timestamps and the monotonic clock for latency, both exact and
 * system-wide (comparable across processes on one machine).
 *
 * Without FFI (a NATS-only consumer run without `--allow-ffi`, or a system
 * without libc) the clocks fall back to `performance.timeOrigin` +
 * `performance.now()`: microsecond resolution, and the monotonic clock is
 * then this process's own.
 *
 * @module
 */

import {
  CLOCK_MONOTONIC,
  CLOCK_REALTIME,
  libc,
  LibcUnavailableError,
} from "../os/libc.ts";

/** A clock reading split into whole seconds and nanoseconds. */
export interface ClockReading {
  /** Whole seconds. */
  seconds: number;
  /** Nanoseconds, 0..999,999,999. */
  nanos: number;
}

const timespec = new Int32Array(4);
const timespecBytes = new Uint8Array(timespec.buffer);

/** Whether libc's clock_gettime can be called; decided on first use. */
let native: boolean | undefined;

function hasNativeClock(): boolean {
  if (native === undefined) {
    try {
      libc();
      native = true;
    } catch (error) {
      if (!(error instanceof LibcUnavailableError)) throw error;
      native = false;
    }
  }
  return native;
}

function readFallback(clock: number, into: ClockReading): ClockReading {
  const ms = clock === CLOCK_REALTIME
    ? performance.timeOrigin + performance.now()
    : performance.now();
  const seconds = Math.floor(ms / 1000);
  into.seconds = seconds;
  into.nanos = Math.min(999_999_999, Math.round((ms - seconds * 1000) * 1e6));
  return into;
}

function read(clock: number, into: ClockReading): ClockReading {
  if (!hasNativeClock()) return readFallback(clock, into);
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
