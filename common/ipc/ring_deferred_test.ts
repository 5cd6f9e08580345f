// Deferred commits of the ring writer (writeDeferred, commit) and of the
// ring publisher (send, flush): the records are readable at once, the write
// position moves at the microtask after the caller's synchronous code, at
// commit()/flush(), at the cap and at close, and a reader never counts a
// batch not committed yet as lost, tethered or not. Needs unscoped
// --allow-ffi; skipped without it.

import assert from "node:assert/strict";
import { DEFERRED_COMMIT_CAP, RingWriter } from "./ring_writer.ts";
import { RingReader } from "./ring_reader.ts";
import { RingPublisher } from "./ring_publisher.ts";
import { RingState } from "./layout.ts";
import { unlinkSegment } from "./segment.ts";
import { segmentName } from "../wire/mod.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import {
  drain,
  range,
  recordBatch,
  recordSeq,
  ringTest,
  testSegmentPrefix,
} from "../../tests/_ring_helpers.ts";

const PREFIX = testSegmentPrefix();
let opened = 0;

/** A writer of `capacity` slots and a reader from its first trade, closed and removed at the end. */
function ring(
  capacity: number,
  delivery: "lossy" | "tethered" = "lossy",
): { writer: RingWriter; reader: RingReader } & Disposable {
  const name = `${PREFIX}${++opened}`;
  const writer = RingWriter.create(name, { capacity });
  const reader = RingReader.open(name, { from: "first", delivery });
  return {
    writer,
    reader,
    [Symbol.dispose]() {
      reader.close();
      writer.close();
      try {
        unlinkSegment(name);
      } catch {
        // already removed by the writer
      }
    },
  };
}

/** Writes records `from` to `to` (exclusive) with writeDeferred; returns how many went into the ring. */
function writeDeferred(writer: RingWriter, from: number, to: number): number {
  const records = recordBatch(from, to - from);
  let written = 0;
  for (let i = 0; i < to - from; i++) {
    written += writer.writeDeferred(records, i * TRADE_RECORD_SIZE);
  }
  return written;
}

ringTest({
  name:
    "ring: deferred writes are readable at once and committed at the microtask after the caller's code",
  async fn() {
    using r = ring(4096);
    assert.equal(writeDeferred(r.writer, 0, 10), 10);
    assert.equal(r.writer.position, 10);
    assert.equal(r.reader.writePosition(), 0, "not committed yet");
    assert.deepEqual(drain(r.reader), range(0, 10), "slots are readable");
    assert.equal(r.reader.lost, 0);
    await Promise.resolve();
    assert.equal(r.reader.writePosition(), 10, "committed at the microtask");
    // One commit per batch: a write() commits the deferred ones with it.
    writeDeferred(r.writer, 10, 15);
    r.writer.write(recordBatch(15, 1));
    assert.equal(r.reader.writePosition(), 16);
    assert.deepEqual(drain(r.reader), range(10, 16));
  },
});

ringTest({
  name:
    "ring: commit() publishes deferred writes at once, and is a no-op when nothing is pending or once closed",
  fn() {
    using r = ring(4096);
    r.writer.commit();
    assert.equal(r.reader.writePosition(), 0);
    writeDeferred(r.writer, 0, 5);
    r.writer.commit();
    assert.equal(r.reader.writePosition(), 5);
    r.writer.close();
    r.writer.commit(); // closed: nothing to touch
  },
});

ringTest({
  name:
    "ring: a long run of deferred writes commits at the cap (half the capacity in small rings)",
  async fn() {
    {
      using r = ring(4096);
      writeDeferred(r.writer, 0, DEFERRED_COMMIT_CAP + 100);
      assert.equal(r.reader.writePosition(), DEFERRED_COMMIT_CAP);
      await Promise.resolve();
      assert.equal(r.reader.writePosition(), DEFERRED_COMMIT_CAP + 100);
    }
    {
      using r = ring(64);
      writeDeferred(r.writer, 0, 40);
      assert.equal(r.reader.writePosition(), 32, "half of 64 slots");
      assert.deepEqual(drain(r.reader), range(0, 40));
      assert.equal(r.reader.lost, 0);
    }
  },
});

ringTest({
  name:
    "ring: close commits deferred writes: the reader sees every trade, then closed",
  async fn() {
    using r = ring(4096);
    writeDeferred(r.writer, 0, 3);
    r.writer.close();
    assert.equal(r.reader.state(), RingState.Closed);
    assert.equal(r.reader.writePosition(), 3);
    assert.deepEqual(drain(r.reader), range(0, 3));
    await Promise.resolve(); // the queued commit finds the writer closed
  },
});

ringTest({
  name:
    "ring: a lossy reader never counts an uncommitted batch as lost, and counts a lap exactly",
  async fn() {
    using r = ring(64);
    const got: number[] = [];
    for (let from = 0; from < 600; from += 20) {
      writeDeferred(r.writer, from, from + 20);
      got.push(...drain(r.reader));
      if (from % 60 === 0) await Promise.resolve();
    }
    assert.deepEqual(got, range(0, 600));
    assert.equal(r.reader.lost, 0);
    // 200 more before reading: a lap, counted once, received + lost = written.
    writeDeferred(r.writer, 600, 800);
    await Promise.resolve();
    const after = drain(r.reader);
    assert.equal(after.at(-1), 799);
    assert.equal(r.reader.received + r.reader.lost, 800);
  },
});

ringTest({
  name:
    "ring: deferred writes never overwrite what a tethered reader has not read",
  async fn() {
    using r = ring(64, "tethered");
    const total = 1000;
    const got: number[] = [];
    let written = 0;
    for (let from = 0; from < total; from += 100) {
      written += writeDeferred(r.writer, from, from + 100); // more than a ring
      got.push(...drain(r.reader));
      r.reader.publishPosition();
    }
    // The rest waits in the writer's backlog, drained as the reader reads.
    const until = performance.now() + 10_000;
    while (got.length < total && performance.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      got.push(...drain(r.reader));
      r.reader.publishPosition();
    }
    assert.ok(written < total, "some went through the backlog");
    assert.deepEqual(got, range(0, total));
    assert.equal(r.reader.lost, 0);
    assert.equal(r.writer.tetherStats().dropped, 0);
  },
});

/** The seqs `reader` reads until it is caught up. */
function seqs(reader: RingReader): number[] {
  const target = new Uint8Array(TRADE_RECORD_SIZE);
  const got: number[] = [];
  while (reader.read(target)) got.push(recordSeq(target));
  return got;
}

ringTest({
  name: "ipc publisher: send defers the commit, flush() and close() commit",
  async fn() {
    const prefix = `${PREFIX}p${++opened}_`;
    const symbols = ["BTCUSDT", "ETHUSDT"];
    const publisher = RingPublisher.open(symbols, {
      exchange: "binance",
      shmPathPrefix: prefix,
      capacity: 64,
      heartbeatIntervalMs: 50,
    });
    const readers = symbols.map((s) =>
      RingReader.open(segmentName(prefix, "binance", s), { from: "first" })
    );
    try {
      const records = recordBatch(0, 4);
      publisher.send(0, records, 0);
      publisher.send(1, records, TRADE_RECORD_SIZE);
      assert.deepEqual(readers.map((r) => r.writePosition()), [0, 0]);
      publisher.flush();
      assert.deepEqual(readers.map((r) => r.writePosition()), [1, 1]);
      publisher.send(0, records, 2 * TRADE_RECORD_SIZE);
      await Promise.resolve();
      assert.equal(readers[0].writePosition(), 2, "committed at the microtask");
      publisher.send(1, records, 3 * TRADE_RECORD_SIZE);
      await publisher.close();
      assert.deepEqual(readers.map((r) => r.writePosition()), [2, 2]);
      assert.deepEqual(readers.map(seqs), [[0, 2], [1, 3]]);
    } finally {
      for (const reader of readers) reader.close();
      await publisher.close();
    }
  },
});

ringTest({
  name:
    "ring: a deferred write commits at once while a consumer sleeps, waking it",
  fn() {
    using r = ring(4096);
    writeDeferred(r.writer, 0, 2);
    assert.equal(r.writer.wakeups, 0);
    r.reader.beginSleep();
    try {
      writeDeferred(r.writer, 2, 3);
      assert.equal(
        r.reader.writePosition(),
        3,
        "committed with the earlier ones",
      );
      assert.equal(r.writer.wakeups, 1);
    } finally {
      r.reader.endSleep();
    }
    assert.deepEqual(drain(r.reader), range(0, 3));
  },
});
