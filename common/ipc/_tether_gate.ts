/**
 * The producer's tethered gate (docs/ipc_ring.md, "Tethered gate"): a scan
 * of the reader registry gives the first position the writer may not write
 * (the slowest tethered reader's position plus the capacity), and while the
 * gate stays closed it decides when the reader holding it is evicted: at
 * once when its process is gone, after its tether timeout otherwise, or
 * when the writer's backlog is full. The writer scans only when its position
 * reaches the limit of the last scan, never per write.
 *
 * @module
 */

import { futexWait, futexWake } from "../os/futex.ts";
import { W_EVICTIONS, W_TETHERED } from "./_header.ts";
import {
  evict,
  freeSlot,
  isDead,
  monotonicMs,
  SlotField,
  slotWord,
  tetherWakeWordOf,
} from "./_registry.ts";
import {
  EvictionCause,
  Header,
  ReaderState,
  REGISTRY_SLOT_SIZE,
  REGISTRY_SLOTS,
} from "./layout.ts";
import type { Segment } from "./segment.ts";

/** The longest tether timeout a producer grants by default, ms. */
export const DEFAULT_MAX_TETHER_TIMEOUT_MS = 60_000;

/**
 * Checks the cap on tether timeouts, ms.
 *
 * @throws {RangeError} unless it is an integer from 1 to 3,600,000 (an hour).
 */
export function checkMaxTetherTimeout(ms: number): number {
  if (!Number.isInteger(ms) || ms < 1 || ms > 3_600_000) {
    throw new RangeError(
      `Invalid max tether timeout ${ms} ms (transport.ipc.max_tether_timeout): expected an integer number of ms from 1 to 3600000, e.g. 60000`,
    );
  }
  return ms;
}

/** The longest single sleep of a gated producer, ms: it re-checks its readers at least this often. */
export const GATE_SLEEP_MS = 10;

/** A tethered reader the writer evicted, as {@linkcode RingWriterOptions.onEvict} gets it. */
export interface ReaderEvictionInfo {
  /** The reader id (unsigned). */
  readerId: number;
  /** The reader's pid. */
  pid: number;
  /** Why. */
  cause: EvictionCause;
  /** Trades it was behind. */
  lag: number;
  /** The ring's capacity in trades. */
  capacity: number;
  /** How long the writer had been held by it, ms. */
  waitedMs: number;
  /** The writer's backlog capacity in trades. */
  backlog: number;
}

/** Evictions by cause. */
export interface EvictionCounts {
  /** Held the writer longer than its tether timeout. */
  timeout: number;
  /** Its process was gone. */
  dead: number;
  /** The writer's backlog filled up while it held the writer. */
  backlogFull: number;
}

/** Options of {@linkcode TetherGate}. */
export interface TetherGateOptions {
  /** Slots of the ring. */
  capacity: number;
  /** The cap on every reader's tether timeout, ms. */
  maxTetherTimeoutMs: number;
  /** The writer's backlog capacity, trades (for {@linkcode ReaderEvictionInfo}). */
  backlog: number;
  /** Called once per eviction. */
  onEvict?: (info: ReaderEvictionInfo) => void;
}

const OWNER = SlotField.Owner;
const STATE = SlotField.State;
const PID = SlotField.Pid;
const TIMEOUT = SlotField.TetherTimeoutMs;
const POSITION_LO = SlotField.PositionLo;
const SLOT_STRIDE = REGISTRY_SLOT_SIZE >> 2;
/** A lag this large means the reader says it is ahead of the writer: it holds nothing. */
const AHEAD = 0x8000_0000;

/** The registry side of one writer: scans, eviction deadlines, the writer's sleep. */
export class TetherGate {
  /** Tethered readers at the last scan. */
  tethered = 0;
  /** The first position the last scan allows the writer to write. */
  limit = 0;
  /** Ms left, at the last {@linkcode check}, before the holder of the closed gate is evicted. */
  leftMs = 0;
  /** Evictions by cause since creation. */
  readonly evictions: EvictionCounts = { timeout: 0, dead: 0, backlogFull: 0 };
  #words: Int32Array;
  #capacity: number;
  #maxTimeoutMs: number;
  #backlog: number;
  #onEvict: ((info: ReaderEvictionInfo) => void) | undefined;
  #wakeWord: Deno.PointerObject;
  #stalled: Float64Array;
  /** Slot of the slowest tethered reader at the last scan, -1 for none. */
  #holder = -1;
  /** Its lag at the last scan. */
  #holderLag = 0;
  /**
   * Per slot, during a stall: the position's low word last seen, and since
   * when (performance.now) it has not moved. A reader's deadline runs from
   * then, so readers stopped together are evicted together, after one
   * timeout, and one that moves is not evicted.
   */
  #seenLo = new Int32Array(REGISTRY_SLOTS);
  #seenSince = new Float64Array(REGISTRY_SLOTS);
  /** When the gate closed (performance.now), -1 while open. */
  #stallSince = -1;
  #stalledMs = 0;

  /** The gate of the writer of `segment`, `words` being all of it. */
  constructor(segment: Segment, words: Int32Array, options: TetherGateOptions) {
    this.#words = words;
    this.#capacity = options.capacity;
    this.#maxTimeoutMs = options.maxTetherTimeoutMs;
    this.#backlog = options.backlog;
    this.#onEvict = options.onEvict;
    this.#wakeWord = tetherWakeWordOf(segment);
    this.#stalled = new Float64Array(segment.buffer, Header.StalledMs, 1);
  }

  /**
   * One scan of the registry at write position `position`, which must be
   * committed (published): the first position the writer may not write,
   * the slowest tethered reader's position plus the capacity, or
   * `position` plus the capacity with none (a reader tethering meanwhile
   * loads the committed position after its state and is protected from it).
   */
  scan(position: number): number {
    const words = this.#words;
    const low = position >>> 0;
    let holder = -1;
    let maxLag = 0;
    let tethered = 0;
    for (
      let i = 0, slot = slotWord(0);
      i < REGISTRY_SLOTS;
      i++, slot += SLOT_STRIDE
    ) {
      if (Atomics.load(words, slot + STATE) !== ReaderState.Tethered) continue;
      tethered++;
      const lag = (low - Atomics.load(words, slot + POSITION_LO)) >>> 0;
      if (lag >= AHEAD) continue;
      if (holder < 0 || lag > maxLag) {
        holder = i;
        maxLag = lag;
      }
    }
    this.#holder = holder;
    this.#holderLag = maxLag;
    if (tethered !== this.tethered) {
      this.tethered = tethered;
      Atomics.store(words, W_TETHERED, tethered);
    }
    return position - maxLag + this.#capacity;
  }

  /**
   * Scans until there is room at `position` (committed): true, with
   * {@linkcode limit} set; false while the reader holding the gate is
   * within its deadline ({@linkcode leftMs}). Evicts holders that are dead
   * or past their deadline.
   */
  admit(position: number): boolean {
    for (let evictions = 0; evictions <= REGISTRY_SLOTS; evictions++) {
      if (this.rescan(position)) return true;
      this.leftMs = this.check(position);
      if (this.leftMs > 0) return false;
    }
    return false;
  }

  /** One scan at `position` (committed): is there room? Sets {@linkcode limit}. */
  rescan(position: number): boolean {
    this.limit = this.scan(position);
    if (position >= this.limit) return false;
    this.#opened();
    return true;
  }

  /** The scan found room: ends the stall, if any, adding its time to the total. */
  #opened(): void {
    if (this.#stallSince < 0) return;
    this.#stalledMs += performance.now() - this.#stallSince;
    this.#stalled[0] = this.#stalledMs;
    this.#stallSince = -1;
  }

  /** The gate closes: every reader's deadline starts now, from where it is. */
  #beginStall(now: number): void {
    this.#stallSince = now;
    for (let i = 0; i < REGISTRY_SLOTS; i++) {
      this.#seenLo[i] = Atomics.load(this.#words, slotWord(i) + POSITION_LO);
    }
    this.#seenSince.fill(now);
  }

  /** Total time the gate was closed, ms (the current stall included). */
  get stalledMs(): number {
    return this.#stallSince < 0
      ? this.#stalledMs
      : this.#stalledMs + performance.now() - this.#stallSince;
  }

  /**
   * The gate is closed at `position` (the last scan found no room): evicts
   * the reader holding it if its process is gone or its deadline passed.
   * Returns the ms left before its deadline, or 0 when it evicted (or the
   * reader left): scan again.
   */
  check(position: number): number {
    const index = this.#holder;
    if (index < 0) return 0;
    const now = performance.now();
    if (this.#stallSince < 0) this.#beginStall(now);
    this.#stalled[0] = this.#stalledMs + now - this.#stallSince;
    const lo = Atomics.load(this.#words, slotWord(index) + POSITION_LO);
    if (lo !== this.#seenLo[index]) {
      this.#seenLo[index] = lo;
      this.#seenSince[index] = now;
    }
    if (isDead(this.#words, index, monotonicMs())) {
      this.#evict(position, EvictionCause.Dead);
      return 0;
    }
    const left = this.#seenSince[index] + this.#timeoutOf(index) - now;
    if (left > 0) return left;
    this.#evict(position, EvictionCause.Timeout);
    return 0;
  }

  /**
   * Frees the slots of registered readers whose process is gone and whose
   * heartbeat is stale, whatever their policy (a dead tethered one is
   * evicted first), so that tools and metrics stop showing them. For the
   * writer's heartbeat; `position` is its write position.
   */
  reap(position: number): void {
    const words = this.#words;
    const now = monotonicMs();
    for (let i = 0; i < REGISTRY_SLOTS; i++) {
      const state = Atomics.load(words, slotWord(i) + STATE);
      if (state === ReaderState.Free || state === ReaderState.Claimed) continue;
      if (!isDead(words, i, now)) continue;
      if (state === ReaderState.Tethered) {
        this.#holder = i;
        this.#holderLag = (position -
          Atomics.load(words, slotWord(i) + POSITION_LO)) >>> 0;
        this.#evict(position, EvictionCause.Dead);
      } else {
        freeSlot(words, i);
      }
    }
  }

  /** The writer's backlog is full: evicts the reader holding the gate at once. */
  evictHolder(position: number): void {
    if (this.#holder < 0) return;
    if (this.#stallSince < 0) this.#beginStall(performance.now());
    const dead = isDead(this.#words, this.#holder, monotonicMs());
    this.#evict(
      position,
      dead ? EvictionCause.Dead : EvictionCause.BacklogFull,
    );
  }

  /**
   * Sets the writer's waiting flag and sleeps on the tether wake word until
   * a tethered reader moves (or `timeoutMs`), without blocking the event
   * loop; undefined (not waiting) when `free()` says there is room after the
   * flag was set. Call {@linkcode awake} when the sleep ended.
   */
  sleep(free: () => boolean, timeoutMs: number): Promise<void> | undefined {
    const words = this.#words;
    Atomics.store(words, Header.WriterWaiting >> 2, 1);
    const expected = Atomics.load(words, Header.TetherWake >> 2);
    // A reader that moved before the flag was set did not wake us: look again.
    if (free()) {
      this.awake();
      return undefined;
    }
    return futexWait(this.#wakeWord, expected, {
      blocking: false,
      timeoutMs: Math.max(0, timeoutMs),
    });
  }

  /** Clears the writer's waiting flag. */
  awake(): void {
    Atomics.store(this.#words, Header.WriterWaiting >> 2, 0);
  }

  /** Ends a pending sleep at once (the writer closes). */
  interrupt(): void {
    Atomics.add(this.#words, Header.TetherWake >> 2, 1);
    futexWake(this.#wakeWord, 1);
  }

  /** The reader's tether timeout capped by the writer's; 0 (none asked) means the cap. */
  #timeoutOf(index: number): number {
    const asked = Atomics.load(this.#words, slotWord(index) + TIMEOUT) >>> 0;
    return asked > 0 ? Math.min(asked, this.#maxTimeoutMs) : this.#maxTimeoutMs;
  }

  #evict(position: number, cause: EvictionCause): void {
    const words = this.#words;
    const index = this.#holder;
    const slot = slotWord(index);
    const readerId = Atomics.load(words, slot + OWNER) >>> 0;
    const pid = Atomics.load(words, slot + PID);
    const lag = this.#holderLag;
    const waitedMs = this.#stallSince < 0
      ? 0
      : performance.now() - this.#seenSince[index];
    this.#holder = -1;
    if (!evict(words, index, { cause, writePosition: position, lag })) return;
    if (cause === EvictionCause.Dead) freeSlot(words, index);
    Atomics.add(words, W_EVICTIONS, 1);
    if (cause === EvictionCause.Timeout) this.evictions.timeout++;
    else if (cause === EvictionCause.Dead) this.evictions.dead++;
    else this.evictions.backlogFull++;
    this.#onEvict?.({
      readerId,
      pid,
      cause,
      lag,
      capacity: this.#capacity,
      waitedMs,
      backlog: this.#backlog,
    });
  }
}
