/**
 * The chart assets a page needs, as text taken from the module graph: uPlot
 * (pinned in deno.json, `npm:uplot@1.6.32`, locked in deno.lock), its
 * stylesheet, and marketbus' own plugins (candles, fill markers, UTC time).
 * Text imports put them into `deno compile` binaries and need no network at
 * run time, so pages work offline and nothing is loaded from a CDN.
 *
 * A self-contained file (the backtest report) inlines them, allowing each
 * inline element by its hash ({@linkcode cspHash}, {@linkcode inlineScript});
 * a server (the live console) serves them as files by name
 * ({@linkcode chartAsset}) under `script-src 'self'`. The scripts are
 * classic scripts, loaded in the order of {@linkcode CHART_SCRIPTS}; they
 * define the globals `uPlot` and `marketbusCharts`.
 *
 * @example
 * ```ts
 * import { CHART_SCRIPTS, inlineScript } from "./mod.ts";
 *
 * const tags = CHART_SCRIPTS.map((asset) => inlineScript(asset.text)).join("\n");
 * ```
 *
 * @module
 */

import { createHash } from "node:crypto";
import uplotLicense from "uplot/LICENSE" with { type: "text" };
import uplotMinified from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import uplotStyle from "uplot/dist/uPlot.min.css" with { type: "text" };
import pluginScript from "./_plugins.js" with { type: "text" };

/** The charting library and its version: the same as deno.json's `uplot` import. */
export const CHART_LIBRARY = { name: "uplot", version: "1.6.32" } as const;

/**
 * uPlot's code with its MIT licence notice first (the licence asks for the
 * notice in every copy; the minified file carries only a URL): inlined into
 * each report and served to the console with it.
 */
const uplotScript = `/*! uPlot ${CHART_LIBRARY.version}, ${
  uplotLicense.trim().replaceAll("*/", "* /")
} */\n${uplotMinified}`;

/** One file a chart page loads. */
export interface ChartAsset {
  /** File name to serve it under, e.g. `uPlot.iife.min.js`. */
  readonly name: string;
  /** Its Content-Type. */
  readonly contentType: string;
  /** Its text. */
  readonly text: string;
  /** SHA-256 of its UTF-8 text, hex: an `ETag` for a server, so a browser never keeps an old copy after an upgrade. */
  readonly sha256: string;
}

const JAVASCRIPT = "text/javascript; charset=utf-8";

/** The scripts, in load order: uPlot (global `uPlot`), then the plugins (global `marketbusCharts`). */
export const CHART_SCRIPTS: readonly ChartAsset[] = Object.freeze([
  textAsset("uPlot.iife.min.js", {
    contentType: JAVASCRIPT,
    text: uplotScript,
  }),
  textAsset("marketbus_charts.js", {
    contentType: JAVASCRIPT,
    text: pluginScript,
  }),
]);

/** The stylesheets: uPlot's (legend, cursor, axes layout). */
export const CHART_STYLES: readonly ChartAsset[] = Object.freeze([
  textAsset("uPlot.min.css", {
    contentType: "text/css; charset=utf-8",
    text: uplotStyle,
  }),
]);

/** The asset called `name` (of {@linkcode CHART_SCRIPTS} and {@linkcode CHART_STYLES}), or `undefined`. */
export function chartAsset(name: string): ChartAsset | undefined {
  return [...CHART_SCRIPTS, ...CHART_STYLES].find((a) => a.name === name);
}

/**
 * The Content-Security-Policy source allowing an inline element whose text
 * is exactly `text`: `'sha256-<base64>'`.
 *
 * @example
 * ```ts
 * import { cspHash } from "./mod.ts";
 *
 * const policy = `script-src ${cspHash("console.log(1)")}`;
 * ```
 */
export function cspHash(text: string): string {
  const digest = createHash("sha256").update(text, "utf8").digest("base64");
  return `'sha256-${digest}'`;
}

/**
 * `<script>text</script>`, after checking that `text` cannot end the element
 * early or open an HTML comment in it.
 *
 * @throws {RangeError} if `text` contains `</script` or `<!--`.
 */
export function inlineScript(text: string): string {
  assertInlineSafe(text, "script");
  return `<script>${text}</script>`;
}

/**
 * `<style>text</style>`, after checking that `text` cannot end the element
 * early.
 *
 * @throws {RangeError} if `text` contains `</style` or `<!--`.
 */
export function inlineStyle(text: string): string {
  assertInlineSafe(text, "style");
  return `<style>${text}</style>`;
}

function assertInlineSafe(text: string, tag: string): void {
  const bad = new RegExp(`</${tag}|<!--`, "i").exec(text);
  if (bad !== null) {
    throw new RangeError(
      `Cannot inline text into <${tag}>: it contains "${
        bad[0]
      }" at offset ${bad.index}, which would end or break the element; serve it as a file instead`,
    );
  }
}

/** A {@linkcode ChartAsset} of `file.text` (its SHA-256 computed): for a page's own files served beside the chart assets. */
export function textAsset(
  name: string,
  file: {
    /** Its Content-Type. */
    contentType: string;
    /** Its text. */
    text: string;
  },
): ChartAsset {
  const { contentType, text } = file;
  const sha256 = createHash("sha256").update(text, "utf8").digest("hex");
  return Object.freeze({ name, contentType, text, sha256 });
}
