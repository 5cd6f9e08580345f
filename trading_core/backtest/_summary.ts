/**
 * `summary.json` of a backtest ({@linkcode BacktestSummary}) from what the
 * run counted, the broker's books and the equity figures.
 *
 * @module
 */

import type { TradeOrigin } from "../../common/wire/codec.ts";
import type { Position } from "../broker/mod.ts";
import { compare } from "./_candles.ts";
import type { EquityFigures } from "./_equity.ts";
import type { BacktestSummary, SymbolSummary } from "./result.ts";

/** What {@linkcode buildSummary} reads. */
export interface SummaryInput {
  /** The streams met, by index. */
  streams: readonly TradeOrigin[];
  /** Trades processed per stream index. */
  trades: ArrayLike<number>;
  /** Gaps delivered per stream index. */
  gaps: ArrayLike<number>;
  /** Clock outliers per stream index. */
  outliers: ArrayLike<number>;
  /** Trade time of the first and the last trade processed, ms; null when none was. */
  from: number | null;
  /** See `from`. */
  to: number | null;
  /** Bad rows skipped. */
  badRows: number;
  /** Trades left out as duplicates of another file's. */
  duplicates: number;
  /** The broker's figures. */
  broker: {
    startingBalance: number;
    equity: number;
    orders: number;
    fills: number;
    fees: number;
    realizedPnl: number;
    unrealizedPnl: number;
    positions(): Position[];
  };
  /** The sample interval, as configured. */
  sampleInterval: string;
  /** The equity figures. */
  equity: EquityFigures;
}

/** The summary of a run; symbols sorted by exchange, then symbol (code-unit order). */
export function buildSummary(input: SummaryInput): BacktestSummary {
  const { broker, equity } = input;
  const books = new Map<string, Position>();
  for (const position of broker.positions()) {
    books.set(`${position.exchange}\n${position.symbol}`, position);
  }
  const rows = new Map<string, SymbolSummary>();
  input.streams.forEach(({ exchange, symbol }, stream) => {
    rows.set(
      `${exchange}\n${symbol}`,
      symbolRow(exchange, symbol, {
        trades: input.trades[stream] ?? 0,
        gaps: input.gaps[stream] ?? 0,
        outliers: input.outliers[stream] ?? 0,
        book: books.get(`${exchange}\n${symbol}`),
      }),
    );
  });
  // A stream ordered but never traded (a symbol outside the data).
  for (const [key, book] of books) {
    if (!rows.has(key)) {
      rows.set(
        key,
        symbolRow(book.exchange, book.symbol, {
          trades: 0,
          gaps: 0,
          outliers: 0,
          book,
        }),
      );
    }
  }
  const symbols = [...rows.values()].sort((a, b) =>
    compare(a.exchange, b.exchange) || compare(a.symbol, b.symbol)
  );
  let trades = 0, gaps = 0, outliers = 0;
  for (const row of symbols) {
    trades += row.trades;
    gaps += row.gaps;
    outliers += row.outliers;
  }
  return {
    version: 1,
    from: input.from,
    to: input.to,
    trades,
    gaps,
    outliers,
    badRows: input.badRows,
    duplicates: input.duplicates,
    orders: broker.orders,
    fills: broker.fills,
    fees: broker.fees,
    startingBalance: broker.startingBalance,
    endingEquity: broker.equity,
    pnl: broker.equity - broker.startingBalance,
    realizedPnl: broker.realizedPnl,
    unrealizedPnl: broker.unrealizedPnl,
    maxDrawdown: equity.maxDrawdown,
    maxDrawdownRatio: equity.maxDrawdownRatio,
    minEquity: equity.minEquity,
    equityBelowZeroAt: equity.equityBelowZeroAt,
    sharpe: equity.sharpe,
    sampleInterval: input.sampleInterval,
    exposure: equity.exposure,
    maxGrossExposure: equity.maxGrossExposure,
    symbols,
  };
}

function symbolRow(
  exchange: string,
  symbol: string,
  counts: {
    trades: number;
    gaps: number;
    outliers: number;
    book: Position | undefined;
  },
): SymbolSummary {
  const { book } = counts;
  return {
    exchange,
    symbol,
    trades: counts.trades,
    gaps: counts.gaps,
    outliers: counts.outliers,
    orders: book?.orders ?? 0,
    fills: book?.fills ?? 0,
    volume: book?.volume ?? 0,
    fees: book?.fees ?? 0,
    realizedPnl: book?.realizedPnl ?? 0,
    unrealizedPnl: book?.unrealizedPnl ?? 0,
    position: book?.quantity ?? 0,
    lastPrice: book?.lastPrice ?? 0,
  };
}
