/**
 * The synthetic source: random-walk trades for any number of symbols, at a
 * set rate or as fast as the transports take them.
 *
 * @module
 */

// The source data_manager publishes from.
export { SyntheticSource } from "./source.ts";
// The deterministic generator behind it (a seed gives the same trades), and
// its limits.
export {
  MAX_SYNTHETIC_SYMBOLS,
  SyntheticGenerator,
  type SyntheticGeneratorOptions,
  UNPACED_CHUNK,
} from "./generator.ts";
