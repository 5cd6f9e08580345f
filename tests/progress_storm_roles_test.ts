// live through a sustained loss storm on 300 streams, as real `serve` and
// `live` processes: a strategy too slow for the rate keeps every ring lapped.
// The per-stream warnings go through the digest (a few per kind at once, the
// rest as one line per kind at the progress line, the losses with their
// cause), so the warnings per interval stay bounded; the 300 rings attached
// at start are 3 lines and one for the rest. The first SIGINT stops live
// within a bound (a pass over the 300 lapped rings takes seconds; the read
// loop lets the event loop run between rings) and the progress lines keep
// their interval.

import assert from "node:assert/strict";
import { join } from "node:path";
import { gatedTest } from "./_permissions.ts";
import {
  output,
  ROLE_PERMISSIONS,
  type RoleConfig,
  roleConfig,
  RoleProcess,
} from "./_ipc_roles.ts";

const STREAMS = 300;
/** Ring slots: each stream's 100 trades/s lap a ring unread for 2.6 s. */
const CAPACITY = 256;
const RATE = STREAMS * 100;
/** The strategy's time per trade, µs: at most ~16k trades/s, half the rate. */
const SPIN_US = 60;
/** Progress interval, s. */
const INTERVAL_S = 1;
/** How long the first SIGINT may take to stop live (measured ~0.3 s on 2 busy cores). */
const STOP_BOUND_MS = 3000;
/** Lines of a kind logged at once per interval (trading_core/_event_digest.ts). */
const AT_ONCE = 3;
/** The summary's own warnings per interval: 10 streams and one line for the rest. */
const ATTENTION = 11;

const SLOW_STRATEGY = `
export default {
  onTrade() {
    const until = performance.now() + ${SPIN_US / 1000};
    while (performance.now() < until) {} // too slow for the rate
  },
  onBar() {},
};
`;

/** `count` symbols S0USDT, S1USDT, …. */
function symbols(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `S${i}USDT`);
}

/** The JSON log lines of live's `text` (other lines left out). */
function jsonLines(text: string): Record<string, unknown>[] {
  return text.split("\n")
    .filter((line) => line.startsWith("{") && line.includes('"component"'))
    .map((line) => JSON.parse(line));
}

/** The storm's config and the slow strategy in its directory. */
async function stormSetup(): Promise<{ config: RoleConfig; strategy: string }> {
  const config = await roleConfig({
    symbols: symbols(STREAMS),
    capacity: CAPACITY,
  });
  const strategy = join(config.dir, "slow_strategy.ts");
  await Deno.writeTextFile(strategy, SLOW_STRATEGY);
  return { config, strategy };
}

/**
 * `lines` by progress interval: those from the progress line at `times[i]`
 * (its own warnings follow it) up to the next one (where the folded lines
 * of the interval come first); those before the first left out.
 */
function perInterval(
  lines: Record<string, unknown>[],
  times: number[],
): Record<string, unknown>[][] {
  const groups: Record<string, unknown>[][] = times.map(() => []);
  for (const line of lines) {
    const at = Date.parse(String(line.time));
    const index = times.findLastIndex((time) => time <= at);
    if (index >= 0) groups[index].push(line);
  }
  return groups;
}

gatedTest({
  name:
    "live in a loss storm on 300 lapped streams: a bounded number of warnings per progress interval (the rest folded, the losses with their cause); the first SIGINT stops it within 3 s; progress keeps its 1 s interval",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    const { config, strategy } = await stormSetup();
    await using _config = config;
    await using serve = new RoleProcess("serve", config, [
      "--rate",
      String(RATE),
    ]);
    await serve.waitFor(/publishing synthetic/);
    await using live = new RoleProcess("live", config, [
      "--strategy",
      strategy,
      "--progress",
      `${INTERVAL_S}s`,
      "--log-format",
      "json",
      "--summary-json",
    ]);
    // The storm: losses in two summaries after the first that had some.
    const lossy = /"msg":"[^"]*\| lost [1-9][\d,]* \+[1-9]/;
    const first = (await live.waitFor(lossy)).length;
    await live.waitFor(lossy, first + 2, 60_000);
    const sent = live.kill("SIGINT");
    const exit = await live.finish(60_000);
    const took = exit.exitedAt - sent;
    serve.kill("SIGINT");
    await serve.finish();
    assert.ok(!exit.timedOut, `SIGINT did not stop live:\n${output(exit)}`);
    assert.ok(took < STOP_BOUND_MS, `SIGINT took ${took.toFixed(0)} ms`);
    assert.match(exit.stdout, /SIGINT: stopping/);
    const summary = JSON.parse(
      exit.stdout.split("\n").findLast((line) =>
        line.startsWith("{") && !line.includes('"component"')
      ) ?? "{}",
    );
    assert.ok(summary.lost > 0, `no storm: ${JSON.stringify(summary)}`);

    // Progress every interval, not starved by the read loop.
    const times = jsonLines(exit.stdout)
      .filter((line) => typeof line.streams === "number")
      .map((line) => Date.parse(String(line.time)));
    assert.ok(times.length >= 3, output(exit));
    const gaps = times.slice(1).map((time, i) => time - times[i]);
    assert.ok(
      Math.max(...gaps) < INTERVAL_S * 2500,
      `progress lines ${JSON.stringify(gaps)} ms apart`,
    );

    // The warnings: per kind at most AT_ONCE at once and one folded line
    // per interval, beside the summary's own.
    const warnings = jsonLines(exit.stderr).filter((l) => l.level === "warn");
    const folded = warnings.filter((line) => typeof line.digest === "string");
    const kinds = new Set(folded.map((line) => line.digest));
    const bound = ATTENTION + (AT_ONCE + 1) * Math.max(kinds.size, 2);
    const counts = perInterval(warnings, times).map((group) => group.length);
    for (const g of perInterval(warnings, times)) {
      console.log(
        g.map((l) => `${l.time} ${String(l.msg).slice(0, 150)}`).join("\n"),
      );
    }
    console.log();
    assert.ok(
      Math.max(...counts) <= bound,
      `warnings per interval ${JSON.stringify(counts)} (bound ${bound})`,
    );
    assert.ok(kinds.has("lost"), exit.stderr.slice(0, 5000));
    // A folded loss line says how many trades, by cause.
    for (const line of folded.filter((line) => line.digest === "lost")) {
      assert.match(
        String(line.msg),
        /^\d+ more streams? lost trades since the last progress line( \([\d,]+ lines\))?: [\d,]+ trades \([\d,]+ overwritten\); binance S\d+USDT/,
      );
      assert.ok((line.lostBy as { overwritten: number }).overwritten > 0);
    }
    // The 300 rings attached at start: 3 lines, then one for the rest.
    const info = jsonLines(exit.stdout);
    assert.equal(
      info.filter((line) =>
        line.digest === undefined && /: attached to /.test(String(line.msg))
      ).length,
      AT_ONCE,
    );
    assert.ok(
      info.some((line) =>
        line.digest === "attached" && line.moreStreams === STREAMS - AT_ONCE
      ),
      exit.stdout.slice(0, 5000),
    );
  },
});
