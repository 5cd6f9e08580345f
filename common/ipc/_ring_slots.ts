/**
 * A reader's looks at the ring's slots beside the copy of a trade: whether a
 * slot holds a lap of its index, the first readable position past an
 * unreadable one, and the producer's exact write position.
 *
 * @module
 */

import {
  HEADER_WORDS,
  SLOT_WORDS,
  TWO_32,
  W_WRITE_HI,
  W_WRITE_LO,
} from "./_header.ts";

/** Positions stay below 2^53 (exact numbers): their high word below 2^21. */
const MAX_POSITION_HI = 2 ** 21;

/**
 * Does the slot at word `slot` hold a position of slot `index` (the same
 * one, or a later lap), as the producer writes it, in a ring of `mask + 1`
 * slots? Exact on the words: positions past 2^53 are not exact as numbers.
 */
export function holdsLapOf(
  words: Int32Array,
  slot: number,
  index: number,
  mask: number,
): boolean {
  return (words[slot + 2] & mask) === index &&
    (words[slot + 3] >>> 0) < MAX_POSITION_HI;
}

/**
 * The first position after `position` and before `end` whose slot holds it
 * (or a later lap of it), in a ring of `capacity` slots; `end` if none.
 */
export function nextReadable(
  words: Int32Array,
  capacity: number,
  position: number,
  end: number,
): number {
  for (let next = position + 1; next < end; next++) {
    const slot = HEADER_WORDS + (next % capacity) * SLOT_WORDS;
    const sequence = Atomics.load(words, slot);
    if ((sequence & 1) !== 0 || sequence === 0) continue;
    const held = (words[slot + 3] >>> 0) * TWO_32 + (words[slot + 2] >>> 0);
    if (
      held >= next && holdsLapOf(words, slot, next % capacity, capacity - 1) &&
      Atomics.load(words, slot) === sequence
    ) return next;
  }
  return end;
}

/**
 * The producer's write position (trades committed) in a ring of `mask + 1`
 * slots, exact past 2^32: the header's low word, completed by the full
 * position stored in the last written slot.
 */
export function writePosition(words: Int32Array, mask: number): number {
  for (let attempt = 0;; attempt++) {
    const lo = Atomics.load(words, W_WRITE_LO) >>> 0;
    const hi = Atomics.load(words, W_WRITE_HI) >>> 0;
    const slot = HEADER_WORDS + ((lo - 1) & mask) * SLOT_WORDS;
    const sequence = Atomics.load(words, slot);
    if (sequence === 0) return hi * TWO_32 + lo; // nothing written there yet
    const last = (words[slot + 3] >>> 0) * TWO_32 + (words[slot + 2] >>> 0);
    if (
      (sequence & 1) === 0 && Atomics.load(words, slot) === sequence &&
      (last + 1) % TWO_32 === lo
    ) {
      return last + 1;
    }
    // The producer moved on meanwhile; after many tries trust the header.
    if (attempt === 1000) return hi * TWO_32 + lo;
  }
}
