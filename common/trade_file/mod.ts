/**
 * Trade files, both directions: streaming readers of Binance `trades` CSV
 * files and of the project's NDJSON export (plain or gzip), with the row
 * checks a replay relies on, and the line of either format a recording
 * writes ({@linkcode formatCsvTrade}, {@linkcode formatNdjsonTrade}).
 *
 * @module
 */

// Reading: a whole file or batches of records, the format detected, rows checked.
export {
  detectTradeFormat,
  MAX_LINE_LENGTH,
  type OnBadRow,
  readTradeBatches,
  readTradeFile,
  type ReadTradeFileOptions,
  type ReplayRow,
  symbolFromFileName,
  type TradeFileFormat,
  TradeFileReadError,
  TradeFileRowError,
  verifyGzip,
} from "./trade_file.ts";
export type { OpenTextFileOptions } from "./_text_file.ts";
// The unit a Binance CSV file's times were found in (s, ms, µs or ns).
export { TIME_UNIT_NAMES, type TimeUnit } from "./trade_file.ts";
// Writing: the CSV header and one line of either format.
export { CSV_HEADER, formatCsvTrade, formatNdjsonTrade } from "./trade_file.ts";
