/**
 * The backtest's parts for its role (`trading_core/backtest/main.ts`): the
 * HTML report of a run and the result shape it draws. Kept apart from
 * trading_core/mod.ts so a library import does not load the chart library
 * (uPlot's text) and the report's Content-Security-Policy hashes.
 *
 * @example
 * ```ts ignore
 * import { renderReport } from "./mod.ts";
 *
 * await Deno.writeTextFile("report.html", renderReport(result));
 * ```
 *
 * @module
 */

export { MAX_CHARTS, renderReport } from "./report_html.ts";
export type * from "./result.ts";
