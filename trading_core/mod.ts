/**
 * trading_core: the consumer role. Besides its command line, this module
 * offers what a strategy or a library user needs: the {@linkcode Strategy}
 * interface and its {@linkcode StrategyContext}, {@linkcode loadStrategy}
 * and {@linkcode StrategyRunner}, the {@linkcode Bar} type, the
 * {@linkcode BarBuilder} that builds bars from trades,
 * {@linkcode parseBarInterval} and {@linkcode formatBarLine} (one
 * `--bars-out` NDJSON line).
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

export * from "./cli.ts";
export * from "./strategy.ts";
export type * from "./bar.ts";
export * from "./bars.ts";
export { formatBarLine } from "./bar_writer.ts";
export {
  BAR_INTERVAL_EXAMPLES,
  parseBarInterval,
} from "../common/config/bar_interval.ts";
