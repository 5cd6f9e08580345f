/**
 * `live --record FILE`: writes every delivered trade to a file that
 * `serve --source replay` (and `readTradeFile` of data_manager/replay) reads
 * back.
 *
 * - `ndjson` (the default) is lossless: one line per trade, exactly as
 *   {@linkcode formatNdjsonTrade} writes it (exchange, symbol, seq, both
 *   times in ns, exact price, size, side, flags, trade id).
 * - `csv` is Binance's public `trades` layout (`id,price,qty,quote_qty,time,
 *   is_buyer_maker,is_best_match`, with a header, time in ms). It has no
 *   column for the symbol, seq, ts_recv or flags, and time is cut to the ms,
 *   so it is lossy and holds one symbol: name the file like
 *   `BTCUSDT-trades-2026-11-26.csv` (or pass the symbol to the reader).
 *   A trade of unknown side has no `is_buyer_maker`: its field is left empty,
 *   so a replay reports that row instead of inventing a side.
 *
 * ```ts ignore
 * const recorder = await TradeRecorder.open("session.ndjson");
 * // in the OnTick callback, once per trade, without awaiting:
 * recorder.record(view, origin);
 * // at the end:
 * recorder.close();
 * ```
 *
 * @module
 */

import { formatPrice } from "../common/fixed_point.ts";
import type { TradeOrigin } from "../common/codec.ts";
import { Side } from "../common/trade.ts";
import type { TradeView } from "../common/trade_view.ts";
import { formatNdjsonTrade } from "../data_manager/replay/trade_file.ts";

/** Formats `live --record` writes. */
export type RecordFormat = "ndjson" | "csv";

/** The formats, in the order the usage lists them. */
export const RECORD_FORMATS: readonly RecordFormat[] = ["ndjson", "csv"];

/** Header line of the CSV format (Binance's `trades` columns). */
export const CSV_HEADER =
  "id,price,qty,quote_qty,time,is_buyer_maker,is_best_match";

/** Options of {@linkcode TradeRecorder.open}. */
export interface TradeRecorderOptions {
  /** `"ndjson"` (default, lossless) or `"csv"` (Binance layout, one symbol). */
  format?: RecordFormat;
  /**
   * The symbols that will be recorded, when known: `csv` refuses more than
   * one, since its rows carry no symbol.
   */
  symbols?: readonly string[];
  /** Buffered characters that trigger a write (default 1 MiB). */
  chunkChars?: number;
  /** Longest time a recorded line waits in the buffer, ms (default 1000; 0 = only by size and at close). */
  flushIntervalMs?: number;
}

/** `--record` cannot write its file: no permission, or the OS refused. */
export class RecordFileError extends Error {
  /** The file. */
  readonly path: string;

  /** Creates the error for `path`. */
  constructor(path: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RecordFileError";
    this.path = path;
  }
}

const NS_PER_MS = 1_000_000n;
const DEFAULT_CHUNK_CHARS = 1 << 20;

/** A size as a plain decimal (no exponent) that parses back to the same number. */
export function plainDecimal(value: number): string {
  const text = String(value);
  const e = text.indexOf("e");
  if (e < 0) return text;
  const exponent = Number(text.slice(e + 1));
  const mantissa = text.slice(0, e);
  const dot = mantissa.indexOf(".");
  const digits = mantissa.replace(".", "").replace("-", "");
  const point = (dot < 0 ? mantissa.length : dot) + exponent;
  if (point <= 0) return `0.${"0".repeat(-point)}${digits}`;
  return digits.padEnd(point, "0");
}

/** One trade as a row of Binance's `trades` CSV (without the newline). */
export function formatCsvTrade(trade: TradeView): string {
  const price = formatPrice(trade.priceFixed);
  const size = trade.size;
  const side = trade.side;
  const maker = side === Side.Sell ? "True" : side === Side.Buy ? "False" : "";
  return `${trade.tradeId},${price},${plainDecimal(size)},${
    plainDecimal(trade.price * size)
  },${trade.tsEvent / NS_PER_MS},${maker},True`;
}

/**
 * Appends trades to a file, one line each, without an `await` per trade.
 *
 * Lines are buffered as one string and written in chunks of about
 * {@linkcode TradeRecorderOptions.chunkChars} with `writeSync`. Why
 * synchronous: {@linkcode record} runs inside the exchange's callback, which
 * cannot await. An async write would have to keep its chunk (and every chunk
 * after it) in memory until the disk catches up, so memory would grow without
 * bound whenever the feed outruns the disk. `writeSync` of a 1 MiB chunk
 * lands in the page cache in well under a millisecond, once per several
 * thousand trades, and when the disk really is slower it holds the consumer
 * back (the ring then reports lag, or laps it) instead of dropping recorded
 * lines or exhausting memory. Nothing is ever dropped; memory stays at about
 * one chunk.
 */
export class TradeRecorder implements Disposable {
  /** The file written. */
  readonly path: string;
  /** The format written. */
  readonly format: RecordFormat;
  #file: Deno.FsFile | undefined;
  #pending = "";
  #lines = 0;
  #bytes = 0;
  #skipped = 0;
  #symbol: string | undefined;
  readonly #chunkChars: number;
  readonly #timer: ReturnType<typeof setInterval> | undefined;
  readonly #encoder = new TextEncoder();

  private constructor(
    path: string,
    file: Deno.FsFile,
    format: RecordFormat,
    chunkChars: number,
    flushIntervalMs: number,
  ) {
    this.path = path;
    this.#file = file;
    this.format = format;
    this.#chunkChars = chunkChars;
    if (format === "csv") this.#pending = `${CSV_HEADER}\n`;
    if (flushIntervalMs > 0) {
      const timer = setInterval(() => this.flush(), flushIntervalMs);
      // Never keeps the process alive by itself.
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  /**
   * Creates (or truncates) `path` for recording.
   *
   * @throws {TypeError} for an unknown format, or `csv` with several symbols.
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
    if (format === "csv" && (options.symbols?.length ?? 0) > 1) {
      throw new TypeError(
        `--record-format csv holds one symbol's trades (Binance's trades layout has no symbol column), ` +
          `but ${options.symbols!.length} are subscribed (${
            options.symbols!.join(", ")
          }): pass --symbols with one symbol, or record ndjson`,
      );
    }
    const chunkChars = options.chunkChars ?? DEFAULT_CHUNK_CHARS;
    if (!(Number.isInteger(chunkChars) && chunkChars > 0)) {
      throw new RangeError(
        `Invalid chunkChars ${chunkChars}: expected a positive integer`,
      );
    }
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, {
        write: true,
        create: true,
        truncate: true,
      });
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) {
        throw new RecordFileError(
          path,
          `--record needs write permission for ${path}: run with --allow-write=${path}`,
          { cause: error },
        );
      }
      throw new RecordFileError(
        path,
        `--record cannot open ${path} for writing: ${
          error instanceof Error ? error.message : error
        }`,
        { cause: error },
      );
    }
    return new TradeRecorder(
      path,
      file,
      format,
      chunkChars,
      options.flushIntervalMs ?? 1000,
    );
  }

  /** Trades recorded (buffered or written). */
  get lines(): number {
    return this.#lines;
  }

  /** Bytes written to the file so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Trades of a second symbol a `csv` recording left out (rows carry no symbol). */
  get skipped(): number {
    return this.#skipped;
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#file === undefined;
  }

  /**
   * Appends the selected record of `trade` (from `origin`). Never awaits;
   * writes synchronously once the buffer holds a chunk.
   *
   * @throws {Error} when called after {@linkcode close}, or when the write fails.
   */
  record(trade: TradeView, origin: TradeOrigin): void {
    if (this.#file === undefined) {
      throw new Error(`TradeRecorder for ${this.path} is closed`);
    }
    if (this.format === "ndjson") {
      this.#pending += `${formatNdjsonTrade(trade.toTrade(origin))}\n`;
    } else {
      if (this.#symbol === undefined) this.#symbol = origin.symbol;
      else if (origin.symbol !== this.#symbol) {
        this.#skipped++;
        return;
      }
      this.#pending += `${formatCsvTrade(trade)}\n`;
    }
    this.#lines++;
    if (this.#pending.length >= this.#chunkChars) this.flush();
  }

  /** Writes whatever is buffered (synchronously). */
  flush(): void {
    const file = this.#file;
    if (file === undefined || this.#pending === "") return;
    const bytes = this.#encoder.encode(this.#pending);
    this.#pending = "";
    let at = 0;
    while (at < bytes.length) at += file.writeSync(bytes.subarray(at));
    this.#bytes += bytes.length;
  }

  /** Flushes and closes the file; later calls do nothing. */
  close(): void {
    const file = this.#file;
    if (file === undefined) return;
    clearInterval(this.#timer);
    try {
      this.flush();
    } finally {
      this.#file = undefined;
      file.close();
    }
  }

  /** Same as {@linkcode close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
