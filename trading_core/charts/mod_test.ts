import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import {
  CHART_LIBRARY,
  CHART_SCRIPTS,
  CHART_STYLES,
  chartAsset,
  cspHash,
  inlineScript,
  inlineStyle,
} from "./mod.ts";

Deno.test("charts: the library is the version deno.json pins, taken from the module graph", () => {
  assert.equal(
    denoJson.imports[CHART_LIBRARY.name],
    `npm:${CHART_LIBRARY.name}@${CHART_LIBRARY.version}`,
  );
  const uplot = chartAsset("uPlot.iife.min.js");
  assert.ok(uplot, "uPlot's script is an asset");
  assert.match(uplot.text, new RegExp(`\\(v${CHART_LIBRARY.version}\\)`));
  assert.match(uplot.text, /var uPlot=/);
  assert.match(chartAsset("uPlot.min.css")?.text ?? "", /\.uplot/);
  assert.match(
    chartAsset("marketbus_charts.js")?.text ?? "",
    /globalThis\.marketbusCharts = /,
  );
  assert.equal(chartAsset("nope.js"), undefined);
});

Deno.test("charts: every asset can be inlined and names no network address to load", () => {
  for (const asset of CHART_SCRIPTS) {
    assert.match(asset.contentType, /^text\/javascript/);
    assert.ok(inlineScript(asset.text).startsWith("<script>"), asset.name);
    assert.doesNotMatch(asset.text, /\bimport\s*\(|importScripts|fetch\(/);
  }
  for (const asset of CHART_STYLES) {
    assert.match(asset.contentType, /^text\/css/);
    assert.ok(inlineStyle(asset.text).startsWith("<style>"), asset.name);
    assert.doesNotMatch(asset.text, /url\(|@import/);
  }
});

Deno.test("charts: cspHash is the base64 SHA-256 of the exact text", () => {
  assert.equal(
    cspHash(""),
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
  );
  assert.notEqual(cspHash("a"), cspHash("a "));
});

Deno.test("charts: text that would end the element early is refused", () => {
  assert.throws(() => inlineScript('x = "</SCRIPT>"'), RangeError);
  assert.throws(() => inlineScript("<!-- x"), RangeError);
  assert.throws(() => inlineStyle("a{}</style><script>"), RangeError);
  assert.equal(inlineScript("a < b"), "<script>a < b</script>");
});

Deno.test("chart assets: uPlot carries its MIT licence notice, inlined or served", () => {
  const uplot = chartAsset("uPlot.iife.min.js")!.text;
  assert.match(uplot, /^\/\*! uPlot 1\.6\.32, The MIT License/);
  assert.match(uplot, /Copyright \(c\) \d{4} Leon Sorokin/);
  assert.match(uplot, /Permission is hereby granted/);
});

Deno.test("chart assets: each carries the SHA-256 of its text, for an ETag", async () => {
  for (const a of [...CHART_SCRIPTS, ...CHART_STYLES]) {
    const digest = await crypto.subtle.digest(
      "SHA-256",
      new TextEncoder().encode(a.text),
    );
    const hex = [...new Uint8Array(digest)]
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    assert.equal(a.sha256, hex, a.name);
  }
});
