// `serve --source binance` against the local fake Binance server and
// `serve --source replay` of a recorded file, as real processes with the
// tasks' own permissions, into a `live` on the shared-memory ring: the
// consumer gets exactly the trades the source delivered, across a forced
// disconnect, and serve logs the reconnect and the id gaps.

import assert from "node:assert/strict";
import { join } from "node:path";
import { parsePrice } from "../common/wire/fixed_point.ts";
import { Side } from "../common/wire/trade.ts";
import { formatNdjsonTrade } from "../common/trade_file/mod.ts";
import type { LiveSummary } from "../trading_core/live_report.ts";
import { FakeBinance, tradeFrame } from "./_fake_binance.ts";
import { gatedTest } from "./_permissions.ts";
import {
  assertCleanExit,
  assertComplete,
  output,
  publishedTrades,
  ROLE_PERMISSIONS,
  type RoleConfig,
  roleConfig,
  RoleProcess,
  streamOf,
  summaryOf,
} from "./_ipc_roles.ts";

const SYMBOLS = ["BTCUSDT", "ETHUSDT"];

/** A Binance combined-stream trade frame with price `price`. */
function frame(symbol: string, id: number, price: string): string {
  return tradeFrame(symbol, id, price, {
    time: 1764197000000 + id % 100_000,
    quantity: "0.01000000",
    buyerMaker: id % 3 === 0,
  });
}

/**
 * Copies tests/fixtures/replay/`fixture` into the config's directory as
 * `options.as`, starts a `live --max-trades N` waiting for its ring, replays
 * the copy with `serve --source replay --speed 0`, checks serve published N
 * trades and both exited cleanly, and returns live's summary.
 */
async function replayIntoLive(
  config: RoleConfig,
  fixture: string,
  options: { as: string; trades: number },
): Promise<LiveSummary> {
  const file = join(config.dir, options.as);
  await Deno.copyFile(
    new URL(`./fixtures/replay/${fixture}`, import.meta.url),
    file,
  );
  await using live = new RoleProcess("live", config, [
    "--max-trades",
    String(options.trades),
    "--summary-json",
  ]);
  await live.waitFor(/waiting for ring/);
  await using serve = new RoleProcess("serve", config, [
    "--source",
    "replay",
    "--file",
    file,
    "--speed",
    "0",
  ]);
  const served = await serve.finish();
  assertCleanExit(served, "serve");
  assert.equal(publishedTrades(served.stdout), options.trades, output(served));
  // 10 s: it gets its trades in milliseconds or never.
  const exit = await live.finish(10_000);
  assertCleanExit(exit, "live");
  return summaryOf(exit);
}

interface Sent {
  frames: string[];
  /** Trades per symbol that the fake will actually send. */
  counts: Record<string, number>;
  /** Last price sent per symbol. */
  lastPrice: Record<string, number>;
}

/** `perSymbol` trades of each symbol, interleaved, ids from `firstIds`, minus `skip`. */
function trades(
  firstIds: Record<string, number>,
  perSymbol: number,
  skip: ReadonlySet<number>,
  sent: Sent,
): string[] {
  const frames: string[] = [];
  for (let i = 0; i < perSymbol; i++) {
    for (const symbol of SYMBOLS) {
      const id = firstIds[symbol] + i;
      const base = symbol === "BTCUSDT" ? 67000 : 3000;
      const price = (base + id % 1000 / 100).toFixed(2);
      frames.push(frame(symbol, id, price));
      if (!skip.has(id)) {
        sent.counts[symbol] = (sent.counts[symbol] ?? 0) + 1;
        sent.lastPrice[symbol] = Number(price);
      }
    }
  }
  sent.frames.push(...frames);
  return frames;
}

gatedTest({
  name:
    "serve --source binance: live gets exactly the fake's trades across a forced disconnect; reconnect and gaps logged",
  permissions: [...ROLE_PERMISSIONS, { name: "net", host: "127.0.0.1" }],
  async fn() {
    await using config = await roleConfig({ symbols: SYMBOLS });
    const fake = FakeBinance.start();
    try {
      await binanceRun(config, fake);
    } finally {
      await fake.close();
    }
  },
});

async function binanceRun(
  config: RoleConfig,
  fake: FakeBinance,
): Promise<void> {
  const skip = new Set([5_000_000_004, 5_000_000_005, 2_000_000_012]);
  const sent: Sent = { frames: [], counts: {}, lastPrice: {} };
  const first = trades(
    { BTCUSDT: 5_000_000_000, ETHUSDT: 2_000_000_000 },
    10,
    skip,
    sent,
  );
  const second = trades(
    { BTCUSDT: 5_000_000_010, ETHUSDT: 2_000_000_010 },
    10,
    skip,
    sent,
  );
  const total = sent.counts.BTCUSDT + sent.counts.ETHUSDT;
  assert.equal(total, 40 - skip.size);

  await using live = new RoleProcess("live", config, [
    "--max-trades",
    String(total),
    "--summary-json",
  ]);
  await live.waitFor(/waiting for ring/, SYMBOLS.length);
  await using serve = new RoleProcess("serve", config, [
    "--source",
    "binance",
    "--endpoint",
    fake.endpoint,
    "--symbols",
    SYMBOLS.join(","),
    "--max-trades",
    String(total),
  ]);
  await fake.waitForAccepted(1);
  fake.send(first, { skipIds: skip });
  fake.drop();
  await fake.waitForAccepted(2);
  fake.send(second, { skipIds: skip });

  const served = await serve.finish();
  assertCleanExit(served, "serve");
  const log = output(served);
  assert.equal(publishedTrades(served.stdout), total, log);
  assert.equal(fake.accepted, 2, log);
  assert.match(log, /connection 0 dropped \(code 1001/);
  assert.equal(
    [...log.matchAll(/connection 0 open/g)].length,
    2,
    `expected the first open and one reopen:\n${log}`,
  );
  // Inside the first half (BTCUSDT 5000000004..5) and across the drop (ETHUSDT 2000000012).
  assert.match(
    log,
    /BTCUSDT: 2 trades missing between ids 5000000003 and 5000000006/,
  );
  assert.match(
    log,
    /ETHUSDT: 1 trades missing between ids 2000000011 and 2000000013/,
  );

  const exit = await live.finish();
  assertCleanExit(exit, "live");
  const summary = summaryOf(exit);
  assertComplete(summary, SYMBOLS, total);
  for (const symbol of SYMBOLS) {
    const figures = streamOf(summary, symbol);
    assert.equal(figures.received, sent.counts[symbol], symbol);
    assert.equal(figures.lastPrice, sent.lastPrice[symbol], symbol);
  }
}

gatedTest({
  name:
    "serve --source replay --speed 0: live gets the rows of the subscribed symbols, no gaps",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    // serve replays these 3 rows and closes its ring within a few ms: the
    // waiting live must still see it.
    await using config = await roleConfig({ symbols: ["BTCUSDT"] });
    // session.ndjson: BTCUSDT 42283.58, ETHUSDT 2352.1, BTCUSDT 42283.59.
    const summary = await replayIntoLive(config, "session.ndjson", {
      as: "session.ndjson",
      trades: 2,
    });
    assertComplete(summary, ["BTCUSDT"], 2);
    assert.equal(streamOf(summary, "BTCUSDT").lastPrice, 42283.59);
  },
});

gatedTest({
  name:
    "serve --source replay --speed 0: a generated NDJSON file, exactly the rows of the subscribed symbols",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    await using config = await roleConfig({ symbols: SYMBOLS });
    const file = join(config.dir, "generated.ndjson");
    // 20,000 rows of three symbols (SOLUSDT not subscribed); the ring holds
    // all of them, so none can be overwritten before live reads it.
    const counts: Record<string, number> = { BTCUSDT: 0, ETHUSDT: 0 };
    const lastPrice: Record<string, number> = {};
    const lines: string[] = [];
    const all = ["BTCUSDT", "ETHUSDT", "SOLUSDT"];
    for (let i = 0; i < 20_000; i++) {
      const symbol = all[i % 7 % 3];
      // A plausible walk (replay flags a price ×1.5 away from the last).
      const price = `${5000 + i % 50}.${String(i % 100).padStart(2, "0")}`;
      lines.push(
        formatNdjsonTrade({
          exchange: "binance",
          symbol,
          seq: 0,
          tsEvent: 1704067200000000000n + BigInt(i) * 1_000_000n,
          tsRecv: 1704067200000000000n + BigInt(i) * 1_000_000n,
          priceFixed: parsePrice(price),
          price: Number(price),
          size: 0.001 * (1 + i % 9),
          side: i % 2 === 0 ? Side.Buy : Side.Sell,
          flags: 0,
          tradeId: BigInt(1_000_000 + i),
        }),
      );
      if (symbol in counts) {
        counts[symbol]++;
        lastPrice[symbol] = Number(price);
      }
    }
    await Deno.writeTextFile(file, lines.join("\n") + "\n");
    const total = counts.BTCUSDT + counts.ETHUSDT;
    await using live = new RoleProcess("live", config, [
      "--max-trades",
      String(total),
      "--summary-json",
    ]);
    await live.waitFor(/waiting for ring/, SYMBOLS.length);
    await using serve = new RoleProcess("serve", config, [
      "--source",
      "replay",
      "--file",
      file,
      "--speed",
      "0",
    ]);
    const served = await serve.finish();
    assertCleanExit(served, "serve");
    assert.equal(publishedTrades(served.stdout), total, output(served));
    const exit = await live.finish();
    assertCleanExit(exit, "live");
    const summary = summaryOf(exit);
    assertComplete(summary, SYMBOLS, total);
    for (const symbol of SYMBOLS) {
      assert.equal(streamOf(summary, symbol).received, counts[symbol], symbol);
      assert.equal(
        streamOf(summary, symbol).lastPrice,
        lastPrice[symbol],
        symbol,
      );
    }
  },
});

gatedTest({
  name:
    "serve --source replay of a CSV named otherwise than SYMBOL-trades-DATE.csv, one symbol configured: its rows go out as that symbol",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    await using config = await roleConfig({ symbols: ["BTCUSDT"] });
    const summary = await replayIntoLive(
      config,
      "BTCUSDT-trades-2024-01-01.csv",
      { as: "trades.csv", trades: 5 },
    );
    assertComplete(summary, ["BTCUSDT"], 5);
    // The fixture's last row: price 42283.00000001.
    assert.equal(streamOf(summary, "BTCUSDT").lastPrice, 42283.00000001);
  },
});

gatedTest({
  name:
    "serve --source replay of symbols not configured: a warning at each one's first row naming file, line and the configured symbols; nothing published exits 1 saying why",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    await using config = await roleConfig({ symbols: ["BTCUSDT"] });
    const copy = async (name: string) => {
      const file = join(config.dir, name);
      await Deno.copyFile(
        new URL(`./fixtures/replay/${name}`, import.meta.url),
        file,
      );
      return file;
    };
    const warning = (file: string, line: number, symbol: string) =>
      `WARN  data_manager: replay: ${file} line ${line}: symbol ${symbol} is not configured (configured: BTCUSDT); its rows are skipped`;

    // session.ndjson: BTCUSDT, ETHUSDT, BTCUSDT: two published, one warning.
    const session = await copy("session.ndjson");
    await using some = new RoleProcess("serve", config, [
      "--source",
      "replay",
      "--file",
      session,
    ]);
    const partly = await some.finish();
    assertCleanExit(partly, "serve");
    assert.equal(publishedTrades(partly.stdout), 2, output(partly));
    const warned = partly.stderr.split("\n").filter((l) => l.includes("WARN"));
    assert.equal(warned.length, 1, output(partly));
    assert.ok(
      warned[0].endsWith(warning(session, 2, "ETHUSDT")),
      output(partly),
    );

    // Only ETHUSDT rows: nothing published, exit 1 with the reason last.
    const eth = await copy("ETHUSDT-trades-2024-01-02.csv");
    await using none = new RoleProcess("serve", config, [
      "--source",
      "replay",
      "--file",
      eth,
    ]);
    const nothing = await none.finish();
    assert.equal(nothing.code, 1, output(nothing));
    assert.equal(publishedTrades(nothing.stdout), 0, output(nothing));
    const lines = nothing.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 2, output(nothing));
    assert.ok(lines[0].endsWith(warning(eth, 1, "ETHUSDT")), output(nothing));
    assert.ok(
      lines[1].endsWith(
        `ERROR data_manager: replay: published 0 of 3 rows of ${eth}: every row was of symbols not configured (ETHUSDT ×3); configured: BTCUSDT`,
      ),
      output(nothing),
    );
  },
});
