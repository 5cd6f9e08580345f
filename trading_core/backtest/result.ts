/**
 * What a backtest produces, as `summary.json` and the HTML report read it:
 * the summary figures, and the series the report draws (candles per
 * symbol, the strategy's fills, the equity curve with its drawdown). Times
 * are ms since the Unix epoch, trade time (`ts_event`); money is in the
 * quote currency of the starting balance.
 *
 * @module
 */

/** The figures of one (exchange, symbol) in {@linkcode BacktestSummary.symbols}. */
export interface SymbolSummary {
  /** Exchange, lower case. */
  exchange: string;
  /** Symbol, upper case. */
  symbol: string;
  /** Trades of this stream processed. */
  trades: number;
  /** Gaps of this stream delivered (trades missing from the recording). */
  gaps: number;
  /** Trades of this stream (counted in `trades`) kept out of bars, broker, equity samples and `from`/`to` as clock outliers (`max_clock_jump`). */
  outliers: number;
  /** Orders the strategy placed. */
  orders: number;
  /** Fills (a partly filled order counts once per fill). */
  fills: number;
  /** Quantity bought plus quantity sold. */
  volume: number;
  /** Fees paid. */
  fees: number;
  /** Realized P&L, net of fees. */
  realizedPnl: number;
  /** P&L of the position left open, marked at the last trade price. */
  unrealizedPnl: number;
  /** Position at the end (negative when short). */
  position: number;
  /** Last trade price. */
  lastPrice: number;
}

/** The run as a whole: `summary.json`. */
export interface BacktestSummary {
  /** Layout version of this document. */
  version: 1;
  /** Trade time of the first trade processed (ms), null when none was. */
  from: number | null;
  /** Trade time of the latest trade processed (ms; clock outliers left out), null when none was. */
  to: number | null;
  /** Trades processed (after `--from`/`--to` and the symbol filter). */
  trades: number;
  /** Gaps delivered (gap lines of the recordings). */
  gaps: number;
  /** Clock outliers, over all symbols (see {@linkcode SymbolSummary.outliers}). */
  outliers: number;
  /** Bad rows skipped, per file, when asked to skip them. */
  badRows: number;
  /** Trades left out as duplicates: the same trade (time, trade id) of the same (exchange, symbol) read from a second file (a recording and its gzip, a copy, overlapping files). */
  duplicates: number;
  /** Orders placed. */
  orders: number;
  /** Fills. */
  fills: number;
  /** Fees paid. */
  fees: number;
  /** Starting balance. */
  startingBalance: number;
  /** Equity at the end: balance plus open positions marked at their last price. */
  endingEquity: number;
  /** Realized plus unrealized P&L, net of fees (endingEquity − startingBalance). */
  pnl: number;
  /** Realized P&L, net of fees. */
  realizedPnl: number;
  /** Unrealized P&L of positions left open. */
  unrealizedPnl: number;
  /** Largest fall of equity from a previous peak, as a positive amount. */
  maxDrawdown: number;
  /** The same as a fraction of that peak (0.05 = 5 %); above 1 once equity went below zero (see `equityBelowZeroAt`). */
  maxDrawdownRatio: number;
  /** Lowest sampled equity (the starting balance when none was sampled). */
  minEquity: number;
  /** End of the first sampled interval whose equity was below zero (ms): the paper broker has no buying-power check, so the strategy kept trading on credit; null when it never was. */
  equityBelowZeroAt: number | null;
  /** Mean over standard deviation of per-bar equity returns (not annualized), null when undefined. */
  sharpe: number | null;
  /** The interval whose bars the returns, exposure and equity curve are sampled on. */
  sampleInterval: string;
  /** Share of sampled bars with a position open in any symbol, 0..1. */
  exposure: number;
  /** Largest gross position value (Σ |position| × price) at a sampled bar. */
  maxGrossExposure: number;
  /** Per (exchange, symbol), sorted by exchange then symbol. */
  symbols: SymbolSummary[];
}

/** One candle of {@linkcode CandleSeries}. */
export interface Candle {
  /** Bar start, ms. */
  time: number;
  /** Open. */
  open: number;
  /** High. */
  high: number;
  /** Low. */
  low: number;
  /** Close. */
  close: number;
  /** Volume. */
  volume: number;
}

/** The candles of one (exchange, symbol) at one interval. */
export interface CandleSeries {
  /** Exchange, lower case. */
  exchange: string;
  /** Symbol, upper case. */
  symbol: string;
  /** The interval of the candles (the coarsest configured, or the report's). */
  interval: string;
  /** Candles, oldest first (the backtest run bounds how many it keeps; the report draws them all). */
  candles: Candle[];
}

/** One fill drawn on the chart. */
export interface ReportFill {
  /** The order's id. */
  orderId: string;
  /** Exchange, lower case. */
  exchange: string;
  /** Symbol, upper case. */
  symbol: string;
  /** Direction. */
  side: "buy" | "sell";
  /** Quantity filled. */
  quantity: number;
  /** Fill price. */
  price: number;
  /** Fee paid. */
  fee: number;
  /** Trade time of the fill, ms. */
  time: number;
}

/** One point of the equity curve. */
export interface EquityPoint {
  /** End of the sampled bar, ms. */
  time: number;
  /** Equity then. */
  equity: number;
  /** Fall from the peak so far, as a positive amount (0 at a new peak). */
  drawdown: number;
}

/** Everything the HTML report draws. */
export interface BacktestResult {
  /** The summary table. */
  summary: BacktestSummary;
  /** Candles per (exchange, symbol). */
  candles: CandleSeries[];
  /** Fills, oldest first (capped like the candles; the summary counts all). */
  fills: ReportFill[];
  /** Equity and drawdown per sampled bar. */
  equity: EquityPoint[];
}
