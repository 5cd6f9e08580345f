/**
 * marketbus: live trades from one data_manager to many trading_core
 * consumers over a shared-memory ring (same machine) and NATS JetStream
 * (remote, durable, replayable).
 *
 * This module is the library surface:
 *
 * - the 48-byte trade record ({@linkcode TradeRecord}, {@linkcode Trade},
 *   {@linkcode Side}, {@linkcode TradeFlags}) and its codec
 *   ({@linkcode encodeTrade}, {@linkcode encodeMessage},
 *   {@linkcode decodeTrades}, the zero-copy {@linkcode TradeView}, with
 *   {@linkcode TradeOrigin} naming where records came from);
 * - fixed-point prices ({@linkcode parsePrice}, {@linkcode formatPrice},
 *   {@linkcode priceToNumber}, {@linkcode parseSize});
 * - the NATS subject helpers ({@linkcode tradeSubject},
 *   {@linkcode parseTradeSubject}, {@linkcode tradeFilter});
 * - the configuration: {@linkcode loadConfig} and {@linkcode parseConfig},
 *   the {@linkcode Config} type with its sections, {@linkcode ConfigError},
 *   and the units {@linkcode parseDuration} and {@linkcode parseBarInterval};
 * - trading_core's bars and strategy hook: the {@linkcode Bar} type, the
 *   {@linkcode BarBuilder} that builds bars from trades,
 *   {@linkcode formatBarLine} for one `--bars-out` line, and the
 *   {@linkcode Strategy} interface with {@linkcode StrategyContext} (its
 *   {@linkcode Logger}), {@linkcode loadStrategy} and
 *   {@linkcode StrategyRunner}, the {@linkcode PaperBroker} a strategy
 *   trades with ({@linkcode Broker}: orders, {@linkcode Fill}s,
 *   {@linkcode Position}s; {@linkcode formatFillLine} for one fill line),
 *   and the {@linkcode TradeGap} (with its {@linkcode GapCause}) that
 *   `onGap` receives.
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
 * Bars from trades: a trade past the end of a bar closes it, and a timer
 * calling {@linkcode BarBuilder.advance} closes bars when no trade comes.
 *
 * ```ts
 * import { type Bar, BarBuilder, Side } from "./mod.ts";
 *
 * const bars: Bar[] = [];
 * const builder = new BarBuilder(["BTCUSDT"], {
 *   exchange: "binance",
 *   intervals: ["1s"],
 *   onBar: (bar) => bars.push(bar),
 * });
 * const t0 = Date.UTC(2024, 0, 1); // trade time, ms since the epoch
 * builder.addTrade(0, t0 + 100, 67_000, 0.5, Side.Buy); // stream 0: BTCUSDT
 * builder.addTrade(0, t0 + 1_200, 67_020, 0.2, Side.Sell); // closes [t0, t0 + 1 s)
 * bars[0].close; // 67_000
 * // Live: builder.add(view, stream) for each trade a feed delivers, and
 * // setInterval(() => builder.advance(), 100).
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

// The trade record: its fields, sides and flags.
export {
  Side,
  type Trade,
  TRADE_RECORD_SIZE,
  TradeFlags,
  type TradeRecord,
  WIRE_VERSION,
} from "./common/wire/mod.ts";
// Encoding records into messages, decoding them, and reading them in place.
export {
  type BufferOptions,
  decodeTrade,
  decodeTrades,
  encodeMessage,
  encodeTrade,
  encodeTrades,
  recordCount,
  type TradeOrigin,
  TradeView,
  WireFormatError,
} from "./common/wire/mod.ts";
// Fixed-point prices (× 10^9) and exact parsing of exchange decimals.
export {
  formatPrice,
  parsePrice,
  parseSize,
  PRICE_DECIMALS,
  PRICE_SCALE,
  priceFromNumber,
  priceToNumber,
} from "./common/wire/mod.ts";
// NATS subjects: `{prefix}.{exchange}.{SYMBOL}.trades` and their filters.
export {
  DEFAULT_SUBJECT_PREFIX,
  parseTradeSubject,
  type SubjectOptions,
  tradeFilter,
  type TradeFilterOptions,
  tradeFilters,
  tradeSubject,
} from "./common/wire/mod.ts";
// Loading the configuration: defaults < file < NATS variables < overrides.
export {
  ConfigError,
  type ConfigOverride,
  loadConfig,
  type LoadConfigOptions,
  NATS_ENV_VARIABLES,
  type NatsEnv,
  parseConfig,
} from "./common/config/mod.ts";
// The validated configuration: the whole and each section.
export {
  type BarsConfig,
  type BinanceConfig,
  type BrokerConfig,
  type Config,
  type DataManagerConfig,
  type DataSourceConfig,
  type DataSourceKind,
  type DeliverPolicy,
  type IpcSourceConfig,
  type IpcTransportConfig,
  type JetStreamConfig,
  type LogConfig,
  type LogFormat,
  type LogLevel,
  type MetricsConfig,
  type NatsAuth,
  type NatsConnectionConfig,
  type NatsConsumerConfig,
  type NatsPublishConfig,
  type NatsTls,
  type NatsTransportConfig,
  type OnExistingFile,
  type OnWriteError,
  REPLAY_FORMATS,
  type ReplayConfig,
  type ReplayFormat,
  type ReplayPolicy,
  type Retention,
  type SourceKind,
  type StartFrom,
  type Storage,
  type SyntheticConfig,
  type TradingCoreConfig,
  type WaitStrategy,
} from "./common/config/mod.ts";
// Units: durations (`"500ms"`, `"1h"`) and bar intervals (`"1s"`, `"1m"`).
export { parseBarInterval, parseDuration } from "./common/config/mod.ts";
// Bars: OHLCV per (exchange, symbol, interval), built from trades.
export {
  type Bar,
  BarBuilder,
  type BarBuilderOptions,
  type BarClock,
  type BarCounts,
  type BarIntervalStats,
  formatBarLine,
} from "./trading_core/mod.ts";
// Strategies: the interface, its context, loading and running one.
export {
  loadStrategy,
  type LoadStrategyOptions,
  type Strategy,
  type StrategyContext,
  StrategyLoadError,
  StrategyRunner,
  type StrategyRunnerOptions,
} from "./trading_core/mod.ts";
// The paper broker a strategy trades with (`context.broker`), and its fills.
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
} from "./trading_core/mod.ts";
// Gaps: trades missing from a stream, delivered in order with its trades.
export type {
  CaughtUp,
  GapCause,
  OnGap,
  TradeGap,
} from "./trading_core/mod.ts";
// The logger a strategy's context holds.
export type { LogFields, Logger } from "./common/runtime/mod.ts";
