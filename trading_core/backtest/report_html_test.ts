import assert from "node:assert/strict";
import { cspHash } from "../charts/mod.ts";
import { MAX_CHARTS, renderReport, scriptJson } from "./report_html.ts";
import { formatAmount, formatCount, formatTime } from "./_report_table.ts";
import type { BacktestResult, BacktestSummary } from "./result.ts";

const HOSTILE = "</script><img src=x onerror=alert(1)>";

function summary(over: Partial<BacktestSummary> = {}): BacktestSummary {
  return {
    version: 1,
    from: null,
    to: null,
    trades: 0,
    gaps: 0,
    outliers: 0,
    badRows: 0,
    duplicates: 0,
    orders: 0,
    fills: 0,
    fees: 0,
    startingBalance: 10_000,
    endingEquity: 10_000,
    pnl: 0,
    realizedPnl: 0,
    unrealizedPnl: 0,
    maxDrawdown: 0,
    maxDrawdownRatio: 0,
    minEquity: 10_000,
    equityBelowZeroAt: null,
    sharpe: null,
    sampleInterval: "1m",
    exposure: 0,
    maxGrossExposure: 0,
    symbols: [],
    ...over,
  };
}

/** Two streams, two candles each, one round trip on the first. */
function smallResult(symbol = "BTCUSDT", exchange = "binance"): BacktestResult {
  const t = Date.UTC(2026, 0, 5);
  const candle = (i: number, p: number) => ({
    time: t + i * 60_000,
    open: p,
    high: p + 2,
    low: p - 1,
    close: p + 1,
    volume: 3,
  });
  const figures = {
    trades: 4,
    gaps: 0,
    outliers: 0,
    orders: 2,
    fills: 2,
    volume: 2,
    fees: 0.2,
    realizedPnl: 0.8,
    unrealizedPnl: 0,
    position: 0,
    lastPrice: 101,
  };
  return {
    summary: summary({
      from: t,
      to: t + 90_000,
      trades: 8,
      orders: 2,
      fills: 2,
      fees: 0.2,
      endingEquity: 10_000.8,
      pnl: 0.8,
      realizedPnl: 0.8,
      sharpe: 0.25,
      symbols: [
        { exchange, symbol, ...figures },
        { exchange: "binance", symbol: "ETHUSDT", ...figures, orders: 0 },
      ],
    }),
    candles: [
      {
        exchange,
        symbol,
        interval: "1m",
        candles: [candle(0, 100), candle(1, 101)],
      },
      {
        exchange: "binance",
        symbol: "ETHUSDT",
        interval: "1m",
        candles: [candle(0, 30), candle(1, 31)],
      },
    ],
    fills: [
      {
        orderId: "1",
        exchange,
        symbol,
        side: "buy",
        quantity: 1,
        price: 100,
        fee: 0.1,
        time: t + 1,
      },
      {
        orderId: "2",
        exchange,
        symbol,
        side: "sell",
        quantity: 1,
        price: 101,
        fee: 0.1,
        time: t + 60_001,
      },
    ],
    equity: [
      { time: t + 60_000, equity: 10_000, drawdown: 0 },
      { time: t + 120_000, equity: 10_000.8, drawdown: 0 },
    ],
  };
}

function dataOf(html: string) {
  const found =
    /<script type="application\/json" id="report-data">(.*?)<\/script>/s
      .exec(html);
  assert.ok(found, "the data element is there");
  return { raw: found[1], data: JSON.parse(found[1]) };
}

Deno.test("report: a hostile symbol and exchange stay text, in the HTML and in the data", () => {
  const html = renderReport(smallResult(HOSTILE, '"><svg onload=alert(2)>'));
  assert.doesNotMatch(html, /<img|<svg|onerror=alert\(1\)>/i);
  // Each </script> closes one of the page's own four script elements.
  assert.equal(html.match(/<\/script/gi)?.length, 4);
  assert.ok(html.includes("&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"));
  assert.ok(html.includes("&quot;&gt;&lt;svg onload=alert(2)&gt;"));
  const { raw, data } = dataOf(html);
  assert.doesNotMatch(raw, /[<>&\u2028\u2029]/);
  assert.equal(data.candles[0].symbol, HOSTILE);
  assert.deepEqual(data.candles[0].fills.side, ["buy", "sell"]);
});

Deno.test("report: scriptJson escapes what could end or break a script element", () => {
  const text = scriptJson({ s: "</script>&<!--\u2028\u2029" });
  assert.equal(
    text,
    '{"s":"\\u003c/script\\u003e\\u0026\\u003c!--\\u2028\\u2029"}',
  );
  assert.deepEqual(JSON.parse(text), { s: "</script>&<!--\u2028\u2029" });
});

Deno.test("report: the same result gives the same page, byte for byte", async () => {
  const result = smallResult();
  const first = renderReport(result);
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(renderReport(structuredClone(result)), first);
  assert.doesNotMatch(
    first,
    new RegExp(`${new Date().getUTCFullYear()}-\\d\\d-\\d\\dT`),
  );
});

Deno.test("report: the policy allows exactly the page's own inline scripts and style", () => {
  const html = renderReport(smallResult());
  const policy = /http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(
    html,
  )?.[1]
    .replaceAll("&#39;", "'");
  assert.ok(policy);
  assert.match(policy, /^default-src 'none'; /);
  const scripts = [...html.matchAll(/<script>(.*?)<\/script>/gs)].map((m) =>
    m[1]
  );
  assert.equal(scripts.length, 3);
  const allowed = /script-src ([^;]*)/.exec(policy)?.[1].split(" ");
  assert.deepEqual(allowed, scripts.map(cspHash));
  const style = /<style>(.*?)<\/style>/s.exec(html)?.[1] ?? "";
  assert.match(policy, new RegExp(`style-src ${escape(cspHash(style))}(;|$)`));
  // Nothing is loaded from anywhere: no src or href attributes at all.
  assert.doesNotMatch(html, /<(script|link|img|iframe)[^>]*\s(src|href)=/i);
});

Deno.test("report: the tables show the summary and per-symbol figures", () => {
  const html = renderReport(smallResult());
  assert.match(html, /<th scope="row">Trades processed<\/th><td>8<\/td>/);
  assert.match(html, /<th scope="row">Ending equity<\/th><td>10,000\.80<\/td>/);
  assert.match(
    html,
    /<th scope="row">Sharpe \(per bar\)<\/th><td>0\.250<\/td>/,
  );
  assert.match(
    html,
    /<th scope="row">binance<\/th><th scope="row">ETHUSDT<\/th>/,
  );
  assert.match(html, /binance BTCUSDT · 1m candles · 2 fills/);
  assert.match(html, /data-candles="0"/);
  assert.match(html, /id="equity-chart"/);
});

Deno.test("report: a run without trades renders a page that says so", () => {
  const html = renderReport({
    summary: summary(),
    candles: [],
    fills: [],
    equity: [],
  });
  assert.match(html, /No trades were processed: nothing to draw/);
  assert.match(html, /No symbol had a trade\./);
  assert.match(html, /No equity samples\./);
  assert.match(html, /<p class="empty">No candles\.<\/p>/);
  assert.doesNotMatch(html, /data-candles=|id="equity-chart"/);
  assert.match(html, /<th scope="row">Sharpe \(per bar\)<\/th><td>—<\/td>/);
  assert.deepEqual(dataOf(html).data.equity, {
    time: [],
    equity: [],
    drawdown: [],
  });
});

Deno.test("report: a run with trades but no orders says the strategy placed none", () => {
  const result = smallResult();
  result.summary = { ...result.summary, orders: 0, fills: 0 };
  result.fills = [];
  assert.match(renderReport(result), /The strategy placed no orders\./);
});

Deno.test("report: numbers and times are formatted the same anywhere", () => {
  assert.equal(formatCount(1234567.4), "1,234,567");
  assert.equal(formatAmount(-1234.5), "-1,234.50");
  assert.equal(formatAmount(-0.001), "0.00");
  assert.equal(formatAmount(Number.NaN), "—");
  assert.equal(
    formatTime(Date.UTC(2026, 0, 5, 13, 4, 5, 678)),
    "2026-01-05 13:04:05 UTC",
  );
  assert.equal(formatTime(null), "—");
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

Deno.test("report: at most MAX_CHARTS candle charts, the most traded first, the rest named; the table stays complete", () => {
  const base = smallResult();
  const n = MAX_CHARTS + 30;
  const names = Array.from({ length: n }, (_, i) => `S${i}USDT`);
  const candles = Array.from({ length: 500 }, (_, i) => ({
    time: Date.UTC(2026, 0, 5) + i * 60_000,
    open: 100,
    high: 102,
    low: 99,
    close: 101,
    volume: 1,
  }));
  const result: BacktestResult = {
    ...base,
    summary: summary({
      trades: n,
      symbols: names.map((symbol, i) => ({
        ...base.summary.symbols[0],
        symbol,
        trades: i, // the last ones are the most traded
      })),
    }),
    candles: names.map((symbol) => ({
      exchange: "binance",
      symbol,
      interval: "1m",
      candles,
    })),
    fills: [],
  };
  const html = renderReport(result);
  const charts = [...html.matchAll(/data-candles="(\d+)"/g)];
  assert.equal(charts.length, MAX_CHARTS);
  const titles = [...html.matchAll(/<h3>binance (S\d+USDT)/g)].map((m) => m[1]);
  assert.deepEqual(titles, names.slice().reverse().slice(0, MAX_CHARTS));
  assert.match(html, /30 more series not charted: the report draws at most 50/);
  const rows = html.split("\n").filter((l) =>
    l.startsWith('<tr><th scope="row">binance</th>')
  );
  assert.equal(rows.length, n);
  // bounded: 50 charts of 500 candles, well under what 80 would take
  assert.ok(html.length < 2_000_000, `${html.length} bytes`);
});

Deno.test("report: NaN and Infinity figures print as —, never NaN", () => {
  assert.equal(formatCount(NaN), "—");
  assert.equal(formatCount(Infinity), "—");
  const html = renderReport({
    ...smallResult(),
    summary: summary({
      trades: NaN,
      exposure: NaN,
      maxDrawdownRatio: -Infinity,
    }),
  });
  assert.doesNotMatch(html.split("<script")[0], /NaN|Infinity/);
});

Deno.test("report: one symbol is singular, thinned fills are said to be sampled evenly, symbols without a candle are named", () => {
  const one = smallResult();
  one.summary = { ...one.summary, symbols: one.summary.symbols.slice(0, 1) };
  one.candles = one.candles.slice(0, 1);
  assert.match(renderReport(one), /8 trades of 1 symbol\. 2 orders, 2 fills\./);
  const thinned = smallResult();
  thinned.summary = { ...thinned.summary, fills: 1_000 };
  const html = renderReport(thinned);
  assert.match(
    html,
    /The charts show 2 of 1,000 fills, sampled evenly over the run\./,
  );
  assert.doesNotMatch(html, /shows the first/);
  assert.doesNotMatch(html, /id="no-candles"/);
  const short = smallResult();
  short.candles = short.candles.slice(0, 1); // ETHUSDT: no finished bar
  assert.match(
    renderReport(short),
    /<p class="empty" id="no-candles">No finished 1m candle [^<]*: binance ETHUSDT\.<\/p>/,
  );
});
