/**
 * The Binance live trade feed: exact parsing of combined-stream trade frames
 * ({@linkcode parseTradeFrame}) and a reconnecting multi-connection client
 * ({@linkcode BinanceTradeStream}).
 *
 * @module
 */

export * from "./trade_event.ts";
export * from "./stream_client.ts";
export * from "./source.ts";
