/**
 * The producer's backlog: the records a ring writer may not write yet
 * because a tethered reader has not read the slots they would overwrite,
 * kept in order in a bounded ring of 48-byte records (allocated on first
 * use: a ring nobody tethers to never pays for it), and the task that
 * writes them into the ring as room appears without blocking the event
 * loop.
 *
 * @module
 */

import { yieldToEventLoop } from "../runtime/delay.ts";
import { RECORD_WORDS } from "./_header.ts";
import {
  type EvictionCounts,
  GATE_SLEEP_MS,
  type TetherGate,
} from "./_tether_gate.ts";
import { REGISTRY_SLOTS } from "./layout.ts";

/** Records written from the backlog between yields to the event loop. */
const DRAIN_CHUNK = 4096;
/** How long a gated writer re-scans before sleeping, ms. */
const SPIN_MS = 0.02;

/** Trades a writer's backlog holds by default (12 MiB). */
export const DEFAULT_BACKLOG = 262_144;

/**
 * Checks a backlog capacity in trades.
 *
 * @throws {RangeError} unless it is an integer from 1 to 2^24.
 */
export function checkBacklog(trades: number): number {
  if (!Number.isInteger(trades) || trades < 1 || trades > 1 << 24) {
    throw new RangeError(
      `Invalid backlog ${trades}: expected a number of trades from 1 to ${
        1 << 24
      } (transport.ipc.backlog), e.g. ${DEFAULT_BACKLOG}`,
    );
  }
  return trades;
}

/** A bounded FIFO of trade records, stored as 32-bit words. */
export class RingBacklog {
  /** The most records it holds. */
  readonly capacity: number;
  #words: Int32Array | undefined;
  /** Index of the oldest record. */
  #head = 0;
  #length = 0;

  /** A backlog of `capacity` records (nothing allocated until the first push). */
  constructor(capacity: number) {
    this.capacity = checkBacklog(capacity);
  }

  /** Records held. */
  get length(): number {
    return this.#length;
  }

  /** Is it full? */
  get full(): boolean {
    return this.#length === this.capacity;
  }

  /** The storage: the oldest record is at word {@linkcode oldestAt}. */
  get words(): Int32Array {
    return this.#words ??= new Int32Array(this.capacity * RECORD_WORDS);
  }

  /** Word index of the oldest record in {@linkcode words} (only while not empty). */
  oldestAt(): number {
    return this.#head * RECORD_WORDS;
  }

  /** Appends the record at word `at` of `source`; false (nothing stored) when full. */
  push(source: Int32Array, at: number): boolean {
    if (this.#length === this.capacity) return false;
    const words = this.words;
    let tail = this.#head + this.#length;
    if (tail >= this.capacity) tail -= this.capacity;
    const to = tail * RECORD_WORDS;
    for (let i = 0; i < RECORD_WORDS; i++) words[to + i] = source[at + i];
    this.#length++;
    return true;
  }

  /** Drops the oldest record (after it was written to the ring). */
  shift(): void {
    if (this.#length === 0) return;
    this.#length--;
    this.#head = this.#head + 1 === this.capacity ? 0 : this.#head + 1;
  }

  /** Drops every record and returns how many there were. */
  clear(): number {
    const dropped = this.#length;
    this.#length = 0;
    this.#head = 0;
    return dropped;
  }
}

/** A writer's tethered-reader figures. */
export interface TetherStats {
  /** Tethered readers at the last registry scan. */
  tethered: number;
  /** Readers evicted, by cause. */
  evictions: EvictionCounts;
  /** Total time tethered readers held the writer, ms. */
  stalledMs: number;
  /** Trades in the backlog now, waiting for room in the ring. */
  backlog: number;
  /** The most trades the backlog holds. */
  backlogCapacity: number;
  /** Trades dropped from the backlog (at close, or never written): lost. */
  dropped: number;
}

/** What a {@linkcode BacklogDrain} needs of its writer. */
export interface DrainHost {
  /** The writer's next position. */
  position(): number;
  /** Writes the record at word `at` of `words` into the ring, without committing. */
  put(words: Int32Array, at: number): void;
  /** Commits (publishes) the write position if the header is behind it. */
  publish(): void;
  /** Sets the limit of the writer's hot path. */
  setLimit(limit: number): void;
  /** Can the writer no longer write (closed, its segment truncated)? The segment must not be touched then. */
  stopped(): boolean;
  /** A failure met while draining, thrown by the writer's next write. */
  fail(error: Error): void;
}

/**
 * The writer's backlog and its drain: while it holds records the writer's
 * hot-path limit is -1, so every write queues behind them, in order.
 */
export class BacklogDrain {
  /** The queued records. */
  readonly backlog: RingBacklog;
  /** Records dropped, never written: lost. */
  dropped = 0;
  #gate: TetherGate;
  #host: DrainHost;
  #pending: Promise<void> | undefined;

  /** A drain of up to `capacity` records into the writer `host`, gated by `gate`. */
  constructor(gate: TetherGate, host: DrainHost, capacity: number) {
    this.backlog = new RingBacklog(capacity);
    this.#gate = gate;
    this.#host = host;
  }

  /**
   * The writer's hot path reached its limit: false while records are queued
   * (they go first) or the gate stays closed, else true with a new limit.
   */
  open(): boolean {
    if (this.backlog.length > 0) return false;
    this.#host.publish(); // a reader tethering now is protected from here on
    if (!this.#gate.admit(this.#host.position())) return false;
    this.#host.setLimit(this.#gate.limit);
    return true;
  }

  /** The writer closes: ends a pending sleep of the drain at once. */
  interrupt(): void {
    if (this.#pending !== undefined) this.#gate.interrupt();
  }

  /** Pending while records are queued; resolves once they are written or the writer closed. */
  get pending(): Promise<void> | undefined {
    return this.#pending;
  }

  /** Queues `count` records from word `at` of `source` (evicting the gate's holder when full) and starts the drain. */
  queue(source: Int32Array, at: number, count: number): void {
    const backlog = this.backlog;
    this.#host.setLimit(-1);
    for (let i = 0; i < count; i++, at += RECORD_WORDS) {
      if (backlog.push(source, at)) continue;
      this.#makeRoom();
      backlog.push(source, at);
    }
    if (this.#pending === undefined) {
      this.#pending = new Promise((resolve) => this.#drain(resolve));
    }
  }

  /** The gate's and the backlog's figures. */
  stats(): TetherStats {
    const gate = this.#gate;
    return {
      tethered: gate.tethered,
      evictions: { ...gate.evictions },
      stalledMs: gate.stalledMs,
      backlog: this.backlog.length,
      backlogCapacity: this.backlog.capacity,
      dropped: this.dropped,
    };
  }

  /** Drops every queued record (the writer closes), counting them. */
  clear(): void {
    this.dropped += this.backlog.clear();
  }

  /** The backlog is full: evicts the readers holding the gate rather than drop trades, then writes what it can. */
  #makeRoom(): void {
    for (let evictions = 0; evictions <= REGISTRY_SLOTS; evictions++) {
      if (this.#rescan()) {
        this.#flush(Infinity);
        return;
      }
      this.#gate.evictHolder(this.#host.position());
    }
    // Readers that keep tethering behind the writer: the oldest trade is lost, counted.
    this.backlog.shift();
    this.dropped++;
  }

  #rescan(): boolean {
    this.#host.publish(); // a reader tethering now is protected from here on
    return this.#gate.rescan(this.#host.position());
  }

  /** Writes up to `max` queued records into the room the last scan found. */
  #flush(max: number): void {
    const { backlog } = this;
    const host = this.#host;
    const n = Math.min(
      backlog.length,
      this.#gate.limit - host.position(),
      max,
    );
    for (let i = 0; i < n; i++) {
      host.put(backlog.words, backlog.oldestAt());
      backlog.shift();
    }
    if (n > 0) host.publish();
    host.setLimit(backlog.length > 0 ? -1 : this.#gate.limit);
  }

  /**
   * Writes the backlog into the ring as room appears: scans, spins
   * briefly, then sleeps on the tether wake word (on Deno's blocking pool:
   * the event loop stays free) at most {@linkcode GATE_SLEEP_MS} and never
   * past the holder's deadline. Never rejects: a failure is thrown by the
   * writer's next write.
   */
  async #drain(resolve: () => void): Promise<void> {
    await undefined; // the caller's batch is queued first
    const { backlog } = this;
    const host = this.#host;
    try {
      while (backlog.length > 0 && !host.stopped()) {
        host.publish();
        if (this.#gate.admit(host.position())) {
          this.#flush(DRAIN_CHUNK);
          if (backlog.length > 0) await yieldToEventLoop();
          continue;
        }
        if (this.#spin()) continue;
        const sleep = this.#gate.sleep(
          () => this.#rescan(),
          Math.min(GATE_SLEEP_MS, this.#gate.leftMs),
        );
        if (sleep === undefined) continue;
        try {
          await sleep;
        } finally {
          if (!host.stopped()) this.#gate.awake();
        }
      }
    } catch (error) {
      if (!host.stopped()) host.fail(error as Error);
    }
    // In the same turn as the last check: a write from now on starts a new drain.
    this.#pending = undefined;
    resolve();
  }

  /** Re-scans for up to {@linkcode SPIN_MS}: true as soon as there is room. */
  #spin(): boolean {
    const until = performance.now() + SPIN_MS;
    do {
      if (this.#rescan()) return true;
    } while (performance.now() < until);
    return false;
  }
}
