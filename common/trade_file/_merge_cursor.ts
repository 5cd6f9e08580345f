/**
 * One file of a merge: its rows read a batch (one decoded chunk) at a time,
 * the next trade kept by the filters as its head, and the gap lines met
 * before it.
 *
 * @module
 */

import type { GapRow, ReplayRow, TradeFileRow } from "./_row.ts";
import {
  readRowBatches,
  type ReadTradeFileOptions,
  TradeFileRowError,
} from "./trade_file.ts";

const MAX_I64 = (1n << 63n) - 1n;

/** What a cursor keeps: the merge's filters. */
export interface CursorFilter {
  /** ts_event ns, inclusive. */
  from?: bigint;
  /** ts_event ns, exclusive. */
  to?: bigint;
  /** Symbols kept; undefined: all. */
  symbols?: ReadonlySet<string>;
  /** Exchanges kept; undefined: all. */
  exchanges?: ReadonlySet<string>;
}

/** Options of a cursor: how its file is read, what it keeps. */
export interface CursorOptions extends CursorFilter {
  /** How the file is read (onError, onBadRow, onBytesRead, symbol, …). */
  read: ReadTradeFileOptions;
  /** Told once, at the first trade whose ts_event is below the previous one's of the file. */
  onOutOfOrder?: (line: number) => void;
}

/** The rows of one file as the merge consumes them. */
export class MergeCursor {
  /** Position of the file in the merge's list: the tie-break after ts_recv. */
  readonly index: number;
  /** The file. */
  readonly path: string;
  /** The next trade kept, or undefined once the file has no more. */
  head: ReplayRow | undefined;
  /** Gap lines of kept streams met before `head` (after the last trade, once the file ended). */
  gaps: GapRow[] = [];
  /** Bytes of the file read so far (compressed, if it is). */
  bytesRead = 0;
  readonly #rows: AsyncGenerator<TradeFileRow[], void, undefined>;
  readonly #filter: CursorFilter;
  readonly #read: ReadTradeFileOptions;
  readonly #onOutOfOrder: ((line: number) => void) | undefined;
  #batch: TradeFileRow[] = [];
  #next = 0;
  /** ts_event of the file's previous trade, until one went back in time. */
  #previous: bigint | undefined;
  #toldOutOfOrder = false;
  /** Whether the last trade met was in the time range (trailing gaps are kept if so). */
  #inRange = true;

  /** A cursor over file `path`, number `index` of the merge; nothing is read before {@linkcode fill}. */
  constructor(path: string, index: number, options: CursorOptions) {
    this.path = path;
    this.index = index;
    this.#filter = options;
    this.#read = options.read;
    this.#onOutOfOrder = options.onOutOfOrder;
    this.#rows = readRowBatches(path, {
      ...options.read,
      onBytesRead: (bytes) => this.bytesRead = bytes,
    });
  }

  /** The gap lines met before `head` (or after the last trade), handed over once. */
  takeGaps(): GapRow[] {
    const gaps = this.gaps;
    if (gaps.length > 0) this.gaps = [];
    return gaps;
  }

  /**
   * Moves `head` to the next kept trade within the current batch; false when
   * the batch ran out first (then {@linkcode fill}).
   *
   * @throws {TradeFileRowError} at a trade a record cannot hold, under `onError: "stop"`.
   */
  step(): boolean {
    const batch = this.#batch;
    const { from, to, symbols, exchanges } = this.#filter;
    while (this.#next < batch.length) {
      const row = batch[this.#next++];
      const kept = (exchanges === undefined || exchanges.has(row.exchange)) &&
        (symbols === undefined || symbols.has(row.symbol));
      if (row.type === "gap") {
        if (kept) this.gaps.push(row);
        continue;
      }
      const tsEvent = row.tsEvent;
      if (!this.#toldOutOfOrder) {
        const previous = this.#previous;
        if (previous !== undefined && tsEvent < previous) {
          this.#toldOutOfOrder = true;
          this.#onOutOfOrder?.(row.line);
        } else this.#previous = tsEvent;
      }
      if (tsEvent > MAX_I64 || row.tsRecv > MAX_I64) {
        this.#bad(row.line, tsEvent > MAX_I64 ? "tsEvent" : "tsRecv");
        continue;
      }
      if (!kept) continue;
      if (
        (from !== undefined && tsEvent < from) ||
        (to !== undefined && tsEvent >= to)
      ) {
        // Gap lines just before a trade out of the range are out of it too.
        if (this.gaps.length > 0) this.gaps = [];
        this.#inRange = false;
        continue;
      }
      this.#inRange = true;
      this.head = row;
      return true;
    }
    this.head = undefined;
    return false;
  }

  /**
   * Reads batches until `head` is the next kept trade, or the file ended
   * (head undefined; gaps after its last trade stay in `gaps` when that
   * trade was in the time range).
   *
   * @throws {TradeFileRowError} at a bad row under `onError: "stop"`.
   * @throws {TradeFileReadError} when the file cannot be read further.
   */
  async fill(): Promise<void> {
    while (!this.step()) {
      const result = await this.#rows.next();
      if (result.done) {
        if (!this.#inRange) this.gaps = [];
        return;
      }
      this.#batch = result.value;
      this.#next = 0;
    }
  }

  /** Reports trade `line` whose `field` is beyond the wire's i64; throws under "stop". */
  #bad(line: number, field: string): void {
    const reason =
      `${field} is beyond 2^63 - 1 ns (year 2262), what a record holds`;
    const { onBadRow, onError = "stop" } = this.#read;
    onBadRow?.(line, reason);
    if (onError === "stop") {
      throw new TradeFileRowError(this.path, line, reason);
    }
  }

  /** Stops reading and closes the file. */
  async close(): Promise<void> {
    this.head = undefined;
    await this.#rows.return();
  }
}
