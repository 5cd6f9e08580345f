/**
 * Byte layout of a ring segment (layout version 2: version 1 plus the reader
 * registry); docs/ipc_ring.md explains
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
export const RING_LAYOUT_VERSION = 2;

/** Byte offset of the reader registry: after the four header cache lines. */
export const REGISTRY_OFFSET = 256;

/** Reader slots in the registry. */
export const REGISTRY_SLOTS = 64;

/** Bytes per reader slot: one cache line. */
export const REGISTRY_SLOT_SIZE = 64;

/** Bytes before the first slot: four header cache lines, then the reader registry (4352). */
export const RING_HEADER_SIZE = REGISTRY_OFFSET +
  REGISTRY_SLOTS * REGISTRY_SLOT_SIZE;

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
  /** u32 {@linkcode REGISTRY_SLOTS} (version 2). */
  RegistrySlots: 56,
  /** u32 {@linkcode REGISTRY_SLOT_SIZE} (version 2). */
  RegistrySlotSize: 60,

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

  // Cache line 3: the tethered gate (version 2).
  /** i32 futex word the gated producer sleeps on: a tethered reader increments it and wakes it, only while {@linkcode Header.WriterWaiting} is set. */
  TetherWake: 192,
  /** i32 1 while the producer waits for a tethered reader, else 0; written by the producer. */
  WriterWaiting: 196,
  /** u32 tethered readers the producer saw at its last scan (informational). */
  Tethered: 200,
  /** u32 readers evicted since creation (informational). */
  Evictions: 204,
  /** f64 total time the producer waited for tethered readers, ms (informational). */
  StalledMs: 208,
} as const;

/**
 * Offsets inside a reader slot of the registry, in bytes; slot `i` starts at
 * `REGISTRY_OFFSET + i * REGISTRY_SLOT_SIZE`. A reader writes its own slot;
 * the producer writes only the eviction fields (and frees a dead reader's slot).
 */
export const ReaderSlot = {
  /** i32 the reader's random non-zero id, 0 = free: the word claimed with compare-and-swap. */
  Owner: 0,
  /** i32 {@linkcode ReaderState}. */
  State: 4,
  /** i32 pid of the reader. */
  Pid: 8,
  /** u32 the tether timeout the reader asks for, ms (the producer caps it). */
  TetherTimeoutMs: 12,
  /** u32 + u32: low and high words of the next position the reader will read. */
  PositionLo: 16,
  /** High word of the reader's position; stored before the low word, only when it changes. */
  PositionHi: 20,
  /** u32 low 32 bits of CLOCK_MONOTONIC in ms when the reader last showed it lives (compare modulo 2^32). */
  HeartbeatMs: 24,
  /** u32 times the producer evicted this reader. */
  Evictions: 28,
  /** u32 + u32: the producer's write position when it last evicted this reader. */
  EvictedAtLo: 32,
  /** High word of the eviction position. */
  EvictedAtHi: 36,
  /** u32 {@linkcode EvictionCause} of the last eviction. */
  EvictionCause: 40,
  /** u32 trades the reader was behind when evicted. */
  LagAtEviction: 44,
  /** f64 wall-clock registration time, ms since the Unix epoch (informational). */
  RegisteredAtMs: 48,
} as const;

/** What a reader slot holds, in {@linkcode ReaderSlot.State}. */
export const ReaderState = {
  /** Nobody: the slot may be claimed. */
  Free: 0,
  /** Being filled in by the reader that claimed it: ignored by everyone else. */
  Claimed: 1,
  /** A lossy reader, registered to be seen: it never holds the producer. */
  Lossy: 2,
  /** A tethered reader: the producer never overwrites what it has not read. */
  Tethered: 3,
  /** A tethered reader the producer evicted: lossy until it re-tethers. */
  Evicted: 4,
} as const;

/** One of {@linkcode ReaderState}. */
export type ReaderState = typeof ReaderState[keyof typeof ReaderState];

/** Why the producer evicted a tethered reader, in {@linkcode ReaderSlot.EvictionCause}. */
export const EvictionCause = {
  /** It held the producer longer than its tether timeout. */
  Timeout: 1,
  /** Its process is gone and its heartbeat stale. */
  Dead: 2,
  /** The producer's backlog filled up while it waited for it. */
  BacklogFull: 3,
} as const;

/** One of {@linkcode EvictionCause}. */
export type EvictionCause = typeof EvictionCause[keyof typeof EvictionCause];

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
