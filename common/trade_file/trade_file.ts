/**
 * Streaming reader of recorded trade files: Binance's public `trades` CSV
 * files and the project's own NDJSON export, plain, gzipped, or the one file
 * of a `.zip` archive as Binance publishes them (_zip.ts). Memory stays
 * constant however large the file: it is read in chunks, never whole. The
 * line formatters of both formats are here too, for what records them.
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
 * header line. `time`'s unit is detected once per file from the magnitude
 * of the first row's (below 10^11 seconds, below 10^14 milliseconds, below
 * 10^17 microseconds — Binance's files since 2025 — else nanoseconds) and
 * applies to every row ({@linkcode ReadTradeFileOptions.onTimeUnit} is told).
 * `is_buyer_maker` true means the seller was the aggressor, so the side is
 * {@linkcode Side.Sell}. Rows are read strictly: numbers are plain decimals
 * without sign, exponent or leading zero, booleans `True`/`False`, and
 * `quote_qty` must equal price × qty (within 2·10^-8 plus 10^-10 of it)
 * unless a header names that column otherwise (`base_qty`), so a flipped
 * digit in price or qty is a bad row. The symbol is the `symbol` option, else the file
 * name's prefix (`BTCUSDT-trades-2024-01-01.csv`, `.csv.gz`, `.zip`, or
 * monthly `BTCUSDT-trades-2024-01.csv`), else that of the file inside a zip. Rows get seq 0, flags 0 and
 * `tsRecv` = `tsEvent`. {@linkcode formatCsvTrade} writes one row (under
 * {@linkcode CSV_HEADER}; an empty `is_buyer_maker` for an unknown side,
 * which reads back as {@linkcode Side.Unknown}).
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
 * Other keys are ignored, so later versions may add some; a `type` key, when
 * present, must be `"trade"` or `"gap"` (any other is a bad row).
 *
 * A **gap line** (`"type":"gap"`, as {@linkcode formatNdjsonGap} writes it)
 * says that trades of one stream are missing at that point of a recording:
 * `live --record` writes one where its consumer lost trades (a lapped ring
 * reader, an eviction, a NATS gap, a reconnect), in order with the trades.
 *
 * ```json
 * {"type":"gap","exchange":"binance","symbol":"BTCUSDT","cause":"overwritten","firstSeq":8,"lastSeq":1031,"count":1024}
 * ```
 *
 * | key | type | meaning |
 * |---|---|---|
 * | `type` | `"gap"` | marks a gap line |
 * | `exchange`, `symbol` | string, non-empty | the stream missing trades |
 * | `cause` | string, non-empty | why (a `GapCause`: `"overwritten"`, `"evicted"`, `"producer restart"`, `"reconnect"`, …) |
 * | `firstSeq`, `lastSeq` | integer 0..2^32−1, or null | `seq` of the first and last missing trade, null when unknown |
 * | `count` | integer ≥ 1, or null | how many are missing, null when unknown |
 *
 * {@linkcode readRowBatches} yields gap lines as {@linkcode GapRow}s;
 * {@linkcode readTradeFile} and {@linkcode readTradeBatches} read only the
 * trades (a gap line is checked, then left out).
 *
 * @module
 */

import type { ReplayRow, TradeFileRow } from "./_row.ts";
import {
  checkedSymbol,
  formatOf,
  MAX_LINE_LENGTH,
  type ReadTradeFileOptions,
  RowParser,
  symbolFromFileName,
  type TradeFileFormat,
} from "./_row_parser.ts";
import { openTextFile, verifyGzip } from "./_text_file.ts";

export { formatNdjsonGap, formatNdjsonTrade } from "./_ndjson.ts";
export type { GapRow, RecordedGap, ReplayRow, TradeFileRow } from "./_row.ts";
export {
  CSV_HEADER,
  formatCsvTrade,
  TIME_UNIT_NAMES,
  type TimeUnit,
  timeUnitOf,
} from "./_csv.ts";
export { TradeFileReadError, verifyGzip } from "./_text_file.ts";
export {
  FUTURE_SLACK_NS,
  MIN_TIME_NS,
  PRICE_FACTOR,
  REANCHOR_AFTER,
} from "./_plausibility.ts";
export {
  MAX_LINE_LENGTH,
  type OnBadRow,
  type ReadTradeFileOptions,
  symbolFromFileName,
  type TradeFileFormat,
  TradeFileRowError,
} from "./_row_parser.ts";

/**
 * The format `"auto"` reads `path` as, from its first non-blank line (`{`
 * means NDJSON, else CSV); undefined when it has none (empty or blank). Reads
 * only as far as that line's first character.
 *
 * @throws {TradeFileReadError} when the file cannot be opened or read.
 */
export async function detectTradeFormat(
  path: string,
  options: Pick<ReadTradeFileOptions, "gzip"> = {},
): Promise<TradeFileFormat | undefined> {
  const chunks = await openTextFile(path, { gzip: options.gzip });
  try {
    while (true) {
      const chunk = await chunks.read();
      if (chunk === undefined) return undefined;
      if (chunk.trim() !== "") return formatOf(chunk);
    }
  } finally {
    await chunks.cancel();
  }
}

/**
 * Reads the trades of a file as batches, one array per decoded chunk (a few
 * thousand rows): the same rows as {@linkcode readTradeFile}, with one
 * `await` per batch instead of per row, for hot paths. Gap lines of an
 * NDJSON recording are checked and left out ({@linkcode readRowBatches}
 * yields them).
 *
 * @throws {TradeFileRowError} at a bad row when `onError` is `"stop"`.
 * @throws {TradeFileReadError} when the file cannot be opened, is a
 * directory, or cannot be read or decompressed to its end (a gzipped regular
 * file: before any row), or is a CSV whose symbol is neither given nor in its name.
 * @throws {TypeError} for bad options, or format `"binance-csv"` without a symbol.
 */
export function readTradeBatches(
  path: string,
  options: ReadTradeFileOptions = {},
): AsyncGenerator<ReplayRow[], void, undefined> {
  // Without gaps, every row is a trade.
  return rowBatches(path, { ...options, gaps: false }) as AsyncGenerator<
    ReplayRow[],
    void,
    undefined
  >;
}

/**
 * Reads the rows of a file as batches, like {@linkcode readTradeBatches},
 * with the gap lines of an NDJSON recording ({@linkcode GapRow}, `type:
 * "gap"`) in file order among the trades: what a replay reads.
 *
 * @throws {TradeFileRowError} at a bad row when `onError` is `"stop"`.
 * @throws {TradeFileReadError} as {@linkcode readTradeBatches} says.
 * @throws {TypeError} for bad options, or format `"binance-csv"` without a symbol.
 */
export function readRowBatches(
  path: string,
  options: ReadTradeFileOptions = {},
): AsyncGenerator<TradeFileRow[], void, undefined> {
  return rowBatches(path, { ...options, gaps: true });
}

/** The rows of `path` as batches; gap lines only if `options.gaps`. */
async function* rowBatches(
  path: string,
  options: ReadTradeFileOptions & { gaps: boolean },
): AsyncGenerator<TradeFileRow[], void, undefined> {
  const named = checkedSymbol(path, options);
  if (options.verifyGzip ?? true) {
    await verifyGzip(path, { gzip: options.gzip });
  }
  const chunks = await openTextFile(path, {
    gzip: options.gzip,
    onBytesRead: options.onBytesRead,
  });
  const parser = new RowParser(
    path,
    named ?? symbolFromFileName(chunks.entry ?? ""),
    options,
  );
  let carry = "";
  let discarding = false; // inside an over-long line
  try {
    for (
      let chunk = await chunks.read(parser.line);
      chunk !== undefined;
      chunk = await chunks.read(parser.line)
    ) {
      const rows: TradeFileRow[] = [];
      let start = 0;
      for (
        let end = chunk.indexOf("\n");
        end >= 0 && parser.stop === undefined;
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
        parser.handle(text, rows);
      }
      if (parser.stop === undefined && !discarding) {
        carry += chunk.slice(start);
        if (carry.length > MAX_LINE_LENGTH) {
          const line = ++parser.line;
          carry = "";
          discarding = true;
          parser.bad(line, `line longer than ${MAX_LINE_LENGTH} characters`);
        }
      }
      if (rows.length > 0) yield rows;
      if (parser.stop !== undefined) throw parser.stop;
    }
    if (carry !== "" && !discarding) {
      const rows: TradeFileRow[] = [];
      parser.handle(carry, rows);
      if (rows.length > 0) yield rows;
      if (parser.stop !== undefined) throw parser.stop;
    }
  } finally {
    await chunks.cancel();
  }
}

/**
 * Reads the trades of a Binance `trades` CSV or NDJSON export file, plain or
 * gzipped, as a stream of rows in file order, in constant memory.
 *
 * @throws {TradeFileRowError} at a bad row when `onError` is `"stop"`.
 * @throws {TradeFileReadError} as {@linkcode readTradeBatches} says.
 * @throws {TypeError} for bad options, or format `"binance-csv"` without a symbol.
 */
export async function* readTradeFile(
  path: string,
  options: ReadTradeFileOptions = {},
): AsyncGenerator<ReplayRow, void, undefined> {
  for await (const rows of readTradeBatches(path, options)) yield* rows;
}
