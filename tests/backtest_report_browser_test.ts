/**
 * The backtest report in a real browser (headless Chromium over the
 * DevTools protocol, tests/_browser.ts): opened as a file, it loads with no
 * console error (CSP violations included), draws every chart (the candle,
 * fill, equity and drawdown colours are on their canvases), shows the
 * summary figures, and renders a hostile symbol as text. When it fails, the
 * report and a screenshot are kept in the test's temp dir, whose path the
 * failure names; otherwise the dir is removed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { renderReport } from "../trading_core/backtest/report_html.ts";
import { makeBacktestResult } from "./_backtest_result.ts";
import { Browser, browserTest, type Page } from "./_browser.ts";
import { assertCandleChart } from "./_chart_probe.ts";

const HOSTILE_SYMBOL = "</script><img src=x onerror=alert(1)>";
const HOSTILE_EXCHANGE = "<b>x</b>";

/** The colours the report draws with (trading_core/charts/_plugins.js, _report_page.js). */
const COLOURS = {
  up: "#26a69a",
  down: "#ef5350",
  buy: "#1565c0",
  sell: "#ff6f00",
  drawdown: "#c62828",
};

async function openReport(page: Page, dir: string, html: string) {
  const path = join(dir, "report.html");
  await Deno.writeTextFile(path, html);
  await page.goto(`file://${path}`);
  return await page.waitFor<string>(
    "document.documentElement.dataset.charts",
    10_000,
  );
}

browserTest(
  "backtest report: opens offline in Chromium with no error, draws every chart, shows the figures",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "marketbus-report-" });
    await using browser = await Browser.launch();
    const page = await browser.newPage();
    try {
      await checkReport(dir, browser, page);
    } catch (error) {
      await page.screenshot(join(dir, "report.png")).catch(() => {});
      throw new Error(`report and screenshot kept in ${dir}`, { cause: error });
    }
    await Deno.remove(dir, { recursive: true });
  },
);

/** The report of four symbols (one hostile) drawn, figured and escaped. */
async function checkReport(dir: string, browser: Browser, page: Page) {
  const result = makeBacktestResult({
    streams: [
      ["binance", "BTCUSDT", 94_000],
      ["binance", "ETHUSDT", 3_300],
      ["binance", "SOLUSDT", 190],
      [HOSTILE_EXCHANGE, HOSTILE_SYMBOL, 1],
    ],
    candles: 300,
  });
  // 4 candle charts, equity, drawdown
  assert.equal(await openReport(page, dir, renderReport(result)), "6");

  const charts = await page.canvasColours(".chart", COLOURS);
  const byId = new Map(charts.map((c) => [c.id, c]));
  for (const id of ["0", "1", "2", "3"]) {
    const { near } = byId.get(id)!;
    const seen = JSON.stringify(byId.get(id));
    assert.ok(near.up > 200 && near.down > 200, `candles drawn: ${seen}`);
    assert.ok(near.buy > 20 && near.sell > 20, `fills marked: ${seen}`);
  }
  // Where they drew: candles and fills at their positions on the scales.
  for (const id of ["0", "1", "2"]) {
    await assertCandleChart(
      page,
      `marketbusReport.plot(document.querySelector('[data-candles="${id}"]'))`,
      `((d) => d.fills.time.map((time, i) =>
        ({ time, price: d.fills.price[i], side: d.fills.side[i] })))(
        JSON.parse(document.getElementById("report-data").textContent)
          .candles[${id}])`,
    );
  }
  assert.ok(byId.get("equity-chart")!.near.buy > 200, JSON.stringify(charts));
  assert.ok(
    byId.get("drawdown-chart")!.near.drawdown > 200,
    JSON.stringify(charts),
  );

  const rows = await page.evaluate<Record<string, string>>(
    `Object.fromEntries([...document.querySelectorAll("#summary-table tr")]
    .map((tr) => [tr.cells[0].textContent, tr.cells[1].textContent]))`,
  );
  const s = result.summary;
  assert.equal(rows["Trades processed"], s.trades.toLocaleString("en-US"));
  assert.equal(rows["Fills"], String(s.fills));
  assert.equal(
    rows["Ending equity"],
    s.endingEquity.toLocaleString("en-US", {
      minimumFractionDigits: 2,
      maximumFractionDigits: 2,
    }),
  );
  // The per-symbol table scrolls in its own box: the page is no wider than the 1280 px window.
  assert.deepEqual(
    await page.evaluate(
      `[document.documentElement.scrollWidth <= innerWidth, innerWidth]`,
    ),
    [true, 1280],
  );
  const symbolRows = await page.evaluate<string[][]>(
    `[...document.querySelectorAll("#symbol-table tbody tr")]
    .map((tr) => [...tr.cells].map((c) => c.textContent))`,
  );
  assert.deepEqual(
    symbolRows.map((r) => [r[0], r[1], r[2]]),
    s.symbols.map((
      x,
    ) => [x.exchange, x.symbol, x.trades.toLocaleString("en-US")]),
  );

  // The hostile names are text: no element came out of them, nothing ran.
  const injected = await page.evaluate<number>(
    `document.querySelectorAll("img, b").length`,
  );
  assert.equal(injected, 0);
  const headings = await page.evaluate<string[]>(
    `[...document.querySelectorAll("h3")].map((h) => h.textContent)`,
  );
  assert.ok(
    headings.some((h) =>
      h.startsWith(`${HOSTILE_EXCHANGE} ${HOSTILE_SYMBOL} `)
    ),
    JSON.stringify(headings),
  );
  assert.deepEqual(page.dialogs, []);
  assert.deepEqual(page.errors, [], browser.log);

  const screenshot = join(dir, "report.png");
  await page.screenshot(screenshot);
  const png = await Deno.readFile(screenshot);
  assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  assert.ok(png.length > 20_000, `screenshot of ${png.length} bytes`);
}

browserTest(
  "backtest report: a run without trades opens with no error and says so",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "marketbus-report-" });
    await using _cleanup = removeAtEnd(dir);
    const empty = makeBacktestResult({ streams: [], candles: 0 });
    await using browser = await Browser.launch();
    const page = await browser.newPage();
    assert.equal(await openReport(page, dir, renderReport(empty)), "0");
    const text = await page.evaluate<string>("document.body.innerText");
    assert.match(text, /No trades were processed/);
    assert.deepEqual(page.errors, [], browser.log);
  },
);

browserTest(
  "browser driver: reports exceptions, console errors, CSP violations and dialogs",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "marketbus-browser-" });
    await using _cleanup = removeAtEnd(dir);
    await using browser = await Browser.launch();
    const page = await browser.newPage();
    const bad = join(dir, "bad.html");
    await Deno.writeTextFile(
      bad,
      `<!doctype html><meta http-equiv="Content-Security-Policy" content="script-src 'sha256-AAAA'">
<script>console.log("blocked")</script><p>page</p>`,
    );
    await page.goto(`file://${bad}`);
    const worse = join(dir, "worse.html");
    await Deno.writeTextFile(
      worse,
      `<!doctype html><script>console.error("bad thing"); alert("hi");
setTimeout(() => { throw new Error("boom") });</script>`,
    );
    await page.goto(`file://${worse}`);
    await page.waitFor(`new Promise((r) => setTimeout(() => r(true), 100))`);
    const all = page.errors.join("\n");
    assert.match(all, /Content Security Policy/i);
    assert.match(all, /console\.error: bad thing/);
    assert.match(all, /exception: .*boom/);
    assert.deepEqual(page.dialogs, ["hi"]);
  },
);

/** Removes `dir` when the test ends, passed or failed. */
function removeAtEnd(dir: string): AsyncDisposable {
  return {
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}
