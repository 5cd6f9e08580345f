/**
 * The reader registry of a ring segment (layout version 2, docs/ipc_ring.md):
 * 64 one-cache-line slots after the header, one per registered reader. A
 * reader claims a slot with a compare-and-swap on its owner word and keeps
 * its position and heartbeat there; the producer reads the tethered ones to
 * know what it may overwrite, and writes only the eviction fields.
 *
 * Every function takes `words`, an `Int32Array` over the segment from byte 0
 * covering at least the header and the registry.
 *
 * @module
 */

import { processAlive } from "../os/libc.ts";
import { futexWake } from "../os/futex.ts";
import { monotonicNanos } from "../runtime/clock.ts";
import { TWO_32, W_TETHER_WAKE, W_WRITER_WAITING } from "./_header.ts";
import {
  type EvictionCause,
  Header,
  ReaderSlot,
  ReaderState,
  REGISTRY_OFFSET,
  REGISTRY_SLOT_SIZE,
  REGISTRY_SLOTS,
} from "./layout.ts";
import type { Segment } from "./segment.ts";

/** How often a registered reader beats at least, ms. */
export const READER_BEAT_MS = 100;

/** Heartbeat age after which a reader whose pid is gone counts as dead, ms. */
export const STALE_AFTER_MS = 1000;

/** How a registered reader is delivered to: lossy (only seen) or tethered (holds the producer). */
export type Policy = "lossy" | "tethered";

/** A claimed slot: its index and the reader id stored in its owner word. */
export interface Registration {
  /** Slot index, 0 to 63. */
  index: number;
  /** The reader's random non-zero id. */
  id: number;
}

/** Options of {@linkcode claimSlot}. */
export interface ClaimOptions {
  /** Lossy or tethered. */
  policy: Policy;
  /** The next position the reader will read. */
  position: number;
  /** The tether timeout the reader asks for, ms. */
  tetherTimeoutMs: number;
}

/** One registered reader, as {@linkcode readEntries} sees it. */
export interface ReaderEntry {
  /** Slot index. */
  index: number;
  /** Reader id. */
  id: number;
  /** Lossy, tethered or evicted. */
  state: ReaderState;
  /** The reader's pid. */
  pid: number;
  /** The next position it will read. */
  position: number;
  /** Trades written that it has not read (0 when ahead of the write position given). */
  lag: number;
  /** Its last heartbeat, low 32 bits of CLOCK_MONOTONIC in ms. */
  heartbeatMs: number;
  /** The tether timeout it asked for, ms. */
  tetherTimeoutMs: number;
  /** Times the producer evicted it. */
  evictions: number;
  /** The producer's write position at the last eviction. */
  evictedAt: number;
  /** Why it was last evicted, 0 if never. */
  evictionCause: EvictionCause | 0;
  /** Trades it was behind at the last eviction. */
  lagAtEviction: number;
  /** Wall-clock registration time, ms since the Unix epoch. */
  registeredAtMs: number;
}

/** Options of {@linkcode evict}. */
export interface EvictOptions {
  /** Why. */
  cause: EvictionCause;
  /** The producer's write position now. */
  writePosition: number;
  /** Trades the reader is behind. */
  lag: number;
}

/** What the producer wrote when it evicted a reader ({@linkcode evictionOf}). */
export interface Eviction {
  /** Why; 0 if this slot's reader was never evicted. */
  cause: EvictionCause | 0;
  /** The producer's write position then. */
  evictedAt: number;
  /** Trades the reader was behind. */
  lag: number;
  /** Times this slot's reader was evicted. */
  evictions: number;
}

/**
 * Word indexes of a reader slot's fields ({@linkcode ReaderSlot}'s byte
 * offsets over 4), counted from the slot's first word ({@linkcode slotWord}).
 */
export const SlotField = {
  /** The owner word (reader id, 0 = free). */
  Owner: ReaderSlot.Owner >> 2,
  /** The state word. */
  State: ReaderSlot.State >> 2,
  /** The reader's pid. */
  Pid: ReaderSlot.Pid >> 2,
  /** The tether timeout asked for, ms. */
  TetherTimeoutMs: ReaderSlot.TetherTimeoutMs >> 2,
  /** Low word of the position. */
  PositionLo: ReaderSlot.PositionLo >> 2,
} as const;

const OWNER = SlotField.Owner;
const STATE = SlotField.State;
const PID = SlotField.Pid;
const TIMEOUT = SlotField.TetherTimeoutMs;
const POSITION_LO = SlotField.PositionLo;
const POSITION_HI = ReaderSlot.PositionHi >> 2;
const HEARTBEAT = ReaderSlot.HeartbeatMs >> 2;
const EVICTIONS = ReaderSlot.Evictions >> 2;
const EVICTED_LO = ReaderSlot.EvictedAtLo >> 2;
const EVICTED_HI = ReaderSlot.EvictedAtHi >> 2;
const CAUSE = ReaderSlot.EvictionCause >> 2;
const LAG = ReaderSlot.LagAtEviction >> 2;

/** Word index of the first word of slot `index` in the segment. */
export function slotWord(index: number): number {
  return (REGISTRY_OFFSET + index * REGISTRY_SLOT_SIZE) >> 2;
}

/** Word index of field `field` (a word index inside a slot) of slot `index`. */
function at(index: number, field: number): number {
  return slotWord(index) + field;
}

/** Low 32 bits (unsigned) of CLOCK_MONOTONIC in ms: system-wide, compared modulo 2^32 with {@linkcode ageMs}. */
export function monotonicMs(): number {
  return Math.floor(monotonicNanos() / 1e6) >>> 0;
}

/** How long ago `thenMs` was at `nowMs`, both from {@linkcode monotonicMs} (modulo 2^32). */
export function ageMs(nowMs: number, thenMs: number): number {
  return (nowMs - thenMs) >>> 0;
}

function randomId(): number {
  const word = new Int32Array(1);
  do crypto.getRandomValues(word); while (word[0] === 0);
  return word[0];
}

/**
 * Claims a slot for a new reader: a free one, else one whose reader is dead
 * ({@linkcode isDead}); fills it in and publishes it with its policy's state
 * last. Undefined when all slots are held by live readers.
 */
export function claimSlot(
  words: Int32Array,
  options: ClaimOptions,
): Registration | undefined {
  const id = randomId();
  // Twice: a slot freed behind the scan while the ones ahead were taken.
  for (let pass = 0; pass < 2; pass++) {
    for (let index = 0; index < REGISTRY_SLOTS; index++) {
      const owner = at(index, OWNER);
      const free = Atomics.load(words, owner) === 0 &&
        Atomics.compareExchange(words, owner, 0, id) === 0;
      if (free) return fill(words, { index, id }, options);
    }
  }
  const now = monotonicMs();
  for (let index = 0; index < REGISTRY_SLOTS; index++) {
    const old = Atomics.load(words, at(index, OWNER));
    if (old === 0 || !isDead(words, index, now)) continue;
    if (Atomics.compareExchange(words, at(index, OWNER), old, id) === old) {
      return fill(words, { index, id }, options);
    }
  }
  return undefined;
}

/**
 * Fills in a slot just claimed: Claimed first (nobody reads it), the
 * heartbeat and pid next (so that nobody takes it for a dead reader's), the
 * policy's state last.
 */
function fill(
  words: Int32Array,
  registration: Registration,
  options: ClaimOptions,
): Registration {
  const { index } = registration;
  Atomics.store(words, at(index, STATE), ReaderState.Claimed);
  Atomics.store(words, at(index, HEARTBEAT), monotonicMs());
  Atomics.store(words, at(index, PID), Deno.pid);
  Atomics.store(words, at(index, TIMEOUT), options.tetherTimeoutMs);
  for (const field of [EVICTIONS, EVICTED_LO, EVICTED_HI, CAUSE, LAG]) {
    Atomics.store(words, at(index, field), 0);
  }
  storePosition(words, index, options.position, -1);
  new DataView(words.buffer, words.byteOffset).setFloat64(
    (at(index, 0) << 2) + ReaderSlot.RegisteredAtMs,
    Date.now(),
    true,
  );
  Atomics.store(
    words,
    at(index, STATE),
    options.policy === "tethered" ? ReaderState.Tethered : ReaderState.Lossy,
  );
  return registration;
}

/** Gives a slot back: Free first, then the owner word, if it is still this reader's. */
export function releaseSlot(
  words: Int32Array,
  registration: Registration,
): void {
  const { index, id } = registration;
  if (Atomics.load(words, at(index, OWNER)) !== id) return; // reclaimed
  Atomics.store(words, at(index, STATE), ReaderState.Free);
  Atomics.compareExchange(words, at(index, OWNER), id, 0);
}

/**
 * Publishes the reader's position: the high word first, and only when it
 * differs from `previousHi`, then the low word. Returns the high word.
 */
export function storePosition(
  words: Int32Array,
  index: number,
  position: number,
  previousHi: number,
): number {
  const hi = Math.floor(position / TWO_32);
  if (hi !== previousHi) Atomics.store(words, at(index, POSITION_HI), hi);
  Atomics.store(words, at(index, POSITION_LO), position >>> 0);
  return hi;
}

/** Stores the reader's heartbeat, `nowMs` from {@linkcode monotonicMs}. */
export function beat(words: Int32Array, index: number, nowMs: number): void {
  Atomics.store(words, at(index, HEARTBEAT), nowMs);
}

/** Wakes the producer if it waits for tethered readers (a reader calls it after moving its position). */
export function wakeGatedWriter(
  words: Int32Array,
  wakeWord: Deno.PointerObject,
): void {
  if (Atomics.load(words, W_WRITER_WAITING) === 0) return;
  Atomics.add(words, W_TETHER_WAKE, 1);
  futexWake(wakeWord, 1);
}

/** The futex word a gated producer sleeps on: the header's tether wake word. */
export function tetherWakeWordOf(segment: Segment): Deno.PointerObject {
  return Deno.UnsafePointer.offset(segment.pointer, Header.TetherWake)!;
}

/** The state of slot `index`. */
export function slotState(words: Int32Array, index: number): ReaderState {
  return Atomics.load(words, at(index, STATE)) as ReaderState;
}

/** The owner word of slot `index`: its reader's id, 0 when free. */
export function slotOwner(words: Int32Array, index: number): number {
  return Atomics.load(words, at(index, OWNER));
}

/**
 * A reader's position from its low and high words, read low first (the
 * reader stores high first): a read between its two stores sees the new high
 * word with the old low one, 2^32 too far ahead of `writePosition`; then the
 * position is the low word's nearest to `writePosition`.
 */
function positionOf(
  words: Int32Array,
  index: number,
  writePosition: number,
): number {
  const lo = Atomics.load(words, at(index, POSITION_LO)) >>> 0;
  const hi = Atomics.load(words, at(index, POSITION_HI)) >>> 0;
  const position = hi * TWO_32 + lo;
  if (position <= writePosition + TWO_32 / 2) return position;
  return writePosition - ((writePosition - lo) | 0);
}

/** Every registered reader (lossy, tethered or evicted), `writePosition` being the producer's. */
export function readEntries(
  words: Int32Array,
  writePosition: number,
): ReaderEntry[] {
  const view = new DataView(words.buffer, words.byteOffset);
  const entries: ReaderEntry[] = [];
  for (let index = 0; index < REGISTRY_SLOTS; index++) {
    const state = slotState(words, index);
    const registered = state === ReaderState.Lossy ||
      state === ReaderState.Tethered || state === ReaderState.Evicted;
    if (!registered) continue;
    const position = positionOf(words, index, writePosition);
    const u32 = (field: number) => Atomics.load(words, at(index, field)) >>> 0;
    entries.push({
      index,
      id: Atomics.load(words, at(index, OWNER)),
      state,
      pid: Atomics.load(words, at(index, PID)),
      position,
      lag: Math.max(0, writePosition - position),
      heartbeatMs: u32(HEARTBEAT),
      tetherTimeoutMs: u32(TIMEOUT),
      evictions: u32(EVICTIONS),
      evictedAt: u32(EVICTED_HI) * TWO_32 + u32(EVICTED_LO),
      evictionCause: u32(CAUSE) as EvictionCause | 0,
      lagAtEviction: u32(LAG),
      registeredAtMs: view.getFloat64(
        (at(index, 0) << 2) + ReaderSlot.RegisteredAtMs,
        true,
      ),
    });
  }
  return entries;
}

/**
 * Is the reader of slot `index` dead? Its heartbeat is older than
 * {@linkcode STALE_AFTER_MS} at `nowMs` and its pid is gone (both: a reader
 * in another pid namespace looks gone but beats).
 */
export function isDead(
  words: Int32Array,
  index: number,
  nowMs: number,
): boolean {
  const heartbeat = Atomics.load(words, at(index, HEARTBEAT));
  if (ageMs(nowMs, heartbeat) <= STALE_AFTER_MS) return false;
  return !processAlive(Atomics.load(words, at(index, PID)));
}

/**
 * The producer evicts a tethered reader: writes the eviction fields, then
 * moves the slot from Tethered to Evicted. False when the slot was no longer
 * tethered (its eviction count is then left as it was).
 */
export function evict(
  words: Int32Array,
  index: number,
  options: EvictOptions,
): boolean {
  const { writePosition } = options;
  Atomics.store(words, at(index, EVICTED_LO), writePosition >>> 0);
  Atomics.store(
    words,
    at(index, EVICTED_HI),
    Math.floor(writePosition / TWO_32),
  );
  Atomics.store(words, at(index, CAUSE), options.cause);
  Atomics.store(words, at(index, LAG), Math.min(options.lag, 0xffff_ffff));
  Atomics.add(words, at(index, EVICTIONS), 1);
  const evicted = Atomics.compareExchange(
    words,
    at(index, STATE),
    ReaderState.Tethered,
    ReaderState.Evicted,
  ) === ReaderState.Tethered;
  if (!evicted) Atomics.sub(words, at(index, EVICTIONS), 1);
  return evicted;
}

/** The producer frees the slot of a dead reader it evicted: Free, then the owner word. */
export function freeSlot(words: Int32Array, index: number): void {
  const owner = Atomics.load(words, at(index, OWNER));
  Atomics.store(words, at(index, STATE), ReaderState.Free);
  Atomics.compareExchange(words, at(index, OWNER), owner, 0);
}

/** What the producer wrote when it evicted the reader of slot `index`. */
export function evictionOf(words: Int32Array, index: number): Eviction {
  const u32 = (field: number) => Atomics.load(words, at(index, field)) >>> 0;
  return {
    cause: u32(CAUSE) as EvictionCause | 0,
    evictedAt: u32(EVICTED_HI) * TWO_32 + u32(EVICTED_LO),
    lag: u32(LAG),
    evictions: u32(EVICTIONS),
  };
}

/**
 * An evicted reader tethers again: publishes `position`, then moves the slot
 * from Evicted to Tethered. False when it was not evicted.
 */
export function retether(
  words: Int32Array,
  index: number,
  position: number,
  previousHi: number,
): boolean {
  storePosition(words, index, position, previousHi);
  return Atomics.compareExchange(
    words,
    at(index, STATE),
    ReaderState.Evicted,
    ReaderState.Tethered,
  ) === ReaderState.Evicted;
}
