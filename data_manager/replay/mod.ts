/**
 * Replay of recorded trades: streaming readers of Binance `trades` CSV files
 * and of the project's NDJSON export (see {@link ./trade_file.ts}).
 *
 * @module
 */

export * from "./trade_file.ts";
