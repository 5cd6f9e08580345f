/**
 * The paper broker's settings, their defaults and ranges: one table that
 * `[trading_core.broker]` (and its flags) and `PaperBroker` both check
 * against, so the two cannot drift apart.
 *
 * @module
 */

/** Default and range of one broker setting. */
export interface BrokerLimit {
  /** The value when it is not set. */
  fallback: number;
  /** Lowest value allowed. */
  min: number;
  /** Highest value allowed. */
  max: number;
}

/**
 * Defaults and ranges of the broker settings, by {@linkcode BrokerConfig}
 * field: balance 0..1e15 (quote currency), fees and slippage 0..1000 bps
 * (10 %), latency 0..1 h (ms), open orders 1..1e7.
 */
export const BROKER_LIMITS = {
  startingBalance: { fallback: 100_000, min: 0, max: 1e15 },
  feeBps: { fallback: 10, min: 0, max: 1000 },
  makerFeeBps: { fallback: 10, min: 0, max: 1000 },
  slippageBps: { fallback: 0, min: 0, max: 1000 },
  latencyMs: { fallback: 0, min: 0, max: 3_600_000 },
  maxOpenOrders: { fallback: 10_000, min: 1, max: 10_000_000 },
} as const satisfies Record<string, BrokerLimit>;
