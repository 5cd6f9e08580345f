/**
 * The report's text: HTML escaping, number formatting (fixed `en-US`, UTC, so
 * the same result gives the same page anywhere) and the summary tables.
 *
 * @module
 */

import type { BacktestSummary, SymbolSummary } from "./result.ts";

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** `text` with `& < > " '` escaped: safe as element text and inside a quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** An integer count with thousands separators: `1,234,567`, `—` when not finite. */
export function formatCount(value: number): string {
  if (!Number.isFinite(value)) return "—";
  return Math.round(value).toLocaleString("en-US");
}

/** An amount with `digits` decimals and thousands separators, `—` when not finite. */
export function formatAmount(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return "—";
  const text = value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
  return text === "-0" || /^-0\.0*$/.test(text) ? text.slice(1) : text;
}

/** A fraction as a percentage with 2 decimals: `0.0512` → `5.12 %`, `—` when not finite. */
function formatPercent(value: number): string {
  if (!Number.isFinite(value)) return "—";
  return `${formatAmount(value * 100)} %`;
}

/** Ms since the epoch as `YYYY-MM-DD HH:MM:SS UTC`, `—` for null. */
export function formatTime(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return "—";
  return `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** The run's figures, one row each: `[label, formatted value]`. */
function summaryRows(s: BacktestSummary): [string, string][] {
  return [
    ["From", formatTime(s.from)],
    ["To", formatTime(s.to)],
    ["Trades processed", formatCount(s.trades)],
    ["Gaps", formatCount(s.gaps)],
    ["Bad rows skipped", formatCount(s.badRows)],
    ["Duplicates left out", formatCount(s.duplicates)],
    ["Orders", formatCount(s.orders)],
    ["Fills", formatCount(s.fills)],
    ["Fees", formatAmount(s.fees)],
    ["Starting balance", formatAmount(s.startingBalance)],
    ["Ending equity", formatAmount(s.endingEquity)],
    ["P&L", formatAmount(s.pnl)],
    ["Realized P&L", formatAmount(s.realizedPnl)],
    ["Unrealized P&L", formatAmount(s.unrealizedPnl)],
    ["Max drawdown", formatAmount(s.maxDrawdown)],
    ["Max drawdown (of peak)", formatPercent(s.maxDrawdownRatio)],
    ["Lowest equity", formatAmount(s.minEquity)],
    [
      "Equity below zero",
      s.equityBelowZeroAt === null
        ? "never"
        : `from ${formatTime(s.equityBelowZeroAt)}`,
    ],
    ["Sharpe (per bar)", s.sharpe === null ? "—" : formatAmount(s.sharpe, 3)],
    ["Sampled on", s.sampleInterval],
    ["Exposure (bars with a position)", formatPercent(s.exposure)],
    ["Max gross exposure", formatAmount(s.maxGrossExposure)],
  ];
}

/** The summary as a two-column `<table>`, every value escaped. */
export function summaryTable(s: BacktestSummary): string {
  const rows = summaryRows(s).map(([label, value]) =>
    `<tr><th scope="row">${escapeHtml(label)}</th><td>${
      escapeHtml(value)
    }</td></tr>`
  );
  return `<table class="summary" id="summary-table">\n<tbody>\n${
    rows.join("\n")
  }\n</tbody>\n</table>`;
}

const SYMBOL_COLUMNS: readonly [string, (s: SymbolSummary) => string][] = [
  ["Exchange", (s) => s.exchange],
  ["Symbol", (s) => s.symbol],
  ["Trades", (s) => formatCount(s.trades)],
  ["Gaps", (s) => formatCount(s.gaps)],
  ["Orders", (s) => formatCount(s.orders)],
  ["Fills", (s) => formatCount(s.fills)],
  ["Volume", (s) => formatAmount(s.volume, 4)],
  ["Fees", (s) => formatAmount(s.fees)],
  ["Realized P&L", (s) => formatAmount(s.realizedPnl)],
  ["Unrealized P&L", (s) => formatAmount(s.unrealizedPnl)],
  ["Position", (s) => formatAmount(s.position, 4)],
  ["Last price", (s) => formatAmount(s.lastPrice, 4)],
];

/** The per-(exchange, symbol) breakdown as a `<table>`, or a sentence when there is none. */
export function symbolTable(symbols: readonly SymbolSummary[]): string {
  if (symbols.length === 0) {
    return `<p class="empty">No symbol had a trade.</p>`;
  }
  const head = SYMBOL_COLUMNS.map(([label]) =>
    `<th scope="col">${escapeHtml(label)}</th>`
  ).join("");
  const rows = symbols.map((s) =>
    `<tr>${
      SYMBOL_COLUMNS.map(([, cell], i) =>
        `<${i < 2 ? 'th scope="row"' : "td"}>${escapeHtml(cell(s))}</${
          i < 2 ? "th" : "td"
        }>`
      ).join("")
    }</tr>`
  );
  return `<table class="symbols" id="symbol-table">\n<thead><tr>${head}</tr></thead>\n<tbody>\n${
    rows.join("\n")
  }\n</tbody>\n</table>`;
}
