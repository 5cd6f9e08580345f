/**
 * Byte layout of a ring segment (layout version 1); docs/ipc_ring.md explains
 * the protocol. Offsets are in bytes; every field is little-endian and
 * naturally aligned so that `Atomics` can operate on it through an
 * `Int32Array` over the mapping.
 *
 * @module
 */

import { TRADE_RECORD_SIZE } from "../wire/trade.ts";

/** "MBRG" read as a little-endian u32: the first four bytes of every segment. */
export const RING_MAGIC = 0x4752424d;

/** The layout version this code reads and writes. */
export const RING_LAYOUT_VERSION = 1;

/** Bytes before the first slot: four 64-byte cache lines. */
export const RING_HEADER_SIZE = 256;

/** Bytes per slot: one cache line. */
export const SLOT_SIZE = 64;

/** Bytes of the trade record inside a slot. */
export const SLOT_PAYLOAD_SIZE: number = TRADE_RECORD_SIZE;

/** Smallest ring capacity in slots. */
export const MIN_CAPACITY = 64;

/** Largest ring capacity in slots (1 GiB of slots). */
export const MAX_CAPACITY = 1 << 24;

/** Header field offsets in bytes. */
export const Header = {
  // Cache line 0: written once at creation, read-only afterwards.
  /** u32 {@linkcode RING_MAGIC}; stored last, so a segment with it is fully initialised. */
  Magic: 0,
  /** u32 {@linkcode RING_LAYOUT_VERSION}. */
  LayoutVersion: 4,
  /** u32 {@linkcode RING_HEADER_SIZE}. */
  HeaderSize: 8,
  /** u32 slots in the ring, a power of two. */
  Capacity: 12,
  /** u32 {@linkcode SLOT_SIZE}. */
  SlotSize: 16,
  /** u32 {@linkcode SLOT_PAYLOAD_SIZE}. */
  PayloadSize: 20,
  /** u32 wire format version of the records. */
  WireVersion: 24,
  /** i32 pid of the producer that created the segment. */
  ProducerPid: 28,
  /** u32 random, non-zero, different each time a producer (re)creates the segment. */
  Epoch: 32,
  /** u32 heartbeat period of the producer, ms. */
  HeartbeatIntervalMs: 36,
  /** u32 + u32: low and high words of the first position written in this epoch. */
  FirstPositionLo: 40,
  /** High word of the first position. */
  FirstPositionHi: 44,
  /** f64 wall-clock creation time, ms since the Unix epoch (informational). */
  CreatedAtMs: 48,

  // Cache line 1: written by the producer only.
  /** u32 low word of the write position (trades committed); the producer's commit point. */
  WritePositionLo: 64,
  /** u32 high word of the write position; stored after the low word wraps. */
  WritePositionHi: 68,
  /** i32 {@linkcode RingState}. */
  State: 72,
  /** u32 incremented every heartbeat interval while the producer lives. */
  Heartbeat: 76,

  // Cache line 2: written by consumers, and only when they go to sleep.
  /** i32 consumers sleeping (or about to) on {@linkcode Header.WakeSequence}. */
  Sleepers: 128,
  /** i32 futex word: the producer increments it and wakes sleepers. */
  WakeSequence: 132,
} as const;

/** Offsets inside a slot in bytes. */
export const Slot = {
  /** i32 seqlock: odd while the producer writes, even when stable, 0 = never written. */
  Sequence: 0,
  /** u32 + u32: low and high words of the position the slot holds. */
  PositionLo: 8,
  /** High word of the slot's position. */
  PositionHi: 12,
  /** The 48-byte trade record. */
  Record: 16,
} as const;

/** Life cycle of a segment, in {@linkcode Header.State}. */
export const RingState = {
  /** Being set up by the producer. */
  Initialising: 0,
  /** The producer is publishing. */
  Open: 1,
  /** The producer shut down (or was replaced): no more writes. */
  Closed: 2,
} as const;

/** One of {@linkcode RingState}. */
export type RingState = typeof RingState[keyof typeof RingState];

/** Total segment size in bytes for `capacity` slots. */
export function segmentSize(capacity: number): number {
  return RING_HEADER_SIZE + capacity * SLOT_SIZE;
}

/**
 * Checks a ring capacity.
 *
 * @throws {RangeError} unless it is a power of two within the allowed range.
 */
export function checkCapacity(capacity: number): number {
  if (
    !Number.isInteger(capacity) || capacity < MIN_CAPACITY ||
    capacity > MAX_CAPACITY || (capacity & (capacity - 1)) !== 0
  ) {
    throw new RangeError(
      `Invalid ring capacity ${capacity}: expected a power of two from ${MIN_CAPACITY} to ${MAX_CAPACITY}, e.g. 65536`,
    );
  }
  return capacity;
}
