/**
 * Turning a trade file's lines into rows: the options of a read, the format
 * chosen at the first non-blank line, each line parsed and checked, a bad
 * row reported (and, under "stop", the error to throw). Shared by the row
 * readers (trade_file.ts) and the merge's record reader.
 *
 * @module
 */

import { quoteChoices } from "../config/quote.ts";
import { REPLAY_FORMATS, type ReplayFormat } from "../config/types.ts";
import { CsvParser, TIME_UNIT_NAMES, type TimeUnit } from "./_csv.ts";
import { parseNdjson } from "./_ndjson.ts";
import { BadRow, describe, type TradeFileRow } from "./_row.ts";
import { type CheckedRow, PlausibilityCheck } from "./_plausibility.ts";
import { TradeFileReadError } from "./_text_file.ts";

/** Formats `readTradeFile` understands. */
export type TradeFileFormat = Exclude<ReplayFormat, "auto">;

/** What {@linkcode readTradeFile} does with a bad row: skip it, or stop with a {@linkcode TradeFileRowError}. */
export type OnBadRow = "skip" | "stop";

/** Options of {@linkcode readTradeFile}. */
export interface ReadTradeFileOptions {
  /** File format; `"auto"` (the default) looks at the first non-blank line: `{` means NDJSON, else CSV. */
  format?: ReplayFormat;
  /** `"stop"` (the default) throws at the first bad row, `"skip"` goes on. */
  onError?: OnBadRow;
  /** Called for each bad row with its line number and the reason, before skipping or stopping. */
  onBadRow?: (line: number, reason: string) => void;
  /** Symbol of a Binance CSV's trades (default: from the file name). */
  symbol?: string;
  /**
   * Exchange of a Binance CSV's trades (default `"binance"`); when given, an
   * NDJSON row of another exchange is a bad row.
   */
  exchange?: string;
  /** Whether the file is gzipped (default: a `.gz` name or the gzip magic bytes). */
  gzip?: boolean;
  /**
   * Flag implausible rows as bad (see _plausibility.ts: a time before 2000,
   * a day ahead or before the symbol's previous row, a trade id not above
   * it, a price more than ×1.5 away from it). @default false
   */
  plausibility?: boolean;
  /**
   * Decompress a gzipped regular file to its end first, so that a corrupt
   * stream fails before any row is yielded (the gzip checksum is at the
   * end); false when the caller did it ({@linkcode verifyGzip}). @default true
   */
  verifyGzip?: boolean;
  /** Told the unit of a CSV's times once the first plausible row shows it (from its magnitude). */
  onTimeUnit?: (unit: TimeUnit, line: number) => void;
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

const BINANCE_FILE =
  /^([A-Za-z0-9]+)-trades-\d{4}-\d{2}(?:-\d{2})?\.(?:csv(?:\.gz)?|zip)$/;

/** Returns the symbol of a Binance trades file name, or undefined. */
export function symbolFromFileName(path: string): string | undefined {
  const name = path.slice(
    Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1,
  );
  return BINANCE_FILE.exec(name)?.[1].toUpperCase();
}

/** The format of a file whose first non-blank line is `text`. */
export function formatOf(text: string): TradeFileFormat {
  return text.trimStart().startsWith("{") ? "ndjson" : "binance-csv";
}

/**
 * The symbol of a CSV's rows: the `symbol` option, else the file name's
 * (undefined when neither gives one), once `options` are checked.
 *
 * @throws {TypeError} for bad options, or format `"binance-csv"` without a symbol.
 */
export function checkedSymbol(
  path: string,
  options: ReadTradeFileOptions,
): string | undefined {
  const { format = "auto", onError = "stop" } = options;
  if (!(REPLAY_FORMATS as readonly unknown[]).includes(format)) {
    throw new TypeError(
      `Invalid format ${describe(format)}: expected ${
        quoteChoices(REPLAY_FORMATS)
      }`,
    );
  }
  if (onError !== "skip" && onError !== "stop") {
    throw new TypeError(
      `Invalid onError ${describe(onError)}: expected "skip" or "stop"`,
    );
  }
  const named = options.symbol ?? symbolFromFileName(path);
  if (
    format === "binance-csv" && (named === undefined || named === "") &&
    !path.endsWith(".zip") // the name of the file inside may tell it
  ) {
    throw new TypeError(
      `Invalid trade file ${
        describe(path)
      }: expected a symbol option or a name like "BTCUSDT-trades-2024-01-01.csv" for a Binance CSV`,
    );
  }
  return named;
}

/**
 * Makes one file's lines rows, for {@linkcode readTradeBatches}: picks the
 * format at the first non-blank line, then parses and checks each line; a
 * bad row goes to `onBadRow`, and under `"stop"` to {@linkcode stop}.
 */
export class RowParser {
  /** 1-based number of the last line counted. */
  line = 0;
  /** Set at a bad row under "stop": thrown once the rows before it are yielded. */
  stop: TradeFileRowError | undefined;
  readonly #path: string;
  readonly #named: string | undefined;
  readonly #options: ReadTradeFileOptions;
  readonly #format: ReplayFormat;
  readonly #onError: OnBadRow;
  readonly #onBadRow: ((line: number, reason: string) => void) | undefined;
  readonly #plausibility: PlausibilityCheck | undefined;
  readonly #expectedExchange: string | undefined;
  readonly #gaps: boolean;
  #parse: ((text: string, line: number) => TradeFileRow) | undefined;
  #csv: CsvParser | undefined;

  /**
   * For `path`, whose CSV rows get symbol `named`, read with checked
   * `options`; gap lines are added to the rows only if `gaps`.
   */
  constructor(
    path: string,
    named: string | undefined,
    options: ReadTradeFileOptions & { gaps: boolean },
  ) {
    this.#path = path;
    this.#named = named;
    this.#options = options;
    this.#format = options.format ?? "auto";
    this.#onError = options.onError ?? "stop";
    this.#onBadRow = options.onBadRow;
    this.#plausibility = options.plausibility
      ? new PlausibilityCheck()
      : undefined;
    this.#expectedExchange = options.exchange;
    this.#gaps = options.gaps;
  }

  /**
   * Counts line `text` (without its `\n`) and adds its row to `rows`, unless
   * blank, a header, bad (longer than {@linkcode MAX_LINE_LENGTH} too), or a
   * gap line not asked for.
   */
  handle(text: string, rows: TradeFileRow[]): void {
    const line = ++this.line;
    if (text.endsWith("\r")) text = text.slice(0, -1);
    if (text.length > MAX_LINE_LENGTH) {
      // Read whole when it ended in the chunk that took it past the limit.
      this.bad(line, `line longer than ${MAX_LINE_LENGTH} characters`);
      return;
    }
    if (text.trim() === "") return;
    if (this.#parse === undefined) {
      this.#choose(text, line);
      if (this.#csv?.isHeader(text)) return;
    }
    let row: TradeFileRow;
    try {
      row = this.#parse!(text, line);
    } catch (error) {
      if (!(error instanceof BadRow)) throw error;
      this.bad(line, error.reason);
      return;
    }
    const problem = this.problem(row);
    if (problem !== undefined) this.bad(line, problem);
    else if (row.type === undefined || this.#gaps) rows.push(row);
  }

  /** The format chosen at the first non-blank line (undefined before it). */
  get format(): TradeFileFormat | undefined {
    if (this.#parse === undefined) return undefined;
    return this.#csv === undefined ? "ndjson" : "binance-csv";
  }

  /** The CSV parser, once the file turned out to be a CSV. */
  get csv(): CsvParser | undefined {
    return this.#csv;
  }

  /** Reports bad row `line`; under "stop", sets {@linkcode stop}. */
  bad(line: number, reason: string): void {
    this.#onBadRow?.(line, reason);
    if (this.#onError === "stop") {
      this.stop = new TradeFileRowError(this.#path, line, reason);
    }
  }

  /** Picks the parser for the format of `text`, the first non-blank line. */
  #choose(text: string, line: number): void {
    const format = this.#format;
    if ((format === "auto" ? formatOf(text) : format) === "ndjson") {
      this.#parse = parseNdjson;
      return;
    }
    const named = this.#named;
    if (named === undefined || named === "") {
      throw new TradeFileReadError(
        this.#path,
        `line ${line} is a Binance CSV row, and its symbol is unknown: expected a symbol option or a name like "BTCUSDT-trades-2024-01-01.csv"`,
      );
    }
    const options = this.#options;
    const csv = new CsvParser(
      options.exchange ?? "binance",
      named.toUpperCase(),
      {
        onTimeUnit: options.onTimeUnit,
        maxNs: this.#plausibility?.maxNs,
      },
    );
    this.#csv = csv;
    this.#parse = csv.parse.bind(csv);
  }

  /** Whether {@linkcode problem} can reject a trade (plausibility, or an exchange to match): else a caller may skip it. */
  get checksTrades(): boolean {
    return this.#plausibility !== undefined ||
      (this.#csv === undefined && this.#expectedExchange !== undefined);
  }

  /**
   * Why a parsed row is not to be used, or undefined: the checks after the
   * grammar, on a row of this parser or a record the merge's fast path read
   * (a trade: its fields as {@linkcode CheckedRow}).
   */
  problem(row: TradeFileRow | CheckedRow): string | undefined {
    const csv = this.#csv;
    const expectedExchange = this.#expectedExchange;
    if (csv === undefined && expectedExchange !== undefined) {
      if (row.exchange !== expectedExchange) {
        return `exchange ${describe(row.exchange)} is not the configured ${
          describe(expectedExchange)
        }`;
      }
    }
    if ("type" in row && row.type === "gap") return undefined;
    const problem = this.#plausibility?.check(row as CheckedRow);
    if (problem === undefined || csv?.unit === undefined) return problem;
    return problem.startsWith("implausible time")
      ? `${problem} (this file's times are in ${TIME_UNIT_NAMES[csv.unit]})`
      : problem;
  }
}
