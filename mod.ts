/**
 * marketbus: live trades from one data_manager to many trading_core
 * consumers over a shared-memory ring (same machine) and NATS JetStream
 * (remote, durable, replayable).
 *
 * This module is the library surface: the 48-byte trade codec
 * ({@linkcode encodeTrade}, {@linkcode decodeTrades}, {@linkcode TradeView},
 * {@linkcode parsePrice}), the subject helpers ({@linkcode tradeSubject},
 * {@linkcode parseTradeSubject}, {@linkcode tradeFilter}), the
 * configuration loader ({@linkcode loadConfig}), and trading_core's bars and
 * strategy hook: the {@linkcode Bar} type, the {@linkcode BarBuilder} that
 * builds bars from trades ({@linkcode parseBarInterval} for intervals,
 * {@linkcode formatBarLine} for one `--bars-out` line), and the
 * {@linkcode Strategy} interface with {@linkcode StrategyContext},
 * {@linkcode loadStrategy} and {@linkcode StrategyRunner}.
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
 * A strategy module (see strategies/README.md) imports the types only:
 *
 * ```ts
 * import type { Bar, Strategy } from "./mod.ts";
 *
 * const strategy: Strategy = {
 *   onTrade() {},
 *   onBar(bar: Bar, context) {
 *     context.log.info(`${bar.symbol} ${bar.interval} close ${bar.close}`);
 *   },
 * };
 * ```
 *
 * @module
 */

export * from "./common/mod.ts";
export type { LogFields, Logger } from "./common/runtime/log.ts";
export {
  BAR_INTERVAL_EXAMPLES,
  parseBarInterval,
} from "./common/config/bar_interval.ts";
export type * from "./trading_core/bar.ts";
export * from "./trading_core/bars.ts";
export { formatBarLine } from "./trading_core/bar_writer.ts";
export * from "./trading_core/strategy.ts";
