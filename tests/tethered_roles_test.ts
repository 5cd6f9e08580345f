// Tethered delivery with real processes (issue 15's first acceptance test):
// a generated Binance CSV replayed at full speed (`serve --source replay
// --speed 0 --wait-readers N`) into two tethered readers, one recording to
// NDJSON and one writing 1m bars, and a lossy spinning reader, on a ring far
// smaller than the file (the producer must wait for the tethered readers).
// Both tethered readers get every trade: the recording equals the source
// trade by trade; the lossy one's received + lost equals what was
// published. While it runs, `deno task rings --json --once` lists the three
// readers with their policies.

import assert from "node:assert/strict";
import { join } from "node:path";
import { gatedTest } from "./_permissions.ts";
import {
  assertCleanExit,
  assertLiveExit,
  finishAfterDrain,
  LIVENESS_MS,
  output,
  publishedTrades,
  type RingsDocument,
  ringsLook,
  ROLE_PERMISSIONS,
  roleConfig,
  RoleProcess,
  summaryOf,
} from "./_ipc_roles.ts";
import { assertRecordingEqualsSource, writeTradeCsv } from "./_trade_csv.ts";

/**
 * Rows of the generated file: the 1,000,000. On the 2-vCPU build
 * machine the whole test took 17.5 s (serve 10 s at 100k trades/s, paced by
 * the tethered readers, and the lossy spinner on the other core).
 */
const ROWS = 1_000_000;
/** The ring: 1/15 of the file, so the producer laps the readers many times over. */
const CAPACITY = 65_536;
/** The whole run's bound: the replay, three readers and the checks. */
const RUN_MS = 240_000;

/**
 * Looks with `deno task rings` until the ring lists `want` readers (by
 * policy) or `serve` ends; returns the last look.
 */
async function lookWhileRunning(
  look: () => Promise<RingsDocument>,
  serve: RoleProcess,
  want: { tethered: number; lossy: number },
): Promise<RingsDocument> {
  let last: RingsDocument | undefined;
  while (serve.running) {
    last = await look();
    const readers = last.rings[0]?.readers ?? [];
    const count = (policy: string) =>
      readers.filter((r) => r.policy === policy).length;
    if (
      last.rings[0]?.writePosition > 0 &&
      count("tethered") === want.tethered && count("lossy") === want.lossy
    ) return last;
  }
  assert.fail(
    `serve ended before deno task rings listed ${want.tethered} tethered and ${want.lossy} lossy readers; last look: ${
      JSON.stringify(last)
    }`,
  );
}

gatedTest({
  name: `serve --source replay --speed 0 --wait-readers: ${
    ROWS.toLocaleString("en-US")
  } CSV rows reach two tethered readers whole (the recording equals the source, the bars reader loses nothing) and a lossy spinning reader counts exactly what it missed; deno task rings lists them meanwhile`,
  permissions: ROLE_PERMISSIONS,
  async fn() {
    const started = performance.now();
    await using config = await roleConfig({
      symbols: ["BTCUSDT"],
      capacity: CAPACITY,
    });
    const csv = join(config.dir, "BTCUSDT-trades-2024-01-01.csv");
    await writeTradeCsv(csv, ROWS);
    const recording = join(config.dir, "rec.ndjson");
    const bars = join(config.dir, "bars.ndjson");
    const tethered = ["--delivery", "tethered", "--wait", "backoff"];
    const whole = ["--max-trades", String(ROWS), "--summary-json"];
    await using recorder = new RoleProcess(
      "live",
      config,
      [...tethered, ...whole, "--record", recording],
      { write: [recording] },
    );
    await using barsReader = new RoleProcess(
      "live",
      config,
      [...tethered, ...whole, "--bars", "1m", "--bars-out", bars],
      { write: [bars] },
    );
    await using lossy = new RoleProcess("live", config, [
      "--wait",
      "spin",
      "--summary-json",
    ]);
    for (const reader of [recorder, barsReader, lossy]) {
      await reader.waitFor(/waiting for ring/);
    }
    await using serve = new RoleProcess("serve", config, [
      "--source",
      "replay",
      "--file",
      csv,
      "--speed",
      "0",
      "--wait-readers",
      "2",
    ]);
    const look = await lookWhileRunning(() => ringsLook(config), serve, {
      tethered: 2,
      lossy: 1,
    });
    const pids = (policy: string) =>
      look.rings[0].readers.filter((r) => r.policy === policy)
        .map((r) => r.pid).sort();
    assert.deepEqual(
      pids("tethered"),
      [recorder.pid, barsReader.pid].sort(),
      JSON.stringify(look),
    );
    assert.deepEqual(pids("lossy"), [lossy.pid], JSON.stringify(look));
    assert.equal(look.rings[0].pid, serve.pid);

    const served = await serve.finish(RUN_MS);
    assertCleanExit(served, "serve");
    const published = publishedTrades(served.stdout);
    assert.equal(published, ROWS, output(served));

    for (
      const [reader, what] of [[recorder, "recorder"], [
        barsReader,
        "bars",
      ]] as const
    ) {
      const exit = await reader.finish(LIVENESS_MS);
      assertCleanExit(exit, `tethered live (${what})`);
      const summary = summaryOf(exit);
      const text = JSON.stringify(summary);
      assert.equal(summary.received, published, `${what}: ${text}`);
      assert.equal(summary.lost, 0, `${what}: ${text}`);
      assert.equal(summary.gaps, 0, `${what}: ${text}`);
    }
    const barLines = (await Deno.readTextFile(bars)).trim().split("\n")
      .map((line) => JSON.parse(line));
    assert.ok(barLines.length > 0, "no bars written");
    const incomplete = barLines.filter((bar) => bar.complete === false);
    assert.deepEqual(incomplete, [], "bars of a reader that lost nothing");

    const lossyExit = await finishAfterDrain(lossy);
    assertLiveExit(lossyExit, "lossy live");
    const summary = summaryOf(lossyExit);
    assert.equal(
      summary.received + summary.lost,
      published,
      JSON.stringify(summary),
    );

    assert.equal(await assertRecordingEqualsSource(recording, csv), ROWS);
    console.log(
      `${ROWS.toLocaleString("en-US")} rows: ${
        ((performance.now() - started) / 1000).toFixed(1)
      } s in all; serve: ${
        served.stdout.match(/stopped after [^\n]*/)?.[0]
      }; lossy reader: received ${summary.received}, lost ${summary.lost}`,
    );
  },
});
