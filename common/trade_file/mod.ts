/**
 * Trade files, both directions: streaming readers of Binance `trades` CSV
 * files and of the project's NDJSON export (plain or gzip), with the row
 * checks a replay relies on, and the line of either format a recording
 * writes ({@linkcode formatCsvTrade}, {@linkcode formatNdjsonTrade}, and
 * {@linkcode formatNdjsonGap} for the trades a recording misses).
 *
 * @module
 */

// Reading: a whole file or batches of records, the format detected, rows checked.
export {
  detectTradeFormat,
  type GapRow,
  MAX_LINE_LENGTH,
  type OnBadRow,
  readRowBatches,
  readTradeBatches,
  readTradeFile,
  type ReadTradeFileOptions,
  type RecordedGap,
  type ReplayRow,
  symbolFromFileName,
  type TradeFileFormat,
  TradeFileReadError,
  type TradeFileRow,
  TradeFileRowError,
  verifyGzip,
} from "./trade_file.ts";
export type { OpenTextFileOptions } from "./_text_file.ts";
// The unit a Binance CSV file's times were found in (s, ms, µs or ns).
export { TIME_UNIT_NAMES, type TimeUnit } from "./trade_file.ts";
// Writing: the CSV header, one trade line of either format, an NDJSON gap line.
export {
  CSV_HEADER,
  formatCsvTrade,
  formatNdjsonGap,
  formatNdjsonTrade,
} from "./trade_file.ts";
// Merging: many trade files into one stream in time order, as a backtest reads them.
export {
  DEFAULT_MERGE_BATCH_SIZE,
  type MergedBatch,
  type MergedGap,
  type MergeTradeFilesOptions,
  TRADE_FILE_EXTENSIONS,
  TradeFileMerger,
} from "./merge.ts";
