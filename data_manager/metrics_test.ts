import assert from "node:assert/strict";
import { FlowWatch } from "../common/runtime/flow_watch.ts";
import { renderExposition } from "../common/metrics/mod.ts";
import { PROMCHECK_PERMISSIONS, testNeeding } from "../tests/_permissions.ts";
import { checkExposition } from "../tests/promcheck.ts";
import { serveFamilies, serveHealth, type ServeState } from "./metrics.ts";
import type { TradeSource } from "./source.ts";
import type {
  PublisherStats,
  TradePublisher,
} from "../common/transport/publisher.ts";

/** A test that runs promcheck: skipped, saying why, without its permissions. */
const test = testNeeding(PROMCHECK_PERMISSIONS);

function fakeTransport(
  name: string,
  sent: number[],
  ready = true,
): TradePublisher {
  const total = sent.reduce((a, b) => a + b, 0);
  const stats: PublisherStats = {
    messagesSent: total,
    bytesSent: total * 48,
    sendErrors: 2,
    bufferOverflows: 3,
    bufferUtilization: 0.25,
  };
  return {
    name,
    send: () => {},
    sendBatch: () => {},
    ready: () => ready,
    stats: () => stats,
    sentPerSymbol: () => sent,
    summary: () => `${name} summary`,
    close: () => Promise.resolve(),
  };
}

function fakeSource(idle?: boolean): TradeSource {
  return {
    kind: "replay",
    symbols: ["BTCUSDT", "ETHUSDT"],
    run: () => Promise.resolve(),
    summary: () => "",
    ...(idle === undefined ? {} : { idle: () => idle }),
  };
}

function state(
  transports: TradePublisher[],
  source = fakeSource(),
): ServeState {
  return {
    exchange: "binance",
    source,
    counters: { trades: 10, perSymbol: [6, 4] },
    transports,
  };
}

test("serve's families parse and carry the counters per symbol and transport", async () => {
  const parsed = await checkExposition(
    renderExposition(serveFamilies(state([fakeTransport("ipc", [6, 4])]))),
  );
  assert.deepEqual(parsed.lint, []);
  const values = (name: string) =>
    parsed.families[name].metrics.map((m) => [m.labels, m.value]);
  assert.deepEqual(values("marketbus_source_trades_total"), [
    [{ source: "replay", exchange: "binance", symbol: "BTCUSDT" }, 6],
    [{ source: "replay", exchange: "binance", symbol: "ETHUSDT" }, 4],
  ]);
  assert.deepEqual(values("marketbus_trades_sent_total"), [
    [{ transport: "ipc", exchange: "binance", symbol: "BTCUSDT" }, 6],
    [{ transport: "ipc", exchange: "binance", symbol: "ETHUSDT" }, 4],
  ]);
  assert.deepEqual(values("marketbus_sent_bytes_total"), [[
    { transport: "ipc" },
    480,
  ]]);
  assert.deepEqual(values("marketbus_send_errors_total"), [[
    { transport: "ipc" },
    2,
  ]]);
  assert.deepEqual(values("marketbus_dropped_trades_total"), [[
    { transport: "ipc" },
    3,
  ]]);
  assert.equal(parsed.families.marketbus_build_info.metrics[0].value, 1);
  assert.equal(parsed.families.marketbus_nats_connected, undefined);
});

Deno.test("serve is healthy with ready transports and trades flowing or an idle source", () => {
  let trades = 0;
  let now = 0;
  const flow = new FlowWatch(() => trades, { now: () => now, sampleMs: 0 });
  const check = (s: ServeState) => serveHealth(s, { flow, staleAfterMs: 1000 });
  const ipc = fakeTransport("ipc", [0, 0]);
  let report = check(state([ipc]));
  assert.equal(report.ok, false, "no trade yet");
  assert.deepEqual(report.checks.map((c) => [c.name, c.ok, c.detail]), [
    ["ipc", true, "ipc summary"],
    ["data", false, "no trade published yet"],
  ]);
  trades = 5;
  now = 100;
  assert.equal(check(state([ipc])).ok, true);
  now = 1200;
  report = check(state([ipc]));
  assert.equal(report.ok, false);
  assert.equal(report.checks[1].detail, "no trade for 1.1 s");
  report = check(state([ipc], fakeSource(true)));
  assert.equal(report.ok, true, "idle by design");
  assert.equal(report.checks[1].detail, "replay source idle by design");
  trades = 6;
  report = check(state([ipc, fakeTransport("nats", [0, 0], false)]));
  assert.equal(report.ok, false, "a transport not ready");
  assert.deepEqual(report.checks.map((c) => [c.name, c.ok]), [
    ["ipc", true],
    ["nats", false],
    ["data", true],
  ]);
  flow.close();
});
