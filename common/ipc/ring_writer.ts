/**
 * The single producer of a ring: creates the segment (replacing a stale one:
 * `_ring_replace.ts`), writes records under a per-slot seqlock, wakes
 * sleeping consumers, beats its heart, and removes the segment on close.
 * It never overwrites a slot a tethered reader has not read: past the limit
 * of its last registry scan (`_tether_gate.ts`) it scans again, and while
 * the gate stays closed it keeps records in order in a bounded backlog
 * (`_ring_backlog.ts`) drained without blocking the event loop.
 *
 * @module
 */

import { futexWake } from "../os/futex.ts";
import {
  HEADER_WORDS,
  RECORD_WORDS,
  SLOT_WORDS,
  TWO_32,
  W_HEARTBEAT,
  W_SLEEPERS,
  W_STATE,
  W_WAKE,
  W_WRITE_HI,
  W_WRITE_LO,
} from "./_header.ts";
import { checkCount, WordViewCache } from "../wire/mod.ts";
import { RingTruncatedError } from "./errors.ts";
import { RingState, segmentSize } from "./layout.ts";
import { checkSegmentSize, type Segment, unmapSegment } from "./segment.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import { initialiseHeader, unlinkIfOurs } from "./_ring_lifecycle.ts";
import { copyRecord } from "./_record_copy.ts";
import { createReplacing, type ReplacedSegment } from "./_ring_replace.ts";
import { markClosed, wakeWordOf } from "./_ring_wake.ts";
import {
  lapSequence,
  nextLapSequence,
  STORES_IN_ORDER,
} from "./_ring_sequence.ts";
import { readEntries, type ReaderEntry } from "./_registry.ts";
import { BacklogDrain, type TetherStats } from "./_ring_backlog.ts";
import { type ReaderEvictionInfo, TetherGate } from "./_tether_gate.ts";
import {
  type ResolvedOptions,
  resolveOptions,
  type RingWriterOptions,
} from "./_ring_writer_options.ts";

export type { ReplacedSegment } from "./_ring_replace.ts";
export type { ReaderEntry } from "./_registry.ts";
export type { EvictionCounts, ReaderEvictionInfo } from "./_tether_gate.ts";
export type { TetherStats } from "./_ring_backlog.ts";
export type { RingWriterOptions };

/** The most records {@linkcode RingWriter.writeDeferred} leaves uncommitted (half the capacity in smaller rings). */
export const DEFERRED_COMMIT_CAP = 1024;

/** The producer side of one ring segment; single-threaded: one writer per segment, in one process. */
export class RingWriter {
  /** The segment name. */
  readonly name: string;
  /** Slots. */
  readonly capacity: number;
  /** This incarnation's epoch. */
  readonly epoch: number;
  /** The segment found under the name and replaced, if any. */
  readonly replaced: ReplacedSegment | undefined;

  #segment: Segment;
  #words: Int32Array;
  #mask: number;
  #position: number;
  #positionLo: number;
  #positionHi: number;
  #publishedHi: number;
  /** The write position readers see: the position at the last commit. */
  #committed: number;
  /** Deferred writes commit once the position is this far past the committed one. */
  #commitEvery: number;
  #commitQueued = false;
  #commitTask = () => {
    this.#commitQueued = false;
    this.commit();
  };
  #slot: number;
  /** The stable seqlock value of the current lap: derived from the position, never read back from the segment. */
  #lapSequence: number;
  #beats = 0;
  #wakeWord: Deno.PointerObject;
  #wakeups = 0;
  #records = new WordViewCache();
  #heartbeat: ReturnType<typeof setInterval>;
  #closed = false;
  /** Why writing is no longer possible (closed, or the segment was truncated). */
  #failure: Error | undefined;
  /** The position at the last heartbeat. */
  #positionAtBeat = -1;
  /** Nothing was written during the last heartbeat period: check the size before the next write. */
  #idle = false;
  /** The first position the hot path may not write: the gate's limit, or -1 while the backlog holds records. */
  #limit: number;
  #drain: BacklogDrain;
  #gate: TetherGate;

  private constructor(
    segment: Segment,
    epoch: number,
    replaced: ReplacedSegment | undefined,
    options: ResolvedOptions,
    onEvict: ((info: ReaderEvictionInfo) => void) | undefined,
  ) {
    this.name = segment.name;
    this.capacity = options.capacity;
    this.epoch = epoch;
    this.replaced = replaced;
    this.#segment = segment;
    this.#words = new Int32Array(segment.buffer);
    this.#mask = options.capacity - 1;
    this.#position = options.startPosition;
    this.#positionLo = (options.startPosition % TWO_32) | 0;
    this.#positionHi = Math.floor(options.startPosition / TWO_32);
    this.#publishedHi = this.#positionHi;
    this.#committed = options.startPosition;
    this.#commitEvery = Math.min(DEFERRED_COMMIT_CAP, options.capacity >> 1);
    this.#slot = options.startPosition % options.capacity;
    this.#lapSequence = lapSequence(
      Math.floor(options.startPosition / options.capacity),
    );
    this.#wakeWord = wakeWordOf(segment);
    this.#limit = options.startPosition + options.capacity;
    const gate = this.#gate = new TetherGate(segment, this.#words, {
      capacity: options.capacity,
      maxTetherTimeoutMs: options.maxTetherTimeoutMs,
      backlog: options.backlog,
      onEvict,
    });
    this.#drain = new BacklogDrain(gate, {
      position: () => this.#position,
      put: (words, at) => this.#put(words, at),
      publish: () => this.#publish(),
      setLimit: (limit) => this.#limit = limit,
      stopped: () => this.#failure !== undefined,
      fail: (error) => this.#failure ??= error,
    }, options.backlog);
    initialiseHeader(segment.buffer, this.#words, {
      capacity: options.capacity,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      epoch,
      positionLo: this.#positionLo,
      positionHi: this.#positionHi,
    });
    const heartbeat = setInterval(
      () => this.#beat(),
      options.heartbeatIntervalMs,
    );
    Deno.unrefTimer(heartbeat);
    this.#heartbeat = heartbeat;
  }

  /**
   * Creates the ring segment `name` (owner-only, every page allocated),
   * replacing a stale one left by a producer that exited or crashed.
   *
   * @throws {RingInUseError} when a live producer is publishing into it.
   * @throws {RingOwnerError} when another user owns the name (it cannot be replaced).
   * @throws {OsError} (EEXIST) when the name is not a regular file (a directory, a symbolic link).
   * @throws {RingSpaceError} when /dev/shm has no room for it.
   * @throws {RangeError} for a bad capacity, heartbeat interval, start position, backlog, tether timeout or epoch.
   */
  static create(name: string, options: RingWriterOptions = {}): RingWriter {
    const resolved = resolveOptions(options);
    const size = segmentSize(resolved.capacity);
    const fresh = createReplacing(name, size, { epoch: options.epoch });
    return new RingWriter(
      fresh.segment,
      fresh.epoch,
      fresh.replaced,
      resolved,
      options.onEvict,
    );
  }

  /**
   * Advances the heartbeat from this writer's own count, after checking
   * that the segment still has its size (a truncated one would crash the
   * next write with SIGBUS): from then on writes throw instead.
   */
  #beat(): void {
    if (!this.#sizeIntact()) return;
    this.#publish(); // the reap below uses the committed position
    this.#idle = this.#position === this.#positionAtBeat;
    this.#positionAtBeat = this.#position;
    this.#beats = (this.#beats + 1) | 0;
    Atomics.store(this.#words, W_HEARTBEAT, this.#beats);
    this.#gate.reap(this.#position);
  }

  /** Checks the segment's size; once it was truncated, writes throw from then on. */
  #sizeIntact(): boolean {
    try {
      checkSegmentSize(this.#segment);
      return true;
    } catch (error) {
      this.#failure ??= error as Error;
      clearInterval(this.#heartbeat);
      return false;
    }
  }

  /**
   * Before the first write after a heartbeat period without any: the
   * segment may have been truncated while idle (the heartbeat checks only
   * every period), and writing would crash with SIGBUS.
   */
  #checkAfterIdle(): void {
    this.#idle = false;
    if (this.#failure === undefined) this.#sizeIntact();
  }

  /** Trades written since creation plus the start position: the next position to write. */
  get position(): number {
    return this.#position;
  }

  /** Times the writer paid a futex wake because a consumer was asleep. */
  get wakeups(): number {
    return this.#wakeups;
  }

  /** Marked closed by another process: a standby on this host retired the ring (its lease had ended). */
  get retired(): boolean {
    return !this.#closed &&
      Atomics.load(this.#words, W_STATE) === RingState.Closed;
  }

  /** Consumers currently asleep (or about to sleep) on this ring. */
  get sleepers(): number {
    return Atomics.load(this.#words, W_SLEEPERS);
  }

  /**
   * Publishes one 48-byte record found at `offset` in `record` (offset and
   * the array's byte offset must be 4-aligned). Returns 1, or 0 when a
   * tethered reader holds the ring: the record was queued in the backlog
   * (in order) and {@linkcode room} says when it is written.
   *
   * @throws {RangeError} for a misaligned offset or too few bytes.
   * @throws {RingTruncatedError} once the segment was found truncated.
   * @throws {Error} after {@linkcode close}.
   */
  write(record: Uint8Array, offset = 0): number {
    if (!this.#place(record, offset)) return 0;
    this.#commit();
    return 1;
  }

  /**
   * Publishes one record as {@linkcode write} does, but defers the commit
   * (the header's write position; consumers read the slot at once) while
   * no consumer sleeps: one commit per batch instead of one per record.
   * The commit comes at once when a consumer sleeps, else at
   * {@linkcode commit}, at the next `write` or `writeMany`, every
   * {@linkcode DEFERRED_COMMIT_CAP} records, and at the latest in a
   * microtask, once the caller's synchronous code ends: a caller that
   * blocks the thread between records (a paced source sleeping) calls
   * `commit()` before it does.
   *
   * @throws {RangeError} for a misaligned offset or too few bytes.
   * @throws {RingTruncatedError} once the segment was found truncated.
   * @throws {Error} after {@linkcode close}.
   */
  writeDeferred(record: Uint8Array, offset = 0): number {
    if (!this.#place(record, offset)) return 0;
    // A consumer asleep is woken now (a plain load, a hint: the deferred
    // commit's locked store and load are what guarantee the wake).
    if (
      this.#position - this.#committed >= this.#commitEvery ||
      this.#words[W_SLEEPERS] !== 0
    ) {
      this.#commit();
    } else if (!this.#commitQueued) {
      this.#commitQueued = true;
      queueMicrotask(this.#commitTask);
    }
    return 1;
  }

  /** Commits what {@linkcode writeDeferred} wrote since the last commit, if anything (a no-op once closed). */
  commit(): void {
    if (this.#position !== this.#committed && this.#failure === undefined) {
      this.#commit();
    }
  }

  /**
   * Publishes `count` records stored back to back from byte 0 of `records`,
   * waking sleepers once at the end. Returns how many went into the ring;
   * the rest wait in the backlog (see {@linkcode write}).
   *
   * @throws {RangeError} when `records` holds fewer than `count` records or is misaligned.
   */
  writeMany(records: Uint8Array, count: number): number {
    checkCount(count);
    if (this.#idle) this.#checkAfterIdle();
    const source = this.#records.wordsAt(
      records,
      0,
      count * TRADE_RECORD_SIZE,
    );
    let at = this.#records.base;
    let written = 0;
    while (written < count) {
      let n = count - written;
      if (this.#position + n > this.#limit) {
        if (this.#position >= this.#limit && !this.#gateOpen()) {
          this.#drain.queue(source, at, n);
          break;
        }
        n = Math.min(n, this.#limit - this.#position);
      }
      for (let i = 0; i < n; i++) {
        this.#put(source, at);
        at += RECORD_WORDS;
      }
      written += n;
    }
    if (written > 0) this.#commit();
    return written;
  }

  /** Writes the record into its slot (no commit), or queues it in the backlog while the gate is shut: false then. */
  #place(record: Uint8Array, offset: number): boolean {
    if (this.#idle) this.#checkAfterIdle();
    const source = this.#records.wordsAt(record, offset, TRADE_RECORD_SIZE);
    if (this.#position >= this.#limit && !this.#gateOpen()) {
      this.#drain.queue(source, this.#records.base, 1);
      return false;
    }
    this.#put(source, this.#records.base);
    return true;
  }

  /**
   * Writes one slot under its seqlock and advances the position (no header
   * update). The seqlock values come from the lap number, never from the
   * slot: a word another process scribbled on is simply overwritten. The
   * even store is plain on x86-64 (stores stay in order there): the commit's
   * `Atomics.store` after it is the fence the sleepers check needs.
   */
  #put(source: Int32Array, at: number): void {
    if (this.#failure !== undefined) throw this.#failure;
    const words = this.#words;
    const slot = HEADER_WORDS + this.#slot * SLOT_WORDS;
    const stable = this.#lapSequence;
    Atomics.store(words, slot, stable - 1); // odd: being written
    words[slot + 2] = this.#positionLo;
    words[slot + 3] = this.#positionHi;
    copyRecord(words, slot + 4, source, at);
    if (STORES_IN_ORDER) words[slot] = stable;
    else Atomics.store(words, slot, stable);
    this.#position++;
    this.#slot = (this.#slot + 1) & this.#mask;
    if (this.#slot === 0) this.#lapSequence = nextLapSequence(stable);
    this.#positionLo = (this.#positionLo + 1) | 0; // wraps to 0 after 2^32
    if (this.#positionLo === 0) this.#positionHi++;
  }

  /** Publishes the write position and wakes consumers if any sleep. */
  #commit(): void {
    const words = this.#words;
    this.#committed = this.#position;
    Atomics.store(words, W_WRITE_LO, this.#positionLo | 0);
    if (this.#positionHi !== this.#publishedHi) {
      // After the low word, as docs/ipc_ring.md describes; readers rebuild the
      // full position from the last slot, so the order only matters to tools.
      Atomics.store(words, W_WRITE_HI, this.#positionHi | 0);
      this.#publishedHi = this.#positionHi;
    }
    // The position store is locked (xchg): on x86-64 the slot's plain even
    // `seq` store is visible before it, and no later load passes it.
    const sleepers = STORES_IN_ORDER
      ? words[W_SLEEPERS]
      : Atomics.load(words, W_SLEEPERS);
    if (sleepers !== 0) {
      Atomics.add(words, W_WAKE, 1);
      futexWake(this.#wakeWord, 0x7fff_ffff);
      this.#wakeups++;
    }
  }

  /** The hot path reached its limit: is there room now (a new limit set)? */
  #gateOpen(): boolean {
    if (this.#failure !== undefined) throw this.#failure; // the segment may be gone
    return this.#drain.open();
  }

  /** Commits if the header's write position is behind (in the middle of a batch, or after deferred writes). */
  #publish(): void {
    if (this.#position !== this.#committed) this.#commit();
  }

  /**
   * Pending while the backlog holds records (a tethered reader holds the
   * ring), resolving once they are all written or the writer closed;
   * undefined when there is room now.
   */
  room(): Promise<void> | undefined {
    return this.#drain.pending;
  }

  /** Every registered reader (lossy, tethered or evicted), scanned now; none once closed (or truncated). */
  readers(): ReaderEntry[] {
    if (this.#failure !== undefined) return [];
    return readEntries(this.#words, this.#position);
  }

  /** Tethered readers, evictions, time held, the backlog. */
  tetherStats(): TetherStats {
    return this.#drain.stats();
  }

  /**
   * Marks the ring closed, wakes every consumer, unmaps it and removes its
   * name (unless another producer already replaced it). Idempotent. Records
   * still in the backlog are dropped, counted in
   * {@linkcode TetherStats.dropped}: drain first ({@linkcode room}).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    this.#drain.clear();
    // A truncated segment is left alone: touching it could crash with
    // SIGBUS, and the next producer replaces it.
    let intact = this.#failure === undefined;
    if (intact) {
      try {
        checkSegmentSize(this.#segment);
      } catch (error) {
        if (!(error instanceof RingTruncatedError)) throw error;
        intact = false;
      }
    }
    if (intact) this.#publish(); // deferred writes are never left unseen
    this.#failure ??= new Error(
      `Ring ${this.name} is closed: cannot write to it`,
    );
    if (intact) {
      markClosed(this.#words, this.#wakeWord);
      this.#drain.interrupt();
    }
    this.#words = new Int32Array(0);
    unmapSegment(this.#segment);
    if (intact) unlinkIfOurs(this.name, this.epoch);
  }
}
