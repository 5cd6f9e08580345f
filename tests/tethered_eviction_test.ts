// Eviction of tethered readers with real processes (issue 15's second
// acceptance test). A tethered `live` stopped with SIGSTOP holds the
// producer for its tether timeout, no longer: `serve` evicts it (one line
// naming its pid) and goes on; after SIGCONT the reader says it was evicted
// and counts exactly what it lost. A tethered `live` killed with SIGKILL is
// evicted once its heartbeat is stale and its pid gone, long before its
// tether timeout.

import assert from "node:assert/strict";
import { delay } from "../common/runtime/delay.ts";
import { gatedTest } from "./_permissions.ts";
import {
  assertCleanExit,
  assertLiveExit,
  finishAfterDrain,
  publishedTrades,
  type RingsEntry,
  ringsLook,
  ROLE_PERMISSIONS,
  type RoleConfig,
  roleConfig,
  RoleProcess,
  summaryOf,
} from "./_ipc_roles.ts";

/** A small ring: at 20,000 trades/s a stopped reader closes the gate in 0.2 s. */
const CAPACITY = 4096;
const RATE = 20_000;
/** The tether timeout of the stopped reader. */
const TETHER_TIMEOUT_MS = 1000;
/** How long after SIGKILL a reader counts as dead: STALE_AFTER_MS of common/ipc/_registry.ts. */
const STALE_AFTER_MS = 1000;
/** Time for the producer to fill the ring once the reader stops. */
const FILL_MS = (CAPACITY / RATE) * 1000;
/** Scheduling on a shared 2-core machine: process start-up, pipes, timers. */
const SLACK_MS = 1500;

/** The ring of `config` as `deno task rings` lists it now. */
async function ring(config: RoleConfig): Promise<RingsEntry> {
  const look = await ringsLook(config);
  assert.equal(look.rings.length, 1, JSON.stringify(look));
  return look.rings[0];
}

/** Waits until the reader of `pid` has read `trades` (as `deno task rings` shows it). */
async function readerReached(
  config: RoleConfig,
  pid: number,
  trades: number,
): Promise<void> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    const found = (await ring(config).catch(() => undefined))?.readers
      .find((reader) => reader.pid === pid);
    if (found !== undefined && found.position >= trades) return;
    assert.ok(
      performance.now() < deadline,
      `reader ${pid} never reached ${trades}: ${JSON.stringify(found)}`,
    );
    await delay(100);
  }
}

/** Asserts that the producer's write position moves (two looks 300 ms apart). */
async function assertWriting(config: RoleConfig, what: string): Promise<void> {
  const before = (await ring(config)).writePosition;
  await delay(300);
  const after = await ring(config);
  assert.ok(
    after.writePosition > before,
    `${what}: the write position stayed at ${before}: ${JSON.stringify(after)}`,
  );
}

/** `serve` of synthetic BTCUSDT at {@linkcode RATE}/s, once one reader has registered. */
function startServe(config: RoleConfig): RoleProcess {
  return new RoleProcess("serve", config, [
    "--rate",
    String(RATE),
    "--wait-readers",
    "1",
  ]);
}

gatedTest({
  name:
    "a tethered live stopped with SIGSTOP holds serve for its tether timeout, is evicted (serve names its pid) and, after SIGCONT, reports it and counts its loss exactly",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    await using config = await roleConfig({
      symbols: ["BTCUSDT"],
      capacity: CAPACITY,
      ipcSource: { tether_timeout: `${TETHER_TIMEOUT_MS}ms` },
    });
    await using live = new RoleProcess("live", config, [
      "--delivery",
      "tethered",
      "--summary-json",
    ]);
    await live.waitFor(/waiting for ring/);
    await using serve = startServe(config);
    await readerReached(config, live.pid, 2 * CAPACITY);

    const stoppedAt = live.kill("SIGSTOP");
    const [evicted] = await serve.waitFor(
      new RegExp(`evicted tethered reader \\w+ \\(pid ${live.pid}\\)[^\\n]*`),
    );
    const heldMs = performance.now() - stoppedAt;
    assert.ok(
      heldMs >= TETHER_TIMEOUT_MS,
      `evicted ${
        heldMs.toFixed(0)
      } ms after SIGSTOP, before its tether timeout (${TETHER_TIMEOUT_MS} ms): ${
        evicted[0]
      }`,
    );
    assert.ok(
      heldMs <= TETHER_TIMEOUT_MS + FILL_MS + SLACK_MS,
      `evicted only ${heldMs.toFixed(0)} ms after SIGSTOP: ${evicted[0]}`,
    );
    console.log(
      `evicted ${heldMs.toFixed(0)} ms after SIGSTOP: ${evicted[0]}`,
    );
    const after = await ring(config);
    const reader = after.readers.find((r) => r.pid === live.pid);
    assert.equal(reader?.policy, "evicted", JSON.stringify(after));
    assert.equal(reader?.evictions, 1, JSON.stringify(after));
    await assertWriting(config, "after the eviction");

    live.kill("SIGCONT");
    await live.waitFor(/evicted by the producer/);
    await delay(500);
    serve.kill("SIGINT");
    const served = await serve.finish();
    assertCleanExit(served, "serve");
    const published = publishedTrades(served.stdout);
    const exit = await finishAfterDrain(live);
    assertLiveExit(exit, "live");
    const summary = summaryOf(exit);
    const text = JSON.stringify(summary);
    assert.equal(summary.received + summary.lost, published, text);
    assert.ok(summary.lost > 0, text);
    assert.deepEqual(summary.lostBy, { evicted: summary.lost }, text);
  },
});

gatedTest({
  name:
    "a tethered live killed with SIGKILL holds serve no longer than the liveness check (its heartbeat stale, its pid gone), far below its tether timeout; serve logs that it is gone and frees its slot",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    await using config = await roleConfig({
      symbols: ["BTCUSDT"],
      capacity: CAPACITY,
    });
    await using live = new RoleProcess("live", config, [
      "--delivery",
      "tethered",
      "--tether-timeout",
      "20s",
    ]);
    await live.waitFor(/waiting for ring/);
    await using serve = startServe(config);
    await readerReached(config, live.pid, 2 * CAPACITY);

    const killedAt = live.kill("SIGKILL");
    const [gone] = await serve.waitFor(
      new RegExp(`tethered reader \\w+ \\(pid ${live.pid}\\) is gone[^\\n]*`),
    );
    const heldMs = performance.now() - killedAt;
    assert.ok(
      heldMs <= STALE_AFTER_MS + FILL_MS + SLACK_MS,
      `evicted ${heldMs.toFixed(0)} ms after SIGKILL: ${gone[0]}`,
    );
    console.log(`evicted ${heldMs.toFixed(0)} ms after SIGKILL: ${gone[0]}`);
    const after = await ring(config);
    assert.deepEqual(after.readers, [], "the dead reader's slot is freed");
    await assertWriting(config, "after the dead reader's eviction");
    serve.kill("SIGINT");
    assertCleanExit(await serve.finish(), "serve");
  },
});
