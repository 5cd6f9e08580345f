/**
 * marketbus: live trades from one data_manager to many trading_core
 * consumers over a shared-memory ring (same machine) and NATS JetStream
 * (remote, durable, replayable).
 *
 * This module is the library surface: the 48-byte trade codec
 * ({@linkcode encodeTrade}, {@linkcode decodeTrades}, {@linkcode TradeView},
 * {@linkcode parsePrice}), the subject helpers ({@linkcode tradeSubject},
 * {@linkcode parseTradeSubject}, {@linkcode tradeFilter}) and the
 * configuration loader ({@linkcode loadConfig}).
 *
 * ```ts
 * import { decodeTrades, encodeMessage, parsePrice, Side } from "./mod.ts";
 *
 * const message = encodeMessage([{
 *   side: Side.Buy, flags: 0, seq: 1,
 *   tsEvent: 1_700_000_000_000_000_000n, tsRecv: 1_700_000_000_000_100_000n,
 *   priceFixed: parsePrice("67123.45"), size: 0.5, tradeId: 4_294_967_297n,
 * }]);
 * const [trade] = decodeTrades(message, { exchange: "binance", symbol: "BTCUSDT" });
 * ```
 *
 * @module
 */

export * from "./common/mod.ts";
