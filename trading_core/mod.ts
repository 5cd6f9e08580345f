/**
 * trading_core: the consumer role. Its command line is main.ts
 * (`deno task live`); this module offers what a strategy or a library user
 * needs: the {@linkcode Bar} type and the {@linkcode BarBuilder} that builds
 * bars from trades, {@linkcode formatBarLine} (one `--bars-out` NDJSON
 * line), the {@linkcode Strategy} interface with its
 * {@linkcode StrategyContext}, {@linkcode loadStrategy} and
 * {@linkcode StrategyRunner}, the {@linkcode PaperBroker} a strategy trades
 * with (`context.broker`) and {@linkcode formatFillLine}, and the
 * {@linkcode TradeGap} its `onGap` receives.
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

// Bars: OHLCV per (exchange, symbol, interval), built from trades.
export type { Bar } from "./bar.ts";
export {
  BarBuilder,
  type BarBuilderOptions,
  type BarClock,
  type BarCounts,
  type BarIntervalStats,
} from "./bars.ts";
// One bar as the NDJSON line `--bars-out` writes.
export { formatBarLine } from "./bar_writer.ts";
// Strategies: the interface, loading a strategy module, and running one.
export {
  loadStrategy,
  type LoadStrategyOptions,
  type Strategy,
  type StrategyContext,
  StrategyLoadError,
  StrategyRunner,
  type StrategyRunnerOptions,
} from "./strategy.ts";
// The paper broker: orders, fills, positions and P&L in trade time.
export {
  type Broker,
  type Fill,
  FILL_LINE_FIELDS,
  formatFillLine,
  type OpenOrder,
  type OrderRequest,
  type OrderSide,
  type OrderType,
  PaperBroker,
  type PaperBrokerOptions,
  type Position,
} from "./broker/mod.ts";
// Gaps: trades missing from a stream, delivered in order with its trades.
export type {
  CaughtUp,
  GapCause,
  OnGap,
  TradeGap,
} from "../common/transport/feed.ts";
