/**
 * One consumer of a ring. Reads never write shared memory: any number of
 * readers follow the producer independently, each with its own position.
 * Beside it: which segments it trusts (`_ring_trust.ts`), its looks at slots
 * and the write position (`_ring_slots.ts`) and its judgment of the producer
 * (`_producer_watch.ts`).
 *
 * @module
 */

import type { FutexWaiter } from "../os/libc.ts";
import {
  HEADER_WORDS,
  type HeaderInfo,
  readHeader,
  readState,
  RECORD_WORDS,
  SLOT_WORDS,
  TWO_32,
  W_SLEEPERS,
  W_WAKE,
} from "./_header.ts";
import { checkCount, WordViewCache } from "../wire/mod.ts";
import type { RingState } from "./layout.ts";
import {
  checkSegmentSize,
  openSegment,
  type Segment,
  unmapSegment,
} from "./segment.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import { ownerRemedy, type RingTrustOptions } from "./_ring_trust.ts";
import { type ProducerStatus, ProducerWatch } from "./_producer_watch.ts";
import { wakeAll, wakeWordOf } from "./_ring_wake.ts";
import { holdsLapOf, nextReadable, writePosition } from "./_ring_slots.ts";

export { ringEpoch, type RingTrustOptions } from "./_ring_trust.ts";
export type { ProducerStatus } from "./_producer_watch.ts";

/**
 * Where a new reader starts: `newest` = the latest trade already written,
 * `oldest` = the oldest still in the ring, `first` = the first trade of the
 * epoch (for a consumer that was waiting for the ring).
 */
export type ReaderStart = "newest" | "oldest" | "first";

/** Options of {@linkcode RingReader.open}. */
export interface RingReaderOptions extends RingTrustOptions {
  /** Where to start (default `newest`). */
  from?: ReaderStart;
}

/** Copies of one slot retried because its seqlock kept changing, before it counts as corrupt. */
const MAX_RETRIES = 100;

/** How long a committed slot may stay unreadable before {@linkcode RingReader.skipUnreadable} skips it, ms. */
export const STUCK_AFTER_MS = 100;

/** A consumer's handle on one ring segment. */
export class RingReader {
  /** The segment name. */
  readonly name: string;
  /** Slots. */
  readonly capacity: number;
  /** The producer incarnation this reader follows. */
  readonly epoch: number;
  /** Pid of the producer. */
  readonly producerPid: number;
  /** First position of the epoch. */
  readonly firstPosition: number;
  /** Producer heartbeat period, ms. */
  readonly heartbeatIntervalMs: number;
  /** Position this reader started at. */
  readonly startPosition: number;

  #segment: Segment;
  #words: Int32Array;
  #mask: number;
  #position: number;
  #slot: number;
  #received = 0;
  #lost = 0;
  #corrupt = 0;
  #laps = 0;
  #stuckPosition = -1;
  #stuckSince = 0;
  #targets = new WordViewCache();
  #wakeWord: Deno.PointerObject;
  #producer = new ProducerWatch();
  #closed = false;
  #sleeps = 0;

  private constructor(
    segment: Segment,
    info: HeaderInfo,
    from: ReaderStart,
  ) {
    this.name = segment.name;
    this.capacity = info.capacity;
    this.epoch = info.epoch;
    this.producerPid = info.pid;
    this.firstPosition = info.firstPosition;
    this.heartbeatIntervalMs = info.heartbeatIntervalMs;
    this.#segment = segment;
    this.#words = new Int32Array(segment.buffer);
    this.#mask = info.capacity - 1;
    this.#wakeWord = wakeWordOf(segment);
    const written = this.writePosition();
    let start = info.firstPosition;
    if (from === "newest") start = Math.max(start, written - 1);
    if (from === "oldest") start = Math.max(start, written - info.capacity);
    this.startPosition = start;
    this.#position = start;
    this.#slot = start % info.capacity;
  }

  /**
   * Opens ring `name` and validates it.
   *
   * @throws {RingNotFoundError} when it does not exist (yet).
   * @throws {RingFormatError} when it is foreign, corrupt or of another layout version.
   * @throws {RingOwnerError} when it belongs to another user or others may write it.
   */
  static open(name: string, options: RingReaderOptions = {}): RingReader {
    const from = options.from ?? "newest";
    if (from !== "newest" && from !== "oldest" && from !== "first") {
      throw new RangeError(
        `Invalid start "${from}": expected "newest", "oldest" or "first"`,
      );
    }
    const segment = openSegment(name, {
      ownerUid: options.publisherUid,
      ownerRemedy: ownerRemedy(name),
    });
    try {
      return new RingReader(segment, readHeader(segment), from);
    } catch (error) {
      unmapSegment(segment);
      throw error;
    }
  }

  /** The open file descriptor of its segment (e.g. to watch the file), until {@linkcode close}. */
  get fd(): number {
    return this.#segment.fd;
  }

  /** The next position this reader will read. */
  get position(): number {
    return this.#position;
  }

  /** Trades read. */
  get received(): number {
    return this.#received;
  }

  /**
   * Trades skipped: overwritten before this reader got to them, jumped over
   * by the resync after a lap, or in slots that could not be read
   * ({@linkcode corrupt}).
   */
  get lost(): number {
    return this.#lost;
  }

  /** The part of {@linkcode lost} skipped because their slot could not be read consistently (corrupt slot). */
  get corrupt(): number {
    return this.#corrupt;
  }

  /** Times the producer lapped this reader. */
  get laps(): number {
    return this.#laps;
  }

  /**
   * Copies the next trade into `target` at `offset` (4-aligned) and returns
   * true, or returns false when the producer has not written it yet. When the
   * producer lapped this reader it counts the overwritten trades in
   * {@linkcode lost} and continues from half a ring behind the producer.
   */
  read(target: Uint8Array, offset = 0): boolean {
    const to = this.#targets.wordsAt(target, offset, TRADE_RECORD_SIZE);
    return this.#take(to, this.#targets.base);
  }

  /**
   * Copies up to `max` trades back to back into `target` from byte 0 and
   * returns how many.
   *
   * @throws {RangeError} when `target` cannot hold `max` records.
   */
  readMany(target: Uint8Array, max: number): number {
    checkCount(max);
    const to = this.#targets.wordsAt(target, 0, max * TRADE_RECORD_SIZE);
    let at = this.#targets.base;
    let count = 0;
    while (count < max && this.#take(to, at)) {
      count++;
      at += RECORD_WORDS;
    }
    return count;
  }

  #take(to: Int32Array, at: number): boolean {
    const words = this.#words;
    let retries = 0;
    for (;;) {
      const slot = HEADER_WORDS + this.#slot * SLOT_WORDS;
      const sequence = Atomics.load(words, slot);
      if ((sequence & 1) !== 0 || sequence === 0) return false;
      const position = (words[slot + 3] >>> 0) * TWO_32 +
        (words[slot + 2] >>> 0);
      if (position !== this.#position) {
        if (position < this.#position) return false; // previous lap: not written yet
        // A lap leaves a later position of the same slot; anything else was
        // written by another process.
        if (holdsLapOf(words, slot, this.#slot, this.#mask)) this.#resync();
        else this.#skipCorrupt(this.#position + 1);
        continue;
      }
      const from = slot + 4;
      for (let i = 0; i < RECORD_WORDS; i++) to[at + i] = words[from + i];
      if (Atomics.load(words, slot) !== sequence) {
        // The producer rewrote the slot while we copied: either it was just
        // writing our trade (retry: it is odd, or complete now) or it lapped
        // us (retry: the position check sees the newer trade and resyncs).
        // A seqlock that never holds still is not the producer's.
        if (++retries === MAX_RETRIES) {
          retries = 0;
          this.#skipCorrupt(this.#position + 1);
        }
        continue;
      }
      this.#position++;
      this.#slot = (this.#slot + 1) & this.#mask;
      this.#received++;
      return true;
    }
  }

  #intact(): boolean {
    try {
      checkSegmentSize(this.#segment);
      return true;
    } catch {
      return false;
    }
  }

  /** Lapped: count what was overwritten and continue half a ring behind the producer. */
  #resync(): void {
    const written = this.writePosition();
    const restart = Math.max(
      this.#position + 1,
      written - (this.capacity >> 1),
    );
    this.#lost += restart - this.#position;
    this.#laps++;
    this.#position = restart;
    this.#slot = restart % this.capacity;
  }

  /** Counts the trades up to `position` as lost in corrupt slots and continues there. */
  #skipCorrupt(position: number): number {
    const skipped = position - this.#position;
    this.#lost += skipped;
    this.#corrupt += skipped;
    this.#position = position;
    this.#slot = position % this.capacity;
    return skipped;
  }

  /**
   * Skips the next trade when the producer committed it but its slot stayed
   * unreadable (a seqlock word left odd, a slot overwritten with other
   * data) since a call at least `afterMs` earlier (0: at once, e.g. once the
   * producer closed). The skipped trades, up to the next slot that holds its
   * own trade (or a later lap of it), count as {@linkcode corrupt}. Call it
   * periodically with a monotonic `nowMs`; returns how many were skipped.
   */
  skipUnreadable(nowMs: number, afterMs: number = STUCK_AFTER_MS): number {
    const position = this.#position;
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

  /**
   * Checks that the segment still has its size. Call it periodically, before
   * anything else touches the ring.
   *
   * @throws {RingTruncatedError} when another process truncated it: reading
   * on would crash this process with SIGBUS; close the reader.
   */
  checkSize(): void {
    checkSegmentSize(this.#segment);
  }

  /** Is the next trade already written? (No copy, no side effect.) */
  hasData(): boolean {
    const words = this.#words;
    const slot = HEADER_WORDS + this.#slot * SLOT_WORDS;
    const sequence = Atomics.load(words, slot);
    if ((sequence & 1) !== 0 || sequence === 0) return false;
    const position = (words[slot + 3] >>> 0) * TWO_32 + (words[slot + 2] >>> 0);
    return position >= this.#position;
  }

  /**
   * The producer's write position (trades committed), exact past 2^32: the
   * header's low word, completed by the full position stored in the last
   * written slot.
   */
  writePosition(): number {
    return writePosition(this.#words, this.#mask);
  }

  /** Trades written but not yet read by this reader. */
  lag(): number {
    return Math.max(0, this.writePosition() - this.#position);
  }

  /** The segment's state word. */
  state(): RingState {
    return readState(this.#words);
  }

  /**
   * Judges the producer: closed, alive (heartbeat moved within
   * `staleAfterMs`), or silent for that long and then stalled (process
   * exists) or dead. `nowMs` is a monotonic time (e.g. `performance.now()`).
   */
  producerStatus(nowMs: number, staleAfterMs: number): ProducerStatus {
    return this.#producer.status(
      this.#words,
      this.producerPid,
      nowMs,
      staleAfterMs,
    );
  }

  /** How long the heartbeat has not moved, ms, as of the last {@linkcode producerStatus}. */
  silentFor(nowMs: number): number {
    return this.#producer.silentFor(nowMs);
  }

  /**
   * Announces that this reader is going to sleep and returns the futex word
   * and the value to sleep on. Check {@linkcode hasData} afterwards, then
   * sleep, then call {@linkcode endSleep}.
   */
  beginSleep(): FutexWaiter {
    const expected = Atomics.load(this.#words, W_WAKE);
    Atomics.add(this.#words, W_SLEEPERS, 1);
    this.#sleeps++;
    return { word: this.#wakeWord, expected };
  }

  /**
   * Undoes {@linkcode beginSleep} (no-op after {@linkcode close}, which undid
   * it), with `checkSize` (the default) first checking that the segment
   * still has its size (one `statx`): an idle consumer spends most of its
   * time asleep, and touching a segment truncated meanwhile would crash it
   * with SIGBUS. Pass false when the segment cannot have changed (no sleep
   * happened, or a watch on the file saw no change).
   *
   * @throws {RingTruncatedError} when another process truncated it: close
   * the reader (the sleep is then undone without touching the segment).
   */
  endSleep(checkSize = true): void {
    if (this.#closed || this.#sleeps === 0) return;
    if (checkSize) checkSegmentSize(this.#segment);
    this.#sleeps--;
    Atomics.sub(this.#words, W_SLEEPERS, 1);
  }

  /**
   * Ends this process's sleep on the ring (e.g. on shutdown), even one that is
   * about to start: the wake word changes, so a pending FUTEX_WAIT returns at
   * once. Other sleepers wake once for nothing, which is harmless.
   */
  interrupt(): void {
    if (this.#closed) return;
    wakeAll(this.#words, this.#wakeWord);
  }

  /** Unmaps the ring. Idempotent; the reader must not be used afterwards. */
  close(): void {
    if (this.#closed) return;
    // A sleep announced but not ended would make the producer pay a wake-up
    // on every commit from now on (unless the segment was truncated: then
    // the header may be gone, and touching it would crash).
    if (this.#sleeps > 0 && this.#intact()) {
      Atomics.sub(this.#words, W_SLEEPERS, this.#sleeps);
    }
    this.#sleeps = 0;
    this.#closed = true;
    this.#words = new Int32Array(0);
    unmapSegment(this.#segment);
  }
}
