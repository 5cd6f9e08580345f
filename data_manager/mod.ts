/**
 * data_manager: the publisher role. Its command line is main.ts
 * (`deno task serve`); this module offers its trade sources: the
 * {@linkcode TradeSource} interface with the {@linkcode TradeSink} it
 * publishes into, and the three sources, {@linkcode SyntheticSource},
 * {@linkcode BinanceSource} and {@linkcode ReplaySource} (each folder's
 * mod.ts has the rest of its source).
 *
 * @module
 */

// What a source offers the publishing pipeline, and what it publishes into.
export type { TradeSink, TradeSource } from "./source.ts";
// The three sources.
export {
  SyntheticGenerator,
  type SyntheticGeneratorOptions,
  SyntheticSource,
} from "./synthetic/mod.ts";
export { BinanceSource, type BinanceSourceOptions } from "./binance/mod.ts";
export {
  NothingReplayedError,
  ReplaySource,
  type ReplaySourceOptions,
} from "./replay/mod.ts";
