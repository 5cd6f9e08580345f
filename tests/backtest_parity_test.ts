/**
 * Parity, and the merge order end to end.
 *
 * 1. One 2-symbol recording run (a) through the backtest and (b) published by
 *    `serve --source replay --speed 0` into a tethered
 *    `live --strategy --bar-clock trade` on the ring, or over NATS
 *    (`serve --nats --no-ipc`, `live --nats`), gives the same complete
 *    fills.ndjson (in a canonical order: live's order across symbols is the
 *    transport's), the same orders, equity, and open orders at stop.
 * 2. A strategy sized by the broker's equity (so the order across symbols
 *    matters) gives byte-identical fills over the two files merged and over
 *    one file presorted in the merge order, and other fills over the same
 *    trades unmerged: the comparison can fail.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  assertCleanExit,
  publishedTrades,
  ROLE_PERMISSIONS,
  roleConfig,
  RoleProcess,
  summaryOf,
} from "./_ipc_roles.ts";
import { flipEveryBar, writeRecording } from "./_backtest_data.ts";
import { gatedTest, harnessPermissions } from "./_permissions.ts";
import { PROJECT_ROOT, startNatsServer } from "./nats_server.ts";

const SYMBOLS = ["BTCUSDT", "ETHUSDT"];
const TRADES = 1500; // per symbol

/** The merge order's key of an NDJSON row of file `file`: ts_event, ts_recv, file, seq. */
function mergeKey(line: string, file: number): bigint[] {
  const row = JSON.parse(line);
  return [
    BigInt(row.tsEvent),
    BigInt(row.tsRecv),
    BigInt(file),
    BigInt(row.seq),
  ];
}

function compareKeys(a: bigint[], b: bigint[]): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return 0;
}

/**
 * A fill file in a canonical order that does not depend on how trades of
 * different symbols interleave within the same moment: sorted by trade time,
 * exchange and symbol (a symbol's fills keep their order), order ids renamed
 * in order of first appearance. Every other field is kept as written.
 */
function canonicalFills(text: string): string[] {
  const fills = text.trimEnd().split("\n").map((line) => JSON.parse(line));
  fills.sort((a, b) =>
    BigInt(a.tsEvent) < BigInt(b.tsEvent)
      ? -1
      : BigInt(a.tsEvent) > BigInt(b.tsEvent)
      ? 1
      : a.exchange < b.exchange
      ? -1
      : a.exchange > b.exchange
      ? 1
      : a.symbol < b.symbol
      ? -1
      : a.symbol > b.symbol
      ? 1
      : 0
  );
  const ids = new Map<string, string>();
  return fills.map((fill) => {
    if (!ids.has(fill.orderId)) ids.set(fill.orderId, String(ids.size + 1));
    return JSON.stringify({ ...fill, orderId: ids.get(fill.orderId) });
  });
}

/** Runs the backtest (its own entrypoint, reading the temp dir) and returns its output. */
async function backtest(args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--allow-read",
      "--allow-write",
      join(PROJECT_ROOT, "trading_core/backtest/main.ts"),
      "--bars",
      "1s",
      ...args,
    ],
    cwd: PROJECT_ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) +
    new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  return text;
}

/** Writes the recording; returns its files' texts and its rows sorted in the merge order. */
async function recording(dir: string): Promise<
  { texts: string[]; merged: string[]; rows: number }
> {
  const files = await writeRecording(join(dir, "rec"), {
    symbols: SYMBOLS,
    trades: TRADES,
    seconds: 300,
    seed: 11,
  });
  const texts = await Promise.all(files.map((f) => Deno.readTextFile(f)));
  const rows = texts.flatMap((text, file) =>
    text.trimEnd().split("\n").map((line) => ({
      line,
      key: mergeKey(line, file),
    }))
  );
  const merged = rows.toSorted((a, b) => compareKeys(a.key, b.key))
    .map((row) => row.line);
  return { texts, merged, rows: rows.length };
}

/** The open orders and the equity of a strategy's `at stop:` line. */
function atStop(text: string): { open: string; equity: number } {
  const line = /at stop: open orders (\S*); equity (\S+)/.exec(text);
  assert.ok(line, text);
  return { open: line[1], equity: Number(line[2]) };
}

/** How the recording reaches live in {@linkcode parity}. */
type Transport = "ring" | "nats";

/**
 * Runs one 2-symbol recording (a) through the backtest and (b) from
 * `serve --source replay --speed 0` into `live --strategy --bar-clock
 * trade` over `transport` (the ring with a tethered reader: no trade lost;
 * or NATS from the stream's start), and compares their fills, orders,
 * equity and open orders at stop.
 */
async function parity(transport: Transport): Promise<void> {
  await using server = transport === "nats"
    ? await startNatsServer()
    : undefined;
  await using config = await roleConfig({
    symbols: SYMBOLS,
    ...(server === undefined ? {} : {
      nats: {
        url: server.url,
        publish: { batch_max_trades: 1, max_in_flight: 1 },
      },
    }),
  });
  const dir = config.dir;
  const strategy = join(dir, "flip.ts");
  await Deno.writeTextFile(strategy, flipEveryBar());
  const { merged, rows } = await recording(dir);
  const replay = join(dir, "replay.ndjson");
  await Deno.writeTextFile(replay, merged.join("\n") + "\n");
  // live may write only under data/ (not in git: a clean clone has none).
  await Deno.mkdir(join(PROJECT_ROOT, "data"), { recursive: true });
  const liveFills = join(
    PROJECT_ROOT,
    `data/parity_test_${crypto.randomUUID()}.ndjson`,
  );
  const liveArgs = [
    "--strategy",
    strategy,
    "--bars",
    "1s",
    "--bar-clock",
    "trade",
    "--fills-out",
    liveFills,
    "--summary-json",
    "--max-trades",
    String(rows),
  ];
  const serveArgs = ["--source", "replay", "--file", replay, "--speed", "0"];
  try {
    let lived;
    if (transport === "nats") {
      await using serve = new RoleProcess("serve", config, [
        "--nats",
        "--no-ipc",
        ...serveArgs,
      ]);
      const served = await serve.finish();
      assertCleanExit(served, "serve");
      assert.equal(publishedTrades(served.stdout), rows);
      await using live = new RoleProcess("live", config, [
        "--nats",
        "--deliver",
        "all",
        ...liveArgs,
      ]);
      lived = await live.finish();
    } else {
      // Tethered: the replay waits for live, which loses nothing.
      await using live = new RoleProcess("live", config, [
        "--delivery",
        "tethered",
        ...liveArgs,
      ]);
      await live.waitFor(/waiting for ring/);
      await using serve = new RoleProcess("serve", config, [
        ...serveArgs,
        "--wait-readers",
        "1",
      ]);
      const served = await serve.finish();
      assertCleanExit(served, "serve");
      assert.equal(publishedTrades(served.stdout), rows);
      lived = await live.finish();
    }
    assertCleanExit(lived, "live");
    const text = await backtest([
      "--config",
      config.path,
      "--strategy",
      strategy,
      "--data",
      join(dir, "rec"),
      "--out",
      join(dir, "out"),
    ]);
    const fills = await Deno.readTextFile(join(dir, "out/fills.ndjson"));
    assert.ok(fills.split("\n").length > 100, "fills");
    for (const symbol of SYMBOLS) {
      assert.ok(fills.includes(`"symbol":"${symbol}"`), `${symbol} traded`);
    }
    assert.deepEqual(
      canonicalFills(await Deno.readTextFile(liveFills)),
      canonicalFills(fills),
      "fills.ndjson",
    );
    const summary = JSON.parse(
      await Deno.readTextFile(join(dir, "out/summary.json")),
    );
    const broker = summaryOf(lived).broker!;
    assert.equal(broker.orders, summary.orders);
    assert.equal(broker.fills, summary.fills);
    assert.ok(Math.abs(broker.equity - summary.endingEquity) < 1e-6);
    const stop = atStop(text);
    assert.match(stop.open, /BTCUSDT@.*ETHUSDT@/, "limit orders left open");
    const liveStop = atStop(lived.stdout + lived.stderr);
    assert.equal(liveStop.open, stop.open, "open orders at stop");
    assert.ok(Math.abs(liveStop.equity - stop.equity) < 1e-3);
  } finally {
    await Deno.remove(liveFills).catch(() => {});
  }
}

gatedTest({
  name:
    "parity: one 2-symbol recording gives the same complete fills (canonical order), orders, equity and open orders at stop in the backtest and in a tethered live --bar-clock trade on the ring fed by serve --source replay --speed 0",
  permissions: [...ROLE_PERMISSIONS, ...harnessPermissions()],
  fn: () => parity("ring"),
});

gatedTest({
  name:
    "parity: one 2-symbol recording gives the same complete fills (canonical order), orders, equity and open orders at stop in the backtest and in live --nats --bar-clock trade fed by serve --source replay --speed 0",
  permissions: [...ROLE_PERMISSIONS, ...harnessPermissions()],
  fn: () => parity("nats"),
});

gatedTest({
  name:
    "merge order end to end: a strategy sized by the broker's equity gives byte-identical fills over two files merged and one file presorted in the merge order, and other fills over the same trades unmerged",
  permissions: [{ name: "run" }, { name: "read" }, { name: "write" }],
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "marketbus_merge_" });
    try {
      const strategy = join(dir, "equity.ts");
      await Deno.writeTextFile(strategy, flipEveryBar({ byEquity: true }));
      const { texts, merged } = await recording(dir);
      await Deno.writeTextFile(
        join(dir, "presorted.ndjson"),
        merged.join("\n") + "\n",
      );
      // The merge disabled: BTCUSDT's trades, then ETHUSDT's, in one file.
      await Deno.writeTextFile(join(dir, "unmerged.ndjson"), texts.join(""));
      const fills: Record<string, string> = {};
      for (const data of ["rec", "presorted.ndjson", "unmerged.ndjson"]) {
        await backtest([
          "--strategy",
          strategy,
          "--data",
          join(dir, data),
          "--out",
          join(dir, `out_${data}`),
        ]);
        fills[data] = await Deno.readTextFile(
          join(dir, `out_${data}`, "fills.ndjson"),
        );
      }
      assert.ok(fills.rec.split("\n").length > 100, "fills");
      assert.equal(fills["presorted.ndjson"], fills.rec);
      assert.notDeepEqual(
        canonicalFills(fills["unmerged.ndjson"]),
        canonicalFills(fills.rec),
        "the unmerged order gives other fills",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
