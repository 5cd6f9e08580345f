/**
 * A reader's walk through the ring's slots: copying the next trade out under
 * its seqlock, and the losses on the way (a lap, a corrupt slot, an
 * eviction), each counted exactly. Reads never write shared memory.
 *
 * @module
 */

import { HEADER_WORDS, SLOT_WORDS, TWO_32 } from "./_header.ts";
import { copyRecord } from "./_record_copy.ts";
import { holdsLapOf, nextReadable, writePosition } from "./_ring_slots.ts";
import type { ReaderSlotHandle } from "./_reader_registration.ts";

/** Copies of one slot retried because its seqlock kept changing, before it counts as corrupt. */
const MAX_RETRIES = 100;

/** One reader's position in a ring and its counters. */
export class RingCursor {
  /** Slots. */
  readonly capacity: number;
  /** The next position to read. */
  position: number;
  /** Trades read. */
  received = 0;
  /** Trades skipped (overwritten, corrupt, or lost to an eviction). */
  lost = 0;
  /** The part of {@linkcode lost} in slots that could not be read. */
  corrupt = 0;
  /** The part of {@linkcode lost} lost to evictions. */
  evictedLoss = 0;
  /** Times the producer lapped it. */
  laps = 0;
  /** Laps count as the loss of an eviction (it was evicted since it first tethered). */
  lapsEvicted = false;
  /** Its registry slot, if registered: tells a tethered reader's laps. */
  handle: ReaderSlotHandle | undefined;
  #words: Int32Array;
  #mask: number;
  #slot: number;
  #stuckPosition = -1;
  #stuckSince = 0;

  /** A cursor at `position` of the ring whose words (from byte 0) are `words`. */
  constructor(words: Int32Array, capacity: number, position: number) {
    this.#words = words;
    this.capacity = capacity;
    this.#mask = capacity - 1;
    this.position = position;
    this.#slot = position % capacity;
  }

  /** The producer's write position, exact past 2^32. */
  writePosition(): number {
    return writePosition(this.#words, this.#mask);
  }

  /** Forgets the mapping (the ring is unmapped): nothing is readable any more. */
  detach(): void {
    this.#words = new Int32Array(0);
  }

  /**
   * Copies the next trade to `to` at word `at` and returns true, or returns
   * false when it is not written yet. A loss in the way (a lap, a corrupt
   * slot) is counted and skipped when `skipLoss`, else left for the next
   * call (false).
   */
  take(to: Int32Array, at: number, skipLoss: boolean): boolean {
    const words = this.#words;
    let retries = 0;
    for (;;) {
      const slot = HEADER_WORDS + this.#slot * SLOT_WORDS;
      const sequence = Atomics.load(words, slot);
      if ((sequence & 1) !== 0 || sequence === 0) return false;
      const position = (words[slot + 3] >>> 0) * TWO_32 +
        (words[slot + 2] >>> 0);
      if (position !== this.position) {
        if (position < this.position) return false; // previous lap: not written yet
        if (!skipLoss) return false;
        // A lap leaves a later position of the same slot; anything else was
        // written by another process.
        if (holdsLapOf(words, slot, this.#slot, this.#mask)) this.#resync();
        else this.#skipCorrupt(this.position + 1);
        continue;
      }
      copyRecord(to, at, words, slot + 4);
      if (Atomics.load(words, slot) !== sequence) {
        // The producer rewrote the slot while we copied: either it was just
        // writing our trade (retry: it is odd, or complete now) or it lapped
        // us (retry: the position check sees the newer trade and resyncs).
        // A seqlock that never holds still is not the producer's.
        if (++retries === MAX_RETRIES) {
          if (!skipLoss) return false;
          retries = 0;
          this.#skipCorrupt(this.position + 1);
        }
        continue;
      }
      this.position++;
      this.#slot = (this.#slot + 1) & this.#mask;
      this.received++;
      return true;
    }
  }

  /**
   * Lapped: count what was overwritten and continue half a ring behind the
   * producer; a tethered reader at the oldest trade left (the producer
   * overwrites no more once it sees it). A tethered reader's laps after an
   * eviction are the eviction's loss.
   */
  #resync(): void {
    const handle = this.handle;
    const tethered = handle?.policy === "tethered" && handle.tethered();
    if (handle?.policy === "tethered" && !tethered) this.lapsEvicted = true;
    const restart = Math.max(
      this.position + 1,
      this.writePosition() - (tethered ? this.capacity : this.capacity >> 1),
    );
    this.skip(restart, this.lapsEvicted);
    this.laps++;
  }

  /** Moves on to `position`, counting the trades skipped as lost (and as evicted, if so). */
  skip(position: number, evicted: boolean): number {
    const skipped = position - this.position;
    this.lost += skipped;
    if (evicted) this.evictedLoss += skipped;
    this.position = position;
    this.#slot = position % this.capacity;
    return skipped;
  }

  /** Counts the trades up to `position` as lost in corrupt slots and continues there. */
  #skipCorrupt(position: number): number {
    const skipped = this.skip(position, false);
    this.corrupt += skipped;
    return skipped;
  }

  /** Is the next trade already written? (No copy, no side effect.) */
  hasData(): boolean {
    const words = this.#words;
    const slot = HEADER_WORDS + this.#slot * SLOT_WORDS;
    const sequence = Atomics.load(words, slot);
    if ((sequence & 1) !== 0 || sequence === 0) return false;
    const position = (words[slot + 3] >>> 0) * TWO_32 + (words[slot + 2] >>> 0);
    return position >= this.position;
  }

  /** See `RingReader.skipUnreadable`. */
  skipUnreadable(nowMs: number, afterMs: number): number {
    const position = this.position;
    if (this.hasData() || this.writePosition() <= position) {
      this.#stuckPosition = -1; // readable, or simply not written yet
      return 0;
    }
    if (this.#stuckPosition !== position) {
      this.#stuckPosition = position;
      this.#stuckSince = nowMs;
    }
    if (nowMs - this.#stuckSince < afterMs) return 0;
    this.#stuckPosition = -1;
    // The first slot after it that holds its own trade, at most a ring ahead.
    const end = Math.min(this.writePosition(), position + this.capacity);
    return this.#skipCorrupt(
      nextReadable(this.#words, this.capacity, position, end),
    );
  }
}
