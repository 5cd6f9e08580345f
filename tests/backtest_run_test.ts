/**
 * `deno task backtest` end to end: the task's own command (its permission
 * flags as deno.json has them) run in a temp dir holding data/ and
 * strategies/, over a small three-symbol recording.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { formatNdjsonGap } from "../common/trade_file/mod.ts";
import { flipStrategy, START_NS, writeRecording } from "./_backtest_data.ts";
import {
  backtest,
  summaryOf,
  taskCommand,
  workspace,
} from "./_backtest_run.ts";
import { gatedTest, testNeeding } from "./_permissions.ts";
import { PROJECT_ROOT } from "./nats_server.ts";

const test = testNeeding([
  { name: "run" },
  { name: "read" },
  { name: "write" },
]);

const FILES = ["summary.json", "fills.ndjson", "report.html"];

const DATA = ["--data", "data/rec", "--bars", "1s,5s"];
const RUN = ["--strategy", "strategies/flip.ts", ...DATA];

test("backtest: deno task backtest over a 3-symbol recording writes summary.json, fills.ndjson and report.html; the last line says where", async () => {
  await using ws = await workspace();
  const run = await backtest(ws.dir, RUN);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.equal(run.stderr, "");
  const out = join(ws.dir, "data", "backtest", "flip");
  const summary = await summaryOf(out);
  assert.equal(summary.trades, 1800);
  assert.deepEqual(summary.symbols.map((s) => [s.symbol, s.trades]), [
    ["BTCUSDT", 600],
    ["ETHUSDT", 600],
    ["SOLUSDT", 600],
  ]);
  const start = Number(START_NS / 1_000_000n);
  assert.ok(summary.from! >= start && summary.from! < start + 1000);
  assert.ok(summary.to! < start + 120_000 && summary.to! > start + 119_000);
  assert.ok(summary.fills > 0 && summary.orders > 0, JSON.stringify(summary));
  const fills = (await Deno.readTextFile(join(out, "fills.ndjson")))
    .trimEnd().split("\n").map((line) => JSON.parse(line));
  assert.equal(fills.length, summary.fills);
  const fees = fills.reduce((sum, fill) => sum + fill.fee, 0);
  assert.ok(Math.abs(fees - summary.fees) < 1e-6);
  assert.ok(
    Math.abs(summary.pnl - (summary.endingEquity - summary.startingBalance)) <
      1e-9,
  );
  assert.ok(summary.exposure > 0 && summary.exposure <= 1);
  assert.equal(summary.sampleInterval, "1s");
  assert.match(
    await Deno.readTextFile(join(out, "report.html")),
    /^<!doctype html>/i,
  );
  assert.match(
    run.stdout,
    /INFO {2}backtest: 1,800 trades in [\d.]+ s \([^)]+\), P&L -?[\d.]+ \(realized -?[\d.]+, unrealized -?[\d.]+\), [\d,]+ fills; results in data\/backtest\/flip\/ \(summary\.json, fills\.ndjson, report\.html\)\n$/,
  );
});

test("backtest: the same input and strategy give byte-identical summary.json, fills.ndjson and report.html", async () => {
  await using ws = await workspace();
  for (const out of ["data/one", "data/two"]) {
    const run = await backtest(ws.dir, [...RUN, "--out", out]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
  }
  for (const file of FILES) {
    const one = await Deno.readFile(join(ws.dir, "data/one", file));
    const two = await Deno.readFile(join(ws.dir, "data/two", file));
    assert.ok(one.length > 0, file);
    assert.deepEqual(two, one, `${file} differs between two runs`);
  }
});

test("backtest: --from/--to and --symbols keep only that range and those symbols", async () => {
  await using ws = await workspace();
  const run = await backtest(ws.dir, [
    ...RUN,
    "--symbols",
    "ETHUSDT,SOLUSDT",
    "--from",
    "2024-01-01T00:00:30Z",
    "--to",
    "2024-01-01T00:01:00Z",
    "--out",
    "data/range",
  ]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const summary = await summaryOf(join(ws.dir, "data/range"));
  const from = Number(START_NS / 1_000_000n) + 30_000;
  const expected: Record<string, number> = {};
  for (const symbol of ["ETHUSDT", "SOLUSDT"]) {
    const text = await Deno.readTextFile(
      join(ws.dir, "data/rec", `${symbol}.ndjson`),
    );
    expected[symbol] = text.trimEnd().split("\n").filter((line) => {
      const ms = Number(BigInt(JSON.parse(line).tsEvent) / 1_000_000n);
      return ms >= from && ms < from + 30_000;
    }).length;
  }
  assert.deepEqual(
    summary.symbols.map((s) => [s.symbol, s.trades]),
    Object.entries(expected),
  );
  assert.ok(summary.from! >= from && summary.to! < from + 30_000);
});

/** Appends one ETHUSDT trade at `ns` (the last trade's price and the next ids) to the workspace's recording. */
async function appendEthTrade(dir: string, ns: bigint): Promise<number> {
  const eth = join(dir, "data/rec/ETHUSDT.ndjson");
  const lines = (await Deno.readTextFile(eth)).trimEnd().split("\n");
  const last = JSON.parse(lines.at(-1)!);
  lines.push(JSON.stringify({
    ...last,
    seq: last.seq + 1,
    tsEvent: String(ns),
    tsRecv: String(ns + 1_000_000n),
    tradeId: String(BigInt(last.tradeId) + 1n),
  }));
  await Deno.writeTextFile(eth, lines.join("\n") + "\n");
  return lines.length;
}

test("backtest: a clock outlier (an ETHUSDT trade 3 h ahead of its stream: plausible as a row, past max_clock_jump) changes no fill, no bar, neither `to` nor the equity figures; it is counted per symbol and logged once", async () => {
  await using ws = await workspace();
  const base = await backtest(ws.dir, [...RUN, "--out", "data/base"]);
  assert.equal(base.code, 0, base.stdout + base.stderr);
  const before = await summaryOf(join(ws.dir, "data/base"));
  const ms = before.to! + 3 * 3_600_000;
  await appendEthTrade(ws.dir, BigInt(ms) * 1_000_000n);
  const run = await backtest(ws.dir, [...RUN, "--out", "data/outlier"]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(
    run.stderr,
    new RegExp(
      `WARN {2}trading_core: clock outlier kept out of bars and broker: a trade of binance ETHUSDT at ${
        new Date(ms).toISOString().replaceAll(".", "\\.")
      }`,
    ),
  );
  const after = await summaryOf(join(ws.dir, "data/outlier"));
  assert.equal(after.outliers, 1);
  assert.deepEqual(after.symbols.map((s) => [s.symbol, s.outliers]), [
    ["BTCUSDT", 0],
    ["ETHUSDT", 1],
    ["SOLUSDT", 0],
  ]);
  assert.equal(after.trades, before.trades + 1, "counted as processed");
  const { trades: _t, outliers: _o, symbols: _s, ...restAfter } = after;
  const { trades: _t2, outliers: _o2, symbols: _s2, ...restBefore } = before;
  assert.deepEqual(
    restAfter,
    restBefore,
    "to, P&L, sharpe, exposure unchanged",
  );
  assert.deepEqual(
    await Deno.readFile(join(ws.dir, "data/outlier/fills.ndjson")),
    await Deno.readFile(join(ws.dir, "data/base/fills.ndjson")),
  );
});

test("backtest: an ETHUSDT first row 3 h ahead costs 3 bad rows under --on-bad-row skip (then the file re-anchors) and is a clock outlier against the exchange's clock: `to` unchanged", async () => {
  await using ws = await workspace();
  const base = await backtest(ws.dir, [...RUN, "--out", "data/base"]);
  assert.equal(base.code, 0, base.stdout + base.stderr);
  const before = await summaryOf(join(ws.dir, "data/base"));
  const eth = join(ws.dir, "data/rec/ETHUSDT.ndjson");
  const lines = (await Deno.readTextFile(eth)).trimEnd().split("\n");
  const first = JSON.parse(lines[0]);
  const ns = BigInt(before.to! + 3 * 3_600_000) * 1_000_000n;
  lines.unshift(JSON.stringify({
    ...first,
    tsEvent: String(ns),
    tsRecv: String(ns + 1_000_000n),
    tradeId: String(BigInt(first.tradeId) - 1n),
  }));
  await Deno.writeTextFile(eth, lines.join("\n") + "\n");
  const run = await backtest(ws.dir, [
    ...RUN,
    "--out",
    "data/first",
    "--on-bad-row",
    "skip",
  ]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const after = await summaryOf(join(ws.dir, "data/first"));
  assert.equal(after.badRows, 3, "rows 2-4 of ETHUSDT, then it re-anchors");
  assert.deepEqual(after.symbols.map((s) => [s.symbol, s.outliers]), [
    ["BTCUSDT", 0],
    ["ETHUSDT", 1],
    ["SOLUSDT", 0],
  ]);
  assert.equal(after.to, before.to);
  assert.equal(after.from, before.from);
  assert.match(run.stderr, /its exchange's clock \(the stream's first trade\)/);
});

test("backtest: a trade stamped 2099 is an implausible row, as serve --source replay reads it: it stops the run naming file:line, or is skipped and counted with --on-bad-row skip", async () => {
  await using ws = await workspace();
  const base = await backtest(ws.dir, [...RUN, "--out", "data/base"]);
  assert.equal(base.code, 0, base.stdout + base.stderr);
  const line = await appendEthTrade(
    ws.dir,
    BigInt(Date.UTC(2099, 0, 1)) * 1_000_000n,
  );
  const stopped = await backtest(ws.dir, [...RUN, "--out", "data/stop"]);
  assert.equal(stopped.code, 1, stopped.stdout + stopped.stderr);
  assert.match(
    stopped.stderr,
    new RegExp(`ERROR backtest: .*ETHUSDT\\.ndjson:${line}: `),
  );
  const skipped = await backtest(ws.dir, [
    ...RUN,
    "--out",
    "data/skip",
    "--on-bad-row",
    "skip",
  ]);
  assert.equal(skipped.code, 0, skipped.stdout + skipped.stderr);
  const summary = await summaryOf(join(ws.dir, "data/skip"));
  assert.equal(summary.badRows, 1);
  assert.equal(summary.outliers, 0);
  assert.deepEqual(
    await Deno.readFile(join(ws.dir, "data/skip/fills.ndjson")),
    await Deno.readFile(join(ws.dir, "data/base/fills.ndjson")),
  );
});

test("backtest: a strategy that throws ends the run with one error line naming it and the hook, exit 1, partial results written", async () => {
  await using ws = await workspace();
  const run = await backtest(ws.dir, [
    "--strategy",
    "strategies/throws.ts",
    ...DATA,
  ]);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  const errors = run.stderr.trimEnd().split("\n");
  assert.equal(errors.length, 1, run.stderr);
  assert.match(
    errors[0],
    /ERROR backtest: strategy strategies\/throws\.ts failed in onBar: Error: boom at bar 7 \(at .*throws\.ts:\d+:\d+\)\)$/,
  );
  assert.match(run.stdout, /\(stopped early: partial results\)\n$/);
  const summary = await summaryOf(join(ws.dir, "data/backtest/throws"));
  assert.ok(summary.trades > 0 && summary.trades < 1800, `${summary.trades}`);
});

test("backtest: a submit past --max-open-orders is a strategy error: one line quoting the cap and its key, exit 1", async () => {
  await using ws = await workspace();
  await Deno.writeTextFile(
    join(ws.dir, "strategies", "hoard.ts"),
    `export default { onTrade(trade, context) {
  context.broker.submit({ exchange: trade.exchange, symbol: trade.symbol, side: "buy", quantity: 1, type: "limit", price: 1 });
}, onBar() {} };
`,
  );
  const run = await backtest(ws.dir, [
    "--strategy",
    "strategies/hoard.ts",
    "--max-open-orders",
    "5",
    ...DATA,
  ]);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  const errors = run.stderr.trimEnd().split("\n");
  assert.equal(errors.length, 1, run.stderr);
  assert.match(
    errors[0],
    /ERROR backtest: strategy strategies\/hoard\.ts failed in onTrade: RangeError: Too many open orders: 5 are open, the limit trading_core\.broker\.max_open_orders \(--max-open-orders\) is 5/,
  );
});

test("backtest: a recording's gap line is delivered and counted; a bad row stops the run naming file:line, or with --on-bad-row skip is counted", async () => {
  await using ws = await workspace();
  const path = join(ws.dir, "data/rec/ETHUSDT.ndjson");
  const lines = (await Deno.readTextFile(path)).trimEnd().split("\n");
  lines.splice(
    100,
    0,
    formatNdjsonGap({
      exchange: "binance",
      symbol: "ETHUSDT",
      cause: "overwritten",
      firstSeq: 101,
      lastSeq: 105,
      count: 5,
    }),
  );
  lines.splice(300, 0, "{not json");
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
  const stop = await backtest(ws.dir, [...RUN, "--out", "data/stop"]);
  assert.equal(stop.code, 1, stop.stdout + stop.stderr);
  assert.match(stop.stderr, /ERROR backtest: .*data\/rec\/ETHUSDT\.ndjson:301/);
  assert.equal(stop.stderr.trimEnd().split("\n").length, 1, stop.stderr);
  const skip = await backtest(ws.dir, [
    ...RUN,
    "--out",
    "data/skip",
    "--on-bad-row",
    "skip",
  ]);
  assert.equal(skip.code, 0, skip.stdout + skip.stderr);
  assert.match(
    skip.stderr,
    /WARN {2}backtest: skipped the bad row at .*ETHUSDT\.ndjson:301/,
  );
  const summary = await summaryOf(join(ws.dir, "data/skip"));
  assert.equal(summary.badRows, 1);
  assert.equal(summary.gaps, 1);
  assert.equal(summary.trades, 1800);
  assert.deepEqual(summary.symbols.map((s) => s.gaps), [0, 1, 0]);
});

test("backtest: usage errors exit 2 and a missing recording exits 1, each in one line without a stack trace", async () => {
  await using ws = await workspace();
  const cases: [string[], number, RegExp][] = [
    [["--data", "data/rec"], 2, /^backtest: --strategy FILE is required/],
    [[...RUN, "--from", "noon"], 2, /^backtest: Invalid --from "noon"/],
    [
      [...RUN, "--data", "data/missing.ndjson"],
      1,
      /ERROR backtest: Cannot read trade file "data\/missing\.ndjson"/,
    ],
    [
      ["--strategy", "strategies/none.ts", ...DATA],
      2,
      /ERROR backtest: Strategy file not found: "strategies\/none\.ts"/,
    ],
    [
      [...RUN, "--data", "data/rec/BTCUSDT.ndjson"],
      2,
      /ERROR backtest: --data names data\/rec\/BTCUSDT\.ndjson twice \(also as data\/rec\/BTCUSDT\.ndjson\): .*give each recording once/,
    ],
    [
      [...RUN, "--out", "data/rec/out"],
      2,
      /ERROR backtest: --out data\/rec\/out is inside --data data\/rec: /,
    ],
    [
      [...RUN, "--symbols", "BTCUSD"],
      2,
      /ERROR backtest: no trade matched --data data\/rec --symbols BTCUSD: check the symbols/,
    ],
    [
      [...RUN, "--from", "2025-01-01"],
      2,
      /ERROR backtest: no trade matched --data data\/rec --from 2025-01-01T00:00:00\.000Z: /,
    ],
  ];
  for (const [args, code, stderr] of cases) {
    const run = await backtest(ws.dir, args);
    assert.equal(run.code, code, args.join(" ") + "\n" + run.stderr);
    assert.equal(run.stderr.trimEnd().split("\n").length, 1, run.stderr);
    assert.match(run.stderr, stderr);
    assert.doesNotMatch(run.stderr + run.stdout, /^\s+at /m);
  }
});

test("backtest: the first SIGINT stops a run midway within a bound whatever the strategy costs (20 ms per trade: a batch would take 80 s), writes the partial results and exits 130", async () => {
  await using ws = await workspace();
  await writeRecording(join(ws.dir, "data", "big"), { trades: 4000 });
  await Deno.writeTextFile(
    join(ws.dir, "strategies", "heavy.ts"),
    flipStrategy({ busyMs: 20 }),
  );
  const { flags, script } = taskCommand();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      ...flags,
      script,
      "--strategy",
      "strategies/heavy.ts",
      "--data",
      "data/big",
    ],
    cwd: ws.dir,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const signalled = performance.now();
  child.kill("SIGINT");
  const out = await output;
  const ms = performance.now() - signalled;
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 130, stdout + new TextDecoder().decode(out.stderr));
  assert.ok(ms < 10_000, `stopped ${ms.toFixed(0)} ms after the signal`);
  assert.match(stdout, /SIGINT: stopping/);
  assert.match(stdout, /\(stopped early: partial results\)\n$/);
  const summary = await summaryOf(join(ws.dir, "data/backtest/heavy"));
  assert.ok(
    summary.trades > 0 && summary.trades < 1_000,
    `${summary.trades} trades`,
  );
});

/** Whether `script` (util-linux) is there to give a run a terminal. */
const HAS_SCRIPT = (() => {
  try {
    return Deno.statSync("/usr/bin/script").isFile;
  } catch {
    return false;
  }
})();

gatedTest({
  name:
    "backtest: on a terminal, a progress line with the share read and an ETA is redrawn on stderr; --quiet has none",
  permissions: [{ name: "run" }, { name: "read" }, { name: "write" }],
  ignore: !HAS_SCRIPT,
  async fn() {
    await using ws = await workspace();
    await writeRecording(join(ws.dir, "data", "big"), { trades: 2000 });
    const { flags, script } = taskCommand();
    const command = (quiet: string[]) =>
      [
        Deno.execPath(),
        "run",
        "--no-prompt",
        ...flags,
        script,
        "--strategy",
        "strategies/slow.ts",
        "--data",
        "data/big",
        ...quiet,
      ].join(" ");
    for (const quiet of [[], ["--quiet"]]) {
      const out = await new Deno.Command("/usr/bin/script", {
        args: ["-qec", command(quiet), "/dev/null"],
        cwd: ws.dir,
        env: { NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 0, text);
      const progress = /\d+\.\d% of [\d.]+ [KM]iB, [\d,]+ trades \([^)]+\)/;
      if (quiet.length === 0) assert.match(text, progress);
      else assert.doesNotMatch(text, progress);
    }
  },
});

test("backtest: the example strategy strategies/ma_crossover.ts runs unchanged (as live runs it), places orders on the paper broker and fills them", async () => {
  // The task reads recordings under data/ and strategies under strategies/:
  // run it from the project, over a recording under data/ (not in git).
  const dir = `data/backtest_test_${crypto.randomUUID()}`;
  await writeRecording(join(PROJECT_ROOT, dir, "rec"), {
    trades: 3000,
    seconds: 600,
  });
  try {
    const run = await backtest(PROJECT_ROOT, [
      "--strategy",
      "strategies/ma_crossover.ts",
      "--data",
      `${dir}/rec`,
      "--out",
      `${dir}/out`,
      "--quiet",
    ]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const summary = await summaryOf(join(PROJECT_ROOT, dir, "out"));
    assert.equal(summary.trades, 9000);
    assert.ok(summary.orders > 0 && summary.fills > 0, JSON.stringify(summary));
    assert.equal(summary.symbols.length, 3);
    for (const symbol of summary.symbols) {
      assert.ok(symbol.fills > 0, `${symbol.symbol} traded`);
    }
  } finally {
    await Deno.remove(join(PROJECT_ROOT, dir), { recursive: true });
  }
});
