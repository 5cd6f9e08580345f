// Observability of the real roles: `serve` and `live` as processes with
// --metrics-port, their /metrics parsed by the real Prometheus parser (and
// promlint) and compared with the trades actually sent, /healthz following
// the transports (the ring's producer going away, a nats-server outage),
// --log-format json, the progress block on a terminal (under `script`) vs
// plain progress lines, and a metrics port already in use.

import assert from "node:assert/strict";
import { join } from "node:path";
import { delay } from "../common/runtime/delay.ts";
import { gatedTest, harnessPermissions } from "./_permissions.ts";
import {
  assertCleanExit,
  assertComplete,
  output,
  publishedTrades,
  ROLE_PERMISSIONS,
  roleArgs,
  type RoleConfig,
  roleConfig,
  type RoleConfigOptions,
  RoleProcess,
  summaryOf,
} from "./_ipc_roles.ts";
import {
  check,
  freePort,
  type Health,
  healthz,
  sample,
  samples,
  scrape,
  value,
  valuesBy,
  waitUntil,
} from "./_metrics_scrape.ts";
import type { ParsedExposition } from "./promcheck.ts";
import { PROJECT_ROOT, startNatsServer } from "./nats_server.ts";

/** The roles, promcheck, and fetching their endpoints on loopback. */
const PERMISSIONS: Deno.PermissionDescriptor[] = [
  ...ROLE_PERMISSIONS,
  { name: "net", host: "127.0.0.1" },
  { name: "env", variable: "PROMCHECK_BIN" },
];

/** {@linkcode PERMISSIONS} plus what the nats-server harness needs. */
const NATS_PERMISSIONS: Deno.PermissionDescriptor[] = [
  ...PERMISSIONS,
  ...harnessPermissions(),
];

const SYMBOLS = ["BTCUSDT", "ETHUSDT"];
/** Trades per symbol in the replay file, before its last (late) trade. */
const COUNTS: Record<string, number> = { BTCUSDT: 600, ETHUSDT: 400 };
const TOTAL = 1000;
/** Bytes of one trade record on the wire. */
const RECORD_BYTES = 48;
const T0_NS = 1_704_067_200_000_000_000n;

/**
 * A {@linkcode roleConfig} for BTCUSDT and ETHUSDT whose endpoints call the
 * data stale after 1 s, so "idle by design" shows soon after trades stop.
 */
async function metricsConfig(
  options: RoleConfigOptions = {},
): Promise<RoleConfig> {
  const config = await roleConfig({ symbols: SYMBOLS, ...options });
  await Deno.writeTextFile(
    config.path,
    `
[data_manager.metrics]
stale_after = "1s"

[trading_core.metrics]
stale_after = "1s"
`,
    { append: true },
  );
  return config;
}

/**
 * An NDJSON replay file: 600 BTCUSDT and 400 ETHUSDT trades interleaved
 * within the first 50 ms, then one more BTCUSDT trade 10 minutes later, so
 * `serve --speed 1` publishes 1,000 trades at once and then waits, idle by
 * design.
 */
async function writeReplayFile(dir: string): Promise<string> {
  const path = join(dir, "burst_then_wait.ndjson");
  const lines: string[] = [];
  const ids: Record<string, number> = { BTCUSDT: 0, ETHUSDT: 0 };
  const line = (symbol: string, tsEvent: bigint) =>
    JSON.stringify({
      exchange: "binance",
      symbol,
      tsEvent: String(tsEvent),
      price: symbol === "BTCUSDT" ? "42000.5" : "2300.25",
      size: "0.01",
      side: ids[symbol] % 2 === 0 ? "buy" : "sell",
      tradeId: String(++ids[symbol]),
    });
  for (let i = 0; i < TOTAL; i++) {
    // 3 BTCUSDT to 2 ETHUSDT: 600 and 400.
    lines.push(
      line(i % 5 < 3 ? "BTCUSDT" : "ETHUSDT", T0_NS + BigInt(i) * 50_000n),
    );
  }
  lines.push(line("BTCUSDT", T0_NS + 600_000_000_000n));
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
  return path;
}

/** Resolves with `/healthz` on `port` once its status code is `code`. */
function healthBecomes(
  port: number,
  code: number,
  options: { timeoutMs?: number; what?: string } = {},
): Promise<Health> {
  return waitUntil(
    `${options.what ?? `:${port}`} /healthz ${code}`,
    async () => {
      const health = await healthz(port);
      if (health.code !== code) throw new Error(JSON.stringify(health));
      return health;
    },
    options,
  );
}

/** Resolves with `/metrics` on `port` once `name` sums to at least `total`. */
function totalReaches(
  port: number,
  name: string,
  total: number,
): Promise<ParsedExposition> {
  return waitUntil(`${name} on :${port} to reach ${total}`, async () => {
    const exposition = await scrape(port);
    const sum = Object.values(valuesBy(exposition, name, "symbol"))
      .reduce((a, b) => a + b, 0);
    if (sum < total) throw new Error(`${name} ${sum}`);
    return exposition;
  });
}

/** A histogram sample has observations, and its `+Inf` bucket equals its count. */
function assertHistogram(
  exposition: ParsedExposition,
  name: string,
  labels: Record<string, string>,
): void {
  const histogram = sample(exposition, name, labels);
  const text = `${name}${JSON.stringify(labels)}: ${JSON.stringify(histogram)}`;
  assert.ok((histogram.count ?? 0) > 0, text);
  const buckets = histogram.buckets ?? [];
  const last = buckets.at(-1);
  assert.ok(last && last.le === Infinity, text);
  assert.equal(last.count, histogram.count, text);
  for (let i = 1; i < buckets.length; i++) {
    assert.ok(
      buckets[i].count >= buckets[i - 1].count,
      `not cumulative: ${text}`,
    );
  }
}

/** One `marketbus_build_info` sample, value 1, labelled with `role`. */
function assertBuildInfo(exposition: ParsedExposition, role: string): void {
  const build = samples(exposition, "marketbus_build_info");
  assert.equal(build.length, 1, JSON.stringify(build));
  assert.equal(build[0].value, 1);
  assert.equal(build[0].labels.role, role);
}

/** A role's promlint findings are empty. */
function assertLintClean(exposition: ParsedExposition, role: string): void {
  assert.deepEqual(exposition.lint, [], `promlint findings for ${role}`);
}

// ---------------------------------------------------------------------------
// 1. IPC: /metrics matches what was sent, /healthz follows the producer

gatedTest({
  name:
    "serve --source replay → live (ring): /metrics counts exactly the 600 + 400 trades sent and received, /healthz ok (serve idle by design), live 503 once serve stops",
  permissions: PERMISSIONS,
  async fn() {
    await using config = await metricsConfig();
    const file = await writeReplayFile(config.dir);
    const livePort = freePort();
    await using live = new RoleProcess("live", config, [
      "--metrics-port",
      String(livePort),
      "--summary-json",
    ]);
    await live.waitFor(/waiting for ring/, SYMBOLS.length);
    const servePort = freePort();
    await using serve = new RoleProcess("serve", config, [
      "--source",
      "replay",
      "--file",
      file,
      "--speed",
      "1",
      "--metrics-port",
      String(servePort),
    ]);
    const received = await totalReaches(
      livePort,
      "marketbus_trades_received_total",
      TOTAL,
    );
    const sent = await scrape(servePort);

    // serve: taken from the source, written to the ring, per symbol.
    assertLintClean(sent, "serve");
    for (const symbol of SYMBOLS) {
      const labels = { exchange: "binance", symbol };
      assert.equal(
        value(sent, "marketbus_source_trades_total", {
          source: "replay",
          ...labels,
        }),
        COUNTS[symbol],
        symbol,
      );
      assert.equal(
        value(sent, "marketbus_trades_sent_total", {
          transport: "ipc",
          ...labels,
        }),
        COUNTS[symbol],
        symbol,
      );
    }
    assert.equal(
      value(sent, "marketbus_sent_bytes_total", { transport: "ipc" }),
      TOTAL * RECORD_BYTES,
    );
    assert.equal(
      value(sent, "marketbus_send_errors_total", { transport: "ipc" }),
      0,
    );
    assert.equal(
      value(sent, "marketbus_dropped_trades_total", { transport: "ipc" }),
      0,
    );
    assert.equal(
      sent.families.marketbus_nats_connected,
      undefined,
      "NATS metrics without NATS",
    );
    assertBuildInfo(sent, "data_manager");

    // live: received exactly that, nothing lost, no gaps.
    assertReceivedExactly(received, "ipc");
    for (const symbol of SYMBOLS) {
      const labels = { transport: "ipc", exchange: "binance", symbol };
      assert.equal(
        value(received, "marketbus_producer_restarts_total", labels),
        0,
        symbol,
      );
      assertHistogram(received, "marketbus_end_to_end_latency_seconds", labels);
    }
    assertBuildInfo(received, "trading_core");
    assert.equal(
      received.families.marketbus_bars_closed_total,
      undefined,
      "bar metrics without bars",
    );

    // Health: both ok; serve's data check ok because the replay waits for
    // its next trade (10 minutes away), not because trades flow.
    const serveHealth = await waitUntil("serve idle by design", async () => {
      const health = await healthz(servePort);
      return check(health, "data").detail === "replay source idle by design"
        ? health
        : undefined;
    });
    assert.equal(serveHealth.code, 200, JSON.stringify(serveHealth));
    assert.equal(serveHealth.status, "ok");
    assert.deepEqual(serveHealth.checks.map((c) => [c.name, c.ok]), [[
      "ipc",
      true,
    ], ["data", true]]);
    const liveHealth = await healthz(livePort);
    assert.equal(liveHealth.code, 200, JSON.stringify(liveHealth));
    assert.equal(liveHealth.status, "ok");
    assert.deepEqual(liveHealth.checks.map((c) => [c.name, c.ok]), [[
      "ipc",
      true,
    ], ["data", true]]);

    // The producer goes away: live's ring check fails.
    const stoppedAt = serve.kill("SIGTERM");
    const served = await serve.finish();
    assertCleanExit(served, "serve");
    assert.equal(publishedTrades(served.stdout), TOTAL);
    const down = await healthBecomes(livePort, 503, {
      timeoutMs: 5000,
      what: "live",
    });
    console.log(
      `live /healthz 503 ${
        Math.round(performance.now() - stoppedAt)
      } ms after SIGTERM to serve`,
    );
    assert.equal(down.status, "unavailable");
    assert.equal(check(down, "ipc").ok, false, JSON.stringify(down));

    live.kill("SIGTERM");
    const exit = await live.finish();
    assertCleanExit(exit, "live");
    assertComplete(summaryOf(exit), SYMBOLS, TOTAL);
  },
});

// ---------------------------------------------------------------------------
// 2. NATS: /healthz through an outage, and the NATS counters

gatedTest({
  name:
    "serve --nats and live --nats through a nats-server outage: /healthz 200 → 503 (nats check) → 200, disconnects and reconnects counted, live gets every trade once",
  permissions: NATS_PERMISSIONS,
  async fn() {
    await using server = await startNatsServer();
    await using config = await metricsConfig({ nats: { url: server.url } });
    const servePort = freePort();
    const livePort = freePort();
    await using serve = new RoleProcess("serve", config, [
      "--nats",
      "--no-ipc",
      "--rate",
      "2000",
      "--metrics-port",
      String(servePort),
    ]);
    await using live = new RoleProcess("live", config, [
      "--nats",
      "--durable",
      `obs-${crypto.randomUUID().slice(0, 8)}`,
      "--deliver",
      "all",
      "--metrics-port",
      String(livePort),
      "--summary-json",
    ]);
    await healthBecomes(servePort, 200, { what: "serve" });
    await healthBecomes(livePort, 200, { what: "live" });

    const haltedAt = performance.now();
    await server.halt();
    const [serveDown, liveDown] = await Promise.all([
      healthBecomes(servePort, 503, { timeoutMs: 10_000, what: "serve" }),
      healthBecomes(livePort, 503, { timeoutMs: 10_000, what: "live" }),
    ]);
    console.log(
      `both 503 ${
        Math.round(performance.now() - haltedAt)
      } ms after the server stopped`,
    );
    assert.equal(check(serveDown, "nats").ok, false, JSON.stringify(serveDown));
    assert.equal(check(liveDown, "nats").ok, false, JSON.stringify(liveDown));
    for (const port of [servePort, livePort]) {
      assert.equal(value(await scrape(port), "marketbus_nats_connected"), 0);
    }

    const restartedAt = performance.now();
    await server.start();
    await Promise.all([
      healthBecomes(servePort, 200, { timeoutMs: 20_000, what: "serve" }),
      healthBecomes(livePort, 200, { timeoutMs: 20_000, what: "live" }),
    ]);
    console.log(
      `both 200 ${
        Math.round(performance.now() - restartedAt)
      } ms after the server restarted`,
    );
    for (
      const [role, port] of [["serve", servePort], ["live", livePort]] as const
    ) {
      const exposition = await scrape(port);
      assertLintClean(exposition, role);
      assert.equal(value(exposition, "marketbus_nats_connected"), 1, role);
      assert.ok(
        value(exposition, "marketbus_nats_disconnects_total") >= 1,
        role,
      );
      assert.ok(
        value(exposition, "marketbus_nats_reconnects_total") >= 1,
        role,
      );
    }

    // serve flushes on SIGTERM; live then gets exactly what it published.
    serve.kill("SIGTERM");
    const served = await serve.finish();
    assertCleanExit(served, "serve");
    const published = publishedTrades(served.stdout);
    await totalReaches(livePort, "marketbus_trades_received_total", published);
    await delay(300); // anything beyond `published` would show now
    live.kill("SIGTERM");
    const exit = await live.finish();
    assertCleanExit(exit, "live");
    assertComplete(summaryOf(exit), SYMBOLS, published);
  },
});

gatedTest({
  name:
    "serve --nats --no-ipc --source replay → live --nats: NATS counters exact (sent per symbol, nothing queued or in flight, ack latency observed), both healthy",
  permissions: NATS_PERMISSIONS,
  async fn() {
    await using server = await startNatsServer();
    await using config = await metricsConfig({ nats: { url: server.url } });
    const file = await writeReplayFile(config.dir);
    const servePort = freePort();
    const livePort = freePort();
    await using serve = new RoleProcess("serve", config, [
      "--nats",
      "--no-ipc",
      "--source",
      "replay",
      "--file",
      file,
      "--speed",
      "1",
      "--metrics-port",
      String(servePort),
    ]);
    await using live = new RoleProcess("live", config, [
      "--nats",
      "--durable",
      `obs-${crypto.randomUUID().slice(0, 8)}`,
      "--deliver",
      "all",
      "--metrics-port",
      String(livePort),
      "--summary-json",
    ]);
    const sent = await totalReaches(
      servePort,
      "marketbus_trades_sent_total",
      TOTAL,
    );
    assertLintClean(sent, "serve");
    for (const symbol of SYMBOLS) {
      const labels = { exchange: "binance", symbol };
      assert.equal(
        value(sent, "marketbus_trades_sent_total", {
          transport: "nats",
          ...labels,
        }),
        COUNTS[symbol],
        symbol,
      );
      assert.equal(
        value(sent, "marketbus_source_trades_total", {
          source: "replay",
          ...labels,
        }),
        COUNTS[symbol],
        symbol,
      );
      assert.equal(
        value(sent, "marketbus_nats_queued_trades", labels),
        0,
        symbol,
      );
    }
    assert.equal(value(sent, "marketbus_nats_publish_in_flight_messages"), 0);
    assert.equal(value(sent, "marketbus_nats_rejected_trades_total"), 0);
    assert.equal(
      value(sent, "marketbus_send_errors_total", { transport: "nats" }),
      0,
    );
    assert.equal(
      value(sent, "marketbus_dropped_trades_total", { transport: "nats" }),
      0,
    );
    assert.equal(value(sent, "marketbus_nats_connected"), 1);
    assert.ok(
      value(sent, "marketbus_sent_bytes_total", { transport: "nats" }) >=
        TOTAL * RECORD_BYTES,
    );
    assertHistogram(sent, "marketbus_nats_publish_ack_latency_seconds", {});
    assert.equal(sent.families.marketbus_ring_lag_trades, undefined);

    const received = await totalReaches(
      livePort,
      "marketbus_trades_received_total",
      TOTAL,
    );
    assertReceivedExactly(received, "nats");
    assert.equal(value(received, "marketbus_nats_connected"), 1);
    assert.equal(received.families.marketbus_ring_lag_trades, undefined);
    // The backlog is refreshed from the consumer's info every second.
    await waitUntil("live's consumer backlog 0", async () => {
      const exposition = await scrape(livePort);
      return value(exposition, "marketbus_nats_consumer_pending_messages") ===
            0 &&
          value(exposition, "marketbus_nats_consumer_ack_pending_messages") ===
            0
        ? true
        : undefined;
    });

    const serveHealth = await waitUntil("serve idle by design", async () => {
      const health = await healthz(servePort);
      return check(health, "data").detail === "replay source idle by design"
        ? health
        : undefined;
    });
    assert.equal(serveHealth.code, 200, JSON.stringify(serveHealth));
    assert.deepEqual(serveHealth.checks.map((c) => [c.name, c.ok]), [[
      "nats",
      true,
    ], ["data", true]]);
    const liveHealth = await healthBecomes(livePort, 200, { what: "live" });
    // The symbol registry (on by default on NATS): serve, idle by design,
    // still heartbeats, so its publisher is alive.
    assert.deepEqual(liveHealth.checks.map((c) => [c.name, c.ok]), [
      ["nats", true],
      ["data", true],
      ["publishers", true],
    ]);

    serve.kill("SIGTERM");
    const served = await serve.finish();
    assertCleanExit(served, "serve");
    assert.equal(publishedTrades(served.stdout), TOTAL);
    live.kill("SIGTERM");
    const exit = await live.finish();
    assertCleanExit(exit, "live");
    assertComplete(summaryOf(exit), SYMBOLS, TOTAL);
  },
});

// ---------------------------------------------------------------------------
// 3. --log-format json

/** One parsed output line, and the stream it came from. */
interface JsonLine {
  stream: "stdout" | "stderr";
  line: Record<string, unknown>;
}

/** Every non-empty line of both streams, each parsed as JSON (failing on one that is not). */
function jsonLines(
  role: string,
  exit: { stdout: string; stderr: string },
): JsonLine[] {
  const lines: JsonLine[] = [];
  for (const stream of ["stdout", "stderr"] as const) {
    for (const text of exit[stream].split("\n")) {
      if (text.trim() === "") continue;
      let line: unknown;
      try {
        line = JSON.parse(text);
      } catch {
        assert.fail(`${role} ${stream}: not JSON: ${JSON.stringify(text)}`);
      }
      assert.ok(
        typeof line === "object" && line !== null && !Array.isArray(line),
        `${role} ${stream}: not an object: ${text}`,
      );
      lines.push({ stream, line: line as Record<string, unknown> });
    }
  }
  return lines;
}

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** A log line of `component`: time, level (on the right stream), msg. */
function assertLogLine({ stream, line }: JsonLine, component: string): void {
  const text = JSON.stringify(line);
  assert.equal(typeof line.time, "string", text);
  assert.match(line.time as string, ISO_TIME, text);
  assert.ok(!Number.isNaN(Date.parse(line.time as string)), text);
  assert.equal(line.component, component, text);
  assert.equal(typeof line.msg, "string", text);
  const levels = stream === "stdout" ? ["debug", "info"] : ["warn", "error"];
  assert.ok(
    levels.includes(line.level as string),
    `level on ${stream}: ${text}`,
  );
}

gatedTest({
  name:
    "--log-format json: every line either role prints is one JSON object (time, level, component, msg), progress lines carry their figures as numbers",
  permissions: PERMISSIONS,
  async fn() {
    await using config = await roleConfig({ symbols: SYMBOLS });
    const total = 2000;
    await using live = new RoleProcess("live", config, [
      "--log-format",
      "json",
      "--max-trades",
      String(total),
      "--progress",
      "100ms",
      "--summary-json",
    ]);
    await live.waitFor(/waiting for ring/, SYMBOLS.length);
    await using serve = new RoleProcess("serve", config, [
      "--log-format",
      "json",
      "--max-trades",
      String(total),
      // About 1 s: several progress lines at 100 ms.
      "--rate",
      "2000",
      "--progress",
      "100ms",
    ]);
    const served = await serve.finish();
    assertCleanExit(served, "serve");
    const exit = await live.finish();
    assertCleanExit(exit, "live");

    const serveLines = jsonLines("serve", served);
    for (const line of serveLines) assertLogLine(line, "data_manager");
    const serveProgress = serveLines.map((l) => l.line).filter((l) =>
      typeof l.trades === "number" &&
      !(l.msg as string).startsWith("stopped after")
    );
    assert.ok(
      serveProgress.length >= 2,
      `serve progress lines:\n${served.stdout}`,
    );
    for (const line of serveProgress) {
      assert.equal(typeof line.rate, "number", JSON.stringify(line));
      assert.ok(
        Number.isInteger(line.trades) && (line.trades as number) <= total,
        JSON.stringify(line),
      );
      assert.match(
        line.msg as string,
        /^[\d,]+ trades \(/,
        JSON.stringify(line),
      );
    }
    const serveFinal = serveLines.map((l) => l.line).find((l) =>
      (l.msg as string).startsWith("stopped after")
    );
    assert.ok(serveFinal, served.stdout);
    assert.equal(serveFinal.trades, total, JSON.stringify(serveFinal));

    // live's stdout ends with the --summary-json line: JSON, but no log line.
    const liveLines = jsonLines("live", exit);
    const summaries = liveLines.filter(({ line }) => !("level" in line));
    assert.equal(summaries.length, 1, exit.stdout);
    assert.equal(summaries[0].stream, "stdout");
    assert.equal(summaries[0].line.received, total);
    assert.equal(
      exit.stdout.trimEnd().split("\n").at(-1),
      JSON.stringify(summaries[0].line),
    );
    for (const line of liveLines) {
      if ("level" in line.line) assertLogLine(line, "trading_core");
    }
    const liveProgress = liveLines.map((l) => l.line).filter((l) =>
      typeof l.symbol === "string"
    );
    for (const symbol of SYMBOLS) {
      const lines = liveProgress.filter((l) => l.symbol === symbol);
      assert.ok(lines.length >= 2, `${symbol} progress lines:\n${exit.stdout}`);
      for (const line of lines) {
        for (const key of ["received", "rate", "lag", "lost", "gaps"]) {
          assert.equal(
            typeof line[key],
            "number",
            `${key}: ${JSON.stringify(line)}`,
          );
        }
        // The stream: its exchange, then its symbol.
        assert.equal(line.exchange, "binance", JSON.stringify(line));
        assert.ok(
          (line.msg as string).startsWith(`binance ${symbol} `),
          JSON.stringify(line),
        );
      }
    }
    const liveFinal = liveLines.map((l) => l.line).find((l) =>
      typeof l.msg === "string" && l.msg.startsWith("stopped after")
    );
    assert.ok(liveFinal, exit.stdout);
    assert.deepEqual(
      [liveFinal.received, liveFinal.lost, liveFinal.gaps, liveFinal.invalid],
      [total, 0, 0, 0],
    );
  },
});

// ---------------------------------------------------------------------------
// 4. progress on a terminal

const SCRIPT = "/usr/bin/script";

function scriptMissing(): string | undefined {
  try {
    Deno.statSync(SCRIPT);
    return undefined;
  } catch {
    return `${SCRIPT} (util-linux) is not installed: no pseudo-terminal to run live in`;
  }
}

/** `text` quoted for sh. */
function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** A periodic progress log line of live for binance BTCUSDT (not the status block). */
const PROGRESS_LOG_LINE = /INFO {2}trading_core: binance BTCUSDT [\d,]+ \(/;
const STATUS_TEXT =
  /binance BTCUSDT [\d,]+ \([^)]*\) last [\d.]+ lost 0 gaps 0/;
const ERASE_LINE = "\x1b[2K\r";
const CURSOR_UP = "\x1b[1A";

const noScript = scriptMissing();
gatedTest({
  name:
    "live on a terminal (under script) redraws a status block in place; without a terminal it prints progress lines" +
    (noScript ? ` [skipped: ${noScript}]` : ""),
  ignore: noScript !== undefined,
  permissions: PERMISSIONS,
  async fn() {
    await using config = await roleConfig({ symbols: SYMBOLS });
    await using serve = new RoleProcess("serve", config, ["--rate", "2000"]);
    await serve.waitFor(/publishing synthetic/);
    // About 1.5 s of trades each, at 200 ms progress.
    const take = ["--progress", "200ms", "--max-trades", "3000"];
    const command = [Deno.execPath(), ...roleArgs("live", config), ...take]
      .map(shellQuote).join(" ");
    const tty = await new Deno.Command(SCRIPT, {
      args: ["-qec", command, "/dev/null"],
      cwd: PROJECT_ROOT,
      env: { NO_COLOR: "1", NATS_URL: "" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(tty.stdout) +
      new TextDecoder().decode(tty.stderr);
    assert.equal(
      tty.code,
      0,
      `live under script exited ${tty.code}:\n${JSON.stringify(text)}`,
    );
    assert.match(
      text,
      /stopped after [\d.]+s: received 3,000, lost 0/,
      JSON.stringify(text),
    );
    assert.ok(
      text.includes(ERASE_LINE + CURSOR_UP + ERASE_LINE),
      `no redraw sequence:\n${JSON.stringify(text)}`,
    );
    assert.match(text, STATUS_TEXT, JSON.stringify(text));
    assert.doesNotMatch(
      text,
      PROGRESS_LOG_LINE,
      "progress logged as lines on a terminal",
    );

    await using plain = new RoleProcess("live", config, take);
    const exit = await plain.finish();
    assertCleanExit(exit, "live (no terminal)");
    const lines = exit.stdout.split("\n").filter((line) =>
      PROGRESS_LOG_LINE.test(line)
    );
    assert.ok(lines.length >= 2, `progress lines:\n${exit.stdout}`);
    assert.ok(
      !output(exit).includes("\x1b"),
      `escape sequences without a terminal:\n${JSON.stringify(output(exit))}`,
    );
    serve.kill("SIGTERM");
    assertCleanExit(await serve.finish(), "serve");
  },
});

// ---------------------------------------------------------------------------
// 5. a metrics port in use

gatedTest({
  name:
    "--metrics-port on a port already in use: serve and live exit 1 naming the address, the problem and the config key",
  permissions: PERMISSIONS,
  async fn() {
    await using config = await roleConfig({ symbols: SYMBOLS });
    using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = taken.addr.port;
    for (
      const [role, key] of [
        ["live", "trading_core.metrics.port"],
        ["serve", "data_manager.metrics.port"],
      ] as const
    ) {
      await using process = new RoleProcess(role, config, [
        "--metrics-port",
        String(port),
      ]);
      const exit = await process.finish();
      assert.ok(!exit.timedOut, `${role} did not exit:\n${output(exit)}`);
      assert.equal(exit.code, 1, `${role}:\n${output(exit)}`);
      assert.match(
        exit.stderr,
        new RegExp(
          `ERROR {1}\\w+: Cannot serve metrics on 127\\.0\\.0\\.1:${port}: address already in use; pick another --metrics-port \\(${
            key.replaceAll(".", "\\.")
          }\\)`,
        ),
        `${role}:\n${output(exit)}`,
      );
    }
    assert.deepEqual(config.existing(), [], "serve left its rings behind");
  },
});

/**
 * live's scrape: lint-clean, every symbol's trades received exactly, none
 * lost, invalid or out of sequence, and the bytes to match.
 */
function assertReceivedExactly(
  received: ParsedExposition,
  transport: "ipc" | "nats",
): void {
  assertLintClean(received, "live");
  for (const symbol of SYMBOLS) {
    const labels = { transport, exchange: "binance", symbol };
    assert.deepEqual(
      [
        "marketbus_trades_received_total",
        "marketbus_trades_lost_total",
        "marketbus_sequence_gaps_total",
        "marketbus_invalid_records_total",
      ].map((name) => value(received, name, labels)),
      [COUNTS[symbol], 0, 0, 0],
      symbol,
    );
  }
  assert.equal(
    value(received, "marketbus_received_bytes_total", { transport }),
    TOTAL * RECORD_BYTES,
  );
}
