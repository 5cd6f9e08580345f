/**
 * The console's page in a real Chromium recovers from a refused `/events`:
 * EventSource gives up on a 400 (it does not retry a response that is not a
 * stream), so the page drops the selection from its URL's fragment, says
 * why in `#chart-note` and charts the first stream. A bookmarked interval
 * this live does not chart opens its first interval with a note.
 */
import assert from "node:assert/strict";
import { consoleEvents } from "./_console_trades.ts";
import { Broadcaster } from "../trading_core/console/broadcaster.ts";
import { serveConsole } from "../trading_core/console/server.ts";
import { Browser, browserTest } from "./_browser.ts";

browserTest(
  "console page: a refused selection (a 400 from /events) is dropped from the hash with a note, and the page goes live; an unknown interval opens the first one",
  async () => {
    const { events, trade } = consoleEvents();
    trade(0, 1_000, 100);
    const broadcaster = new Broadcaster(events, { updatesPerSecond: 4 });
    const server = serveConsole(broadcaster, {
      port: 0,
      hostname: "127.0.0.1",
      intervals: ["1s", "1m"],
    });
    try {
      await using browser = await Browser.launch();
      const page = await browser.newPage();
      const base = `http://127.0.0.1:${server.port}/`;
      await page.goto(`${base}#exchange=${"x".repeat(200)}&symbol=A`);
      await page.waitFor(
        `document.body.dataset.state === "live" && location.hash === ""`,
        10_000,
      );
      const note = await page.evaluate<string>(
        `document.getElementById("chart-note").textContent`,
      );
      assert.match(
        note,
        /was refused \(Invalid exchange "x+": expected 1 to 128/,
      );
      assert.match(
        await page.evaluate<string>(
          `document.getElementById("chart-title").textContent`,
        ),
        /^binance BTCUSDT/,
      );
      const other = await browser.newPage();
      await other.goto(`${base}#interval=5m`);
      await other.waitFor(`document.body.dataset.state === "live"`, 10_000);
      assert.equal(
        await other.evaluate<string>(
          `document.getElementById("interval").value`,
        ),
        "1s",
      );
      assert.match(
        await other.evaluate<string>(
          `document.getElementById("chart-note").textContent`,
        ),
        /"5m" is not charted by this live/,
      );
      assert.deepEqual(page.errors.filter((e) => !/400/.test(e)), []);
      assert.deepEqual(other.errors, []);
    } finally {
      await server.close();
    }
  },
);

browserTest(
  "console page at 1400×900: the streams table fits its box with 10 streams (no column cut), a 200-character name is cut with an ellipsis and whole in its title",
  async () => {
    const long = "X".repeat(200);
    const streams = [
      ...Array.from({ length: 10 }, (_, i) => ({
        exchange: "binance",
        symbol: `SYM${i}USDT`,
      })),
      { exchange: long, symbol: "LONGUSDT" },
    ];
    const { events, trade } = consoleEvents(streams);
    for (let i = 0; i < streams.length; i++) {
      for (let t = 0; t < 50; t++) trade(i, Date.now() - 5 - t, 60_000.12345);
    }
    const broadcaster = new Broadcaster(events, { updatesPerSecond: 4 });
    const server = serveConsole(broadcaster, {
      port: 0,
      hostname: "127.0.0.1",
      intervals: ["1s", "1m"],
    });
    try {
      await using browser = await Browser.launch();
      const page = await browser.newPage();
      await page.init(1400, 900);
      await page.goto(`http://127.0.0.1:${server.port}/`);
      await page.waitFor(
        `document.querySelectorAll("#streams tbody tr").length === ${streams.length}`,
        10_000,
      );
      const [scroll, client] = await page.evaluate<[number, number]>(
        `(() => { const w = document.querySelector(".table-wrap");
          return [w.scrollWidth, w.clientWidth]; })()`,
      );
      const widths = await page.evaluate<string>(
        `[...document.querySelectorAll("#streams thead th")].map((th) => th.textContent + ":" + Math.round(th.getBoundingClientRect().width)).join(" ")`,
      );
      assert.ok(
        scroll <= client,
        `table ${scroll} px in a ${client} px box: ${widths}`,
      );
      const cell = await page.evaluate<[number, string]>(
        `(() => { const td = document.querySelector('tr[data-symbol="LONGUSDT"] td[data-field="exchange"]');
          return [td.getBoundingClientRect().width, td.getAttribute("title")]; })()`,
      );
      assert.ok(cell[0] < 200, `the long name's cell is ${cell[0]} px wide`);
      assert.equal(cell[1], long);
      assert.deepEqual(page.errors, []);
    } finally {
      await server.close();
    }
  },
);
