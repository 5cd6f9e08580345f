/**
 * The Binance live trade feed: exact parsing of combined-stream trade frames
 * ({@linkcode parseTradeFrame}), a reconnecting multi-connection client
 * ({@linkcode BinanceTradeStream}), and the data_manager source built on it
 * ({@linkcode BinanceSource}).
 *
 * @module
 */

// The source data_manager publishes from.
export { BinanceSource, type BinanceSourceOptions } from "./source.ts";
// The stream client: connections, reconnects, trade-id gaps, and its defaults.
export {
  BINANCE_MAX_STREAMS_PER_CONNECTION,
  type BinanceStreamStats,
  BinanceTradeStream,
  type BinanceTradeStreamOptions,
  DEFAULT_BINANCE_ENDPOINT,
  DEFAULT_SILENCE_TIMEOUT_MS,
  type ReconnectCause,
  type TradeGap,
} from "./stream_client.ts";
// One frame of the combined stream: a trade, a frame to ignore, or an invalid one.
export {
  type BinanceTimeUnit,
  type IgnoredCode,
  type IgnoredFrame,
  type InvalidCode,
  type InvalidFrame,
  type ParsedFrame,
  type ParsedTrade,
  parseTradeFrame,
  type ParseTradeFrameOptions,
  type SecondsNanos,
} from "./trade_event.ts";
