/**
 * Opens the synthetic source from the configuration.
 *
 * @module
 */

import type { Config } from "../../common/config/mod.ts";
import { SyntheticSource } from "./source.ts";

/** The configured synthetic source. */
export function openSynthetic(config: Config): SyntheticSource {
  const { dataManager } = config;
  const { synthetic } = dataManager;
  return new SyntheticSource(dataManager.symbols, {
    seed: synthetic.seed,
    rate: synthetic.rate,
    burstSize: synthetic.burstSize,
    burstIntervalMs: synthetic.burstIntervalMs,
    maxTrades: dataManager.maxTrades,
    // Unique per run unless configured: the NATS dedup window must never
    // mistake a restarted run's trades for repeats.
    firstTradeId: synthetic.firstTradeId ?? Date.now() * 1000,
  });
}
