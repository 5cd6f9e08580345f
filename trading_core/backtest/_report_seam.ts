/**
 * The report page the backtest writes as `report.html`. A stand-in until
 * the HTML report of issue 18 (`report_html.ts`, another branch) is merged:
 * then this file goes and `main.ts` imports `renderReport` from there.
 *
 * @module
 */

import type { BacktestResult } from "./result.ts";

/** A minimal deterministic page: the summary as a table, the series counted. */
export function renderReport(result: BacktestResult): string {
  const escape = (text: string) =>
    text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const rows = Object.entries(result.summary)
    .filter(([key]) => key !== "symbols")
    .map(([key, value]) =>
      `<tr><th>${escape(key)}</th><td>${
        escape(JSON.stringify(value))
      }</td></tr>`
    )
    .join("\n");
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Backtest report</title></head>
<body>
<h1>Backtest</h1>
<table>
${rows}
</table>
<p>${result.candles.length} candle series, ${result.fills.length} fills, ${result.equity.length} equity points.</p>
</body></html>
`;
}
