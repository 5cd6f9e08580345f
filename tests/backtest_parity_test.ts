/**
 * Parity: one recording run (a) through `deno task backtest` and (b)
 * replayed by `serve --source replay --speed 0` into a tethered
 * `live --strategy --bar-clock trade` gives the same orders and fills.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import denoJson from "../deno.json" with { type: "json" };
import {
  assertCleanExit,
  publishedTrades,
  ROLE_PERMISSIONS,
  roleConfig,
  RoleProcess,
} from "./_ipc_roles.ts";
import { writeRecording } from "./_backtest_data.ts";
import { gatedTest } from "./_permissions.ts";
import { PROJECT_ROOT } from "./nats_server.ts";

const SYMBOLS = ["BTCUSDT", "ETHUSDT"];
const TRADES = 1500; // per symbol

/** The fills of an NDJSON fill file, per symbol, without the order ids (submission order across symbols is the transport's in live). */
async function fillsBySymbol(
  path: string,
): Promise<Record<string, unknown[]>> {
  const text = await Deno.readTextFile(path);
  const bySymbol: Record<string, unknown[]> = {};
  for (const line of text.trimEnd().split("\n")) {
    const { orderId: _, ...fill } = JSON.parse(line);
    (bySymbol[fill.symbol] ??= []).push(fill);
  }
  return bySymbol;
}

gatedTest({
  name:
    "parity: strategies/ma_crossover.ts over one 2-symbol recording gives the same fills in deno task backtest and in a tethered live --bar-clock trade fed by serve --source replay --speed 0",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    await using config = await roleConfig({
      symbols: SYMBOLS,
      ipcSource: { delivery: "tethered" },
    });
    // The backtest task reads and writes only under data/.
    const dir = `data/parity_test_${crypto.randomUUID()}`;
    await Deno.mkdir(join(PROJECT_ROOT, dir), { recursive: true });
    try {
      const files = await writeRecording(join(PROJECT_ROOT, dir, "rec"), {
        symbols: SYMBOLS,
        trades: TRADES,
        seconds: 300,
        seed: 11,
      });
      // (b) serve replays one file: the two symbols' recordings as one, in time order.
      const rows = (await Promise.all(files.map((f) => Deno.readTextFile(f))))
        .flatMap((text) => text.trimEnd().split("\n"))
        .sort((a, b) => {
          const x = BigInt(JSON.parse(a).tsEvent);
          const y = BigInt(JSON.parse(b).tsEvent);
          return x < y ? -1 : x > y ? 1 : 0;
        });
      const replay = join(config.dir, "replay.ndjson");
      await Deno.writeTextFile(replay, rows.join("\n") + "\n");
      const liveFills = `${dir}/live_fills.ndjson`;
      await using live = new RoleProcess("live", config, [
        "--strategy",
        "strategies/ma_crossover.ts",
        "--bars",
        "1s",
        "--bar-clock",
        "trade",
        "--fills-out",
        liveFills,
        "--max-trades",
        String(rows.length),
      ]);
      await live.waitFor(/waiting for ring/);
      await using serve = new RoleProcess("serve", config, [
        "--source",
        "replay",
        "--file",
        replay,
        "--speed",
        "0",
      ]);
      const served = await serve.finish();
      assertCleanExit(served, "serve");
      assert.equal(publishedTrades(served.stdout), rows.length);
      assertCleanExit(await live.finish(), "live");
      // (a) the backtest, with the task's own permissions.
      const tokens = denoJson.tasks.backtest.command.split(/\s+/);
      const backtest = await new Deno.Command(Deno.execPath(), {
        args: [
          ...tokens.slice(1),
          "--strategy",
          "strategies/ma_crossover.ts",
          "--data",
          `${dir}/rec`,
          "--bars",
          "1s",
          "--out",
          `${dir}/out`,
        ],
        cwd: PROJECT_ROOT,
        env: { NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(backtest.stdout) +
        new TextDecoder().decode(backtest.stderr);
      assert.equal(backtest.code, 0, text);
      const expected = await fillsBySymbol(join(PROJECT_ROOT, liveFills));
      const got = await fillsBySymbol(
        join(PROJECT_ROOT, dir, "out/fills.ndjson"),
      );
      assert.deepEqual(Object.keys(got).sort(), SYMBOLS, "both symbols traded");
      assert.ok(got.BTCUSDT.length > 10, `${got.BTCUSDT.length} fills`);
      assert.deepEqual(got, expected);
    } finally {
      await Deno.remove(join(PROJECT_ROOT, dir), { recursive: true });
    }
  },
});
