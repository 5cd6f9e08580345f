/**
 * The chart assets served as files, the way `live`'s console serves them:
 * under a strict Content-Security-Policy with no inline script or style
 * (`script-src 'self'; style-src 'self'`), uPlot and marketbus' plugins
 * load by name from `chartAsset`, draw candles with fill markers, and the
 * browser reports no error (so neither needs `eval`, inline styles in markup
 * or anything but their own files).
 */
import assert from "node:assert/strict";
import {
  CHART_SCRIPTS,
  CHART_STYLES,
  chartAsset,
} from "../trading_core/charts/mod.ts";
import { Browser, browserTest } from "./_browser.ts";
import { assertCandleChart, CHART_COLOURS } from "./_chart_probe.ts";

const POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; base-uri 'none'; form-action 'none'";

/** The page's own script: a candle chart of made-up data with two fills. */
const PAGE_SCRIPT = `"use strict";
{
  const t0 = Date.UTC(2026, 0, 5) / 1000;
  const xs = [], o = [], h = [], l = [], c = [];
  for (let i = 0, p = 100; i < 120; i++) {
    const n = p + Math.sin(i / 5) * 2;
    xs.push(t0 + i * 60); o.push(p); c.push(n);
    h.push(Math.max(p, n) + 1); l.push(Math.min(p, n) - 1); p = n;
  }
  // A buy at its candle's close, a sell above its candle's high (slippage):
  // the y scale must still show it.
  const markers = [
    { time: xs[20], price: c[20], side: "buy" },
    { time: xs[80], price: h[80] + 2, side: "sell" },
  ];
  globalThis.testChart = { markers, plot: new uPlot({
    width: 800, height: 300, tzDate: marketbusCharts.utcDate,
    scales: marketbusCharts.candleScales({ markers: () => markers }),
    axes: [marketbusCharts.timeAxis(), marketbusCharts.valueAxis()],
    series: [{}, ...marketbusCharts.candleSeries()],
    plugins: [marketbusCharts.candlestickPlugin({ markers: () => markers })],
  }, [xs, o, h, l, c], document.getElementById("chart")) };
  document.documentElement.dataset.charts = "1";
}
`;

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>chart assets</title>
${
  CHART_STYLES.map((a) => `<link rel="stylesheet" href="/assets/${a.name}">`)
    .join("\n")
}
</head><body><div id="chart"></div>
${
  CHART_SCRIPTS.map((a) => `<script src="/assets/${a.name}"></script>`).join(
    "\n",
  )
}
<script src="/page.js"></script>
</body></html>`;

function serve(request: Request): Response {
  const path = new URL(request.url).pathname;
  const headers = { "content-security-policy": POLICY };
  if (path === "/") {
    return new Response(PAGE, {
      headers: { ...headers, "content-type": "text/html; charset=utf-8" },
    });
  }
  if (path === "/page.js") {
    return new Response(PAGE_SCRIPT, {
      headers: { ...headers, "content-type": "text/javascript; charset=utf-8" },
    });
  }
  const asset = path.startsWith("/assets/")
    ? chartAsset(path.slice("/assets/".length))
    : undefined;
  if (asset === undefined) return new Response("not found", { status: 404 });
  return new Response(asset.text, {
    headers: { ...headers, "content-type": asset.contentType },
  });
}

browserTest(
  "chart assets: served as files under script-src 'self', they draw candles and fills with no error",
  async () => {
    await using server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      serve,
    );
    await using browser = await Browser.launch();
    const page = await browser.newPage();
    // A viewer in Germany: the chart's numbers stay en-US like the tables.
    await page.setLocale("de-DE");
    await page.goto(`http://127.0.0.1:${server.addr.port}/`);
    await page.waitFor("document.documentElement.dataset.charts", 10_000);
    const [chart] = await page.canvasColours("#chart", CHART_COLOURS);
    const colours = chart.near;
    assert.ok(colours.up > 100 && colours.down > 100, JSON.stringify(colours));
    assert.ok(colours.buy > 20 && colours.sell > 20, JSON.stringify(colours));
    // Where it drew: candles and both markers at their scale positions.
    const checked = await assertCandleChart(
      page,
      "testChart.plot",
      "testChart.markers",
      20,
    );
    assert.equal(checked.markers, 2);
    assert.deepEqual(
      await page.evaluate(`[
        (1234.5).toLocaleString(),
        testChart.plot.axes[1].values(testChart.plot, [100100.5, NaN]),
        testChart.plot.series[4].value(testChart.plot, 100100.5),
      ]`),
      ["1.234,5", ["100,100.5", "—"], "100,100.5"],
    );
    // uPlot's stylesheet applied: it centres the legend.
    assert.equal(
      await page.evaluate(
        `getComputedStyle(document.querySelector(".u-legend")).textAlign`,
      ),
      "center",
    );
    assert.deepEqual(page.errors, [], browser.log);
  },
);
