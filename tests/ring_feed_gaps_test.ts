// Gaps as data and tethered delivery through the shared-memory feed, in one
// process with RingWriters as producers: a lapped lossy subscription gets one
// onGap per loss, in order before the next trade, with exact counts and seqs;
// a producer restart and a loss at the very end are gaps too; an evicted
// tethered reader reports it, re-tethers and counts its loss as "evicted";
// a tethered reader gets every trade of a producer that would lap it.

import assert from "node:assert/strict";
import {
  EvictionCause,
  openSegment,
  ReaderState,
  REGISTRY_OFFSET,
  REGISTRY_SLOT_SIZE,
  REGISTRY_SLOTS,
  RING_HEADER_SIZE,
  RingWriter,
  SLOT_SIZE,
  unmapSegment,
} from "../common/ipc/mod.ts";
import { ReaderSlot } from "../common/ipc/layout.ts";
import { shmScope } from "./_ipc_roles.ts";
import { ffiTest } from "./_permissions.ts";
import type { TradeGap } from "../common/transport/feed.ts";
import {
  type Delivered,
  publish,
  range,
  subscribe,
  type Subscription,
  until,
} from "./_ring_feed_subscription.ts";

function isGap(item: Delivered | TradeGap): item is TradeGap {
  return "cause" in item;
}

/**
 * Asserts that every gap of stream 0 comes just before a trade (or ends the
 * timeline) and that seqs run on across it: last seq + count + 1 = next seq.
 */
function assertGapsInOrder(sub: Subscription): void {
  const timeline = sub.timeline;
  for (let i = 0; i < timeline.length; i++) {
    const gap = timeline[i];
    if (!isGap(gap) || gap.count === null) continue;
    const before = timeline.slice(0, i).findLast((item) => !isGap(item));
    const after = timeline[i + 1];
    const label = JSON.stringify({ before, gap, after });
    if (before !== undefined) {
      assert.equal(gap.firstSeq, (before as Delivered).seq + 1, label);
    }
    if (after === undefined) continue;
    assert.ok(!isGap(after), `a gap is followed by its trade: ${label}`);
    assert.equal(gap.lastSeq, after.seq - 1, label);
    if (before !== undefined) {
      assert.equal((before as Delivered).seq + gap.count + 1, after.seq, label);
    }
  }
}

ffiTest(
  "lapped: one onGap per loss, before the next trade, with exact counts summing to the loss",
  async () => {
    using shm = shmScope();
    const writer = RingWriter.create(shm.ring("BTCUSDT"), { capacity: 64 });
    const sub = subscribe(shm, ["BTCUSDT"], { from: "oldest" });
    try {
      publish(writer, 1, 10);
      await until(() => sub.delivered.length === 10, "first trades");
      publish(writer, 11, 266); // laps while the consumer cannot run
      await until(() => sub.feed.stats()[0].lag === 0, "caught up");
      const received = sub.delivered.length;
      publish(writer, 267, 600); // laps again
      await until(() => sub.delivered.length > received, "more trades");
      await until(() => sub.feed.stats()[0].lag === 0, "caught up again");
      await sub.stop();
      const [stats] = sub.feed.stats();
      assert.equal(sub.gaps.length, 2, JSON.stringify(sub.gaps));
      for (const gap of sub.gaps) {
        assert.deepEqual(
          [gap.exchange, gap.symbol, gap.stream, gap.cause],
          ["binance", "BTCUSDT", 0, "overwritten"],
        );
      }
      const counted = sub.gaps.reduce((n, gap) => n + gap.count!, 0);
      assert.equal(counted, stats.lost);
      assert.equal(stats.received + stats.lost, 600);
      assert.equal(sub.gaps[0].firstSeq, 11);
      assertGapsInOrder(sub);
    } finally {
      await sub.stop();
      writer.close();
    }
  },
);

ffiTest(
  "a producer restart is a gap of unknown size; a loss no trade follows is delivered at the end",
  async () => {
    using shm = shmScope();
    const name = shm.ring("BTCUSDT");
    const first = RingWriter.create(name, { capacity: 64 });
    let second: RingWriter | undefined;
    const sub = subscribe(shm, ["BTCUSDT"], { from: "oldest" });
    try {
      publish(first, 1, 5);
      await until(() => sub.delivered.length === 5, "first producer's trades");
      first.close();
      second = RingWriter.create(name, { capacity: 64 });
      publish(second, 1, 5);
      await until(() => sub.delivered.length === 10, "second producer's");
      // The next trade's slot is overwritten by another process: a corrupt
      // slot, counted, and no trade after it.
      publish(second, 6, 6);
      const segment = openSegment(name);
      new DataView(segment.buffer).setUint32(
        RING_HEADER_SIZE + 5 * SLOT_SIZE + 8,
        1234567,
        true,
      );
      unmapSegment(segment);
      await until(() => sub.feed.stats()[0].lost === 1, "corrupt slot skipped");
      await sub.stop();
      assert.deepEqual(
        sub.timeline.map((item) => isGap(item) ? item : item.seq),
        [
          1,
          2,
          3,
          4,
          5,
          {
            exchange: "binance",
            symbol: "BTCUSDT",
            stream: 0,
            cause: "producer restart",
            firstSeq: null,
            lastSeq: null,
            count: null,
          },
          1,
          2,
          3,
          4,
          5,
          {
            exchange: "binance",
            symbol: "BTCUSDT",
            stream: 0,
            cause: "corrupt slot",
            firstSeq: 6,
            lastSeq: 6,
            count: 1,
          },
        ],
      );
    } finally {
      await sub.stop();
      first.close();
      second?.close();
    }
  },
);

/** The slot of this process's tethered reader of ring `name` (word index of its start), as the registry holds it. */
function tetheredSlot(words: Int32Array): number {
  for (let index = 0; index < REGISTRY_SLOTS; index++) {
    const base = (REGISTRY_OFFSET + index * REGISTRY_SLOT_SIZE) >> 2;
    if (
      Atomics.load(words, base + (ReaderSlot.State >> 2)) ===
        ReaderState.Tethered &&
      Atomics.load(words, base + (ReaderSlot.Pid >> 2)) === Deno.pid
    ) return base;
  }
  throw new Error("no tethered reader of this process in the registry");
}

ffiTest(
  "evicted: a tethered subscription reports it, re-tethers and counts its loss as evicted, with its gap",
  async () => {
    using shm = shmScope();
    const name = shm.ring("BTCUSDT");
    const writer = RingWriter.create(name, { capacity: 64 });
    const sub = subscribe(shm, ["BTCUSDT"], {
      from: "oldest",
      delivery: "tethered",
      tetherTimeoutMs: 1500,
    });
    const segment = openSegment(name);
    try {
      await until(() => sub.saw("attached"), "attached");
      publish(writer, 1, 10);
      await until(() => sub.delivered.length === 10, "first trades");
      // Evicted the way the producer does it, then lapped.
      const words = new Int32Array(segment.buffer);
      const slot = tetheredSlot(words);
      words[slot + (ReaderSlot.EvictionCause >> 2)] = EvictionCause.Timeout;
      words[slot + (ReaderSlot.LagAtEviction >> 2)] = 12345;
      Atomics.add(words, slot + (ReaderSlot.Evictions >> 2), 1);
      assert.equal(
        Atomics.compareExchange(
          words,
          slot + (ReaderSlot.State >> 2),
          ReaderState.Tethered,
          ReaderState.Evicted,
        ),
        ReaderState.Tethered,
      );
      publish(writer, 11, 300);
      assert.equal(writer.position, 300, "an evicted reader holds nothing");
      await until(() => sub.saw("evicted"), "evicted event");
      await until(() => sub.feed.stats()[0].lag === 0, "caught up");
      // Tethered again: it holds the producer, which loses nothing now.
      assert.equal(
        Atomics.load(words, slot + (ReaderSlot.State >> 2)),
        ReaderState.Tethered,
      );
      const lostBefore = sub.feed.stats()[0].lost;
      publish(writer, 301, 500);
      await writer.room();
      await until(() => sub.delivered.at(-1)?.seq === 500, "every trade");
      await sub.stop();
      const [stats] = sub.feed.stats();
      assert.equal(stats.lost, lostBefore);
      assert.equal(stats.lost, 300 - 32 - 10, JSON.stringify(stats));
      assert.equal(stats.lostBy.evicted, stats.lost);
      assert.equal(stats.lostBy.overwritten, 0);
      assert.equal(stats.evictions, 1);
      assert.equal(stats.received + stats.lost, 500);
      const event = sub.events.find((e) => e.kind === "evicted")!;
      assert.match(
        event.message,
        /^binance BTCUSDT: evicted by the producer after holding it for its tether timeout \(1\.5 s asked, at most the producer.s max_tether_timeout\), 12,345 trades behind; re-tethering 258 trades further on/,
      );
      assert.deepEqual(sub.gaps, [{
        exchange: "binance",
        symbol: "BTCUSDT",
        stream: 0,
        cause: "evicted",
        firstSeq: 11,
        lastSeq: 268,
        count: 258,
      }]);
      assertGapsInOrder(sub);
      assert.deepEqual(sub.seqs(), [...range(1, 10), ...range(269, 500)]);
    } finally {
      await sub.stop();
      unmapSegment(segment);
      writer.close();
    }
  },
);

ffiTest(
  "tethered: a subscription gets every trade of a producer that would lap it many times over",
  async () => {
    using shm = shmScope();
    const writer = RingWriter.create(shm.ring("BTCUSDT"), { capacity: 64 });
    const total = 5000;
    const sub = subscribe(shm, ["BTCUSDT"], {
      from: "oldest",
      delivery: "tethered",
      limit: total,
      // The producer is in this process: a blocking sleep would hold it up.
      blockingSleepMs: 0,
    });
    try {
      await until(() => sub.saw("attached"), "attached");
      publish(writer, 1, total); // all at once: most wait in the backlog
      assert.ok(writer.position < total, "the reader held the producer");
      await sub.ended();
      assert.deepEqual(sub.seqs(), range(1, total));
      const [stats] = sub.feed.stats();
      assert.equal(stats.lost, 0, JSON.stringify(stats));
      assert.deepEqual(sub.gaps, []);
      await writer.room();
      assert.equal(writer.position, total);
    } finally {
      await sub.stop();
      writer.close();
    }
  },
);
