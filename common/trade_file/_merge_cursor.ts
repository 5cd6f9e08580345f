/**
 * One file of a merge: its bytes read a chunk at a time, each line made a
 * 48-byte record in the cursor's block — by the fast path (_fast_row.ts)
 * when it has the plain form, else by the readers' own line parser
 * (_row_parser.ts), same checks and errors — and the filters applied, so
 * that the merge sees only the trades it keeps, and the gap lines among them.
 *
 * @module
 */

import type { TradeOrigin } from "../wire/codec.ts";
import { fastCsv, fastNdjson, type StreamLookup } from "./_fast_row.ts";
import { RECORD_WORDS, RecordBlock } from "./_record_block.ts";
import type { TradeFileRow } from "./_row.ts";
import {
  checkedSymbol,
  MAX_LINE_LENGTH,
  type OnBadRow,
  RowParser,
  symbolFromFileName,
} from "./_row_parser.ts";
import { type FileChunks, openByteFile } from "./_text_file.ts";
import type { CheckedRow } from "./_plausibility.ts";

const MAX_I64 = (1n << 63n) - 1n;
const TWO_32 = 4294967296n;
/** UTF-8 needs at most 3 bytes per UTF-16 unit: a longer line is too long, whatever it holds. */
const MAX_LINE_BYTES = 3 * MAX_LINE_LENGTH;

/** What a cursor keeps and whom it tells. */
export interface CursorOptions {
  /** ts_event ns, inclusive. */
  from?: bigint;
  /** ts_event ns, exclusive. */
  to?: bigint;
  /** Symbols kept; undefined: all. */
  symbols?: ReadonlySet<string>;
  /** Exchanges kept; undefined: all. */
  exchanges?: ReadonlySet<string>;
  /** `"stop"` or `"skip"` at a bad row. */
  onError: OnBadRow;
  /** Flag implausible rows as bad, as `serve --source replay` does (see _plausibility.ts). */
  plausibility: boolean;
  /** Told each bad row. */
  onBadRow?: (line: number, reason: string) => void;
  /** Told once, at the first trade whose ts_event is below the previous one's of the file. */
  onOutOfOrder?: (line: number) => void;
}

/** The halves of `ns` (u64), or undefined. */
function halves(ns: bigint | undefined): [number, number] | undefined {
  return ns === undefined
    ? undefined
    : [Number(ns / TWO_32), Number(ns % TWO_32)];
}

/** The records of one file as the merge consumes them: `block.next` is its head. */
export class MergeCursor implements StreamLookup {
  /** Position of the file in the merge's list: the tie-break after ts_recv. */
  readonly index: number;
  /** The file. */
  readonly path: string;
  /** The records read ahead and kept. */
  readonly block: RecordBlock = new RecordBlock(1024);
  /** The (exchange, symbol) of each of the file's stream indexes. */
  readonly origins: TradeOrigin[] = [];
  /** Per stream of the file, its index in the merge (-1: not given yet). */
  readonly merged: number[] = [];
  /** Bytes of the file read so far (compressed, if it is). */
  bytesRead = 0;
  /** Whether the file has no more to read. */
  ended = false;
  readonly #options: CursorOptions;
  readonly #kept: boolean[] = [];
  readonly #keys = new Map<string, number>();
  readonly #exchangeBytes: Uint8Array[] = [];
  readonly #symbolBytes: Uint8Array[] = [];
  readonly #from: [number, number] | undefined;
  readonly #to: [number, number] | undefined;
  readonly #decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  readonly #rows: TradeFileRow[] = [];
  #chunks: FileChunks<Uint8Array> | undefined;
  #pending: Promise<Uint8Array | undefined> | undefined;
  #parser: RowParser | undefined;
  #csvStream = -1;
  #last = -1;
  #carry: Uint8Array | undefined;
  #discarding = false;
  #first = true;
  /** Per stream of the file, the high and low words of its previous ts_event (the check is per (exchange, symbol): a recording of several symbols interleaves them in arrival order). */
  readonly #previous: number[] = [];
  #toldOutOfOrder = false;
  #inRange = true;
  #pastTo = false;

  /** A cursor over file `path`, number `index` of the merge; nothing is read before {@linkcode fill}. */
  constructor(path: string, index: number, options: CursorOptions) {
    this.path = path;
    this.index = index;
    this.#options = options;
    this.#from = halves(options.from);
    this.#to = halves(options.to);
  }

  /** Whether a record is ready at `block.next`. */
  get ready(): boolean {
    return this.block.next < this.block.count;
  }

  /**
   * Reads chunks until `minimum` records are ready (at least one), or the
   * file ended (gaps after its last trade may remain in the block), or a bad
   * row stopped it.
   *
   * @throws {TradeFileRowError} at a bad row under `onError: "stop"`, once
   * the records before it are consumed.
   * @throws {TradeFileReadError} when the file cannot be opened or read further.
   */
  async fill(minimum = 1): Promise<void> {
    const block = this.block;
    block.reset();
    while (!this.ended && block.count < minimum) {
      const parser = this.#parser ?? await this.#open();
      if (parser.stop !== undefined) break;
      const chunks = this.#chunks!;
      const reached = () => parser.line;
      let chunk = await (this.#pending ?? chunks.read(reached));
      this.#pending = undefined;
      if (chunk === undefined) {
        this.#end();
        break;
      }
      // The next chunk is read while this one is parsed (a failure is met
      // when it is awaited; "after line N" names the last line parsed then).
      const pending = chunks.read(reached);
      pending.catch(() => {});
      this.#pending = pending;
      if (this.#first) {
        this.#first = false;
        // A byte order mark, as TextDecoderStream drops it.
        if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) {
          chunk = chunk.subarray(3);
        }
      }
      this.#lines(chunk);
      if (this.#pastTo) {
        // Sorted and past `to`: nothing after can be kept.
        this.#carry = undefined;
        this.#end();
        this.#pending = undefined;
        await chunks.cancel();
      }
    }
    const stop = this.#parser?.stop;
    if (stop !== undefined && block.count === 0) throw stop;
  }

  /** At the end of the file: its last line, and what becomes of the gaps after its last trade. */
  #end(): void {
    this.ended = true;
    if (this.#carry !== undefined && !this.#discarding) {
      this.#line(this.#carry, 0, this.#carry.length);
    }
    this.#carry = undefined;
    // Gap lines after the file's last trade go with it, in or out of the range.
    if (!this.#inRange) {
      const block = this.block;
      block.gaps = block.gaps.filter((gap) => gap.at < block.count);
    }
  }

  /** Stops reading and closes the file. */
  async close(): Promise<void> {
    this.ended = true;
    await this.#chunks?.cancel();
  }

  /** {@linkcode StreamLookup.find}: the stream of a line's names. */
  find(
    bytes: Uint8Array,
    exchangeStart: number,
    exchangeEnd: number,
    symbolStart: number,
    symbolEnd: number,
  ): number {
    const last = this.#last;
    if (
      last >= 0 &&
      same(bytes, symbolStart, symbolEnd, this.#symbolBytes[last]) &&
      same(bytes, exchangeStart, exchangeEnd, this.#exchangeBytes[last])
    ) return last;
    for (let i = 0; i < this.origins.length; i++) {
      if (
        same(bytes, symbolStart, symbolEnd, this.#symbolBytes[i]) &&
        same(bytes, exchangeStart, exchangeEnd, this.#exchangeBytes[i])
      ) return this.#last = i;
    }
    const ascii = (start: number, end: number) =>
      String.fromCharCode(...bytes.subarray(start, end));
    return this.#last = this.#stream(
      ascii(exchangeStart, exchangeEnd),
      ascii(symbolStart, symbolEnd),
    );
  }

  /** Opens the file and makes its line parser. */
  async #open(): Promise<RowParser> {
    const { onError, onBadRow, plausibility } = this.#options;
    const named = checkedSymbol(this.path, { onError });
    const chunks = await openByteFile(this.path, {
      onBytesRead: (bytes) => this.bytesRead = bytes,
    });
    this.#chunks = chunks;
    return this.#parser = new RowParser(
      this.path,
      named ?? symbolFromFileName(chunks.entry ?? ""),
      { onError, onBadRow, plausibility, gaps: true },
    );
  }

  /** The file's index of stream (`exchange`, `symbol`), added at its first line. */
  #stream(exchange: string, symbol: string): number {
    const key = exchange + "\n" + symbol;
    let index = this.#keys.get(key);
    if (index === undefined) {
      index = this.origins.length;
      this.#keys.set(key, index);
      this.origins.push({ exchange, symbol });
      this.merged.push(-1);
      const { exchanges, symbols } = this.#options;
      this.#kept.push(
        (exchanges === undefined || exchanges.has(exchange)) &&
          (symbols === undefined || symbols.has(symbol)),
      );
      const encoder = new TextEncoder();
      this.#exchangeBytes.push(encoder.encode(exchange));
      this.#symbolBytes.push(encoder.encode(symbol));
    }
    return index;
  }

  /** Handles the lines of `chunk`, carrying an incomplete last one to the next. */
  #lines(chunk: Uint8Array): void {
    const parser = this.#parser!;
    let start = 0;
    const carry = this.#carry;
    if (carry !== undefined || this.#discarding) {
      const newline = chunk.indexOf(10);
      if (newline < 0) {
        if (carry !== undefined) this.#carryOn(concat(carry, chunk));
        return;
      }
      if (this.#discarding) this.#discarding = false;
      else {
        this.#carry = undefined;
        this.#scan(concat(carry!, chunk.subarray(0, newline + 1)), 0);
      }
      start = newline + 1;
    }
    start = this.#scan(chunk, start);
    if (parser.stop === undefined && start < chunk.length) {
      this.#carryOn(chunk.slice(start));
    }
  }

  /** Keeps `bytes`, the start of a line, for the next chunk; reports it if already too long. */
  #carryOn(bytes: Uint8Array): void {
    if (bytes.length <= MAX_LINE_BYTES) {
      this.#carry = bytes;
      return;
    }
    const parser = this.#parser!;
    this.#carry = undefined;
    this.#discarding = true;
    parser.bad(
      ++parser.line,
      `line longer than ${MAX_LINE_LENGTH} characters`,
    );
  }

  /**
   * Handles the complete lines of `bytes` from `start`: by the fast path
   * when it takes them, else by the line parser. Returns where the
   * incomplete last line starts (or the end), or where a "stop" stopped.
   */
  #scan(bytes: Uint8Array, start: number): number {
    const parser = this.#parser!;
    const block = this.block;
    const limit = bytes.length;
    while (start < limit && parser.stop === undefined && !this.#pastTo) {
      const format = parser.format;
      let newline = -1;
      if (format === "ndjson") {
        newline = fastNdjson(bytes, start, limit, block, this);
      } else if (format === "binance-csv") {
        const csv = parser.csv!;
        if (this.#csvStream < 0) {
          this.#csvStream = this.#stream(csv.exchange, csv.symbol);
        }
        newline = fastCsv(bytes, start, limit, block, csv, this.#csvStream);
      }
      if (newline >= 0 && newline - start <= MAX_LINE_LENGTH) {
        const line = ++parser.line;
        const problem = parser.checksTrades
          ? parser.problem(this.#checked(line))
          : undefined;
        if (problem === undefined) this.#keep(line);
        else parser.bad(line, problem);
        start = newline + 1;
        continue;
      }
      newline = bytes.indexOf(10, start);
      if (newline < 0) break;
      this.#line(bytes, start, newline);
      start = newline + 1;
    }
    return start;
  }

  /** Handles line `bytes[start, end)` (without its `\n`; the parser drops one `\r`) with the line parser. */
  #line(bytes: Uint8Array, start: number, end: number): void {
    const parser = this.#parser!;
    const block = this.block;
    const text = this.#decoder.decode(bytes.subarray(start, end));
    const rows = this.#rows;
    rows.length = 0;
    parser.handle(text, rows);
    if (rows.length === 0) return;
    const row = rows[0];
    const stream = this.#stream(row.exchange, row.symbol);
    if (row.type === "gap") {
      if (this.#kept[stream]) block.gaps.push({ at: block.count, row });
    } else if (row.tsEvent > MAX_I64 || row.tsRecv > MAX_I64) {
      parser.bad(
        row.line,
        `${
          row.tsEvent > MAX_I64 ? "tsEvent" : "tsRecv"
        } is beyond 2^63 - 1 ns (year 2262), what a record holds`,
      );
    } else {
      block.write(row, stream);
      this.#keep(row.line);
    }
  }

  /** The fields of the record just written (of line `line`) that the line parser's checks read. */
  #checked(line: number): CheckedRow {
    const block = this.block;
    const w = block.count * RECORD_WORDS;
    const words = block.words;
    const { exchange, symbol } = this.origins[block.streams[block.count]];
    const u64 = (at: number) =>
      (BigInt(words[w + at + 1]) << 32n) | BigInt(words[w + at]);
    return {
      exchange,
      symbol,
      line,
      tsEvent: u64(2),
      priceFixed: u64(6),
      tradeId: u64(10),
    };
  }

  /** Keeps the record just written (of line `line`) if the filters do; tells a step back in time. */
  #keep(line: number): void {
    const block = this.block;
    const w = block.count * RECORD_WORDS;
    const words = block.words;
    const high = words[w + 3];
    const low = words[w + 2];
    if (!this.#toldOutOfOrder) {
      const at = 2 * block.streams[block.count];
      const previous = this.#previous;
      const previousHigh = previous[at] ?? -1;
      if (
        high < previousHigh ||
        (high === previousHigh && low < previous[at + 1])
      ) {
        this.#toldOutOfOrder = true;
        this.#options.onOutOfOrder?.(line);
      } else {
        previous[at] = high;
        previous[at + 1] = low;
      }
    }
    if (!this.#kept[block.streams[block.count]]) return;
    const from = this.#from;
    const to = this.#to;
    if (
      (from !== undefined &&
        (high < from[0] || (high === from[0] && low < from[1]))) ||
      (to !== undefined && (high > to[0] || (high === to[0] && low >= to[1])))
    ) {
      // Gap lines just before a trade out of the range are out of it too.
      const gaps = block.gaps;
      while (gaps.length > 0 && gaps[gaps.length - 1].at === block.count) {
        gaps.pop();
      }
      this.#inRange = false;
      // A CSV (one symbol) checked for plausibility is sorted: a row before
      // the previous kept one is a bad row. Any other file is read whole.
      if (
        to !== undefined && this.#options.plausibility &&
        this.#parser!.format === "binance-csv" &&
        (high > to[0] || (high === to[0] && low >= to[1]))
      ) this.#pastTo = true;
      return;
    }
    this.#inRange = true;
    block.keep();
  }
}

/** `a` then `b`, in a new array. */
function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

/** Whether `bytes[start, end)` equals `name`. */
function same(
  bytes: Uint8Array,
  start: number,
  end: number,
  name: Uint8Array,
): boolean {
  if (end - start !== name.length) return false;
  for (let i = 0; i < name.length; i++) {
    if (bytes[start + i] !== name[i]) return false;
  }
  return true;
}
