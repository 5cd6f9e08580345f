/**
 * What `deno task live` reports: a progress line per (exchange, symbol)
 * stream, and the final summary (a log line, optionally one JSON line, and
 * the line saying the run was incomplete when trades were lost or invalid).
 *
 * @module
 */

import {
  formatCount,
  formatNanos,
  formatRate,
} from "../common/runtime/format.ts";
import type { LatencySummary } from "../common/metrics/latency_histogram.ts";
import type { Logger } from "../common/runtime/log.ts";
import type { ProgressLine } from "../common/runtime/progress.ts";
import type {
  GapCause,
  LossCause,
  StreamStats,
  TradeFeed,
} from "../common/transport/feed.ts";
import type { TradeStats } from "./trade_stats.ts";
import type { TradeOrigin } from "../common/wire/codec.ts";
import type { PaperBroker, Position } from "./broker/mod.ts";

/** One (exchange, symbol) stream's figures in the {@linkcode LiveSummary}. */
export interface StreamSummary {
  /** Trades delivered. */
  received: number;
  /** Trades not delivered because the snapshot stands for them (`--snapshot`); received + skipped + lost = published. */
  skipped: number;
  /** Trades published but never delivered. */
  lost: number;
  /** {@linkcode StreamSummary.lost} by cause; causes with no loss are absent. */
  lostBy: Partial<Record<LossCause, number>>;
  /** Records that failed validation. */
  invalid: number;
  /** Discontinuities in the stream's seq. */
  gaps: number;
  /** Gaps delivered in order with the trades, by cause; causes with none are absent. */
  gapsBy: Partial<Record<GapCause, number>>;
  /** Seq of the last trade, null before the first. */
  lastSeq: number | null;
  /** Price of the last trade, null before the first. */
  lastPrice: number | null;
  /** Producer restarts seen. */
  restarts: number;
}

/** What the strategy's paper broker did, in the {@linkcode LiveSummary}. */
export interface BrokerSummary {
  /** Orders submitted. */
  orders: number;
  /** Fills. */
  fills: number;
  /** Fees paid. */
  fees: number;
  /** Cash at the start. */
  startingBalance: number;
  /** Cash at the end. */
  balance: number;
  /** Cash plus positions marked at their last price. */
  equity: number;
  /** Realized P&L, net of fees. */
  realizedPnl: number;
  /** Unrealized P&L of the positions left open. */
  unrealizedPnl: number;
  /** Orders still open at the end (never filled in full: e.g. a symbol that never traded, or the strategy failed). */
  openOrders: number;
  /** Per (exchange, symbol) traded or ordered, in order of its first trade or order, with its orders still open. */
  symbols: (Position & { openOrders: number })[];
}

/** The final summary (`--summary-json` prints it as one line). */
export interface LiveSummary {
  /** Transport read. */
  transport: string;
  /** Trades delivered. */
  received: number;
  /** Trades not delivered because the snapshot stands for them (`--snapshot`); received + skipped + lost = published. */
  skipped: number;
  /** Trades published but never delivered. */
  lost: number;
  /** {@linkcode LiveSummary.lost} by cause; causes with no loss are absent. */
  lostBy: Partial<Record<LossCause, number>>;
  /** Records that failed validation. */
  invalid: number;
  /** Seq discontinuities, each (exchange, symbol) stream on its own. */
  gaps: number;
  /** Gaps delivered in order with the trades, by cause, over all streams; causes with none are absent. */
  gapsBy: Partial<Record<GapCause, number>>;
  /** Wall time consumed, ms. */
  elapsedMs: number;
  /** Ms from the first to the last trade delivered. */
  activeMs: number;
  /** Trades per second between the first and the last trade delivered. */
  ratePerSecond: number;
  /**
   * Per exchange, then symbol: every stream subscribed or met. Invalid
   * messages that named no known stream count only in the totals.
   */
  exchanges: Record<string, Record<string, StreamSummary>>;
  /** One-way latency from ts_recv to delivery, ns. */
  latencyNs: LatencySummary;
  /** The paper broker's orders, fills and P&L; absent without a strategy. */
  broker?: BrokerSummary;
  /** Clock outliers (`trading_core.bars.max_clock_jump`) per exchange, then symbol, those with any; absent when no bars are built. */
  outliers?: Record<string, Record<string, number>>;
}

/** The summary of a run of `elapsedMs` that read `feed` into `stats`, with `options.broker`'s figures. */
export function summarize(
  feed: TradeFeed,
  stats: TradeStats,
  elapsedMs: number,
  options: {
    /** The strategy's paper broker. */
    broker?: PaperBroker;
    /** Clock outliers per stream index; absent when no bars are built. */
    outliers?: (stream: number) => number;
  } = {},
): LiveSummary {
  // By stream index, then maybe the "*" row of messages of no known stream.
  const rows = feed.stats();
  const exchanges: LiveSummary["exchanges"] = {};
  stats.streams.forEach(({ exchange, symbol }, index) => {
    const figures = stats.figures(index);
    const counters = rows[index];
    (exchanges[exchange] ??= {})[symbol] = {
      received: figures.received,
      skipped: counters?.skipped ?? 0,
      lost: counters?.lost ?? 0,
      lostBy: lostByCause(counters ? [counters] : []),
      invalid: counters?.invalid ?? 0,
      gaps: figures.gaps,
      gapsBy: { ...figures.gapsBy },
      lastSeq: figures.lastSeq ?? null,
      lastPrice: figures.lastPrice ?? null,
      restarts: counters?.restarts ?? 0,
    };
  });
  // Over every row the exchange reports, including one for messages that
  // named no known stream.
  const sum = (key: "lost" | "invalid" | "skipped") =>
    rows.reduce((total, row) => total + (row[key] ?? 0), 0);
  return {
    transport: feed.name,
    received: stats.received,
    skipped: sum("skipped"),
    lost: sum("lost"),
    lostBy: lostByCause(rows),
    invalid: sum("invalid"),
    gaps: stats.gaps,
    gapsBy: stats.gapsBy,
    elapsedMs: Math.round(elapsedMs),
    activeMs: Math.round(stats.activeMs * 1000) / 1000,
    ratePerSecond: stats.activeMs > 0
      ? Math.round(stats.received / (stats.activeMs / 1000))
      : 0,
    exchanges,
    latencyNs: stats.latency(),
    ...options.broker && { broker: brokerSummary(options.broker) },
    ...options.outliers && {
      outliers: outliersOf(stats.streams, options.outliers),
    },
  };
}

/** The streams with clock outliers, per exchange, then symbol. */
function outliersOf(
  streams: readonly TradeOrigin[],
  count: (stream: number) => number,
): Record<string, Record<string, number>> {
  const outliers: Record<string, Record<string, number>> = {};
  streams.forEach(({ exchange, symbol }, index) => {
    const n = count(index);
    if (n > 0) (outliers[exchange] ??= {})[symbol] = n;
  });
  return outliers;
}

/** The figures of `broker`. */
export function brokerSummary(broker: PaperBroker): BrokerSummary {
  return {
    orders: broker.orders,
    fills: broker.fills,
    fees: broker.fees,
    startingBalance: broker.startingBalance,
    balance: broker.balance,
    equity: broker.equity,
    realizedPnl: broker.realizedPnl,
    unrealizedPnl: broker.unrealizedPnl,
    openOrders: broker.openOrders().length,
    symbols: broker.positions().map((position) => ({
      ...position,
      openOrders: broker.openOrders(position.exchange, position.symbol).length,
    })),
  };
}

/** `1 order`, `2 orders`: a count and its noun, singular for one. */
function counted(count: number, noun: string): string {
  return `${formatCount(count)} ${count === 1 ? noun : `${noun}s`}`;
}

/** A quantity or price without float noise: 12 significant digits, trailing zeros trimmed. */
function amount(value: number): string {
  return String(Number(value.toPrecision(12)));
}

/** `, 1 order left open` or nothing. */
function leftOpen(count: number): string {
  return count === 0 ? "" : `, ${counted(count, "order")} left open`;
}

/** `+1.50`, `-2.00`: money with its sign. */
function money(value: number): string {
  const text = value.toFixed(2);
  return text.startsWith("-") ? text : `+${text}`;
}

/**
 * The broker's lines of the exit summary: the totals, then one per
 * (exchange, symbol); with `options.listed`, only the first that many with
 * orders, and one line for the rest (their totals, the first names).
 */
export function brokerLines(
  broker: BrokerSummary,
  options: {
    /** Streams listed at most (the rest folded). @default {Infinity} */
    listed?: number;
  } = {},
): string[] {
  const pnl = broker.realizedPnl + broker.unrealizedPnl;
  const listed = options.listed ?? Infinity;
  const all = broker.symbols;
  const shown = listed >= all.length
    ? all
    : all.filter((p) => p.orders > 0).slice(0, listed);
  const rest = all.filter((p) => !shown.includes(p));
  return [
    `paper broker: ${counted(broker.orders, "order")}, ${
      counted(broker.fills, "fill")
    }${leftOpen(broker.openOrders)}, fees ${broker.fees.toFixed(2)}, P&L ${
      money(pnl)
    } (realized ${money(broker.realizedPnl)}, unrealized ${
      money(broker.unrealizedPnl)
    }), equity ${broker.equity.toFixed(2)} from ${
      broker.startingBalance.toFixed(2)
    }`,
    ...shown.map((p) =>
      `paper ${p.exchange} ${p.symbol}: ${counted(p.orders, "order")}, ${
        counted(p.fills, "fill")
      }${leftOpen(p.openOrders)}, position ${amount(p.quantity)} @ ${
        amount(p.averagePrice)
      }, fees ${p.fees.toFixed(2)}, realized ${
        money(p.realizedPnl)
      }, unrealized ${money(p.unrealizedPnl)} at ${amount(p.lastPrice)}`
    ),
    ...rest.length === 0 ? [] : [restLine(rest)],
  ];
}

/** `paper: 297 more streams (A, B, C, …): 4 orders, …; 290 of them with no orders`. */
function restLine(rest: BrokerSummary["symbols"]): string {
  const sum = (pick: (p: BrokerSummary["symbols"][number]) => number) =>
    rest.reduce((total, p) => total + pick(p), 0);
  const names = rest.slice(0, 3).map((p) => `${p.exchange} ${p.symbol}`);
  const idle = rest.filter((p) => p.orders === 0).length;
  return `paper: ${formatCount(rest.length)} more ${
    rest.length === 1 ? "stream" : "streams"
  } (${names.join(", ")}${rest.length > 3 ? ", …" : ""}): ${
    counted(sum((p) => p.orders), "order")
  }, ${counted(sum((p) => p.fills), "fill")}${
    leftOpen(sum((p) => p.openOrders))
  }, fees ${sum((p) => p.fees).toFixed(2)}, realized ${
    money(sum((p) => p.realizedPnl))
  }, unrealized ${money(sum((p) => p.unrealizedPnl))}; ${
    formatCount(idle)
  } of them with no orders`;
}

/** Loss by cause, summed over `rows`. */
function lostByCause(
  rows: readonly StreamStats[],
): Partial<Record<LossCause, number>> {
  const total: Partial<Record<LossCause, number>> = {};
  for (const row of rows) {
    for (const [cause, count] of Object.entries(row.lostBy)) {
      if (!count) continue;
      const key = cause as LossCause;
      total[key] = (total[key] ?? 0) + count;
    }
  }
  return total;
}

/** "3 overwritten, 2 corrupt slot" (causes with none left out), or "" with none. */
export function byCause(counts: Partial<Record<string, number>>): string {
  return Object.entries(counts)
    .filter(([, count]) => (count ?? 0) > 0)
    .map(([cause, count]) => `${formatCount(count ?? 0)} ${cause}`)
    .join(", ");
}

/**
 * Logs the summary's line, prints it as JSON when `options.json`, and, when
 * trades were lost or invalid, logs an error saying so (no silent loss).
 * Returns whether it did: the exit status is then 1.
 */
export function reportSummary(
  summary: LiveSummary,
  log: Logger,
  options: {
    /** Print the summary as one JSON line on stdout. @default {false} */
    json?: boolean;
    /** Paper lines of streams listed at most (see {@linkcode brokerLines}). @default {Infinity} */
    listed?: number;
  } = {},
): boolean {
  const { latencyNs: latency } = summary;
  const gapEvents = byCause(summary.gapsBy);
  log.info(
    `stopped after ${(summary.elapsedMs / 1000).toFixed(1)}s: received ${
      formatCount(summary.received)
    }${
      summary.skipped > 0
        ? `, skipped ${
          formatCount(summary.skipped)
        } (the snapshot stands for them)`
        : ""
    }, lost ${
      formatCount(summary.lost)
    }, invalid ${summary.invalid}, gaps ${summary.gaps}${
      gapEvents === "" ? "" : `, gap events (${gapEvents})`
    }, ` +
      `latency p50 ${formatNanos(latency.p50)} p99 ${
        formatNanos(latency.p99)
      } max ${formatNanos(latency.max)}`,
    {
      received: summary.received,
      skipped: summary.skipped,
      lost: summary.lost,
      invalid: summary.invalid,
      gaps: summary.gaps,
      gapsBy: summary.gapsBy,
      elapsedMs: summary.elapsedMs,
    },
  );
  if (summary.broker !== undefined) {
    const listed = options.listed;
    for (const line of brokerLines(summary.broker, { listed })) log.info(line);
  }
  for (const [exchange, symbols] of Object.entries(summary.outliers ?? {})) {
    for (const [symbol, count] of Object.entries(symbols)) {
      log.warn(
        `${exchange} ${symbol}: ${count} clock outliers kept out of bars and broker (more than trading_core.bars.max_clock_jump ahead of the symbol's clock)`,
      );
    }
  }
  if (options.json) console.log(JSON.stringify(summary));
  if (summary.lost === 0 && summary.invalid === 0) return false;
  const parts = [];
  if (summary.lost > 0) {
    parts.push(
      `${formatCount(summary.lost)} trades lost (${byCause(summary.lostBy)})`,
    );
  }
  if (summary.invalid > 0) {
    parts.push(`${formatCount(summary.invalid)} invalid records skipped`);
  }
  log.error(`incomplete: ${parts.join(", ")}; exit status 1`);
  return true;
}

/**
 * A progress line per stream of `stats`, with the feed's `counters` of it;
 * `previous` holds each stream's count at the last call (updated).
 */
export function progressLines(
  stats: TradeStats,
  counters: StreamStats[],
  previous: number[],
  seconds: number,
): ProgressLine[] {
  return stats.streams.map(({ exchange, symbol }, index) => {
    const figures = stats.figures(index);
    const c = counters[index];
    const rate = (figures.received - (previous[index] ?? 0)) / seconds;
    previous[index] = figures.received;
    const latency = figures.latency;
    const p50 = latency.percentile(50);
    const p99 = latency.percentile(99);
    const price = figures.lastPrice === undefined
      ? "-"
      : String(figures.lastPrice);
    const state = c?.state ?? "waiting";
    return {
      text: `${exchange} ${symbol} ${formatCount(figures.received)} (${
        formatRate(rate)
      }) last ${price} lost ${
        formatCount(c?.lost ?? 0)
      } gaps ${figures.gaps} lag ${formatCount(c?.lag ?? 0)} latency p50 ${
        formatNanos(p50)
      } p99 ${formatNanos(p99)} [${state}]`,
      fields: {
        exchange,
        symbol,
        received: figures.received,
        rate: Math.round(rate),
        lastPrice: figures.lastPrice ?? null,
        lost: c?.lost ?? 0,
        gaps: figures.gaps,
        lag: c?.lag ?? 0,
        latencyP50Ns: p50,
        latencyP99Ns: p99,
        state,
      },
    };
  });
}
