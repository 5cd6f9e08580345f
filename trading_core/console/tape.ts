/**
 * The trade tape: the last {@linkcode TAPE_SIZE} trades of each stream a
 * console client watches. A trade of a stream nobody watches costs one
 * array read ({@linkcode TradeTape.record}); nothing is kept for it.
 *
 * @module
 */

import type { TradeView } from "../../common/wire/trade_view.ts";
import type { TapeEntry } from "./schema.ts";

/** Trades kept per watched stream. */
export const TAPE_SIZE = 50;

// The fields of one tape entry. ID numbers the stream's tape entries from 1
// (never reused), so a client merging two messages can drop repeats.
const ID = 0;
const SEQ = 1;
const TS = 2;
const PRICE = 3;
const SIZE = 4;
const SIDE = 5;
const STRIDE = 6;

/** One stream's ring of entries. */
interface StreamTape {
  entries: Float64Array;
  /** The last entry's ID. */
  last: number;
  /** The last ID before the stream was last watched: the tape holds those after it. */
  from: number;
}

/** The tapes of the watched streams, by stream index. */
export class TradeTape {
  /** Watchers per stream index. */
  #watchers = new Int32Array(64);
  #tapes: (StreamTape | undefined)[] = [];

  /**
   * One more watcher of stream index `stream`: its tape records from now
   * on (a stream that had none starts empty).
   *
   * @throws {RangeError} when `stream` is not a non-negative integer.
   */
  watch(stream: number): void {
    if (!Number.isSafeInteger(stream) || stream < 0) {
      throw new RangeError(
        `Invalid stream index ${stream}: expected an integer from 0`,
      );
    }
    if (stream >= this.#watchers.length) {
      const grown = new Int32Array(
        Math.max(stream + 1, 2 * this.#watchers.length),
      );
      grown.set(this.#watchers);
      this.#watchers = grown;
    }
    if (this.#watchers[stream]++ === 0) {
      const last = this.#tapes[stream]?.last ?? 0;
      this.#tapes[stream] = {
        entries: new Float64Array(TAPE_SIZE * STRIDE),
        last,
        from: last,
      };
    }
  }

  /** One watcher fewer of stream index `stream`; with none left its tape is dropped. */
  unwatch(stream: number): void {
    if (!(this.#watchers[stream] > 0)) return;
    if (--this.#watchers[stream] === 0) {
      // The IDs go on from where they were if it is watched again.
      const last = this.#tapes[stream]?.last ?? 0;
      this.#tapes[stream] = { entries: new Float64Array(0), last, from: last };
    }
  }

  /** Whether stream index `stream` has a watcher. */
  watched(stream: number): boolean {
    return this.#watchers[stream] > 0;
  }

  /**
   * A delivered trade of stream index `stream`: kept when the stream is
   * watched. On the read loop's path: a stream nobody watches costs one
   * array read.
   */
  record(trade: TradeView, stream: number): void {
    if (!(this.#watchers[stream] > 0)) return;
    const tape = this.#tapes[stream]!;
    const id = ++tape.last;
    const at = (id % TAPE_SIZE) * STRIDE;
    const entries = tape.entries;
    entries[at + ID] = id;
    entries[at + SEQ] = trade.seq;
    entries[at + TS] = trade.tsEventMs;
    entries[at + PRICE] = trade.price;
    entries[at + SIZE] = trade.size;
    entries[at + SIDE] = trade.side;
  }

  /** The ID of stream index `stream`'s latest entry (0: none yet). */
  lastId(stream: number): number {
    return this.#tapes[stream]?.last ?? 0;
  }

  /**
   * Stream index `stream`'s entries after ID `after` (at most
   * {@linkcode TAPE_SIZE}, oldest first) as `[id, seq, tsEventMs, price,
   * size, side]` arrays; side 1 buy, 2 sell, 0 unknown.
   */
  since(stream: number, after: number): TapeEntry[] {
    const tape = this.#tapes[stream];
    if (tape === undefined || !this.watched(stream)) return [];
    const first = Math.max(after + 1, tape.last - TAPE_SIZE + 1, tape.from + 1);
    const out: TapeEntry[] = [];
    for (let id = first; id <= tape.last; id++) {
      const at = (id % TAPE_SIZE) * STRIDE;
      out.push(Array.from(tape.entries.subarray(at, at + STRIDE)) as TapeEntry);
    }
    return out;
  }
}
