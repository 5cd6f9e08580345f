// What `live --nats` subscribes to and how it keys what it receives, as real
// processes against a real nats-server from the harness: the consumer's own
// `[data_source.nats.consumer] symbols` key decides the subjects, and one
// symbol published by two exchanges into one stream (`market.*.AUDA.trades`)
// is two independent (exchange, symbol) streams everywhere: the summary,
// sequence gaps, metrics, bars and both recording formats.

import assert from "node:assert/strict";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import type { Bar } from "../trading_core/bar.ts";
import type { LiveSummary } from "../trading_core/live_report.ts";
import { gatedTest, harnessPermissions } from "./_permissions.ts";
import {
  assertCleanExit,
  output,
  publishedTrades,
  ROLE_PERMISSIONS,
  type RoleConfig,
  roleConfig,
  type RoleConfigOptions,
  type RoleExit,
  RoleProcess,
  summaryOf,
} from "./_ipc_roles.ts";
import {
  freePort,
  sample,
  samples,
  scrape,
  value,
  waitUntil,
} from "./_metrics_scrape.ts";
import type { ParsedExposition } from "./promcheck.ts";
import { PROJECT_ROOT, startNatsServer } from "./nats_server.ts";

/** The roles, nats-server, promcheck, and scraping live's endpoint. */
const PERMISSIONS: Deno.PermissionDescriptor[] = [
  ...ROLE_PERMISSIONS,
  { name: "env", variable: "PROMCHECK_BIN" },
  ...harnessPermissions(),
];

/** Trades each exchange publishes for AUDA (the counts of the report). */
const PUBLISHED: Readonly<Record<string, number>> = { audx: 2501, audy: 499 };
const TOTAL = PUBLISHED.audx + PUBLISHED.audy;
/** Rates that spread both publishers over the same half second. */
const RATES: Readonly<Record<string, number>> = { audx: 5000, audy: 1000 };
const SYMBOL = "AUDA";
const BAR_INTERVAL_MS = 100;

/** A config for both roles on `url`, its own stream and subject prefix. */
async function natsRoles(
  url: string,
  options: RoleConfigOptions & {
    consumer?: NonNullable<RoleConfigOptions["nats"]>["consumer"];
    publish?: NonNullable<RoleConfigOptions["nats"]>["publish"];
  } = {},
): Promise<RoleConfig> {
  const { consumer, publish, ...rest } = options;
  return await roleConfig({ ...rest, nats: { url, consumer, publish } });
}

/** The `[data_source]` table of a TOML text: its start and end offsets. */
function dataSourceTable(toml: string): { start: number; end: number } {
  const start = toml.indexOf("\n[data_source]\n");
  assert.ok(start >= 0, `no [data_source] table: ${toml}`);
  const end = toml.indexOf("\n[", start + 1);
  return { start, end: end < 0 ? toml.length : end };
}

/**
 * A copy of `config` whose `[data_source]` names no exchange or symbols and
 * whose `[data_source.nats.consumer]` table holds `keys` instead (the same
 * server, stream and subject prefix).
 */
async function consumerVariant(
  config: RoleConfig,
  keys: { exchange: string; symbols: string[] },
): Promise<RoleConfig> {
  const text = await Deno.readTextFile(config.path);
  const { start, end } = dataSourceTable(text);
  const table = text.slice(start, end);
  const kept = table.replace(/^(exchange|symbols) = .*\n/gm, "");
  assert.equal(table.split("\n").length - kept.split("\n").length, 2, table);
  const path = join(config.dir, "consumer_variant.toml");
  await Deno.writeTextFile(
    path,
    `${text.slice(0, start)}${kept}${text.slice(end)}
[data_source.nats.consumer]
exchange = ${JSON.stringify(keys.exchange)}
symbols = ${JSON.stringify(keys.symbols)}
`,
  );
  return { ...config, path };
}

/** Runs a role to its end; it must exit by itself with status 0. */
async function run(
  role: "serve" | "live",
  config: RoleConfig,
  args: string[],
): Promise<RoleExit> {
  await using process = new RoleProcess(role, config, args);
  const exit = await process.finish();
  assertCleanExit(exit, `${role} ${args.join(" ")}`);
  return exit;
}

/** Both exchanges publish AUDA into the config's one stream at the same time. */
async function publishBoth(config: RoleConfig): Promise<void> {
  const exits = await Promise.all(
    Object.entries(PUBLISHED).map(([exchange, count]) =>
      run("serve", config, [
        "--nats",
        "--no-ipc",
        "--exchange",
        exchange,
        "--symbols",
        SYMBOL,
        "--max-trades",
        String(count),
        "--rate",
        String(RATES[exchange]),
      ])
    ),
  );
  Object.values(PUBLISHED).forEach((count, i) =>
    assert.equal(publishedTrades(exits[i].stdout), count, output(exits[i]))
  );
}

/** A file name under data/ (the only place the live task may write). */
async function dataFile(name: string): Promise<string> {
  await Deno.mkdir(join(PROJECT_ROOT, "data"), { recursive: true });
  return `data/cross_exchange_test_${crypto.randomUUID()}_${name}`;
}

async function readLines(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(join(PROJECT_ROOT, path));
  return text.split("\n").filter((line) => line !== "");
}

/** One line of an NDJSON recording, as far as these checks read it. */
interface Recorded {
  exchange: string;
  symbol: string;
  seq: number;
  tsEvent: string;
}

/** The summary's figures of `exchange`'s AUDA, failing when it has none. */
function figures(summary: LiveSummary, exchange: string) {
  const found = summary.exchanges[exchange]?.[SYMBOL];
  assert.ok(found, `no ${exchange} ${SYMBOL} in ${JSON.stringify(summary)}`);
  return found;
}

/**
 * The bars of one (exchange, symbol) agree with its recorded trades: in
 * order, each one interval after the one before, each holding exactly the
 * recorded trades of its interval, and every trade before the last bar's end
 * in a bar (trade time only moves forward within one publisher: none late).
 */
function assertBarsOfTrades(
  bars: readonly Bar[],
  trades: readonly Recorded[],
  what: string,
): void {
  assert.ok(bars.length > 0, `${what}: no bar closed`);
  const perBar = new Map<number, number>();
  for (const trade of trades) {
    const ms = Number(BigInt(trade.tsEvent) / 1_000_000n);
    const start = Math.floor(ms / BAR_INTERVAL_MS) * BAR_INTERVAL_MS;
    perBar.set(start, (perBar.get(start) ?? 0) + 1);
  }
  const firstStart = Math.min(...perBar.keys());
  assert.equal(bars[0].start, firstStart, `${what}: first bar`);
  bars.forEach((bar, i) => {
    if (i > 0) assert.equal(bar.start, bars[i - 1].end, `${what}: bar ${i}`);
    assert.equal(
      bar.trades,
      perBar.get(bar.start) ?? 0,
      `${what}: trades of the bar at ${bar.start}`,
    );
  });
  const end = bars.at(-1)!.end;
  const before =
    trades.filter((trade) => Number(BigInt(trade.tsEvent) / 1_000_000n) < end)
      .length;
  assert.equal(
    bars.reduce((sum, bar) => sum + bar.trades, 0),
    before,
    `${what}: trades in bars vs recorded before the last bar's end`,
  );
}

/** Every per-(exchange, symbol) sample of live's metrics, by its own exchange. */
function assertMetricsPerStream(metrics: ParsedExposition): void {
  for (const [exchange, count] of Object.entries(PUBLISHED)) {
    const labels = { transport: "nats", exchange, symbol: SYMBOL };
    const text = `${exchange}: ${JSON.stringify(metrics.families)}`;
    assert.equal(
      value(metrics, "marketbus_trades_received_total", labels),
      count,
      text,
    );
    assert.equal(
      value(metrics, "marketbus_sequence_gaps_total", labels),
      0,
      text,
    );
    assert.equal(value(metrics, "marketbus_trades_lost_total", labels), 0);
    const latency = sample(
      metrics,
      "marketbus_end_to_end_latency_seconds",
      labels,
    );
    assert.ok((latency.count ?? 0) > 0, text);
    assert.ok(
      value(metrics, "marketbus_bars_closed_total", {
        exchange,
        symbol: SYMBOL,
        interval: "100ms",
      }) > 0,
      text,
    );
  }
  for (
    const family of [
      "marketbus_trades_received_total",
      "marketbus_sequence_gaps_total",
      "marketbus_end_to_end_latency_seconds",
      "marketbus_bars_closed_total",
    ]
  ) {
    const exchanges = samples(metrics, family).map((s) => s.labels.exchange);
    assert.deepEqual(exchanges.sort(), ["audx", "audy"], family);
  }
}

gatedTest({
  name:
    "two exchanges publish AUDA into one stream (2,501 + 499 trades): live --nats --exchange '*' --symbols AUDA keys everything per (exchange, symbol): summary, no gaps, metrics, bars, NDJSON recording; CSV recording refused",
  permissions: PERMISSIONS,
  async fn() {
    await using server = await startNatsServer();
    await using config = await natsRoles(server.url, { symbols: [SYMBOL] });
    // Bars close by their stream's trades only, never by the wall clock: a
    // consumer stalled on a busy machine must not make trades late.
    await Deno.writeTextFile(
      config.path,
      `\n[trading_core.bars]\nclose_delay = "1m"\n`,
      { append: true },
    );
    await publishBoth(config);
    const wildcard = ["--nats", "--exchange", "*", "--symbols", SYMBOL];

    // 1. Every trade once, per (exchange, symbol): counts, seqs, no gaps.
    const recording = await dataFile("trades.ndjson");
    const barsOut = await dataFile("bars.ndjson");
    try {
      const exit = await run("live", config, [
        ...wildcard,
        "--deliver",
        "all",
        "--summary-json",
        "--max-trades",
        String(TOTAL),
        "--record",
        recording,
        "--bars",
        "100ms",
        "--bars-out",
        barsOut,
      ]);
      const summary = summaryOf(exit);
      const text = JSON.stringify(summary);
      assert.deepEqual(
        [summary.received, summary.lost, summary.gaps, summary.invalid],
        [TOTAL, 0, 0, 0],
        text,
      );
      assert.deepEqual(Object.keys(summary.exchanges).sort(), ["audx", "audy"]);
      for (const [exchange, count] of Object.entries(PUBLISHED)) {
        assert.deepEqual(Object.keys(summary.exchanges[exchange]), [SYMBOL]);
        const own = figures(summary, exchange);
        assert.equal(own.received, count, `${exchange}: ${text}`);
        assert.equal(own.lastSeq, count, `${exchange}: ${text}`);
        assert.equal(own.gaps, 0, `${exchange}: ${text}`);
        assert.equal(own.lost, 0, `${exchange}: ${text}`);
      }

      // The NDJSON recording carries each trade's own exchange: seq 1..N
      // per (exchange, symbol).
      const recorded = (await readLines(recording)).map((line) =>
        JSON.parse(line) as Recorded
      );
      assert.equal(recorded.length, TOTAL);
      const bars = (await readLines(barsOut)).map((line) =>
        JSON.parse(line) as Bar
      );
      for (const [exchange, count] of Object.entries(PUBLISHED)) {
        const own = recorded.filter((trade) => trade.exchange === exchange);
        assert.deepEqual(
          own.map((trade) => trade.seq),
          Array.from({ length: count }, (_, i) => i + 1),
          `${exchange}: recorded seqs`,
        );
        assert.ok(own.every((trade) => trade.symbol === SYMBOL));
        assertBarsOfTrades(
          bars.filter((bar) => bar.exchange === exchange),
          own,
          `${exchange} ${SYMBOL} bars`,
        );
      }
      assert.ok(
        bars.every((bar) => bar.exchange in PUBLISHED && bar.symbol === SYMBOL),
        "bars of other streams",
      );
    } finally {
      await Deno.remove(join(PROJECT_ROOT, recording)).catch(() => {});
      await Deno.remove(join(PROJECT_ROOT, barsOut)).catch(() => {});
    }

    // 2. The same through the config file, `exchange = "*"` in the
    // consumer's table: metrics labelled with each trade's own exchange. A
    // CSV recording (no exchange or symbol column) cannot hold every
    // exchange: refused before anything is read.
    const wildcardConfig = await consumerVariant(config, {
      exchange: "*",
      symbols: [SYMBOL],
    });
    const csv = await dataFile("AUDA-trades.csv");
    {
      await using refused = new RoleProcess("live", wildcardConfig, [
        "--nats",
        "--record",
        csv,
        "--record-format",
        "csv",
      ]);
      const exit = await refused.finish();
      assert.equal(exit.code, 2, output(exit));
      assert.match(
        output(exit),
        /--record-format csv holds one \(exchange, symbol\)'s trades .* reads every exchange: pass one --exchange and one --symbols, or record ndjson/,
      );
      assert.doesNotMatch(output(exit), /^\s+at /m);
    }
    const port = freePort();
    const barsOut2 = await dataFile("bars2.ndjson");
    try {
      await using live = new RoleProcess("live", wildcardConfig, [
        "--nats",
        "--summary-json",
        "--deliver",
        "all",
        "--metrics-port",
        String(port),
        "--bars",
        "100ms",
        "--bars-out",
        barsOut2,
      ]);
      let scraped = false;
      const metrics = await Promise.race([
        waitUntil("every trade received", async () => {
          const metrics = await scrape(port);
          const received = samples(metrics, "marketbus_trades_received_total")
            .reduce((sum, s) => sum + (s.value ?? 0), 0);
          return received === TOTAL ? metrics : undefined;
        }),
        live.exited.then((exit) =>
          scraped
            ? undefined as never
            : assert.fail(`live exited ${exit.code} early:\n${output(exit)}`)
        ),
      ]);
      scraped = true;
      assertMetricsPerStream(metrics);
      live.kill("SIGINT");
      const exit = await live.finish();
      assertCleanExit(exit, "live --exchange '*' from the config file");
      const summary = summaryOf(exit);
      assert.deepEqual(
        [summary.received, summary.gaps, figures(summary, "audy").received],
        [TOTAL, 0, PUBLISHED.audy],
        JSON.stringify(summary),
      );
    } finally {
      await Deno.remove(join(PROJECT_ROOT, csv)).catch(() => {});
      await Deno.remove(join(PROJECT_ROOT, barsOut2)).catch(() => {});
    }
  },
});

/** Trades per subject in `config`'s stream (one message per trade). */
async function tradesPerSubject(
  url: string,
  config: RoleConfig,
): Promise<Record<string, number>> {
  const nc = await connect({ servers: url, noAsyncTraces: true });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(config.nats!.stream, {
      subjects_filter: ">",
    });
    return info.state.subjects ?? {};
  } finally {
    await nc.close();
  }
}

gatedTest({
  name:
    '[data_source.nats.consumer] symbols = ["AUDA"] as the config\'s only consumer symbols: serve publishes AUDA, AUDB and AUDC, live --nats receives AUDA only',
  permissions: PERMISSIONS,
  async fn() {
    await using server = await startNatsServer();
    await using config = await natsRoles(server.url, {
      symbols: ["AUDA", "AUDB", "AUDC"],
      consumer: { symbols: [SYMBOL] },
      publish: { batch_max_trades: 1 },
    });
    const toml = await Deno.readTextFile(config.path);
    const { start, end } = dataSourceTable(toml);
    assert.doesNotMatch(
      toml.slice(start, end),
      /^symbols = /m,
      `the consumer's symbols are not its table's only: ${toml}`,
    );
    const serve = await run("serve", config, [
      "--nats",
      "--no-ipc",
      "--max-trades",
      "3000",
      "--rate",
      "0",
    ]);
    assert.equal(publishedTrades(serve.stdout), 3000);
    const subjects = await tradesPerSubject(server.url, config);
    const prefix = config.nats!.subjectPrefix;
    const auda = subjects[`${prefix}.binance.AUDA.trades`];
    assert.ok(auda > 0 && auda < 3000, JSON.stringify(subjects));

    const exit = await run("live", config, [
      "--nats",
      "--deliver",
      "all",
      "--summary-json",
      "--max-trades",
      String(auda),
    ]);
    const summary = summaryOf(exit);
    const text = JSON.stringify(summary);
    assert.deepEqual(Object.keys(summary.exchanges), ["binance"], text);
    assert.deepEqual(Object.keys(summary.exchanges.binance), [SYMBOL], text);
    assert.equal(summary.received, auda, text);
    assert.equal(figures(summary, "binance").lastSeq, auda, text);
    assert.equal(summary.gaps, 0, text);
  },
});
