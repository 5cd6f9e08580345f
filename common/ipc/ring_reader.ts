/**
 * One consumer of a ring. Reads never write shared memory: any number of
 * readers follow the producer independently, each with its own position,
 * which a registered reader publishes in its slot of the reader registry
 * (a tethered one holds the producer with it). Beside it: which segments it
 * trusts (`_ring_trust.ts`), its looks at slots and the write position
 * (`_ring_cursor.ts`), its judgment of the producer (`_producer_watch.ts`)
 * and its registry slot (`_reader_registration.ts`).
 *
 * @module
 */

import type { FutexWaiter } from "../os/futex.ts";
import {
  type HeaderInfo,
  readHeader,
  readState,
  RECORD_WORDS,
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
import { RingCursor } from "./_ring_cursor.ts";
import { writePosition } from "./_ring_slots.ts";
import {
  type Delivery,
  ReaderSlotHandle,
  type Registering,
  registering,
  type RegistrationOptions,
} from "./_reader_registration.ts";
import { type Eviction, monotonicMs } from "./_registry.ts";
import { REGISTRY_SLOTS } from "./layout.ts";
import { RingReadersFullError } from "./errors.ts";

export { ringEpoch, type RingTrustOptions } from "./_ring_trust.ts";
export type { ProducerStatus } from "./_producer_watch.ts";
export type { Delivery, RegistrationOptions } from "./_reader_registration.ts";
export type { Eviction } from "./_registry.ts";

/**
 * Where a new reader starts: `newest` = the latest trade already written,
 * `oldest` = the oldest still in the ring, `first` = the first trade of the
 * epoch (for a consumer that was waiting for the ring).
 */
export type ReaderStart = "newest" | "oldest" | "first";

/** Options of {@linkcode RingReader.open}. */
export interface RingReaderOptions
  extends RingTrustOptions, RegistrationOptions {
  /** Where to start (default `newest`). */
  from?: ReaderStart;
}

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
  /** The delivery it asked for (a tethered reader is registered, or failed to open). */
  readonly delivery: Delivery;
  /** The tether timeout it asked for, ms. */
  readonly tetherTimeoutMs: number;

  #segment: Segment;
  #words: Int32Array;
  #cursor: RingCursor;
  #handle: ReaderSlotHandle | undefined;
  #targets = new WordViewCache();
  #wakeWord: Deno.PointerObject;
  #producer = new ProducerWatch();
  #closed = false;
  #sleeps = 0;

  private constructor(
    segment: Segment,
    info: HeaderInfo,
    options: { from: ReaderStart } & Registering,
  ) {
    const { from } = options;
    this.name = segment.name;
    this.capacity = info.capacity;
    this.epoch = info.epoch;
    this.producerPid = info.pid;
    this.firstPosition = info.firstPosition;
    this.heartbeatIntervalMs = info.heartbeatIntervalMs;
    this.delivery = options.delivery;
    this.tetherTimeoutMs = options.tetherTimeoutMs;
    this.#segment = segment;
    this.#words = new Int32Array(segment.buffer);
    this.#wakeWord = wakeWordOf(segment);
    const written = writePosition(this.#words, info.capacity - 1);
    let start = info.firstPosition;
    if (from === "newest") start = Math.max(start, written - 1);
    if (from === "oldest") start = Math.max(start, written - info.capacity);
    this.startPosition = start;
    this.#cursor = new RingCursor(this.#words, info.capacity, start);
    // Its position first, then its state: from the write position loaded
    // after that on, the producer overwrites nothing it has not read; what
    // it wrote before, it may still overwrite, and the lap detection counts.
    if (options.register) this.#register(start);
  }

  /**
   * Opens ring `name`, validates it and (unless `register` is false) claims
   * a slot in its reader table.
   *
   * @throws {RingNotFoundError} when it does not exist (yet).
   * @throws {RingFormatError} when it is foreign, corrupt or of another layout version.
   * @throws {RingReadersFullError} when it is to be tethered and every reader slot is in use.
   * @throws {RingOwnerError} when it belongs to another user or others may write it.
   * @throws {RangeError} for invalid options.
   */
  static open(name: string, options: RingReaderOptions = {}): RingReader {
    const from = options.from ?? "newest";
    if (from !== "newest" && from !== "oldest" && from !== "first") {
      throw new RangeError(
        `Invalid start "${from}": expected "newest", "oldest" or "first"`,
      );
    }
    const registration = registering(options);
    const segment = openSegment(name, {
      ownerUid: options.publisherUid,
      ownerRemedy: ownerRemedy(name),
    });
    try {
      return new RingReader(segment, readHeader(segment), {
        from,
        ...registration,
      });
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
    return this.#cursor.position;
  }

  /** Trades read. */
  get received(): number {
    return this.#cursor.received;
  }

  /**
   * Trades skipped: overwritten before this reader got to them, jumped over
   * by the resync after a lap or by {@linkcode retether}, or in slots that
   * could not be read ({@linkcode corrupt}).
   */
  get lost(): number {
    return this.#cursor.lost;
  }

  /** The part of {@linkcode lost} skipped because their slot could not be read consistently (corrupt slot). */
  get corrupt(): number {
    return this.#cursor.corrupt;
  }

  /**
   * The part of {@linkcode lost} lost because the producer evicted this
   * tethered reader: skipped by {@linkcode retether}, or overwritten after
   * the eviction.
   */
  get evictedLoss(): number {
    return this.#cursor.evictedLoss;
  }

  /** Times the producer lapped this reader. */
  get laps(): number {
    return this.#cursor.laps;
  }

  /** Is it registered in the ring's reader table? (A lossy reader that found every slot in use is not.) */
  get registered(): boolean {
    return this.#handle !== undefined;
  }

  /** Its id in the reader table, or undefined when not registered. */
  get readerId(): number | undefined {
    return this.#handle?.id;
  }

  /** Its slot index in the reader table, or undefined when not registered. */
  get slotIndex(): number | undefined {
    return this.#handle?.index;
  }

  /**
   * Copies the next trade into `target` at `offset` (4-aligned) and returns
   * true, or returns false when the producer has not written it yet. When the
   * producer lapped this reader it counts the overwritten trades in
   * {@linkcode lost} and continues from half a ring behind the producer.
   */
  read(target: Uint8Array, offset = 0): boolean {
    const to = this.#targets.wordsAt(target, offset, TRADE_RECORD_SIZE);
    return this.#cursor.take(to, this.#targets.base, true);
  }

  /**
   * Copies up to `max` trades back to back into `target` from byte 0 and
   * returns how many. It stops short at a loss (a lap, a corrupt slot): the
   * losses counted by the time it returns all come before the first trade
   * it copied, none between two of them. A tethered reader then publishes
   * its position (the trades are copied out: the producer may overwrite them).
   *
   * @throws {RangeError} when `target` cannot hold `max` records.
   */
  readMany(target: Uint8Array, max: number): number {
    checkCount(max);
    const to = this.#targets.wordsAt(target, 0, max * TRADE_RECORD_SIZE);
    const cursor = this.#cursor;
    let at = this.#targets.base;
    let count = 0;
    while (count < max && cursor.take(to, at, count === 0)) {
      count++;
      at += RECORD_WORDS;
    }
    if (count > 0 && this.#handle?.policy === "tethered") {
      this.#handle.publish(cursor.position);
    }
    return count;
  }

  #intact(): boolean {
    try {
      checkSegmentSize(this.#segment);
      return true;
    } catch {
      return false;
    }
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
    return this.#cursor.skipUnreadable(nowMs, afterMs);
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

  /** Claims a registry slot at `position`; none free: a tethered reader fails, a lossy one runs unregistered. */
  #register(position: number): void {
    this.#handle = ReaderSlotHandle.claim(this.#segment, this.#words, {
      policy: this.delivery,
      position,
      tetherTimeoutMs: this.tetherTimeoutMs,
    });
    this.#cursor.handle = this.#handle;
    if (this.#handle === undefined && this.delivery === "tethered") {
      throw new RingReadersFullError(this.name, REGISTRY_SLOTS);
    }
  }

  /**
   * Publishes its position in its registry slot (a tethered reader: then
   * wakes the producer if it waits for it). {@linkcode readMany} and
   * {@linkcode beginSleep} do it for a tethered reader; one that reads with
   * {@linkcode read} calls it itself. No-op when not registered.
   */
  publishPosition(): void {
    this.#handle?.publish(this.#cursor.position);
  }

  /** Shows it lives: stores `nowMs` (`monotonicMs()` of `_registry.ts`) as its heartbeat. No-op when not registered. */
  beat(nowMs: number = monotonicMs()): void {
    this.#handle?.beat(nowMs);
  }

  /**
   * The producer's eviction of this tethered reader (it is lossy until
   * {@linkcode retether}), or undefined while it is tethered, lossy or not
   * registered. Costs a load of its own slot.
   */
  evicted(): Eviction | undefined {
    return this.#handle?.evicted();
  }

  /**
   * Tethers again after an eviction, from half a ring behind the producer
   * (or where it is, if later): the trades skipped, and any overwritten
   * before the producer sees it again, count as {@linkcode evictedLoss}. A
   * slot the producer freed meanwhile is claimed again; none free: it goes
   * on lossy and unregistered ({@linkcode registered} false). Returns the
   * trades skipped (0 when not evicted: then it does nothing).
   */
  retether(): number {
    const handle = this.#handle;
    if (handle?.evicted() === undefined) return 0; // tethered, or never was
    const cursor = this.#cursor;
    cursor.lapsEvicted = true;
    const restart = Math.max(
      cursor.position,
      this.writePosition() - (this.capacity >> 1),
    );
    const skipped = cursor.skip(restart, true);
    if (!handle.retether(restart)) {
      handle.release(); // freed or taken by another reader: claim another
      this.#handle = cursor.handle = ReaderSlotHandle.claim(
        this.#segment,
        this.#words,
        {
          policy: "tethered",
          position: restart,
          tetherTimeoutMs: this.tetherTimeoutMs,
        },
      );
    }
    return skipped;
  }

  /** Is the next trade already written? (No copy, no side effect.) */
  hasData(): boolean {
    return this.#cursor.hasData();
  }

  /**
   * The producer's write position (trades committed), exact past 2^32: the
   * header's low word, completed by the full position stored in the last
   * written slot.
   */
  writePosition(): number {
    return this.#cursor.writePosition();
  }

  /** Trades written but not yet read by this reader. */
  lag(): number {
    return Math.max(0, this.writePosition() - this.#cursor.position);
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
    // A tethered reader holds nothing it has read while it sleeps. (The
    // heartbeat is the feed's 100 ms check: sleeps are shorter, and a lossy
    // reader's sleep path stays free of registry writes.)
    if (this.#handle?.policy === "tethered") this.publishPosition();
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

  /** Gives its registry slot back and unmaps the ring. Idempotent; the reader must not be used afterwards. */
  close(): void {
    if (this.#closed) return;
    // A sleep announced but not ended would make the producer pay a wake-up
    // on every commit from now on, and a slot kept would show a reader that
    // is gone (unless the segment was truncated: then the header may be
    // gone, and touching it would crash).
    if ((this.#sleeps > 0 || this.#handle !== undefined) && this.#intact()) {
      if (this.#sleeps > 0) Atomics.sub(this.#words, W_SLEEPERS, this.#sleeps);
      this.#handle?.release();
    }
    this.#handle = this.#cursor.handle = undefined;
    this.#sleeps = 0;
    this.#closed = true;
    this.#words = new Int32Array(0);
    this.#cursor.detach();
    unmapSegment(this.#segment);
  }
}
