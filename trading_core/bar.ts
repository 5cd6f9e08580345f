/**
 * The OHLCV bar trading_core builds per symbol and interval from trade time.
 *
 * @module
 */

/** One closed bar of one symbol and interval. */
export interface Bar {
  /** Exchange name, lower case. */
  exchange: string;
  /** Symbol, upper case. */
  symbol: string;
  /** The interval as configured, e.g. `"1s"`, `"1m"`. */
  interval: string;
  /** Interval length, ms. */
  intervalMs: number;
  /** Start of the bar (inclusive), ms since the Unix epoch, trade time. */
  start: number;
  /** End of the bar (exclusive), ms since the Unix epoch, trade time. */
  end: number;
  /** First trade's price; an empty bar repeats the previous close in all four prices. */
  open: number;
  /** Highest price. */
  high: number;
  /** Lowest price. */
  low: number;
  /** Last trade's price. */
  close: number;
  /** Sum of the trades' sizes. */
  volume: number;
  /** Volume of trades whose buyer was the aggressor. */
  buyVolume: number;
  /** Volume of trades whose seller was the aggressor. */
  sellVolume: number;
  /** Sum of price × size (quote volume). */
  notional: number;
  /** Volume-weighted average price, `notional / volume`; null for an empty bar. */
  vwap: number | null;
  /** Trades in the bar (0 for an empty interval). */
  trades: number;
  /**
   * False when trades of the stream are missing from the bar: a gap (trades
   * lost in transport, a reconnect, a gap the source recorded) came while it
   * was open, or between the trades it ends and the next trade of the stream
   * (every bar closed in between, empty or not, and the bar holding that next
   * trade). True otherwise.
   */
  complete: boolean;
}
