// Gaps as data with real processes (issue 15's last acceptance test). A
// lossy `live` stopped with SIGSTOP while `serve` laps it runs a strategy
// that logs what it gets: an `onGap` whose count is exactly the trades the
// reader lost, delivered between the last trade before them and the first
// after (more than one when a loaded machine laps it again as it catches
// up: together they count every trade lost); the 1 s bars overlapping a gap
// are `complete: false` in --bars-out, the others complete; its NDJSON
// recording holds each gap as a line, and replaying that recording gives a
// consumer `source` gaps with the same seqs and counts.

import assert from "node:assert/strict";
import { join } from "node:path";
import { delay } from "../common/runtime/delay.ts";
import { gatedTest } from "./_permissions.ts";
import {
  assertCleanExit,
  assertLiveExit,
  finishAfterDrain,
  output,
  publishedTrades,
  ROLE_PERMISSIONS,
  type RoleConfig,
  roleConfig,
  RoleProcess,
  summaryOf,
} from "./_ipc_roles.ts";

/** A small ring, lapped within 0.1 s at {@linkcode RATE}. */
const CAPACITY = 1024;
const RATE = 10_000;
/** How long the reader stays stopped: many rings' worth of trades. */
const STOPPED_MS = 1500;

/**
 * A strategy that logs, as JSON after "probe ", every gap (with the last
 * trade's seq and time before it) and the first trade after each gap.
 */
const PROBE_STRATEGY = `
const NS_PER_MS = 1_000_000n;
let last;
let afterGap = false;
export default {
  onTrade(trade, context) {
    const at = { seq: trade.seq, ms: Number(trade.tsEvent / NS_PER_MS) };
    if (afterGap) context.log.info("probe " + JSON.stringify({ after: at }));
    afterGap = false;
    last = at;
  },
  onBar() {},
  onGap(gap, context) {
    context.log.info("probe " + JSON.stringify({ gap, before: last ?? null }));
    afterGap = true;
  },
};
`;

/** A gap as the probe logs it. */
interface ProbedGap {
  cause: string;
  firstSeq: number | null;
  lastSeq: number | null;
  count: number | null;
  symbol: string;
}

/** A trade as the probe logs it: its seq and event time. */
interface At {
  seq: number;
  ms: number;
}

/** What the probe strategy logged, in order. */
type Probe =
  | { gap: ProbedGap; before: At | null }
  | { after: At };

/** The probe's lines in a live's JSON log output. */
function probes(text: string): Probe[] {
  return text.split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line))
    .filter((line) =>
      line.component === "strategy" && String(line.msg).startsWith("probe ")
    )
    .map((line) => JSON.parse(String(line.msg).slice("probe ".length)));
}

async function writeProbe(config: RoleConfig): Promise<string> {
  const path = join(config.dir, "probe_strategy.ts");
  await Deno.writeTextFile(path, PROBE_STRATEGY);
  return path;
}

gatedTest({
  name:
    "a lapped lossy live: its strategy gets onGap with exactly the lost count, the 1s bars spanning a gap are complete: false, and its recording's gap lines replay as source gaps with the same seqs",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    await using config = await roleConfig({
      symbols: ["BTCUSDT"],
      capacity: CAPACITY,
    });
    const strategy = await writeProbe(config);
    const bars = join(config.dir, "bars.ndjson");
    const recording = join(config.dir, "rec.ndjson");
    await using live = new RoleProcess("live", config, [
      "--strategy",
      strategy,
      "--bars",
      "1s",
      "--bars-out",
      bars,
      "--record",
      recording,
      "--log-format",
      "json",
      "--summary-json",
    ], { write: [bars, recording] });
    await live.waitFor(/waiting for ring/);
    await using serve = new RoleProcess("serve", config, [
      "--rate",
      String(RATE),
    ]);
    await delay(1500);
    live.kill("SIGSTOP");
    await delay(STOPPED_MS);
    live.kill("SIGCONT");
    await delay(1500);
    serve.kill("SIGINT");
    const served = await serve.finish();
    assertCleanExit(served, "serve");
    const published = publishedTrades(served.stdout);
    const exit = await finishAfterDrain(live);
    assertLiveExit(exit, "live");
    const summary = summaryOf(exit);
    const text = JSON.stringify(summary);
    assert.equal(summary.received + summary.lost, published, text);
    assert.ok(summary.lost >= CAPACITY, `not lapped: ${text}`);

    // One gap from the SIGSTOP; a loaded machine can lap the reader again
    // while it catches up after SIGCONT: each gap is checked the same way.
    const seen = probes(output(exit));
    const gaps: { gap: ProbedGap; before: At; after: At }[] = [];
    for (const [i, probe] of seen.entries()) {
      if (!("gap" in probe)) continue;
      const next = seen[i + 1];
      assert.ok(
        probe.before && next && "after" in next,
        `a gap between two trades: ${JSON.stringify(seen)}`,
      );
      gaps.push({ gap: probe.gap, before: probe.before, after: next.after });
    }
    assert.ok(gaps.length >= 1, `no gap: ${JSON.stringify(seen)}`);
    for (const { gap, before, after } of gaps) {
      assert.deepEqual(gap, {
        exchange: "binance",
        symbol: "BTCUSDT",
        stream: 0,
        cause: "overwritten",
        firstSeq: before.seq + 1,
        lastSeq: after.seq - 1,
        count: after.seq - before.seq - 1,
      });
    }
    const counted = gaps.reduce((sum, { gap }) => sum + gap.count!, 0);
    assert.equal(counted, summary.lost, `gaps: ${JSON.stringify(seen)}`);

    // The recording holds each gap as one line, in place.
    const lines = (await Deno.readTextFile(recording)).trim().split("\n")
      .map((line) => JSON.parse(line));
    const gapLines = lines.filter((line) => line.type === "gap");
    assert.deepEqual(
      gapLines,
      gaps.map(({ gap }) => ({
        type: "gap",
        exchange: "binance",
        symbol: "BTCUSDT",
        cause: "overwritten",
        firstSeq: gap.firstSeq,
        lastSeq: gap.lastSeq,
        count: gap.count,
      })),
    );
    assert.equal(lines.length, summary.received + gaps.length);

    // Replayed, the recording's gap reaches a consumer as a source gap.
    await using config2 = await roleConfig({ symbols: ["BTCUSDT"] });
    const copy = join(config2.dir, "rec.ndjson");
    await Deno.copyFile(recording, copy);
    const probe2 = await writeProbe(config2);
    await using replayed = new RoleProcess("live", config2, [
      "--strategy",
      probe2,
      "--log-format",
      "json",
      "--max-trades",
      String(summary.received),
      "--summary-json",
    ]);
    await replayed.waitFor(/waiting for ring/);
    await using replay = new RoleProcess("serve", config2, [
      "--source",
      "replay",
      "--file",
      copy,
      "--speed",
      "0",
    ]);
    assertCleanExit(await replay.finish(), "serve --source replay");
    const replayedExit = await replayed.finish();
    assertCleanExit(replayedExit, "live of the replay");
    const replayedSummary = summaryOf(replayedExit);
    assert.equal(replayedSummary.received, summary.received);
    assert.equal(replayedSummary.lost, 0, JSON.stringify(replayedSummary));
    const replayedGaps = probes(output(replayedExit))
      .flatMap((p) => "gap" in p ? [p.gap] : []);
    assert.deepEqual(
      replayedGaps,
      gaps.map(({ gap }) => ({ ...gap, cause: "source" })),
    );

    // The bars that overlap the gap (from the bar of the trade before it to
    // that of the trade after it) are incomplete, every other one complete.
    const written: {
      start: number;
      end: number;
      trades: number;
      complete: boolean;
    }[] = (await Deno.readTextFile(bars)).trim().split("\n").map((line) =>
      JSON.parse(line)
    );
    const spans = (bar: { start: number; end: number }) =>
      gaps.some(({ before, after }) =>
        bar.end > before.ms && bar.start <= after.ms
      );
    assert.ok(written.some(spans), "no bar spans a gap");
    const wrong = written.filter((bar) => bar.complete === spans(bar));
    assert.deepEqual(
      wrong.map(({ start, end, trades, complete }) => ({
        start,
        end,
        trades,
        complete,
      })),
      [],
      `bars whose complete flag is wrong; the gaps: ${JSON.stringify(gaps)}`,
    );
  },
});
