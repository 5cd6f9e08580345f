/**
 * Trade files, both directions: streaming readers of Binance `trades` CSV
 * files and of the project's NDJSON export (plain or gzip), with the row
 * checks a replay relies on, and the line of either format a recording
 * writes ({@linkcode formatCsvTrade}, {@linkcode formatNdjsonTrade}).
 *
 * @module
 */

export * from "./trade_file.ts";
