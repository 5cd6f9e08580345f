/**
 * The files the console page loads, served by `live` itself under
 * `/assets/`: its own page modules (console.js imports the others) and
 * stylesheet, and the chart assets of
 * trading_core/charts (the pinned uPlot and marketbus' candle plugin, the
 * same the backtest report inlines). Taken from the module graph as text:
 * nothing from a CDN, and `deno compile` binaries carry them.
 *
 * @module
 */

import {
  CHART_SCRIPTS,
  CHART_STYLES,
  type ChartAsset,
  textAsset,
} from "../charts/mod.ts";
import pageHtml from "./page/index.html" with { type: "text" };
import pageScript from "./page/console.js" with { type: "text" };
import tableScript from "./page/table.js" with { type: "text" };
import chartScript from "./page/chart.js" with { type: "text" };
import transportScript from "./page/transport.js" with { type: "text" };
import formatScript from "./page/format.js" with { type: "text" };
import pageStyle from "./page/console.css" with { type: "text" };

const JAVASCRIPT = "text/javascript; charset=utf-8";

/** The page itself, `/`. */
export const PAGE: ChartAsset = textAsset("index.html", {
  contentType: "text/html; charset=utf-8",
  text: pageHtml,
});

/** Every file under `/assets/`, by name. */
export const ASSETS: ReadonlyMap<string, ChartAsset> = new Map(
  [
    ...CHART_STYLES,
    ...CHART_SCRIPTS,
    textAsset("console.js", { contentType: JAVASCRIPT, text: pageScript }),
    textAsset("table.js", { contentType: JAVASCRIPT, text: tableScript }),
    textAsset("chart.js", { contentType: JAVASCRIPT, text: chartScript }),
    textAsset("transport.js", {
      contentType: JAVASCRIPT,
      text: transportScript,
    }),
    textAsset("format.js", { contentType: JAVASCRIPT, text: formatScript }),
    textAsset("console.css", {
      contentType: "text/css; charset=utf-8",
      text: pageStyle,
    }),
  ].map((a) => [a.name, a]),
);
