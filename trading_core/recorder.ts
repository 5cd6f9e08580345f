/**
 * `live --record FILE`: writes every delivered trade to a file that
 * `serve --source replay` (and `readTradeFile` of data_manager/replay) reads
 * back.
 *
 * - `ndjson` (the default) is lossless: one line per trade, exactly as
 *   {@linkcode formatNdjsonTrade} writes it (exchange, symbol, seq, both
 *   times in ns, exact price, size, side, flags, trade id), and one gap line
 *   ({@linkcode formatNdjsonGap}) where the consumer lost trades, in order
 *   with them ({@linkcode TradeRecorder.gap}); a replay reads both back.
 * - `csv` is Binance's public `trades` layout (`id,price,qty,quote_qty,time,
 *   is_buyer_maker,is_best_match`, with a header, time in ms), as
 *   {@linkcode formatCsvTrade} writes it. It has no
 *   column for the exchange, symbol, seq, ts_recv or flags, and time is cut
 *   to the ms, so it is lossy and holds one (exchange, symbol) stream: the
 *   first one recorded; trades of any other are left out and counted
 *   ({@linkcode TradeRecorder.skipped}). Name the file like
 *   `BTCUSDT-trades-2026-11-26.csv` (or pass the symbol to the reader).
 *   A trade of unknown side has no `is_buyer_maker`: its field is left empty,
 *   which the replay reads back as an unknown side rather than inventing one.
 *   It has no room for gaps either: they are counted
 *   ({@linkcode TradeRecorder.gapsLeftOut}) and said once, at the first.
 *
 * Both formats are read and written in common/trade_file; this module opens
 * the file, picks the format and writes the lines.
 *
 * ```ts ignore
 * const recorder = await TradeRecorder.open("session.ndjson");
 * // in the OnTick callback, once per trade, without awaiting:
 * recorder.record(view, origin);
 * // in the OnGap callback, in order with the trades:
 * recorder.gap(gap);
 * // at the end:
 * recorder.close();
 * ```
 *
 * @module
 */

import type { TradeOrigin } from "../common/wire/codec.ts";
import type { TradeView } from "../common/wire/trade_view.ts";
import type { TradeGap } from "../common/transport/feed.ts";
import {
  CSV_HEADER,
  formatCsvTrade,
  formatNdjsonGap,
  formatNdjsonTrade,
} from "../common/trade_file/trade_file.ts";
import {
  LineFile,
  LineWriter,
  type LineWriterOptions,
  ndjsonWithFields,
  type OutputFileOptions,
  RecordFileError,
  RecordFileExistsError,
} from "./_line_file.ts";

export { type OutputFileOptions, RecordFileError, RecordFileExistsError };

/** Formats `live --record` writes. */
export type RecordFormat = "ndjson" | "csv";

/** The formats, in the order the usage lists them. */
export const RECORD_FORMATS: readonly RecordFormat[] = ["ndjson", "csv"];

/** Options of {@linkcode TradeRecorder.open}. */
export interface TradeRecorderOptions extends LineWriterOptions {
  /** `"ndjson"` (default, lossless) or `"csv"` (Binance layout, one (exchange, symbol)). */
  format?: RecordFormat;
  /**
   * What the subscription selects, when known: `exchange` undefined = every
   * exchange, `symbols` empty = every symbol. `csv` needs exactly one
   * exchange and one symbol, since its rows carry neither; without this,
   * `csv` holds the first (exchange, symbol) it meets and counts the rest in
   * {@linkcode TradeRecorder.skipped}.
   */
  selection?: { exchange: string | undefined; symbols: readonly string[] };
}

const NOT_A_TRADE = ndjsonWithFields("a recorded trade", [
  "exchange",
  "symbol",
  "seq",
  "tsEvent",
  "price",
  "tradeId",
]);
const NOT_A_GAP = ndjsonWithFields("a recorded gap", [
  "type",
  "exchange",
  "symbol",
  "cause",
  "count",
]);

/** What the first line of an `ndjson` recording appended to must be: a trade, or a gap line. */
function notRecorded(line: string): string | undefined {
  return NOT_A_GAP(line) === undefined ? undefined : NOT_A_TRADE(line);
}

/**
 * Appends trades to a file, one line each, without an `await` per trade:
 * buffered, synchronous chunked writes (see {@linkcode LineFile} for why).
 */
export class TradeRecorder extends LineWriter {
  /** The format written. */
  readonly format: RecordFormat;
  readonly #file: LineFile;
  readonly #onNotice: ((message: string) => void) | undefined;
  #skipped = 0;
  #gaps = 0;
  #gapsLeftOut = 0;
  #stream: TradeOrigin | undefined;

  private constructor(
    file: LineFile,
    format: RecordFormat,
    onNotice: ((message: string) => void) | undefined,
  ) {
    super(file);
    this.#file = file;
    this.format = format;
    this.#onNotice = onNotice;
  }

  /**
   * Creates `path` for recording, or takes the existing file as
   * {@linkcode OutputFileOptions.onExisting} says (a `csv` file appended to
   * must start with {@linkcode CSV_HEADER}, an `ndjson` one with a trade).
   *
   * @throws {TypeError} for an unknown format, or `csv` for a selection of several streams.
   * @throws {RangeError} for a bad `chunkChars`.
   * @throws {RecordFileExistsError} when the file exists and is not empty,
   * unless it is to be overwritten, or appended to and holds this format.
   * @throws {RecordFileError} when the file cannot be opened for writing
   * (the message says which `--allow-write` is missing).
   */
  static async open(
    path: string,
    options: TradeRecorderOptions = {},
  ): Promise<TradeRecorder> {
    const format = options.format ?? "ndjson";
    if (!RECORD_FORMATS.includes(format)) {
      throw new TypeError(
        `Invalid record format ${
          JSON.stringify(format)
        }: expected "ndjson" or "csv"`,
      );
    }
    const selection = options.selection;
    if (format === "csv" && selection !== undefined) {
      const { exchange, symbols } = selection;
      const several = [
        ...(exchange === undefined ? ["every exchange"] : []),
        ...(symbols.length === 0
          ? ["every symbol"]
          : symbols.length > 1
          ? [`${symbols.length} symbols (${symbols.join(", ")})`]
          : []),
      ];
      if (several.length > 0) {
        throw new TypeError(
          `--record-format csv holds one (exchange, symbol)'s trades (Binance's trades layout has neither column), ` +
            `but the subscription reads ${
              several.join(" and ")
            }: pass one --exchange and one --symbols, or record ndjson`,
        );
      }
    }
    const file = await LineFile.open(path, {
      flag: "--record",
      onExisting: options.onExisting,
      onError: options.onError,
      onNotice: options.onNotice,
      header: format === "csv" ? CSV_HEADER : undefined,
      checkFirstLine: format === "ndjson" ? notRecorded : undefined,
      chunkChars: options.chunkChars,
      flushIntervalMs: options.flushIntervalMs,
    });
    return new TradeRecorder(file, format, options.onNotice);
  }

  /** Lines (trades, gap lines) delivered but not in the file because a write failed (see {@linkcode error}). */
  get unrecorded(): number {
    return this.#file.dropped;
  }

  /** Trades of other (exchange, symbol) streams a `csv` recording left out (rows carry neither). */
  get skipped(): number {
    return this.#skipped;
  }

  /**
   * Gap lines an `ndjson` recording took before any write failed (those of
   * the chunk whose write failed are also in {@linkcode unrecorded}).
   */
  get gaps(): number {
    return this.#gaps;
  }

  /**
   * Gaps a `csv` recording could not hold (the layout has no room for them):
   * those of its stream, and those met before its first trade.
   */
  get gapsLeftOut(): number {
    return this.#gapsLeftOut;
  }

  /** The (exchange, symbol) a `csv` recording holds: its first trade's; undefined before it, and for `ndjson`. */
  get stream(): Readonly<TradeOrigin> | undefined {
    return this.#stream;
  }

  /**
   * Appends the selected record of `trade` (from `origin`). Never awaits;
   * writes synchronously once the buffer holds a chunk. After a failed write
   * it only counts the trade in {@linkcode unrecorded}.
   *
   * @throws {Error} when called after {@linkcode close}.
   */
  record(trade: TradeView, origin: TradeOrigin): void {
    if (this.#file.closed) {
      throw new Error(`TradeRecorder for ${this.path} is closed`);
    }
    if (this.format === "ndjson") {
      this.#file.writeLine(formatNdjsonTrade(trade.toTrade(origin)));
    } else {
      const stream = this.#stream;
      if (stream === undefined) {
        this.#stream = { exchange: origin.exchange, symbol: origin.symbol };
      } else if (
        origin.symbol !== stream.symbol || origin.exchange !== stream.exchange
      ) {
        this.#skipped++;
        return;
      }
      this.#file.writeLine(formatCsvTrade(trade));
    }
  }

  /**
   * Records that `gap`'s trades are missing, in order with the trades: one
   * gap line in an `ndjson` recording. A `csv` recording has no room for it:
   * it counts it in {@linkcode gapsLeftOut} (unless it is of another stream
   * than the one recorded) and says so through `onNotice` at the first.
   *
   * @throws {Error} when called after {@linkcode close}.
   */
  gap(gap: TradeGap): void {
    if (this.#file.closed) {
      throw new Error(`TradeRecorder for ${this.path} is closed`);
    }
    if (this.format === "ndjson") {
      // After a failed write, lines are only counted as unrecorded.
      if (this.#file.error === undefined) this.#gaps++;
      this.#file.writeLine(formatNdjsonGap(gap));
      return;
    }
    const stream = this.#stream;
    if (
      stream !== undefined &&
      (gap.symbol !== stream.symbol || gap.exchange !== stream.exchange)
    ) return;
    if (++this.#gapsLeftOut > 1) return;
    const count = gap.count === null ? "an unknown number of" : gap.count;
    this.#onNotice?.(
      `--record ${this.path}: ${count} ${gap.exchange} ${gap.symbol} trades are missing (${gap.cause}), and the csv recording has no room to say so: gaps are left out of it, counted and reported at the end (record ndjson to keep them)`,
    );
  }

  /** Writes whatever is buffered (synchronously); a failure goes to `onError`. */
  flush(): void {
    this.#file.flush();
  }
}
