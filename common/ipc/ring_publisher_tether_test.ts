// RingPublisher with tethered readers (real rings, RingReaders registered as
// tethered in the same process): room() waits for the readers asked for,
// an eviction is logged in one line, the registry shows in its metrics,
// and close() waits for a held ring at most the tether cap, then counts
// what it drops. The writer's gate itself: tether_test.ts. Needs unscoped
// --allow-ffi; skipped without it.

import assert from "node:assert/strict";
import {
  DROPPED_HELD,
  RingPublisher,
  SIGNALLED_DRAIN_MS,
} from "./ring_publisher.ts";
import { RingReader } from "./ring_reader.ts";
import { unlinkSegment } from "./segment.ts";
import type { ScalarFamily } from "../metrics/exposition.ts";
import { createLogger } from "../runtime/log.ts";
import { segmentName } from "../wire/mod.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import {
  recordBatch,
  ringTest,
  settlesWithin,
  testSegmentPrefix,
} from "../../tests/_ring_helpers.ts";

const PREFIX = testSegmentPrefix();
const SYMBOLS = ["BTCUSDT", "ETHUSDT"];
const LABELS = SYMBOLS.map((symbol) => ({ exchange: "binance", symbol }));
/** Generous bound for things that should happen within milliseconds. */
const LIVENESS_MS = 10_000;
let opened = 0;

/** A publisher of two rings of 64 slots whose log lines are kept, with its readers; all closed and removed at the end. */
class Rings implements AsyncDisposable {
  readonly publisher: RingPublisher;
  readonly lines: string[] = [];
  readonly names: string[];
  #readers: RingReader[] = [];

  constructor(
    options: { maxTetherTimeoutMs: number; waitForReaders?: number },
  ) {
    const prefix = `${PREFIX}${++opened}_`;
    this.names = SYMBOLS.map((s) => segmentName(prefix, "binance", s));
    const keep = (line: string) => this.lines.push(line);
    this.publisher = RingPublisher.open(SYMBOLS, {
      exchange: "binance",
      shmPathPrefix: prefix,
      capacity: 64,
      heartbeatIntervalMs: 50,
      log: createLogger("test", { out: keep, err: keep }),
      ...options,
    });
  }

  /** A tethered reader of ring `symbol` from its first trade. */
  tethered(symbol: number): RingReader {
    const reader = RingReader.open(this.names[symbol], {
      from: "first",
      delivery: "tethered",
    });
    this.#readers.push(reader);
    return reader;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.publisher.close();
    for (const reader of this.#readers) reader.close();
    for (const name of this.names) unlinkSegment(name);
  }
}

ringTest({
  name:
    "tether: RingPublisher waits for tethered readers, logs an eviction once, reports readers in metrics",
  async fn() {
    await using rings = new Rings({
      maxTetherTimeoutMs: 40,
      waitForReaders: 1,
    });
    const ipc = rings.publisher;
    const wait = ipc.room();
    assert.ok(wait, "room() did not wait for the readers");
    assert.match(
      rings.lines.join("\n"),
      /waiting for 1 tethered reader on .*BTCUSDT.*ETHUSDT…/,
    );
    const btc = rings.tethered(0);
    assert.equal(await settlesWithin(wait, 50), false, "ETHUSDT has none yet");
    const eth = rings.tethered(1);
    assert.ok(await settlesWithin(wait, LIVENESS_MS));
    assert.equal(ipc.room(), undefined);
    ipc.sendBatch(0, recordBatch(0, 70), 70);
    const held = ipc.room();
    assert.ok(held, "the ring did not hold the source");
    assert.ok(await settlesWithin(held, LIVENESS_MS));
    const warnings = rings.lines.filter((l) => l.includes("WARN"));
    assert.equal(warnings.length, 1, warnings.join("\n"));
    const id = (btc.readerId! >>> 0).toString(16).padStart(8, "0");
    assert.match(
      warnings[0],
      new RegExp(
        `BTCUSDT: evicted tethered reader ${id} \\(pid ${Deno.pid}\\) after 0\\.\\d s, 64 trades behind \\(100% of the ring\\): it continues lossy$`,
      ),
    );
    assert.equal(eth.readMany(new Uint8Array(TRADE_RECORD_SIZE), 1), 0);
    const families = ipc.metrics(LABELS);
    const samples = (name: string) =>
      families.find((f): f is ScalarFamily => f.name === name)!.samples;
    assert.deepEqual(
      samples("marketbus_ring_readers").filter((s) => s.value > 0)
        .map((s) => [s.labels?.symbol, s.labels?.policy, s.value]),
      [["BTCUSDT", "evicted", 1], ["ETHUSDT", "tethered", 1]],
    );
    assert.deepEqual(
      samples("marketbus_ring_reader_lag_trades").map((
        s,
      ) => [s.labels?.symbol, s.labels?.reader, s.labels?.pid, s.value]),
      [
        ["BTCUSDT", id, String(Deno.pid), 70],
        [
          "ETHUSDT",
          (eth.readerId! >>> 0).toString(16).padStart(8, "0"),
          String(Deno.pid),
          0,
        ],
      ],
    );
    assert.equal(samples("marketbus_ring_reader_lag_ratio")[0].value, 70 / 64);
    assert.deepEqual(
      samples("marketbus_ring_evictions_total").filter((s) => s.value > 0)
        .map((s) => [s.labels?.symbol, s.labels?.cause, s.value]),
      [["BTCUSDT", "timeout", 1]],
    );
    const stalled = samples("marketbus_ring_tether_stall_seconds_total");
    assert.ok(stalled[0].value >= 0.035, `stalled ${stalled[0].value} s`);
    assert.equal(stalled[1].value, 0);
    assert.deepEqual(
      samples("marketbus_ring_backlog_trades").map((s) => s.value),
      [0, 0],
    );
    await ipc.close();
    assert.deepEqual(ipc.losses(), []);
  },
});

ringTest({
  name:
    "tether: RingPublisher.close waits for a held ring; readers stopped together are evicted together, after one tether timeout",
  async fn() {
    await using rings = new Rings({ maxTetherTimeoutMs: 30 });
    const ipc = rings.publisher;
    // Eight readers at 0 that never read: each asks the default 5 s, capped at 30 ms.
    for (let i = 0; i < 8; i++) rings.tethered(0);
    ipc.sendBatch(0, recordBatch(0, 100), 100);
    assert.ok(ipc.room());
    const started = performance.now();
    await ipc.close();
    const took = performance.now() - started;
    assert.ok(
      took >= 25 && took < 130,
      `close took ${took} ms, not one timeout`,
    );
    const evicted = rings.lines.filter((l) => l.includes("evicted tethered"));
    assert.equal(evicted.length, 8, evicted.join("\n"));
    assert.ok(rings.lines.some((l) => l.includes("waiting up to 0.1 s")));
    assert.deepEqual(ipc.losses(), [], "evicted in time: everything written");
  },
});

ringTest({
  name:
    "tether: a signalled close waits for a held ring at most SIGNALLED_DRAIN_MS, then counts the rest lost",
  async fn() {
    await using rings = new Rings({ maxTetherTimeoutMs: 60_000 });
    const ipc = rings.publisher;
    const reader = rings.tethered(0); // asks 5 s: longer than a signalled close waits
    ipc.sendBatch(0, recordBatch(0, 100), 100);
    assert.ok(ipc.room());
    const started = performance.now();
    await ipc.close({ signalled: true });
    const took = performance.now() - started;
    assert.ok(
      took >= SIGNALLED_DRAIN_MS - 5 && took < SIGNALLED_DRAIN_MS + 500,
      `close took ${took} ms`,
    );
    assert.ok(rings.lines.some((l) => l.includes("waiting up to 1.0 s")));
    const losses = ipc.losses();
    assert.equal(losses.length, 1);
    assert.equal(losses[0].kind, DROPPED_HELD);
    assert.equal(losses[0].trades, 36);
    assert.match(
      losses[0].text,
      /^36 trades dropped while a tethered reader held the ring \(BTCUSDT 36\)/,
    );
    assert.equal(reader.received, 0);
  },
});
