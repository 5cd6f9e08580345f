/**
 * The backtest's HTML report (`report.html`): one self-contained page that
 * opens offline from the file. It shows the summary table and the
 * per-symbol breakdown (plain HTML), the equity curve and its drawdown, and
 * price candles per (exchange, symbol) with the strategy's fills marked
 * (drawn by uPlot, inlined from {@linkcode CHART_SCRIPTS}).
 *
 * The data travels as JSON in a `<script type="application/json">` element
 * with `<`, `>`, `&`, U+2028 and U+2029 escaped, so no value can end the
 * element; every text (symbols included) is HTML-escaped; a
 * Content-Security-Policy allows exactly the page's own inline scripts and
 * style, by hash, and nothing else (no network, no images, no forms).
 *
 * @module
 */

import {
  CHART_SCRIPTS,
  CHART_STYLES,
  cspHash,
  inlineScript,
  inlineStyle,
} from "../charts/mod.ts";
import { plural } from "../../common/runtime/format.ts";
import pageScript from "./_report_page.js" with { type: "text" };
import reportStyle from "./_report_style.css" with { type: "text" };
import {
  escapeHtml,
  formatCount,
  formatTime,
  summaryTable,
  symbolTable,
} from "./_report_table.ts";
import type { BacktestResult, CandleSeries, ReportFill } from "./result.ts";

/**
 * Candle charts drawn at most: for this many (exchange, symbol) series, the
 * most traded first (then in the result's order); the others are named in a
 * note and stay complete in the per-symbol table. Keeps the page's size and
 * the browser's work bounded when a run covers hundreds of symbols.
 */
export const MAX_CHARTS = 50;

const STYLE = [...CHART_STYLES.map((a) => a.text), reportStyle].join("\n");
const SCRIPTS = [...CHART_SCRIPTS.map((a) => a.text), pageScript];
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `script-src ${SCRIPTS.map(cspHash).join(" ")}`,
  `style-src ${cspHash(STYLE)}`,
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

/**
 * The report of `result` as one HTML document. Pure and deterministic: the
 * same result gives the same string (no generation time, fixed key order,
 * `en-US` numbers, UTC times).
 *
 * @example
 * ```ts ignore
 * await Deno.writeTextFile("report.html", renderReport(result));
 * ```
 */
export function renderReport(result: BacktestResult): string {
  const { summary } = result;
  const title = summary.from === null
    ? "Backtest report"
    : `Backtest report, ${formatTime(summary.from)} to ${
      formatTime(summary.to)
    }`;
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${
      escapeHtml(CONTENT_SECURITY_POLICY)
    }">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    inlineStyle(STYLE),
    "</head>",
    "<body>",
    `<h1>${escapeHtml(title)}</h1>`,
    intro(result),
    "<h2>Summary</h2>",
    summaryTable(summary),
    "<h2>Per symbol</h2>",
    `<div class="symbols-wrap">${symbolTable(summary.symbols)}</div>`,
    equitySection(result),
    pricesSection(result),
    `<script type="application/json" id="report-data">${
      scriptJson(reportData(result))
    }</script>`,
    ...SCRIPTS.map(inlineScript),
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

/** `value` as JSON that cannot end a `<script>` element or break out of it. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

function intro(result: BacktestResult): string {
  const s = result.summary;
  if (s.trades === 0) {
    return `<p class="empty" id="empty-note">No trades were processed: nothing to draw. Check the data files, --from/--to and the symbol filter.</p>`;
  }
  const orders = s.orders === 0
    ? "The strategy placed no orders."
    : `${formatCount(s.orders)} ${plural(s.orders, "order")}, ${
      formatCount(s.fills)
    } ${plural(s.fills, "fill")}.`;
  const symbols = s.symbols.length;
  return `<p class="meta">${formatCount(s.trades)} ${
    plural(s.trades, "trade")
  } of ${formatCount(symbols)} ${plural(symbols, "symbol")}. ${
    escapeHtml(orders)
  }</p>`;
}

function equitySection(result: BacktestResult): string {
  const head = "<h2>Equity and drawdown</h2>";
  if (result.equity.length === 0) {
    return `${head}\n<p class="empty">No equity samples.</p>`;
  }
  return [
    head,
    `<p class="legend-note">Sampled at the end of every ${
      escapeHtml(result.summary.sampleInterval)
    } bar; drawdown is the fall from the highest equity so far.</p>`,
    '<div class="chart" id="equity-chart"></div>',
    '<div class="chart" id="drawdown-chart"></div>',
  ].join("\n");
}

function pricesSection(result: BacktestResult): string {
  const head = "<h2>Prices and fills</h2>";
  if (result.candles.length === 0) {
    return `${head}\n<p class="empty">No candles.</p>`;
  }
  const fills = fillsBySeries(result);
  const shown = result.fills.length < result.summary.fills
    ? ` The charts show ${formatCount(result.fills.length)} of ${
      formatCount(result.summary.fills)
    } ${plural(result.summary.fills, "fill")}, sampled evenly over the run.`
    : "";
  const charted = chartedSeries(result);
  const left = result.candles.length - charted.length;
  const parts = [
    head,
    `<p class="legend-note">Candles in UTC; fills at their price: <span class="buy">▲ buy</span>, <span class="sell">▼ sell</span>.${shown}</p>`,
  ];
  charted.forEach((series, i) => {
    const count = fills.get(seriesKey(series))?.length ?? 0;
    parts.push(
      `<h3>${escapeHtml(`${series.exchange} ${series.symbol}`)} · ${
        escapeHtml(series.interval)
      } candles · ${formatCount(count)} ${plural(count, "fill")}</h3>`,
      series.candles.length === 0
        ? '<p class="empty">No candles.</p>'
        : `<div class="chart" data-candles="${i}"></div>`,
    );
  });
  const none = noCandle(result);
  if (none.length > 0) {
    parts.push(
      `<p class="empty" id="no-candles">No finished ${
        escapeHtml(result.candles[0].interval)
      } candle (a run shorter than one bar, or no trade after the first): ${
        escapeHtml(none.join(", "))
      }.</p>`,
    );
  }
  if (left > 0) {
    parts.push(
      `<p class="empty" id="charts-left-out">${
        formatCount(left)
      } more series not charted: the report draws at most ${MAX_CHARTS}, the most traded first; every symbol is in the per-symbol table.</p>`,
    );
  }
  return parts.join("\n");
}

/** The symbols of the summary ("exchange SYMBOL") with no finished candle, in the summary's order. */
function noCandle(result: BacktestResult): string[] {
  const drawn = new Set(
    result.candles.filter((series) => series.candles.length > 0).map(
      seriesKey,
    ),
  );
  return result.summary.symbols.filter((s) => !drawn.has(seriesKey(s))).map(
    (s) => `${s.exchange} ${s.symbol}`,
  );
}

/** The candle series to draw: at most {@linkcode MAX_CHARTS}, the most traded first. */
function chartedSeries(result: BacktestResult): CandleSeries[] {
  const trades = new Map(
    result.summary.symbols.map((s) => [seriesKey(s), s.trades]),
  );
  const count = (s: CandleSeries) => {
    const n = trades.get(seriesKey(s)) ?? 0;
    return Number.isFinite(n) ? n : 0;
  };
  return result.candles
    .map((series, i) => ({ series, i }))
    .sort((a, b) => count(b.series) - count(a.series) || a.i - b.i)
    .slice(0, MAX_CHARTS)
    .map(({ series }) => series);
}

function seriesKey(s: { exchange: string; symbol: string }): string {
  return `${s.exchange}\u0000${s.symbol}`;
}

function fillsBySeries(result: BacktestResult): Map<string, ReportFill[]> {
  const bySeries = new Map<string, ReportFill[]>();
  for (const fill of result.fills) {
    const key = seriesKey(fill);
    const list = bySeries.get(key);
    if (list === undefined) bySeries.set(key, [fill]);
    else list.push(fill);
  }
  return bySeries;
}

/** What the page script draws, in columns (uPlot's layout), times in seconds. */
function reportData(result: BacktestResult) {
  const fills = fillsBySeries(result);
  return {
    candles: chartedSeries(result).map((series: CandleSeries) => {
      const marks = fills.get(seriesKey(series)) ?? [];
      const c = series.candles;
      return {
        exchange: series.exchange,
        symbol: series.symbol,
        interval: series.interval,
        time: c.map((x) => x.time / 1000),
        open: c.map((x) => x.open),
        high: c.map((x) => x.high),
        low: c.map((x) => x.low),
        close: c.map((x) => x.close),
        fills: {
          time: marks.map((f) => f.time / 1000),
          price: marks.map((f) => f.price),
          side: marks.map((f) => f.side),
        },
      };
    }),
    equity: {
      time: result.equity.map((p) => p.time / 1000),
      equity: result.equity.map((p) => p.equity),
      drawdown: result.equity.map((p) => p.drawdown),
    },
  };
}
