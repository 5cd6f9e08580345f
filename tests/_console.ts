/**
 * The live console's acceptance harness (docs/console.md): a real `serve`
 * feeding a real `live --console-port 0 --metrics-port N` (on the ring, or
 * over NATS with a real nats-server), the console's URL parsed from live's
 * `console on http://…/` line, and readers of the page's DOM as the
 * contract names it (`table#streams`, `#totals`, `#chart`, `#tape`), for
 * tests/console_browser_test.ts, tests/console_hostile_browser_test.ts and
 * the README screenshot.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Browser, Page } from "./_browser.ts";
import { CHART_COLOURS } from "./_chart_probe.ts";
import {
  ROLE_PERMISSIONS,
  type RoleConfig,
  roleConfig,
  type RoleConfigOptions,
  RoleProcess,
} from "./_ipc_roles.ts";
import { freePort } from "./_metrics_scrape.ts";
import { fetchSamples, type Sample } from "./_prom_text.ts";

/** live's line saying where the console listens (the contract's pattern). */
export const CONSOLE_LINE = /console on (http:\/\/[^ ]+\/)/;

/** The cells of a `table#streams` row, by `data-field`. */
export const ROW_FIELDS = [
  "exchange",
  "symbol",
  "trades",
  "rate",
  "last",
  "lost",
  "gaps",
  "lag",
  "p50",
  "p99",
  "state",
  "caught_up",
] as const;

/** A field of a row. */
export type RowField = typeof ROW_FIELDS[number];

/** What the roles, the scrapes and the browser need (the browser's own come from tests/_browser.ts). */
export const CONSOLE_PERMISSIONS: readonly Deno.PermissionDescriptor[] = [
  ...ROLE_PERMISSIONS,
  { name: "net", host: "127.0.0.1" },
];

/** A cell as the page shows it: its text and its raw `data-value`. */
export interface Cell {
  /** `textContent`. */
  text: string;
  /** `data-value` ("" when unknown; `null` when the attribute is missing). */
  value: string | null;
}

/** One `table#streams tbody tr`. */
export interface ConsoleRow {
  /** `data-exchange`. */
  exchange: string | null;
  /** `data-symbol`. */
  symbol: string | null;
  /** Its cells by `data-field`. */
  cells: Partial<Record<RowField, Cell>>;
}

/** The page's figures read in one go (one task of the page: one consistent tick). */
export interface ConsoleView {
  /** `body[data-state]`. */
  state: string | undefined;
  /** The rows, in display order. */
  rows: ConsoleRow[];
  /** `#totals [data-field]` cells by field. */
  totals: Record<string, Cell>;
  /** `#chart-title` text. */
  chartTitle: string;
  /** `#chart[data-bars]`. */
  chartBars: number;
  /** `#tape li`: their `data-seq` and text, newest first. */
  tape: { seq: string | null; text: string }[];
}

/** Reads a {@linkcode ConsoleView} from the page. */
export function readConsole(page: Page): Promise<ConsoleView> {
  return page.evaluate<ConsoleView>(`(() => {
    const cell = (el) => el && { text: el.textContent, value: el.getAttribute("data-value") };
    const rows = [...document.querySelectorAll("table#streams tbody tr")].map((tr) => ({
      exchange: tr.getAttribute("data-exchange"),
      symbol: tr.getAttribute("data-symbol"),
      cells: Object.fromEntries([...tr.querySelectorAll("td[data-field]")]
        .map((td) => [td.dataset.field, cell(td)])),
    }));
    const totals = Object.fromEntries([...document.querySelectorAll("#totals [data-field]")]
      .map((el) => [el.dataset.field, cell(el)]));
    const chart = document.getElementById("chart");
    return {
      state: document.body.dataset.state,
      rows,
      totals,
      chartTitle: document.getElementById("chart-title")?.textContent ?? "",
      chartBars: Number(chart?.dataset.bars ?? NaN),
      tape: [...document.querySelectorAll("#tape li")]
        .map((li) => ({ seq: li.getAttribute("data-seq"), text: li.textContent })),
    };
  })()`);
}

/** The row of (exchange, symbol) in `view`, failing when there is none. */
export function rowOf(
  view: ConsoleView,
  exchange: string,
  symbol: string,
): ConsoleRow {
  const row = view.rows.find((r) =>
    r.exchange === exchange && r.symbol === symbol
  );
  assert.ok(
    row,
    `no row ${exchange} ${symbol} in ${JSON.stringify(view.rows)}`,
  );
  return row;
}

/** The raw figure of `field` in `row` as a number (NaN when unknown). */
export function figure(row: ConsoleRow, field: RowField): number {
  const value = row.cells[field]?.value;
  return value === null || value === undefined || value === ""
    ? NaN
    : Number(value);
}

/**
 * Page probes installed before the console's own scripts: every CSP
 * violation (`securitypolicyviolation`) is kept in `__cspViolations`, and
 * `__probeInstalled` proves the probe ran.
 */
export const PROBE_SCRIPT = `(() => {
  window.__cspViolations = [];
  window.__probeInstalled = true;
  document.addEventListener("securitypolicyviolation", (e) => {
    window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sample || ""));
  });
})();`;

/** The CSP violations the probe saw. */
export function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(
    "window.__probeInstalled ? window.__cspViolations : ['probe not installed']",
  );
}

/** Options of {@linkcode openConsole}. */
export interface OpenConsoleOptions {
  /** Rows to wait for (e.g. the symbol count). */
  rows: number;
  /** Viewport in CSS px. @default {[1400, 900]} */
  viewport?: [number, number];
  /** How long to wait for each step, ms. @default {30000} */
  timeoutMs?: number;
}

/**
 * Opens the console at `url` in a new tab with the probes, and waits until
 * it is live (`body[data-state=live]`) with at least `options.rows` rows.
 */
export async function openConsole(
  browser: Browser,
  url: string,
  options: OpenConsoleOptions,
): Promise<Page> {
  const page = await browser.newPage(options.viewport ?? [1400, 900]);
  await page.addInitScript(PROBE_SCRIPT);
  await page.goto(url);
  const timeout = options.timeoutMs ?? 30_000;
  await page.waitFor(`document.body.dataset.state === "live"`, timeout);
  await page.waitFor(
    `document.querySelectorAll("table#streams tbody tr").length >= ${options.rows}`,
    timeout,
  );
  return page;
}

/**
 * Waits until `#chart[data-bars]` ≥ `bars` and its canvas holds candles:
 * pixels in the up or down colours of trading_core/charts (read back from
 * the canvas, not trusted from the attribute). Returns how many.
 */
export async function waitForCandles(
  page: Page,
  bars = 1,
  timeoutMs = 30_000,
): Promise<{ bars: number; up: number; down: number }> {
  await page.waitFor(
    `Number(document.getElementById("chart")?.dataset.bars) >= ${bars}`,
    timeoutMs,
  );
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const [chart] = await page.canvasColours("#chart", CHART_COLOURS);
    const { up, down } = chart?.near ?? { up: 0, down: 0 };
    // A candle of one trade is a 1 px body: ask for a little more than a dot.
    if (up + down >= 20) {
      const count = await page.evaluate<number>(
        `Number(document.getElementById("chart").dataset.bars)`,
      );
      return { bars: count, up, down };
    }
    if (Date.now() > deadline) {
      assert.fail(
        `#chart says ${bars}+ bars but its canvas shows no candle: ${
          JSON.stringify(chart)
        }`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Runs `check` on `page`; on failure keeps `dir` with a screenshot of the page and names it, else removes `dir`. */
export async function keepOnFailure(
  dir: string,
  page: Page,
  check: () => Promise<void>,
): Promise<void> {
  try {
    await check();
  } catch (error) {
    await page.screenshot(join(dir, "console.png")).catch(() => {});
    throw new Error(`screenshot kept in ${dir}`, { cause: error });
  }
  await Deno.remove(dir, { recursive: true });
}

/** Saves a screenshot of `page` at `path` and checks it is a PNG of some substance. */
export async function assertScreenshot(page: Page, path: string) {
  await page.screenshot(path);
  const png = await Deno.readFile(path);
  assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  assert.ok(png.length > 20_000, `screenshot of ${png.length} bytes`);
}

/** A role's per-stream counters from `/metrics`, keyed `exchange\0symbol`. */
export interface StreamCounters {
  /** `marketbus_trades_received_total`. */
  trades: Map<string, number>;
  /** `marketbus_trades_lost_total`. */
  lost: Map<string, number>;
  /** `marketbus_sequence_gaps_total`. */
  gaps: Map<string, number>;
}

/** The key of (exchange, symbol) in {@linkcode StreamCounters}. */
export function streamKey(exchange: string, symbol: string): string {
  return `${exchange}\0${symbol}`;
}

/** Sums `name`'s samples per (exchange, symbol) (over transports). */
function perStream(samples: Sample[], name: string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const { name: metric, labels, value } of samples) {
    if (metric !== name) continue;
    const { exchange, symbol } = labels;
    if (exchange === "*" || symbol === "*") continue;
    const key = streamKey(exchange, symbol);
    sums.set(key, (sums.get(key) ?? 0) + value);
  }
  return sums;
}

/** `/metrics` of live on `port` as {@linkcode StreamCounters}. */
export async function streamCounters(port: number): Promise<StreamCounters> {
  const samples = await fetchSamples(port);
  return {
    trades: perStream(samples, "marketbus_trades_received_total"),
    lost: perStream(samples, "marketbus_trades_lost_total"),
    gaps: perStream(samples, "marketbus_sequence_gaps_total"),
  };
}

/**
 * Checks the page's figures against two scrapes of `/metrics` taken before
 * and after reading the page: per stream, trades within [before, after]
 * (the page cannot show more than live had received at the second scrape,
 * nor less than at the first, which predates the update it shows), lost
 * and gaps the same when they did not move between the scrapes; every
 * stream of `/metrics` has its row; the totals are the sums of the rows.
 */
export function assertFiguresMatch(
  view: ConsoleView,
  before: StreamCounters,
  after: StreamCounters,
): void {
  const text = JSON.stringify(view.rows);
  assert.ok(after.trades.size > 0, "no stream in /metrics");
  for (const [key, received] of after.trades) {
    const [exchange, symbol] = key.split("\0");
    const row = rowOf(view, exchange, symbol);
    const where = `${exchange} ${symbol}`;
    const low = before.trades.get(key) ?? 0;
    const trades = figure(row, "trades");
    assert.ok(
      trades >= low && trades <= received,
      `${where}: page trades ${trades} outside [${low}, ${received}] of /metrics`,
    );
    for (const field of ["lost", "gaps"] as const) {
      const was = before[field].get(key) ?? 0;
      const is = after[field].get(key) ?? 0;
      const shown = figure(row, field);
      if (was === is) {
        assert.equal(shown, is, `${where}: page ${field} vs /metrics`);
      } else {
        assert.ok(
          shown >= was && shown <= is,
          `${where}: page ${field} ${shown} outside [${was}, ${is}]`,
        );
      }
    }
  }
  assert.equal(view.rows.length, after.trades.size, text);
  for (const field of ["trades", "lost", "gaps", "rate"] as const) {
    const sum = view.rows.reduce((s, row) => s + figure(row, field), 0);
    const total = Number(view.totals[field]?.value);
    assert.ok(
      Math.abs(total - sum) <= 1e-6 * Math.max(1, Math.abs(sum)),
      `#totals ${field} ${total} is not the sum of the rows, ${sum}: ${
        JSON.stringify(view.totals)
      }`,
    );
  }
}

/** Options of {@linkcode startConsoleRoles}. */
export interface ConsoleRolesOptions {
  /** Symbols of serve and live (default BTCUSDT, ETHUSDT, SOLUSDT, XRPUSDT). */
  symbols?: string[];
  /** serve's `--rate`, trades/s over all symbols. @default {2000} */
  rate?: number;
  /** Ring slots. @default {65536} */
  capacity?: number;
  /** A nats-server's URL: then serve publishes to NATS only and live reads NATS. */
  natsUrl?: string;
  /** More flags for live. */
  liveArgs?: string[];
  /** More flags for serve. */
  serveArgs?: string[];
  /** TOML appended to the config of both roles. */
  extraToml?: string;
  /** Config options beyond symbols, capacity and NATS. */
  config?: Omit<RoleConfigOptions, "symbols" | "capacity" | "nats">;
  /** Start serve (default true); false leaves publishing to the test. */
  serve?: boolean;
}

/** A running `serve` → `live` with the console and metrics on; disposing kills both and removes the config. */
export interface ConsoleRoles extends AsyncDisposable {
  /** The config of both roles. */
  config: RoleConfig;
  /** live (trading_core). */
  live: RoleProcess;
  /** serve (data_manager), unless not started. */
  serve: RoleProcess | undefined;
  /** The console's URL from live's line, ending in `/`. */
  url: string;
  /** live's metrics port. */
  metricsPort: number;
}

/**
 * Starts `live --console-port 0 --metrics-port <free>` (ring, or
 * `--nats` with {@linkcode ConsoleRolesOptions.natsUrl}), waits for its
 * console line, then `serve` publishing at a steady rate.
 */
export async function startConsoleRoles(
  options: ConsoleRolesOptions = {},
): Promise<ConsoleRoles> {
  const symbols = options.symbols ??
    ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"];
  const config = await roleConfig({
    ...options.config,
    symbols,
    capacity: options.capacity,
    nats: options.natsUrl === undefined ? undefined : { url: options.natsUrl },
  });
  const cleanup: AsyncDisposable[] = [config];
  const dispose = async () => {
    for (const item of cleanup.reverse()) {
      await Promise.resolve(item[Symbol.asyncDispose]()).catch(() => {});
    }
  };
  try {
    if (options.extraToml) {
      await Deno.writeTextFile(config.path, `\n${options.extraToml}\n`, {
        append: true,
      });
    }
    const nats = options.natsUrl === undefined ? [] : ["--nats"];
    const metricsPort = freePort();
    const live = new RoleProcess("live", config, [
      ...nats,
      "--console-port",
      "0",
      "--metrics-port",
      String(metricsPort),
      ...options.liveArgs ?? [],
    ]);
    cleanup.push(live);
    const [found] = await live.waitFor(CONSOLE_LINE);
    const url = found[1];
    await live.waitFor(
      nats.length
        ? /consumer on stream|not found; waiting for the publisher/
        : /waiting for ring/,
    );
    let serve: RoleProcess | undefined;
    if (options.serve ?? true) {
      serve = new RoleProcess("serve", config, [
        ...nats,
        ...nats.length ? ["--no-ipc"] : [],
        "--rate",
        String(options.rate ?? 2000),
        ...options.serveArgs ?? [],
      ]);
      cleanup.push(serve);
    }
    return {
      config,
      live,
      serve,
      url,
      metricsPort,
      [Symbol.asyncDispose]: dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/**
 * Waits until live's `/metrics` shows `total` trades or more over all
 * streams; the failure quotes the last scrape's error and both roles' output.
 */
export async function waitForTrades(
  roles: ConsoleRoles,
  total: number,
  timeoutMs = 30_000,
): Promise<StreamCounters> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = 0;
  while (true) {
    try {
      const counters = await streamCounters(roles.metricsPort);
      const sum = [...counters.trades.values()].reduce((a, b) => a + b, 0);
      if (sum >= total) return counters;
      last = sum;
    } catch (error) {
      last = error instanceof Error ? error.message : error;
    }
    if (Date.now() > deadline) {
      assert.fail(
        `live received ${last} (not ${total} trades) in ${timeoutMs} ms\n` +
          `live:\n${roles.live.output}\nserve:\n${roles.serve?.output}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
