import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { decodeTrades, encodeMessage } from "../common/wire/codec.ts";
import type { Logger } from "../common/runtime/log.ts";
import type { TradeGap } from "../common/transport/feed.ts";
import { Side, type Trade } from "../common/wire/trade.ts";
import { TradeView } from "../common/wire/trade_view.ts";
import { TEMP_FILE_PERMISSIONS, testNeeding } from "../tests/_permissions.ts";
import type { Bar } from "./bar.ts";
import { type Fill, PaperBroker } from "./broker/mod.ts";
import {
  loadStrategy,
  type Strategy,
  type StrategyContext,
  StrategyLoadError,
  StrategyRunner,
} from "./strategy.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const LOAD_SCRIPT = join(ROOT, "tests/fixtures/strategy/load_strategy.ts");
const TRADE_TYPE_URL = pathToFileURL(join(ROOT, "common/wire/trade.ts")).href;
const ORIGIN = { exchange: "binance", symbol: "BTCUSDT" };

/** Tests that write strategy modules or run a child deno: skipped, saying why, without those permissions. */
const test = {
  tempFiles: testNeeding(TEMP_FILE_PERMISSIONS),
  tempFilesAndDeno: testNeeding([...TEMP_FILE_PERMISSIONS, { name: "run" }]),
  deno: testNeeding([{ name: "run" }]),
};

/** Writes `files` (name → source) into a fresh temp dir, runs `fn` in it, removes it. */
async function withFiles(
  files: Record<string, string>,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "strategy_test_" });
  try {
    for (const [name, source] of Object.entries(files)) {
      await Deno.mkdir(join(dir, name, ".."), { recursive: true });
      await Deno.writeTextFile(join(dir, name), source);
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function loadError(path: string, cwd: string): Promise<string> {
  try {
    await loadStrategy(path, { cwd });
  } catch (error) {
    assert.ok(error instanceof StrategyLoadError, String(error));
    assert.equal(error.path, path);
    return error.message;
  }
  assert.fail(`loading ${path} did not fail`);
}

const EXPECTED =
  "expected `export default { onTrade, onBar }`, `export const strategy = { onTrade, onBar }`, " +
  "or a default or `createStrategy` export that is a function or class returning one";

test.tempFiles("loadStrategy accepts every export shape", async () => {
  const hooks = "onTrade() {}, onBar() {}";
  await withFiles({
    "object.ts": `export default { id: "object", ${hooks} };`,
    "named.ts": `export const strategy = { id: "named", ${hooks} };`,
    "function.ts":
      `export default function () { return { id: "function", ${hooks} }; }`,
    "arrow.ts": `export default () => ({ id: "arrow", ${hooks} });`,
    "class.ts":
      `export default class { id = "class"; onTrade() {} onBar() {} onStart() {} onStop() {} }`,
    "factory.ts":
      `export const helper = 1;\nexport async function createStrategy() { return { id: "factory", ${hooks} }; }`,
    "nested/relative.ts": `export default { id: "relative", ${hooks} };`,
  }, async (dir) => {
    for (
      const name of ["object", "named", "function", "arrow", "class", "factory"]
    ) {
      const strategy = await loadStrategy(`./${name}.ts`, { cwd: dir });
      assert.equal((strategy as Strategy & { id: string }).id, name);
      assert.equal(typeof strategy.onTrade, "function");
    }
    const absolute = await loadStrategy(join(dir, "nested/relative.ts"));
    assert.equal((absolute as Strategy & { id: string }).id, "relative");
  });
});

test.tempFiles("loadStrategy rejects modules that export no valid strategy", async () => {
  await withFiles({
    "none.ts": "export const size = 1;\nexport function helper() {}",
    "empty.ts": "export {};",
    "number.ts": "export default 42;",
    "array.ts": "export const strategy = [];",
    "no_bar.ts": "export default { onTrade() {} };",
    "bad_trade.ts": "export const strategy = { onTrade: 1, onBar() {} };",
    "bad_stop.ts":
      `export default { onTrade() {}, onBar() {}, onStop: "later" };`,
    "bad_gap.ts": `export default { onTrade() {}, onBar() {}, onGap: 7 };`,
    "bad_fill.ts": `export default { onTrade() {}, onBar() {}, onFill: true };`,
    "null_factory.ts": "export function createStrategy() { return null; }",
    "throwing_factory.ts":
      `export default function () { throw new RangeError("no symbols"); }`,
    "rejecting_factory.ts":
      `export async function createStrategy() { throw new Error("offline"); }`,
  }, async (dir) => {
    const cases: [string, string][] = [
      [
        "none.ts",
        `Strategy "none.ts" exports no strategy (it exports helper, size): ${EXPECTED}`,
      ],
      [
        "empty.ts",
        `Strategy "empty.ts" exports no strategy (it exports nothing): ${EXPECTED}`,
      ],
      [
        "number.ts",
        `Strategy "number.ts": default export is a number, not a strategy: ${EXPECTED}`,
      ],
      [
        "array.ts",
        `Strategy "array.ts": export \`strategy\` is an array, not a strategy: ${EXPECTED}`,
      ],
      [
        "no_bar.ts",
        'Strategy "no_bar.ts": default export has no onBar: a strategy needs methods onTrade(trade, context) and onBar(bar, context)',
      ],
      [
        "bad_trade.ts",
        'Strategy "bad_trade.ts": export `strategy` has onTrade = a number: expected a method onTrade(trade, context)',
      ],
      [
        "bad_stop.ts",
        'Strategy "bad_stop.ts": default export has onStop = a string: expected a method onStop(context)',
      ],
      [
        "bad_gap.ts",
        'Strategy "bad_gap.ts": default export has onGap = a number: expected a method onGap(gap, context)',
      ],
      [
        "bad_fill.ts",
        'Strategy "bad_fill.ts": default export has onFill = a boolean: expected a method onFill(fill, context)',
      ],
      [
        "null_factory.ts",
        `Strategy "null_factory.ts": export \`createStrategy\` is null, not a strategy: ${EXPECTED}`,
      ],
      [
        "throwing_factory.ts",
        'Strategy "throwing_factory.ts": default export threw when called: RangeError: no symbols',
      ],
      [
        "rejecting_factory.ts",
        'Strategy "rejecting_factory.ts": export `createStrategy` threw when called: Error: offline',
      ],
    ];
    for (const [name, message] of cases) {
      assert.equal(await loadError(name, dir), message);
    }
  });
});

test.tempFiles("loadStrategy reports missing files and modules that fail to load", async () => {
  await withFiles({
    "syntax.ts": "export default { onTrade( {}, onBar() {} };",
    "bad_import.ts":
      'import { x } from "./missing_helper.ts";\nexport default x;',
    "throws.ts": 'throw new Error("boom at load");',
  }, async (dir) => {
    assert.equal(
      await loadError("./nope.ts", dir),
      `Strategy file not found: "./nope.ts" (looked for ${
        join(dir, "nope.ts")
      })`,
    );
    // One line each: what, where (the file, line and column), why.
    assert.equal(
      await loadError("syntax.ts", dir),
      `Strategy "syntax.ts" does not compile at ${
        join(dir, "syntax.ts")
      }:1:36: SyntaxError: Expected ',', got '('`,
    );
    assert.equal(
      await loadError("bad_import.ts", dir),
      `Strategy "bad_import.ts" does not compile at ${
        join(dir, "bad_import.ts")
      }:1:19: Module not found "${
        pathToFileURL(join(dir, "missing_helper.ts")).href
      }".`,
    );
    assert.equal(
      await loadError("throws.ts", dir),
      'Strategy "throws.ts" threw while loading: Error: boom at load',
    );
  });
});

/** Runs the load script with read access to `allowRead` only. */
async function loadWithPermissions(
  cwd: string,
  allowRead: string,
  path: string,
): Promise<{ code: number; stdout: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", `--allow-read=${allowRead}`, LOAD_SCRIPT, path],
    cwd,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(stderr.includes("error"), false, stderr);
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
  };
}

test.tempFilesAndDeno("loadStrategy explains read permissions the process lacks", async () => {
  const hooks = "onTrade() {}, onBar() {}";
  await withFiles({
    "outside.ts": `export default { ${hooks} };`,
    "helper.ts": "export const hooks = { onTrade() {}, onBar() {} };",
    "strategies/uses_helper.ts":
      'import { hooks } from "../helper.ts";\nexport default hooks;',
    "strategies/uses_types.ts":
      `import type { Trade } from "${TRADE_TYPE_URL}";\nexport default { onTrade(_: Trade) {}, onBar() {} };`,
  }, async (dir) => {
    const allow = "config,strategies";
    assert.deepEqual(await loadWithPermissions(dir, allow, "./outside.ts"), {
      code: 2,
      stdout:
        'Cannot read strategy "./outside.ts": deno task live and deno task backtest read strategies only under strategies/; ' +
        "put the strategy under strategies/, or run trading_core/main.ts (live) or trading_core/backtest/main.ts (backtest) with --allow-read=config,strategies,./outside.ts\n",
    });
    assert.deepEqual(
      await loadWithPermissions(dir, allow, "strategies/uses_helper.ts"),
      {
        code: 2,
        stdout:
          `Cannot read "${
            join(dir, "helper.ts")
          }", imported by strategy "strategies/uses_helper.ts": ` +
          "deno task live and deno task backtest read strategies only under strategies/ and the modules it loaded itself; " +
          "import project modules with `import type` only and keep helpers under strategies/, " +
          `or run trading_core/main.ts (live) or trading_core/backtest/main.ts (backtest) with --allow-read=config,strategies,${
            join(dir, "helper.ts")
          }\n`,
      },
    );
    assert.deepEqual(
      await loadWithPermissions(dir, allow, "strategies/uses_types.ts"),
      { code: 0, stdout: "loaded function function\n" },
    );
  });
});

test.deno("the example strategy loads with the read access of deno task live", async () => {
  assert.deepEqual(
    await loadWithPermissions(
      ROOT,
      "config,strategies",
      "strategies/ma_crossover.ts",
    ),
    { code: 0, stdout: "loaded function function\n" },
  );
});

/** A logger that keeps lines as `level: message`. */
function captureLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (message: string) =>
    lines.push(`${level}: ${message}`);
  return {
    lines,
    log: {
      debug: at("debug"),
      info: at("info"),
      warn: at("warn"),
      error: at("error"),
    },
  };
}

function context(log: Logger): StrategyContext {
  return {
    exchange: "binance",
    symbols: ["BTCUSDT", "ETHUSDT"],
    intervals: ["1s"],
    log,
    broker: new PaperBroker(),
  };
}

/** `actual` is the context given, its broker behind the facade: the same figures, no `trade`. */
function sameContext(actual: StrategyContext, given: StrategyContext): void {
  const { broker, ...rest } = actual;
  const { broker: paper, ...expected } = given;
  assert.deepEqual(rest, expected);
  assert.equal(broker.equity, paper.equity);
  assert.equal("trade" in broker, false, "the strategy cannot feed trades");
}

function bar(symbol: string, start: number, close: number): Bar {
  return {
    exchange: "binance",
    symbol,
    interval: "1s",
    intervalMs: 1000,
    start,
    end: start + 1000,
    open: close,
    high: close,
    low: close,
    close,
    volume: 1,
    buyVolume: 1,
    sellVolume: 0,
    notional: close,
    vwap: close,
    trades: 1,
    complete: true,
  };
}

/** Trades `firstSeq` to `lastSeq` of BTCUSDT missing, overwritten in the ring. */
function gap(firstSeq: number, lastSeq: number): TradeGap {
  return {
    ...ORIGIN,
    stream: 0,
    cause: "overwritten",
    firstSeq,
    lastSeq,
    count: lastSeq - firstSeq + 1,
  };
}

/** A message of `count` trades and a view over it. */
function trades(count: number): { message: Uint8Array; view: TradeView } {
  const message = encodeMessage(
    Array.from({ length: count }, (_, i) => ({
      side: i % 2 === 0 ? Side.Buy : Side.Sell,
      flags: 0,
      seq: i + 1,
      tsEvent: 1_704_067_200_000_000_000n + BigInt(i) * 1_000_000n,
      tsRecv: 1_704_067_200_000_500_000n + BigInt(i) * 1_000_000n,
      priceFixed: 67123_450000000n + BigInt(i) * 10_000_000n,
      size: 0.25 * (i + 1),
      tradeId: 9_007_199_254_740_993n + BigInt(i),
    })),
  );
  const view = new TradeView();
  view.wrap(message);
  return { message, view };
}

Deno.test("StrategyRunner calls onStart, then trades and bars in call order, then onStop once", async () => {
  const events: string[] = [];
  const seen: Trade[] = [];
  const { log } = captureLog();
  const ctx = context(log);
  const runner = new StrategyRunner({
    async onStart(c) {
      sameContext(c, ctx);
      await Promise.resolve();
      events.push("start");
    },
    onTrade(trade, c) {
      sameContext(c, ctx);
      seen.push(trade);
      events.push(`trade ${trade.symbol} ${trade.seq}`);
    },
    onBar(b, c) {
      sameContext(c, ctx);
      events.push(`bar ${b.symbol} ${b.close}`);
    },
    onStop() {
      events.push("stop");
    },
  }, ctx);
  const { message, view } = trades(3);
  await runner.start();
  runner.trade(view.select(0), ORIGIN);
  runner.trade(view.select(1), ORIGIN);
  runner.bar(bar("BTCUSDT", 1_704_067_200_000, 67123.45));
  runner.trade(view.select(2), ORIGIN);
  runner.bar(bar("ETHUSDT", 1_704_067_200_000, 2345.5));
  await runner.stop();
  await runner.stop();
  assert.deepEqual(events, [
    "start",
    "trade BTCUSDT 1",
    "trade BTCUSDT 2",
    "bar BTCUSDT 67123.45",
    "trade BTCUSDT 3",
    "bar ETHUSDT 2345.5",
    "stop",
  ]);
  assert.deepEqual(seen, decodeTrades(message, ORIGIN));
  assert.deepEqual([runner.trades, runner.bars, runner.errors], [3, 2, 0]);
});

Deno.test("StrategyRunner warns once when a hook returns a promise, and does not await it", async () => {
  const { log, lines } = captureLog();
  let settled = 0;
  const runner = new StrategyRunner({
    async onTrade() {
      await new Promise((resolve) => setTimeout(resolve, 1));
      settled++;
    },
    onBar: () => Promise.resolve(),
  }, context(log));
  const { view } = trades(3);
  for (let i = 0; i < 3; i++) runner.trade(view.select(i), ORIGIN);
  runner.bar(bar("BTCUSDT", 1_704_067_200_000, 1));
  assert.equal(settled, 0);
  assert.deepEqual(lines, [
    "warn: onTrade returned a promise: it is not awaited (hooks run inside the read loop); " +
    "make onTrade synchronous and queue async work yourself",
  ]);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(settled, 3);
  assert.deepEqual([runner.trades, runner.bars, runner.errors], [3, 1, 0]);
});

Deno.test("StrategyRunner stops calling a strategy that threw, reports the error once, still calls onStop once", async () => {
  const events: string[] = [];
  const failure = new Error("bad index");
  const reported: [unknown, string][] = [];
  const runner = new StrategyRunner(
    {
      onTrade(trade) {
        events.push(`trade ${trade.seq}`);
        if (trade.seq === 2) throw failure;
      },
      onBar() {
        events.push("bar");
      },
      onStop() {
        events.push("stop");
      },
    },
    context(captureLog().log),
    {
      onError: (error, hook) => reported.push([error, hook]),
    },
  );
  const { view } = trades(3);
  await runner.start();
  runner.bar(bar("BTCUSDT", 1_704_067_200_000, 1));
  runner.trade(view.select(0), ORIGIN);
  runner.trade(view.select(1), ORIGIN);
  runner.trade(view.select(2), ORIGIN);
  runner.bar(bar("BTCUSDT", 1_704_067_201_000, 1));
  await runner.stop();
  await runner.stop();
  assert.deepEqual(events, ["bar", "trade 1", "trade 2", "stop"]);
  assert.equal(reported.length, 1);
  assert.equal(reported[0][0], failure);
  assert.equal(reported[0][1], "onTrade");
  assert.deepEqual([runner.trades, runner.bars, runner.errors], [2, 1, 1]);
});

Deno.test("StrategyRunner treats a rejected promise from a hook as a failure", async () => {
  const failure = new Error("order queue full");
  const reported: [unknown, string][] = [];
  let calls = 0;
  const runner = new StrategyRunner(
    {
      onTrade() {},
      async onBar() {
        calls++;
        await Promise.resolve();
        throw failure;
      },
    },
    context(captureLog().log),
    {
      onError: (error, hook) => reported.push([error, hook]),
    },
  );
  runner.bar(bar("BTCUSDT", 1_704_067_200_000, 1));
  await new Promise((resolve) => setTimeout(resolve, 0));
  runner.bar(bar("BTCUSDT", 1_704_067_201_000, 1));
  assert.equal(calls, 1);
  assert.deepEqual(reported, [[failure, "onBar"]]);
  assert.deepEqual([runner.bars, runner.errors], [1, 1]);
});

Deno.test("StrategyRunner hands gaps to onGap in call order, with the context; a strategy without onGap is not called", () => {
  const events: string[] = [];
  const ctx = context(captureLog().log);
  const runner = new StrategyRunner({
    onTrade: (trade) => events.push(`trade ${trade.seq}`),
    onBar() {},
    onGap(g, c) {
      sameContext(c, ctx);
      events.push(`gap ${g.cause} ${g.firstSeq}-${g.lastSeq} ${g.count}`);
    },
  }, ctx);
  const { view } = trades(3);
  runner.trade(view.select(0), ORIGIN);
  runner.gap(gap(2, 5));
  runner.trade(view.select(1), ORIGIN);
  assert.deepEqual(events, ["trade 1", "gap overwritten 2-5 4", "trade 2"]);
  assert.equal(runner.gaps, 1);
  const without = new StrategyRunner({ onTrade() {}, onBar() {} }, ctx);
  without.gap(gap(2, 5));
  assert.deepEqual([without.gaps, without.errors], [0, 0]);
});

Deno.test("StrategyRunner: a throw from onGap is reported as onGap once and stops the strategy", async () => {
  const failure = new TypeError("gap.count is null");
  const reported: [unknown, string][] = [];
  const events: string[] = [];
  const runner = new StrategyRunner(
    {
      onTrade: (trade) => events.push(`trade ${trade.seq}`),
      onBar() {},
      onGap() {
        events.push("gap");
        throw failure;
      },
      onStop: () => {
        events.push("stop");
      },
    },
    context(captureLog().log),
    { onError: (error, hook) => reported.push([error, hook]) },
  );
  const { view } = trades(3);
  runner.trade(view.select(0), ORIGIN);
  runner.gap(gap(2, 2));
  runner.trade(view.select(2), ORIGIN);
  runner.gap(gap(4, 4));
  await runner.stop();
  assert.deepEqual(events, ["trade 1", "gap", "stop"]);
  assert.deepEqual(reported, [[failure, "onGap"]]);
  assert.deepEqual([runner.trades, runner.gaps, runner.errors], [1, 1, 1]);
});

Deno.test("StrategyRunner start and stop reject with what onStart and onStop throw", async () => {
  const runner = new StrategyRunner({
    onStart() {
      throw new RangeError("no interval");
    },
    onTrade() {},
    onBar() {},
    onStop: () => Promise.reject(new Error("flush failed")),
  }, context(captureLog().log));
  await assert.rejects(runner.start(), new RangeError("no interval"));
  await assert.rejects(runner.stop(), new Error("flush failed"));
  await runner.stop();
});

Deno.test("StrategyRunner: onCaughtUp is optional, called with the event; a throw is reported like onGap's", () => {
  const { log } = captureLog();
  const event = {
    exchange: "binance",
    symbol: "BTCUSDT",
    stream: 0,
    replayed: 12,
    ms: 34,
    lastSeq: 12,
    lastEpoch: 7,
    epoch: 7,
  };
  new StrategyRunner({ onTrade() {}, onBar() {} }, context(log)).caughtUp(
    event,
  );
  const seen: unknown[] = [];
  const reported: string[] = [];
  const runner = new StrategyRunner(
    {
      onTrade() {},
      onBar() {},
      onCaughtUp(e) {
        seen.push(e);
        throw new Error("no");
      },
    },
    context(log),
    { onError: (_error, hook) => reported.push(hook) },
  );
  runner.caughtUp(event);
  runner.caughtUp(event); // failed: not called again
  assert.deepEqual(seen, [event]);
  assert.deepEqual(reported, ["onCaughtUp"]);
});

Deno.test("StrategyRunner: onFill is optional, called with the fill and the context; a throw is reported like onGap's", () => {
  const { log } = captureLog();
  const fill: Fill = {
    orderId: "1",
    exchange: "binance",
    symbol: "BTCUSDT",
    side: "buy",
    quantity: 1,
    price: 100,
    fee: 0.1,
    liquidity: "taker",
    time: 1_704_067_200_000,
    tsEvent: 1_704_067_200_000_000_000n,
    tradeId: 1n,
    position: 1,
    realizedPnl: -0.1,
  };
  const without = new StrategyRunner(
    { onTrade() {}, onBar() {} },
    context(log),
  );
  without.fill(fill);
  assert.equal(without.fills, 0);
  const seen: unknown[] = [];
  const reported: string[] = [];
  const ctx = context(log);
  const runner = new StrategyRunner(
    {
      onTrade() {},
      onBar() {},
      onFill(f, c) {
        seen.push(f, c.broker.balance === ctx.broker.balance);
        throw new Error("no");
      },
    },
    ctx,
    { onError: (_error, hook) => reported.push(hook) },
  );
  runner.fill(fill);
  runner.fill(fill); // failed: not called again
  assert.deepEqual(seen, [fill, true]);
  assert.deepEqual(reported, ["onFill"]);
  assert.equal(runner.fills, 1);
  assert.equal(runner.errors, 1);
});
