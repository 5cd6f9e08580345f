// `live --strategy`, `--bars-out` and `--fills-out` as a real process behind
// a real `serve` on the shared-memory ring, with the live task's own
// permissions (it may read config/ and strategies/, and write data/): the
// example strategy's paper fills and the closed bars of a fixture, a strategy that throws
// (exit 1) and one that cannot be loaded (exit 2).

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Bar } from "../trading_core/bar.ts";
import { gatedTest } from "./_permissions.ts";
import {
  assertCleanExit,
  output,
  publishedTrades,
  ROLE_PERMISSIONS,
  roleConfig,
  RoleProcess,
} from "./_ipc_roles.ts";
import { PROJECT_ROOT } from "./nats_server.ts";

const T0_MS = 1_704_067_200_000;
const NS_PER_MS = 1_000_000n;

/** The fixture's 29 closed 1 s bars of BTCUSDT (28 with one trade each, then an empty one). */
async function fixtureBars(): Promise<Bar[]> {
  const text = await Deno.readTextFile(
    new URL("./fixtures/strategy/btcusdt_1s_bars.ndjson", import.meta.url),
  );
  return text.trim().split("\n").map((line) => JSON.parse(line));
}

/** One NDJSON replay row of a BTCUSDT buy of 0.5 at `timeMs`. */
function buyRow(timeMs: number, price: number, tradeId: number): string {
  return JSON.stringify({
    exchange: "binance",
    symbol: "BTCUSDT",
    tsEvent: String(BigInt(timeMs) * NS_PER_MS),
    price: String(price),
    size: "0.5",
    side: "buy",
    tradeId: String(tradeId),
  });
}

/** The strategy's log lines (component `strategy`) of JSON `output`, as `level: msg`. */
function strategyLines(text: string): string[] {
  return text.split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line))
    .filter((line) => line.component === "strategy")
    .map((line) => `${line.level}: ${line.msg}`);
}

gatedTest({
  name:
    "live --strategy strategies/ma_crossover.ts --bars 1s --bars-out --fills-out: the fixture's trades replayed through serve give exactly the expected paper fills (logged, in the fills file, in the exit summary) and the fixture's 29 closed bars",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    await using config = await roleConfig({ symbols: ["BTCUSDT"] });
    const bars = await fixtureBars();
    // One trade in the middle of each non-empty bar at its close, then one
    // at 29.5 s: it closes the empty bar 28 and opens bar 29 (left open).
    const rows = bars.filter((bar) => bar.trades > 0).map((bar, i) =>
      buyRow(bar.start + 500, bar.close, i + 1)
    );
    rows.push(buyRow(T0_MS + 29_500, 89.5, rows.length + 1));
    assert.equal(rows.length, 29);
    const file = join(config.dir, "fixture_trades.ndjson");
    await Deno.writeTextFile(file, rows.join("\n") + "\n");
    // The live task may write only under data/.
    await Deno.mkdir(join(PROJECT_ROOT, "data"), { recursive: true });
    const barsOut = `data/strategy_roles_test_${crypto.randomUUID()}.ndjson`;
    const fillsOut = `data/strategy_roles_fills_${crypto.randomUUID()}.ndjson`;
    try {
      await using live = new RoleProcess("live", config, [
        "--strategy",
        "strategies/ma_crossover.ts",
        "--bars",
        "1s",
        "--bars-out",
        barsOut,
        "--fills-out",
        fillsOut,
        "--fee-bps",
        "0",
        "--max-trades",
        String(rows.length),
        "--log-format",
        "json",
        "--log-level", // the strategy logs each fill at debug
        "debug",
      ]);
      await live.waitFor(/waiting for ring/);
      await using serve = new RoleProcess("serve", config, [
        "--source",
        "replay",
        "--file",
        file,
        "--speed",
        "0",
        "--symbols",
        "BTCUSDT",
      ]);
      const served = await serve.finish();
      assertCleanExit(served, "serve");
      assert.equal(publishedTrades(served.stdout), rows.length);
      const exit = await live.finish();
      assertCleanExit(exit, "live");
      // Bars close on the next trade (replayed at full speed), after the
      // broker saw it: the buy at the cross up fills over the two trades
      // after the one that closed the bar (0.5 each); the sell at the cross
      // down is placed at the last trade and stays open.
      assert.deepEqual(strategyLines(output(exit)), [
        "info: ma_crossover on binance BTCUSDT: SMA 5/20 of 1s closes, quantity 1, market orders on the paper broker (balance 100000)",
        "debug: paper BUY 0.5 binance BTCUSDT @ 110 (cross up; order 1, fee 0.00, position +0.5, realized P&L +0.00)",
        "debug: paper BUY 0.5 binance BTCUSDT @ 110 (cross up; order 1, fee 0.00, position +1, realized P&L +0.00)",
        "info: ma_crossover binance BTCUSDT: position +1 @ 110, realized P&L +0.00, unrealized -20.50 at 89.5, fees 0.00, orders 2, fills 2",
      ]);
      assert.match(exit.stdout, new RegExp(`"wrote 2 fills to ${fillsOut}"`));
      assert.match(
        exit.stdout,
        /"paper broker: 2 orders, 2 fills, 1 order left open, fees 0\.00, P&L -20\.50 \(realized \+0\.00, unrealized -20\.50\), equity 99979\.50 from 100000\.00"/,
      );
      const fills = (await Deno.readTextFile(join(PROJECT_ROOT, fillsOut)))
        .trim().split("\n").map((line) => JSON.parse(line));
      const fill = (tradeId: number, position: number) => ({
        orderId: "1",
        exchange: "binance",
        symbol: "BTCUSDT",
        side: "buy",
        quantity: 0.5,
        price: 110,
        fee: 0,
        liquidity: "taker",
        time: T0_MS + (tradeId - 1) * 1000 + 500,
        tsEvent: String(BigInt(T0_MS + (tradeId - 1) * 1000 + 500) * NS_PER_MS),
        tradeId: String(tradeId),
        position,
        realizedPnl: 0,
        tag: "cross up",
      });
      assert.deepEqual(fills, [fill(23, 0.5), fill(24, 1)]);
      assert.match(exit.stdout, new RegExp(`"wrote 29 bars to ${barsOut}"`));
      const written: Bar[] =
        (await Deno.readTextFile(join(PROJECT_ROOT, barsOut)))
          .trim().split("\n").map((line) => JSON.parse(line));
      assert.equal(written.length, bars.length, "bars written");
      // The file adds the bar's start and end as ISO times, and `complete`
      // (the fixture predates it: absent means true; no trade was lost here).
      written.forEach((bar, i) =>
        assert.deepEqual(bar, {
          ...bars[i],
          complete: bars[i].complete ?? true,
          startTime: new Date(bars[i].start).toISOString(),
          endTime: new Date(bars[i].end).toISOString(),
        }, `bar ${i}`)
      );
    } finally {
      await Deno.remove(join(PROJECT_ROOT, barsOut)).catch(() => {});
      await Deno.remove(join(PROJECT_ROOT, fillsOut)).catch(() => {});
    }
  },
});

gatedTest({
  name:
    "live --strategy with a strategy that throws in onTrade: live stops and exits 1, naming the strategy file, the hook and the error",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    await using config = await roleConfig({ symbols: ["BTCUSDT"] });
    // In the config's directory, which the roles may read.
    const strategy = join(config.dir, "throwing_strategy.ts");
    await Deno.writeTextFile(
      strategy,
      `let trades = 0;
export default {
  onTrade() {
    if (++trades === 3) throw new RangeError("no third trade, please");
  },
  onBar() {},
};
`,
    );
    await using live = new RoleProcess("live", config, [
      "--strategy",
      strategy,
    ]);
    await live.waitFor(/waiting for ring/);
    await using serve = new RoleProcess("serve", config, ["--rate", "1000"]);
    const exit = await live.finish();
    assert.ok(!exit.timedOut, `live did not stop by itself:\n${output(exit)}`);
    assert.equal(exit.code, 1, output(exit));
    assert.match(
      exit.stderr,
      new RegExp(
        `ERROR trading_core: strategy ${strategy} failed in onTrade: RangeError: no third trade, please\\n\\s+at Object\\.onTrade \\(file://${strategy}:4:`,
      ),
    );
    assert.match(exit.stdout, /stopped after [\d.]+s: received [\d,]+, lost 0/);
    serve.kill("SIGTERM");
    assertCleanExit(await serve.finish(), "serve");
  },
});

gatedTest({
  name:
    "live --strategy that cannot be loaded (outside what the live task may read; missing) exits 2 with the load error",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    await using config = await roleConfig({ symbols: ["BTCUSDT"] });
    // Not the config's directory: the roles may not read this one.
    const elsewhere = await Deno.makeTempDir({ prefix: "marketbus_strategy_" });
    try {
      const outside = join(elsewhere, "outside.ts");
      await Deno.writeTextFile(
        outside,
        "export default { onTrade() {}, onBar() {} };\n",
      );
      const cases = [
        [
          outside,
          `Cannot read strategy "${outside}": deno task live and deno task backtest read strategies only under strategies/; put the strategy under strategies/, or run trading_core/main.ts (live) or trading_core/backtest/main.ts (backtest) with --allow-read=config,strategies,${outside}`,
        ],
        [
          "strategies/no_such_strategy.ts",
          `Strategy file not found: "strategies/no_such_strategy.ts" (looked for ${
            join(PROJECT_ROOT, "strategies", "no_such_strategy.ts")
          })`,
        ],
      ];
      for (const [path, message] of cases) {
        await using live = new RoleProcess("live", config, [
          "--strategy",
          path,
        ]);
        const exit = await live.finish();
        assert.ok(!exit.timedOut, `live did not exit:\n${output(exit)}`);
        assert.equal(exit.code, 2, output(exit));
        const errors = exit.stderr.trim().split("\n");
        assert.equal(errors.length, 1, exit.stderr);
        assert.match(errors[0], /^\S+Z ERROR trading_core: /);
        assert.equal(
          errors[0].replace(/^\S+Z ERROR trading_core: /, ""),
          message,
        );
        assert.doesNotMatch(exit.stdout, /waiting for ring/);
      }
    } finally {
      await Deno.remove(elsewhere, { recursive: true });
    }
  },
});
