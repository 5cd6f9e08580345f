/**
 * Streaming reader of recorded trade files: Binance's public `trades` CSV
 * files and the project's own NDJSON export, plain or gzipped. Memory stays
 * constant however large the file: it is read in chunks, never whole.
 *
 * ```ts ignore
 * for await (const row of readTradeFile("BTCUSDT-trades-2024-01-01.csv.gz")) {
 *   console.log(row.line, row.symbol, row.priceFixed, row.size, row.side);
 * }
 * ```
 *
 * ## Binance `trades` CSV
 *
 * Columns `id, price, qty, quote_qty, time, is_buyer_maker, is_best_match`
 * (the last may be absent, as in the futures files), with or without a
 * header line. `time` is in milliseconds, or in microseconds (Binance's files
 * since 2025): a time above 10^14 is taken as µs. `is_buyer_maker` true means
 * the seller was the aggressor, so the side is {@linkcode Side.Sell}.
 * `quote_qty` is not read. The symbol is the `symbol` option, else the file
 * name's prefix (`BTCUSDT-trades-2024-01-01.csv`, `.csv.gz`, or monthly
 * `BTCUSDT-trades-2024-01.csv`). Rows get seq 0, flags 0 and
 * `tsRecv` = `tsEvent`.
 *
 * ## NDJSON export (schema v1)
 *
 * One JSON object per line (`\n` or `\r\n`; blank lines are ignored), as
 * {@linkcode formatNdjsonTrade} writes it:
 *
 * ```json
 * {"exchange":"binance","symbol":"BTCUSDT","seq":7,"tsEvent":"1704067200123000000","tsRecv":"1704067200125000000","price":"42283.58","size":"0.0012","side":"sell","flags":0,"tradeId":"3355546431"}
 * ```
 *
 * | key | type | meaning |
 * |---|---|---|
 * | `exchange` | string, non-empty | exchange name, lower case |
 * | `symbol` | string, non-empty | symbol, upper case |
 * | `seq` | integer 0..2^32−1, optional (0) | publisher sequence |
 * | `tsEvent` | string of decimal digits | exchange trade time, ns since the epoch (u64) |
 * | `tsRecv` | string of decimal digits, optional (= `tsEvent`) | receive time, ns since the epoch (u64) |
 * | `price` | string, plain decimal > 0, ≤ 9 decimals | exact price |
 * | `size` | string, plain decimal > 0 | quantity (its shortest round-trip decimal) |
 * | `side` | `"buy"`, `"sell"` or `"unknown"` | aggressor side |
 * | `flags` | integer 0..65535, optional (0) | {@linkcode TradeFlags} bits as recorded |
 * | `tradeId` | string of decimal digits | exchange trade id (u64) |
 *
 * Numbers that need 64 bits are strings so that no JSON reader rounds them.
 * Other keys are ignored, so later versions may add some.
 *
 * @module
 */

import {
  formatPrice,
  parsePrice,
  parseSize,
} from "../../common/fixed_point.ts";
import { Side, type Trade, type TradeRecord } from "../../common/trade.ts";
import { plainDecimal } from "../../common/format.ts";

/** Formats {@linkcode readTradeFile} understands. */
export type TradeFileFormat = "binance-csv" | "ndjson";

/** What {@linkcode readTradeFile} does with a bad row: skip it, or stop with a {@linkcode TradeFileRowError}. */
export type OnBadRow = "skip" | "stop";

/** One trade read from a file: the record's fields plus its origin and line. */
export interface ReplayRow extends TradeRecord {
  /** Exchange name, lower case. */
  exchange: string;
  /** Symbol, upper case. */
  symbol: string;
  /** 1-based line number in the (decompressed) file. */
  line: number;
}

/** Options of {@linkcode readTradeFile}. */
export interface ReadTradeFileOptions {
  /** File format; `"auto"` (the default) looks at the first non-blank line: `{` means NDJSON, else CSV. */
  format?: "auto" | TradeFileFormat;
  /** `"stop"` (the default) throws at the first bad row, `"skip"` goes on. */
  onError?: OnBadRow;
  /** Called for each bad row with its line number and the reason, before skipping or stopping. */
  onBadRow?: (line: number, reason: string) => void;
  /** Symbol of a Binance CSV's trades (default: from the file name). */
  symbol?: string;
  /** Exchange of a Binance CSV's trades (default `"binance"`). */
  exchange?: string;
  /** Whether the file is gzipped (default: a `.gz` name or the gzip magic bytes). */
  gzip?: boolean;
  /** Told how many bytes of the file (compressed, if gzipped) were read so far, for progress. */
  onBytesRead?: (bytes: number) => void;
}

/** A bad row in a trade file, when `onError` is `"stop"`. */
export class TradeFileRowError extends Error {
  /** The file read. */
  readonly path: string;
  /** 1-based line number of the bad row. */
  readonly line: number;
  /** Why the row was rejected. */
  readonly reason: string;

  /** Creates the error for row `line` of `path`. */
  constructor(path: string, line: number, reason: string) {
    super(`Invalid trade at ${path}:${line}: ${reason}`);
    this.name = "TradeFileRowError";
    this.path = path;
    this.line = line;
    this.reason = reason;
  }
}

/** The longest line accepted, in UTF-16 code units; longer ones are bad rows. */
export const MAX_LINE_LENGTH = 65536;

const MAX_U64 = (1n << 64n) - 1n;
const MAX_U32 = 0xffff_ffff;
const DIGITS = /^\d+$/;
// Millisecond times stay below this until the year 5138; µs times are above.
const MICROS_THRESHOLD = 100_000_000_000_000n;
const NS_PER_MS = 1_000_000n;
const NS_PER_US = 1_000n;
const BINANCE_FILE =
  /^([A-Za-z0-9]+)-trades-\d{4}-\d{2}(?:-\d{2})?\.csv(?:\.gz)?$/;
const SIDE_NAMES = ["unknown", "buy", "sell"] as const;

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  return typeof value === "bigint" ? `${value}n` : String(value);
}

/** A row rejected by a parser; the reader adds the line number. */
class BadRow {
  constructor(readonly reason: string) {}
}

function parseU64(text: string, name: string): bigint {
  if (!DIGITS.test(text)) {
    throw new BadRow(
      `invalid ${name} ${describe(text)}: expected decimal digits`,
    );
  }
  const value = BigInt(text);
  if (value > MAX_U64) {
    throw new BadRow(
      `invalid ${name} ${describe(text)}: expected at most 2^64 - 1`,
    );
  }
  return value;
}

function fieldError(error: unknown): BadRow {
  if (error instanceof BadRow) return error;
  const message = error instanceof Error ? error.message : String(error);
  // "Invalid price ..." from fixed_point reads as a reason once lower-cased.
  return new BadRow(message.charAt(0).toLowerCase() + message.slice(1));
}

/** Parses Binance CSV rows, caching repeated price and time strings. */
class CsvParser {
  readonly #exchange: string;
  readonly #symbol: string;
  #priceText = "";
  #priceFixed = 0n;
  #timeText = "";
  #tsEvent = 0n;

  constructor(exchange: string, symbol: string) {
    this.#exchange = exchange;
    this.#symbol = symbol;
  }

  /** Whether `text`, the file's first line, is a header. */
  isHeader(text: string): boolean {
    const first = text.slice(0, text.indexOf(",") >>> 0).trim().toLowerCase();
    return first === "id" || first === "trade_id";
  }

  parse(text: string, line: number): ReplayRow {
    const fields = text.split(",");
    if (fields.length !== 7 && fields.length !== 6) {
      throw new BadRow(
        `${fields.length} fields found, expected 6 or 7 (id, price, qty, quote_qty, time, is_buyer_maker[, is_best_match])`,
      );
    }
    const tradeId = parseU64(fields[0], "trade id");
    let priceFixed = this.#priceFixed;
    if (fields[1] !== this.#priceText) {
      try {
        priceFixed = parsePrice(fields[1]);
      } catch (error) {
        throw fieldError(error);
      }
      this.#priceText = fields[1];
      this.#priceFixed = priceFixed;
    }
    let size: number;
    try {
      size = parseSize(fields[2]);
    } catch (error) {
      throw fieldError(error);
    }
    let tsEvent = this.#tsEvent;
    if (fields[4] !== this.#timeText) {
      const time = parseU64(fields[4], "time");
      if (time === 0n) {
        throw new BadRow(
          `invalid time "0": expected ms or µs since the epoch`,
        );
      }
      tsEvent = time * (time > MICROS_THRESHOLD ? NS_PER_US : NS_PER_MS);
      if (tsEvent > MAX_U64) {
        throw new BadRow(
          `invalid time ${describe(fields[4])}: beyond the u64 ns range`,
        );
      }
      this.#timeText = fields[4];
      this.#tsEvent = tsEvent;
    }
    const maker = fields[5];
    let side: Side;
    if (maker === "True" || maker === "true") side = Side.Sell;
    else if (maker === "False" || maker === "false") side = Side.Buy;
    else {
      throw new BadRow(
        `invalid is_buyer_maker ${describe(maker)}: expected True or False`,
      );
    }
    return {
      exchange: this.#exchange,
      symbol: this.#symbol,
      line,
      side,
      flags: 0,
      seq: 0,
      tsEvent,
      tsRecv: tsEvent,
      priceFixed,
      size,
      tradeId,
    };
  }
}

function nonEmptyString(object: Record<string, unknown>, key: string): string {
  const value = object[key];
  if (typeof value !== "string" || value === "") {
    throw new BadRow(
      `invalid ${key} ${describe(value)}: expected a non-empty string`,
    );
  }
  return value;
}

function u64String(object: Record<string, unknown>, key: string): bigint {
  const value = object[key];
  if (typeof value !== "string") {
    throw new BadRow(
      `invalid ${key} ${describe(value)}: expected a string of decimal digits`,
    );
  }
  return parseU64(value, key);
}

function integerIn(
  object: Record<string, unknown>,
  key: string,
  max: number,
): number {
  const value = object[key];
  if (value === undefined) return 0;
  if (
    !Number.isInteger(value) || (value as number) < 0 || value as number > max
  ) {
    throw new BadRow(
      `invalid ${key} ${describe(value)}: expected an integer from 0 to ${max}`,
    );
  }
  return value as number;
}

function parseNdjson(text: string, line: number): ReplayRow {
  let object: unknown;
  try {
    object = JSON.parse(text);
  } catch (error) {
    throw new BadRow(
      `not JSON (${error instanceof Error ? error.message : error})`,
    );
  }
  if (typeof object !== "object" || object === null || Array.isArray(object)) {
    throw new BadRow(`${describe(text.slice(0, 40))} is not a JSON object`);
  }
  const fields = object as Record<string, unknown>;
  const exchange = nonEmptyString(fields, "exchange");
  const symbol = nonEmptyString(fields, "symbol");
  const tsEvent = u64String(fields, "tsEvent");
  const tsRecv = fields.tsRecv === undefined
    ? tsEvent
    : u64String(fields, "tsRecv");
  let priceFixed: bigint;
  let size: number;
  try {
    priceFixed = parsePrice(fields.price as string);
    size = parseSize(fields.size as string);
  } catch (error) {
    throw fieldError(error);
  }
  const side = SIDE_NAMES.indexOf(fields.side as typeof SIDE_NAMES[number]);
  if (side < 0) {
    throw new BadRow(
      `invalid side ${
        describe(fields.side)
      }: expected "buy", "sell" or "unknown"`,
    );
  }
  return {
    exchange,
    symbol,
    line,
    side: side as Side,
    flags: integerIn(fields, "flags", 0xffff),
    seq: integerIn(fields, "seq", MAX_U32),
    tsEvent,
    tsRecv,
    priceFixed,
    size,
    tradeId: u64String(fields, "tradeId"),
  };
}

/**
 * Formats a trade as one line of the NDJSON export (without the newline), as
 * the module doc describes; {@linkcode readTradeFile} reads it back exactly.
 */
export function formatNdjsonTrade(trade: Trade): string {
  return JSON.stringify({
    exchange: trade.exchange,
    symbol: trade.symbol,
    seq: trade.seq,
    tsEvent: trade.tsEvent.toString(),
    tsRecv: trade.tsRecv.toString(),
    price: formatPrice(trade.priceFixed),
    size: plainDecimal(trade.size),
    side: SIDE_NAMES[trade.side] ?? "unknown",
    flags: trade.flags,
    tradeId: trade.tradeId.toString(),
  });
}

/** Returns the symbol of a Binance trades file name, or undefined. */
export function symbolFromFileName(path: string): string | undefined {
  const name = path.slice(
    Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1,
  );
  return BINANCE_FILE.exec(name)?.[1].toUpperCase();
}

async function isGzipped(file: Deno.FsFile): Promise<boolean> {
  const magic = new Uint8Array(2);
  let read = 0;
  while (read < 2) {
    const count = await file.read(magic.subarray(read));
    if (count === null) break;
    read += count;
  }
  await file.seek(0, Deno.SeekMode.Start);
  return read === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
}

/**
 * Reads the trades of a file as batches, one array per decoded chunk (a few
 * thousand rows): the same rows as {@linkcode readTradeFile}, with one
 * `await` per batch instead of per row, for hot paths.
 *
 * @throws {TradeFileRowError} at a bad row when `onError` is `"stop"`.
 * @throws {TypeError} when the symbol of a CSV file is neither given nor in its name.
 */
export async function* readTradeBatches(
  path: string,
  options: ReadTradeFileOptions = {},
): AsyncGenerator<ReplayRow[], void, undefined> {
  const { format = "auto", onError = "stop", onBadRow } = options;
  if (format !== "auto" && format !== "binance-csv" && format !== "ndjson") {
    throw new TypeError(
      `Invalid format ${
        describe(format)
      }: expected "auto", "binance-csv" or "ndjson"`,
    );
  }
  if (onError !== "skip" && onError !== "stop") {
    throw new TypeError(
      `Invalid onError ${describe(onError)}: expected "skip" or "stop"`,
    );
  }
  const file = await Deno.open(path);
  let reader: ReadableStreamDefaultReader<string>;
  try {
    const gzip = options.gzip ??
      (path.endsWith(".gz") || await isGzipped(file));
    let bytes: ReadableStream<Uint8Array<ArrayBuffer>> = file.readable;
    const onBytesRead = options.onBytesRead;
    if (onBytesRead) {
      let read = 0;
      bytes = bytes.pipeThrough(
        new TransformStream({
          transform(chunk, controller) {
            read += chunk.byteLength;
            onBytesRead(read);
            controller.enqueue(chunk);
          },
        }),
      );
    }
    if (gzip) bytes = bytes.pipeThrough(new DecompressionStream("gzip"));
    reader = bytes.pipeThrough(new TextDecoderStream()).getReader();
  } catch (error) {
    file.close();
    throw error;
  }
  let parse: ((text: string, line: number) => ReplayRow) | undefined;
  let csv: CsvParser | undefined;
  const choose = (text: string) => {
    const ndjson = format === "ndjson" ||
      (format === "auto" && text.trimStart().startsWith("{"));
    if (ndjson) {
      parse = parseNdjson;
      return;
    }
    const symbol = options.symbol ?? symbolFromFileName(path);
    if (symbol === undefined || symbol === "") {
      throw new TypeError(
        `Invalid trade file ${
          describe(path)
        }: expected a symbol option or a name like "BTCUSDT-trades-2024-01-01.csv" for a Binance CSV`,
      );
    }
    csv = new CsvParser(options.exchange ?? "binance", symbol.toUpperCase());
    parse = csv.parse.bind(csv);
  };
  // Set at a bad row under "stop": thrown once the rows before it are yielded.
  let stop: TradeFileRowError | undefined;
  const bad = (line: number, reason: string) => {
    onBadRow?.(line, reason);
    if (onError === "stop") stop = new TradeFileRowError(path, line, reason);
  };
  let line = 0;
  let carry = "";
  let discarding = false; // inside an over-long line
  const handle = (text: string, rows: ReplayRow[]) => {
    line++;
    if (text.endsWith("\r")) text = text.slice(0, -1);
    if (text.trim() === "") return;
    if (parse === undefined) {
      choose(text);
      if (csv?.isHeader(text)) return;
    }
    try {
      rows.push(parse!(text, line));
    } catch (error) {
      if (!(error instanceof BadRow)) throw error;
      bad(line, error.reason);
    }
  };
  try {
    while (true) {
      let result: ReadableStreamReadResult<string>;
      try {
        result = await reader.read();
      } catch (error) {
        throw new Error(
          `Cannot read trade file ${describe(path)} after line ${line}: ${
            error instanceof Error ? error.message : error
          }`,
          { cause: error },
        );
      }
      if (result.done) break;
      const chunk = result.value;
      const rows: ReplayRow[] = [];
      let start = 0;
      for (
        let end = chunk.indexOf("\n");
        end >= 0 && stop === undefined;
        start = end + 1, end = chunk.indexOf("\n", start)
      ) {
        if (discarding) {
          discarding = false;
          carry = "";
          continue;
        }
        const text = carry === ""
          ? chunk.slice(start, end)
          : carry + chunk.slice(start, end);
        carry = "";
        handle(text, rows);
      }
      if (stop === undefined && !discarding) {
        carry += chunk.slice(start);
        if (carry.length > MAX_LINE_LENGTH) {
          line++;
          carry = "";
          discarding = true;
          bad(line, `line longer than ${MAX_LINE_LENGTH} characters`);
        }
      }
      if (rows.length > 0) yield rows;
      if (stop !== undefined) throw stop;
    }
    if (carry !== "" && !discarding) {
      const rows: ReplayRow[] = [];
      handle(carry, rows);
      if (rows.length > 0) yield rows;
      if (stop !== undefined) throw stop;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/**
 * Reads the trades of a Binance `trades` CSV or NDJSON export file, plain or
 * gzipped, as a stream of rows in file order, in constant memory.
 *
 * @throws {TradeFileRowError} at a bad row when `onError` is `"stop"`.
 * @throws {TypeError} when the symbol of a CSV file is neither given nor in its name.
 */
export async function* readTradeFile(
  path: string,
  options: ReadTradeFileOptions = {},
): AsyncGenerator<ReplayRow, void, undefined> {
  for await (const rows of readTradeBatches(path, options)) yield* rows;
}
