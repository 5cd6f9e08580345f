/**
 * A ring durable consumer's position (`live --ring-durable NAME`): the last
 * delivered trade of each stream, its run epoch, `seq` and `ts_recv`, kept
 * in a small owner-only shared-memory file, `/dev/shm/marketbus-durable.NAME`.
 * A store is a few memory writes (no system call) and survives a kill -9 of
 * the process: the page is the kernel's. Each stream's entry has two copies
 * and a word naming the valid one, flipped by one 32-bit store after the
 * other copy is written: a process killed mid-store leaves the previous
 * position, never a torn one. Before a trade is handed to the strategy its
 * (epoch, seq) is stored as the entry's "in hand" ({@linkcode DurablePosition.hand}):
 * a restart that finds it past the position knows the trades up to it may
 * have been delivered before the crash. The file names its owner's pid: a second
 * process of the same name is refused while the owner lives. Layout and
 * timeline: docs/ipc_ring.md, "A ring consumer that survives its restart".
 *
 * @module
 */

import {
  createSegment,
  openSegment,
  type Segment,
  unlinkSegment,
  unmapSegment,
} from "../ipc/segment.ts";
import { RingNotFoundError } from "../ipc/errors.ts";
import { EEXIST, OsError, processAlive } from "../os/libc.ts";
import { checkDurableName, durableShmName } from "../wire/ring_names.ts";

/** A stream's last delivered trade. */
export interface Position {
  /** Its run epoch. */
  epoch: number;
  /** Its `seq`. */
  seq: number;
  /** Its `ts_recv`, ns. */
  tsRecv: bigint;
}

/** `"MBDU"`, and the layout version. */
const MAGIC = 0x5544424d;
const VERSION = 2;
/** Streams a file holds at most. */
export const MAX_DURABLE_STREAMS = 1024;
/** Header words (u32): magic, version, owner pid, streams used, capacity. */
const HEADER_BYTES = 64;
const H_MAGIC = 0, H_VERSION = 1, H_OWNER = 2, H_USED = 3, H_CAPACITY = 4;
/** One entry: key (length byte + up to 63 UTF-8 bytes), valid copy word, two copies, the trade in hand. */
const ENTRY_BYTES = 128;
const KEY_BYTES = 64;
/** Byte offsets in an entry: the valid copy's index, then copy 0 and copy 1 (u32 epoch, u32 seq, i64 ts_recv). */
const E_VALID = 64, E_COPY = 72, COPY_BYTES = 16;
/** Byte offset in an entry of the trade in hand: u32 epoch, u32 seq (epoch 0: none). */
const E_HAND = 104;
/** The file's size. */
const FILE_BYTES = HEADER_BYTES + MAX_DURABLE_STREAMS * ENTRY_BYTES;

/** The durable's file is not one, or cannot hold the streams. */
export class DurablePositionError extends Error {
  /** Creates the error for the file of durable `name`; `problem` says what was wrong and what was expected. */
  constructor(name: string, problem: string) {
    super(
      `Durable position file ${
        durablePath(name)
      } is not usable: ${problem}; remove it: the durable ${name} then resumes from its NATS mirror when it has its position, else from now (docs/ipc_ring.md, "Resetting a ring durable")`,
    );
    this.name = "DurablePositionError";
  }
}

/** Another live process runs the durable. */
export class DurableInUseError extends Error {
  /** The owner's pid. */
  readonly pid: number;

  /** Creates the error for durable `name` owned by live process `pid`. */
  constructor(name: string, pid: number) {
    super(
      `Durable ${name} is in use by pid ${pid} (${
        durablePath(name)
      }): stop that process first, or give another --ring-durable name (if pid ${pid} is not a live of this durable, its owner died and the pid was reused: remove the file, the durable then resumes from its NATS mirror)`,
    );
    this.name = "DurableInUseError";
    this.pid = pid;
  }
}

/** Where durable `name`'s file is. */
export function durablePath(name: string): string {
  return `/dev/shm${durableShmName(name)}`;
}

/** The open position file of one durable; see the module documentation. */
export class DurablePosition {
  /** The durable's name. */
  readonly name: string;
  readonly #segment: Segment;
  readonly #words: Uint32Array;
  readonly #times: BigInt64Array;
  readonly #bytes: Uint8Array;
  readonly #byKey = new Map<string, number>();
  #closed = false;

  /**
   * Opens (creating it if absent) the file of durable `name` and takes it
   * for this process.
   *
   * @throws {RangeError} for an invalid name.
   * @throws {DurableInUseError} when a live process owns it.
   * @throws {DurablePositionError} when the file is not a durable's.
   * @throws {RingOwnerError} when another user owns it, or others may write it.
   * @throws {OsError} for other OS errors.
   */
  static open(name: string): DurablePosition {
    checkDurableName(name);
    return new DurablePosition(name, openOrCreate(name));
  }

  private constructor(name: string, segment: Segment) {
    this.name = name;
    this.#segment = segment;
    this.#words = new Uint32Array(segment.buffer);
    this.#times = new BigInt64Array(segment.buffer);
    this.#bytes = new Uint8Array(segment.buffer);
    try {
      this.#claim();
      this.#readKeys();
    } catch (error) {
      unmapSegment(segment);
      throw error;
    }
  }

  /** Takes the file: its owner word from none or a dead pid to this one. */
  #claim(): void {
    const words = this.#words;
    const header = Array.from(words.subarray(0, 5));
    const fresh = header.every((word) => word === 0);
    if (!fresh && header[H_MAGIC] !== MAGIC) {
      throw new DurablePositionError(this.name, "not a durable position file");
    }
    if (!fresh && header[H_VERSION] !== VERSION) {
      throw new DurablePositionError(
        this.name,
        `layout version ${header[H_VERSION]}, expected ${VERSION}`,
      );
    }
    for (;;) {
      const owner = Atomics.load(words, H_OWNER);
      if (owner !== 0 && owner !== Deno.pid && processAlive(owner)) {
        throw new DurableInUseError(this.name, owner);
      }
      if (Atomics.compareExchange(words, H_OWNER, owner, Deno.pid) === owner) {
        break;
      }
    }
    if (fresh) {
      words[H_CAPACITY] = MAX_DURABLE_STREAMS;
      words[H_VERSION] = VERSION;
      Atomics.store(words, H_MAGIC, MAGIC);
    }
  }

  /** Reads and checks the entries' keys and valid words. */
  #readKeys(): void {
    const words = this.#words;
    if (words[H_CAPACITY] !== MAX_DURABLE_STREAMS) {
      throw new DurablePositionError(
        this.name,
        `capacity ${words[H_CAPACITY]}, expected ${MAX_DURABLE_STREAMS}`,
      );
    }
    const used = words[H_USED];
    if (used > MAX_DURABLE_STREAMS) {
      throw new DurablePositionError(
        this.name,
        `${used} streams, expected at most ${MAX_DURABLE_STREAMS}`,
      );
    }
    const decoder = new TextDecoder("utf-8", { fatal: true });
    for (let slot = 0; slot < used; slot++) {
      const at = HEADER_BYTES + slot * ENTRY_BYTES;
      const length = this.#bytes[at];
      const valid = words[(at + E_VALID) / 4];
      let key: string | undefined;
      try {
        key = decoder.decode(this.#bytes.subarray(at + 1, at + 1 + length));
      } catch { /* reported below */ }
      if (
        length === 0 || length >= KEY_BYTES || valid > 1 ||
        key === undefined || !key.includes(":") || this.#byKey.has(key)
      ) {
        throw new DurablePositionError(
          this.name,
          `entry ${slot} is corrupt (expected an "exchange:symbol" key and a valid copy of 0 or 1)`,
        );
      }
      this.#byKey.set(key, slot);
    }
  }

  /** The streams with a position, as `exchange:symbol` keys. */
  keys(): string[] {
    return [...this.#byKey.keys()];
  }

  /** The slot of stream `exchange:symbol` (added if new), for {@linkcode store}. */
  slot(exchange: string, symbol: string): number {
    const key = `${exchange}:${symbol}`;
    const known = this.#byKey.get(key);
    if (known !== undefined) return known;
    const encoded = new TextEncoder().encode(key);
    if (encoded.length >= KEY_BYTES) {
      throw new RangeError(
        `Invalid stream ${key}: expected at most ${KEY_BYTES - 1} bytes`,
      );
    }
    const slot = this.#words[H_USED];
    if (slot >= MAX_DURABLE_STREAMS) {
      throw new DurablePositionError(
        this.name,
        `full (${MAX_DURABLE_STREAMS} streams), expected room for ${key}`,
      );
    }
    const at = HEADER_BYTES + slot * ENTRY_BYTES;
    this.#bytes.fill(0, at, at + ENTRY_BYTES);
    this.#bytes.set(encoded, at + 1);
    this.#bytes[at] = encoded.length;
    // The key is written before the count that makes the entry part of the file.
    Atomics.store(this.#words, H_USED, slot + 1);
    this.#byKey.set(key, slot);
    return slot;
  }

  /** The position of stream `exchange:symbol`, or undefined when none was stored. */
  get(exchange: string, symbol: string): Position | undefined {
    const slot = this.#byKey.get(`${exchange}:${symbol}`);
    if (slot === undefined) return undefined;
    const at = HEADER_BYTES + slot * ENTRY_BYTES;
    const copy = at + E_COPY + this.#words[(at + E_VALID) / 4] * COPY_BYTES;
    const epoch = this.#words[copy / 4];
    if (epoch === 0) return undefined; // added, nothing stored yet
    return {
      epoch,
      seq: this.#words[copy / 4 + 1],
      tsRecv: this.#times[copy / 8 + 1],
    };
  }

  /**
   * The trade in hand of stream `exchange:symbol` (its epoch and seq; `tsRecv`
   * 0n), or undefined when none was stored: past the position, the strategy
   * may have been given the trades up to it before a crash.
   */
  inHand(exchange: string, symbol: string): Position | undefined {
    const slot = this.#byKey.get(`${exchange}:${symbol}`);
    if (slot === undefined) return undefined;
    const word = (HEADER_BYTES + slot * ENTRY_BYTES + E_HAND) / 4;
    const epoch = this.#words[word];
    if (epoch === 0) return undefined;
    return { epoch, seq: this.#words[word + 1], tsRecv: 0n };
  }

  /**
   * Stores the trade in hand of the stream in `slot` (before the strategy
   * gets it): its seq, then its epoch (a kill between them leaves the older
   * epoch with the newer seq: a trade not handed yet).
   *
   * @throws {TypeError} once closed (the file is no longer mapped).
   */
  hand(slot: number, epoch: number, seq: number): void {
    if (this.#closed) throw new TypeError(`Durable ${this.name} is closed`);
    const word = (HEADER_BYTES + slot * ENTRY_BYTES + E_HAND) / 4;
    this.#words[word + 1] = seq;
    Atomics.store(this.#words, word, epoch);
  }

  /**
   * Stores the position of the stream in `slot`: the other copy, then the flip.
   *
   * @throws {TypeError} once closed (the file is no longer mapped).
   */
  store(slot: number, epoch: number, seq: number, tsRecv: bigint): void {
    if (this.#closed) throw new TypeError(`Durable ${this.name} is closed`);
    const at = HEADER_BYTES + slot * ENTRY_BYTES;
    const valid = (at + E_VALID) / 4;
    const next = this.#words[valid] ^ 1;
    const copy = at + E_COPY + next * COPY_BYTES;
    this.#words[copy / 4] = epoch;
    this.#words[copy / 4 + 1] = seq;
    this.#times[copy / 8 + 1] = tsRecv;
    Atomics.store(this.#words, valid, next);
  }

  /** Gives the file up (its positions stay) and unmaps it; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    Atomics.compareExchange(this.#words, H_OWNER, Deno.pid, 0);
    unmapSegment(this.#segment);
  }
}

/** Opens durable `name`'s file, creating it (zero-filled) when absent. */
function openOrCreate(name: string): Segment {
  const remedy = `remove ${durablePath(name)} and run the durable as its owner`;
  for (let attempt = 0;; attempt++) {
    try {
      const segment = openSegment(durableShmName(name), {
        ownerRemedy: remedy,
      });
      if (segment.size !== FILE_BYTES) {
        unmapSegment(segment);
        throw new DurablePositionError(
          name,
          `${segment.size} bytes, expected ${FILE_BYTES}`,
        );
      }
      return segment;
    } catch (error) {
      if (!(error instanceof RingNotFoundError) || attempt > 2) throw error;
    }
    try {
      return createSegment(durableShmName(name), FILE_BYTES);
    } catch (error) {
      // Created meanwhile by another process: open it.
      if (!(error instanceof OsError && error.errno === EEXIST)) throw error;
    }
  }
}

/** Removes durable `name`'s file (its position is lost); false when there was none. */
export function removeDurable(name: string): boolean {
  return unlinkSegment(durableShmName(checkDurableName(name)));
}
