/**
 * Hostile names through NATS into the live console (issue 19): a real
 * `serve` publishes synthetic trades whose exchange is
 * `<img/src="x"/onerror="pwned=1"` and whose symbols carry `</SCRIPT`,
 * quotes and an entity, unicode and `<SVG/ONLOAD=…` into a JetStream
 * stream, as any publisher would; `live --nats --exchange '*' --symbols '*'
 * --console-port 0` reads them, and headless Chromium shows them as literal
 * text: each row's `data-exchange`/`data-symbol` and cells equal the names,
 * the chart title names the selected one, no element came out of them, no
 * handler ran (the payloads set `window.pwned`/`PWNED`) and the page saw
 * no CSP violation or error.
 *
 * What cannot pass, and why: NATS subject tokens forbid `.`, `*`, `>`,
 * whitespace and control characters (common/wire/subjects.ts, so no name
 * holds a `>` or a space: the payloads close their tags on the markup the
 * page would put after them); exchanges are lower-cased and symbols
 * upper-cased; the symbol registry's KV keys allow only `-/_=.A-Za-z0-9`,
 * so serve publishes with `registry.register = false`; ring segment names
 * refuse `/`, so serve publishes to NATS alone (`--no-ipc`); `--symbols`
 * splits on `,`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Browser, browserTest, type Page } from "./_browser.ts";
import {
  assertScreenshot,
  CONSOLE_PERMISSIONS,
  cspViolations,
  keepOnFailure,
  openConsole,
  readConsole,
  rowOf,
  startConsoleRoles,
  waitForTrades,
} from "./_console.ts";
import { harnessPermissions } from "./_permissions.ts";
import { startNatsServer } from "./nats_server.ts";

const EXCHANGE = `<img/src="x"/onerror="pwned=1"`;
const SYMBOLS = [
  "</SCRIPT",
  `"Q'UOTE&AMP;<B`,
  "ÉTÉ€😀\u202eRTL",
  "<SVG/ONLOAD=PWNED=2",
  "<!--",
];

browserTest(
  "live console over NATS: hostile exchange and symbol names render as text, no element, no handler, no CSP violation",
  async () => {
    await using server = await startNatsServer();
    await using roles = await startConsoleRoles({
      natsUrl: server.url,
      rate: 500,
      extraToml: "[registry]\nregister = false",
      serveArgs: ["--exchange", EXCHANGE, "--symbols", SYMBOLS.join(",")],
      liveArgs: ["--exchange", "*", "--symbols", "*"],
    });
    await waitForTrades(roles, 200);
    await using browser = await Browser.launch();
    const page = await openConsole(browser, roles.url, {
      rows: SYMBOLS.length,
    });
    const dir = await Deno.makeTempDir({ prefix: "marketbus-console-" });
    await keepOnFailure(dir, page, () => checkHostile(browser, page, dir));
  },
  { permissions: [...CONSOLE_PERMISSIONS, ...harnessPermissions()] },
);

/** The hostile rows, chart title and tape are text; nothing ran. */
async function checkHostile(browser: Browser, page: Page, dir: string) {
  const view = await readConsole(page);
  assert.equal(view.rows.length, SYMBOLS.length, JSON.stringify(view.rows));
  for (const symbol of SYMBOLS) {
    const row = rowOf(view, EXCHANGE, symbol);
    assert.equal(row.cells.exchange?.text, EXCHANGE);
    assert.equal(row.cells.symbol?.text, symbol);
  }
  // Select each: the chart and the tape follow the hostile stream (its
  // names reach /events' query and come back), the title shows them as text.
  for (const symbol of SYMBOLS) {
    await page.evaluate(`(() => {
        const tr = [...document.querySelectorAll("table#streams tbody tr")]
          .find((tr) => tr.getAttribute("data-symbol") === ${
      JSON.stringify(symbol)
    });
        tr.querySelector('td[data-field="symbol"]').click();
      })()`);
    await page.waitFor(`(() => {
        const title = document.getElementById("chart-title").textContent;
        return title.includes(${JSON.stringify(symbol)}) &&
          title.includes(${JSON.stringify(EXCHANGE)}) &&
          document.querySelectorAll("#tape li").length > 0;
      })()`);
  }
  const injected = await page.evaluate(`({
      img: document.querySelectorAll("img").length,
      svg: document.querySelectorAll("svg").length,
      handlers: document.querySelectorAll("[onerror], [onload]").length,
      scripts: [...document.scripts].filter((s) => !s.src).length,
      pwned: typeof window.pwned + " " + typeof window.PWNED,
    })`);
  assert.deepEqual(injected, {
    img: 0,
    svg: 0,
    handlers: 0,
    scripts: 0,
    pwned: "undefined undefined",
  });
  assert.deepEqual(await cspViolations(page), [], "CSP violations");
  assert.deepEqual(page.dialogs, []);
  assert.deepEqual(page.errors, [], browser.log);
  await assertScreenshot(page, join(dir, "console.png"));
}
