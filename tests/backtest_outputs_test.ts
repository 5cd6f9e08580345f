/**
 * `deno task backtest`'s inputs and outputs as a user meets them: the same
 * recording under two names (plain and gzip) is processed once, its
 * repeats counted; a refused run leaves the previous run's results whole.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { gzipBytes } from "./_fuzz.ts";
import { testNeeding } from "./_permissions.ts";
import { backtest, summaryOf, workspace } from "./_backtest_run.ts";

const test = testNeeding([
  { name: "run" },
  { name: "read" },
  { name: "write" },
]);

const RUN = ["--strategy", "strategies/flip.ts", "--bars", "1s,5s"];
const FILES = ["summary.json", "fills.ndjson", "report.html"];

test("backtest: a recording beside its gzip copy is processed once; the repeats are counted in summary.json and warned once", async () => {
  await using ws = await workspace();
  const base = await backtest(ws.dir, [...RUN, "--data", "data/rec"]);
  assert.equal(base.code, 0, base.stdout + base.stderr);
  const plain = join(ws.dir, "data/rec/BTCUSDT.ndjson");
  await Deno.writeFile(
    plain + ".gz",
    await gzipBytes(await Deno.readFile(plain)),
  );
  const run = await backtest(ws.dir, [
    ...RUN,
    "--data",
    "data/rec",
    "--out",
    "data/twice",
  ]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const warnings = (run.stdout + run.stderr).split("\n").filter((l) =>
    /WARN/.test(l)
  );
  assert.equal(warnings.length, 1, run.stdout + run.stderr);
  assert.match(
    warnings[0],
    /data\/rec\/BTCUSDT\.ndjson\.gz: trades also read from data\/rec\/BTCUSDT\.ndjson/,
  );
  const summary = await summaryOf(join(ws.dir, "data/twice"));
  assert.equal(summary.trades, 1800);
  assert.equal(summary.duplicates, 600);
  assert.equal(
    (await summaryOf(join(ws.dir, "data/backtest/flip"))).duplicates,
    0,
  );
  assert.deepEqual(
    await Deno.readFile(join(ws.dir, "data/twice/fills.ndjson")),
    await Deno.readFile(join(ws.dir, "data/backtest/flip/fills.ndjson")),
  );
});

test("backtest: a refused run (no trade matched) leaves the previous run's three files untouched", async () => {
  await using ws = await workspace();
  const out = join(ws.dir, "data/out");
  const first = await backtest(ws.dir, [
    ...RUN,
    "--data",
    "data/rec",
    "--out",
    "data/out",
  ]);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  const before = await Promise.all(
    FILES.map((file) => Deno.readFile(join(out, file))),
  );
  assert.ok(before[1].length > 0, "the first run has fills");
  const refused = await backtest(ws.dir, [
    ...RUN,
    "--data",
    "data/rec",
    "--out",
    "data/out",
    "--from",
    "2099-01-01T00:00:00Z",
  ]);
  assert.equal(refused.code, 2, refused.stdout + refused.stderr);
  assert.match(refused.stdout + refused.stderr, /no trade matched/);
  for (const [i, file] of FILES.entries()) {
    assert.deepEqual(await Deno.readFile(join(out, file)), before[i], file);
  }
  const left = [];
  for await (const entry of Deno.readDir(out)) left.push(entry.name);
  assert.deepEqual(left.sort(), [...FILES].sort());
});

test("backtest: equity going below zero is warned once and recorded in summary.json (minEquity, equityBelowZeroAt)", async () => {
  await using ws = await workspace();
  // 20,000 BTCUSDT at ~100 bought on a 1,000 balance at a 10 % fee (it
  // fills over the trades that follow, each a few units): fees alone sink it.
  await Deno.writeTextFile(
    join(ws.dir, "strategies/big.ts"),
    `let done = false;
export default {
  onBar() {},
  onTrade(trade, context) {
    if (done) return;
    done = true;
    context.broker.submit({ exchange: trade.exchange, symbol: trade.symbol, side: "buy", quantity: 20000 });
  },
};
`,
  );
  const run = await backtest(ws.dir, [
    "--strategy",
    "strategies/big.ts",
    "--data",
    "data/rec",
    "--symbols",
    "BTCUSDT",
    "--fee-bps",
    "1000",
    "--balance",
    "1000",
  ]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const warnings = (run.stdout + run.stderr).split("\n").filter((l) =>
    /equity went below zero/.test(l)
  );
  assert.equal(warnings.length, 1, run.stdout + run.stderr);
  const summary = await summaryOf(join(ws.dir, "data/backtest/big"));
  assert.ok(summary.minEquity < 0, JSON.stringify(summary));
  assert.equal(typeof summary.equityBelowZeroAt, "number");
  assert.ok(summary.maxDrawdownRatio > 1);
});
