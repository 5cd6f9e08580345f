/**
 * The options of {@linkcode RingWriter.create}: their defaults and
 * validation, apart from the writer's hot path.
 *
 * @module
 */

import { checkCapacity } from "./layout.ts";
import { checkBacklog, DEFAULT_BACKLOG } from "./_ring_backlog.ts";
import {
  checkMaxTetherTimeout,
  DEFAULT_MAX_TETHER_TIMEOUT_MS,
  type ReaderEvictionInfo,
} from "./_tether_gate.ts";

/** Options of {@linkcode RingWriter.create}. */
export interface RingWriterOptions {
  /** Slots, a power of two (default 65536). */
  capacity?: number;
  /** How often the heartbeat word moves, ms (default 100). */
  heartbeatIntervalMs?: number;
  /** Test-only: the first write position (default 0), e.g. just below 2^32 to exercise the 64-bit position. */
  startPosition?: number;
  /** Trades kept in order while a tethered reader holds the ring (default 262,144: 12 MiB, allocated on first use). */
  backlog?: number;
  /** The longest a tethered reader may hold the writer before it is evicted, ms (default 60,000); each reader's own timeout is capped by it. */
  maxTetherTimeoutMs?: number;
  /** Called once per tethered reader evicted (to log it). */
  onEvict?: (info: ReaderEvictionInfo) => void;
  /** The run's epoch (1 to 2^32 - 1; default random); one replacing a segment of that epoch gets a random one: see {@linkcode RingWriter.epoch}. */
  epoch?: number;
}

/** Options of the writer once defaults are applied. */
export type ResolvedOptions = Required<
  Omit<RingWriterOptions, "onEvict" | "epoch">
>;

/**
 * Applies the defaults and checks every option.
 *
 * @throws {RangeError} for a bad capacity, heartbeat interval, start position, backlog or tether timeout.
 */
export function resolveOptions(options: RingWriterOptions): ResolvedOptions {
  const resolved: ResolvedOptions = {
    capacity: checkCapacity(options.capacity ?? 65536),
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 100,
    startPosition: options.startPosition ?? 0,
    backlog: checkBacklog(options.backlog ?? DEFAULT_BACKLOG),
    maxTetherTimeoutMs: checkMaxTetherTimeout(
      options.maxTetherTimeoutMs ?? DEFAULT_MAX_TETHER_TIMEOUT_MS,
    ),
  };
  const interval = resolved.heartbeatIntervalMs;
  if (!Number.isInteger(interval) || interval < 1 || interval > 60_000) {
    throw new RangeError(
      `Invalid heartbeat interval ${interval}: expected an integer number of ms from 1 to 60000`,
    );
  }
  const start = resolved.startPosition;
  if (!Number.isSafeInteger(start) || start < 0) {
    throw new RangeError(
      `Invalid start position ${start}: expected a safe integer ≥ 0`,
    );
  }
  return resolved;
}
