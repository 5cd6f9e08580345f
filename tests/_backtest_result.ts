/**
 * A realistic {@linkcode BacktestResult} for report tests, made up
 * deterministically (seeded): random-walk 1m candles per symbol, a fill
 * every few candles alternating buy and sell, and an equity curve with its
 * drawdown.
 *
 * @module
 */

import type {
  BacktestResult,
  CandleSeries,
  EquityPoint,
  ReportFill,
  SymbolSummary,
} from "../trading_core/backtest/result.ts";

/** Options of {@linkcode makeBacktestResult}. */
export interface MakeResultOptions {
  /** (exchange, symbol, first price) per stream. */
  streams?: readonly [string, string, number][];
  /** Candles per stream. @default {300} */
  candles?: number;
  /** A fill every this many candles. @default {20} */
  fillEvery?: number;
  /** Seed of the random walk. @default {18} */
  seed?: number;
}

/** First candle: 2026-01-05 00:00 UTC. */
const START_MS = Date.UTC(2026, 0, 5);

const MINUTE = 60_000;

/** The result of a made-up backtest over `streams`. */
export function makeBacktestResult(
  options: MakeResultOptions = {},
): BacktestResult {
  const streams = options.streams ?? [
    ["binance", "BTCUSDT", 94_000],
    ["binance", "ETHUSDT", 3_300],
    ["binance", "SOLUSDT", 190],
  ];
  const count = options.candles ?? 300;
  const every = options.fillEvery ?? 20;
  const random = mulberry32(options.seed ?? 18);
  const candles: CandleSeries[] = [];
  const fills: ReportFill[] = [];
  const symbols: SymbolSummary[] = [];
  let order = 0;
  for (const [exchange, symbol, first] of streams) {
    let price = first;
    const series: CandleSeries = {
      exchange,
      symbol,
      interval: "1m",
      candles: [],
    };
    let bought = 0;
    let fees = 0;
    let volume = 0;
    let realizedPnl = 0;
    let cost = 0;
    for (let i = 0; i < count; i++) {
      const open = price;
      const close = open * (1 + (random() - 0.5) * 0.004);
      const high = Math.max(open, close) * (1 + random() * 0.0015);
      const low = Math.min(open, close) * (1 - random() * 0.0015);
      const time = START_MS + i * MINUTE;
      series.candles.push({
        time,
        open,
        high,
        low,
        close,
        volume: random() * 50,
      });
      price = close;
      if (i % every === every - 1) {
        const side = bought === 0 ? "buy" : "sell";
        const quantity = 10_000 / close;
        const fee = close * quantity * 0.001;
        fees += fee;
        volume += quantity;
        if (side === "buy") cost = close * quantity;
        else realizedPnl += close * bought - cost;
        bought = side === "buy" ? quantity : 0;
        fills.push({
          orderId: String(++order),
          exchange,
          symbol,
          side,
          quantity,
          price: close,
          fee,
          time: time + 30_000,
        });
      }
    }
    candles.push(series);
    symbols.push({
      exchange,
      symbol,
      trades: count * 40,
      gaps: 0,
      outliers: 0,
      orders: Math.ceil(count / every),
      fills: Math.ceil(count / every),
      volume,
      fees,
      realizedPnl: realizedPnl - fees,
      unrealizedPnl: bought * price - cost * Math.sign(bought),
      position: bought,
      lastPrice: price,
    });
  }
  fills.sort((a, b) =>
    a.time - b.time || Number(a.orderId) - Number(b.orderId)
  );
  const equity = equityCurve(streams.length === 0 ? 0 : count, random);
  const ending = equity.at(-1)?.equity ?? 100_000;
  const worst = Math.max(0, ...equity.map((p) => p.drawdown));
  const feeTotal = fills.reduce((sum, f) => sum + f.fee, 0);
  const trades = count * 40 * streams.length;
  return {
    summary: {
      version: 1,
      from: trades === 0 ? null : START_MS,
      to: trades === 0 ? null : START_MS + count * MINUTE - 1,
      trades,
      gaps: 0,
      outliers: 0,
      badRows: 0,
      duplicates: 0,
      orders: fills.length,
      fills: fills.length,
      fees: feeTotal,
      startingBalance: 100_000,
      endingEquity: ending,
      pnl: ending - 100_000,
      realizedPnl: ending - 100_000,
      unrealizedPnl: 0,
      maxDrawdown: worst,
      maxDrawdownRatio: worst / 100_000,
      minEquity: 100_000 - worst,
      equityBelowZeroAt: null,
      sharpe: trades === 0 ? null : 0.0421,
      sampleInterval: "1m",
      exposure: 0.5,
      maxGrossExposure: 30_000,
      symbols,
    },
    candles,
    fills,
    equity,
  };
}

function equityCurve(count: number, random: () => number): EquityPoint[] {
  const points: EquityPoint[] = [];
  let equity = 100_000;
  let peak = equity;
  for (let i = 0; i < count; i++) {
    equity += (random() - 0.48) * 120;
    peak = Math.max(peak, equity);
    points.push({
      time: START_MS + (i + 1) * MINUTE,
      equity,
      drawdown: peak - equity,
    });
  }
  return points;
}

/** A small seeded PRNG (mulberry32): the same seed, the same sequence. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
