// Slots another process damaged: the writer never inherits a word it did
// not write, and a reader skips what it cannot read, within a bound, and
// counts it as lost (corrupt slot) instead of stalling.

import assert from "node:assert/strict";
import {
  openSegment,
  RingReader,
  RingWriter,
  type Segment,
  unlinkSegment,
  unmapSegment,
} from "./mod.ts";
import { HEADER_WORDS, SLOT_WORDS } from "./_header.ts";
import {
  drain,
  range,
  recordBatch,
  ringTest,
  testSegmentPrefix,
} from "../../tests/_ring_helpers.ts";

const PREFIX = testSegmentPrefix();
let segments = 0;

/** A writer of `count` records on a fresh ring, a reader from its first trade and a raw mapping, all removed by `dispose`. */
function ring(capacity: number) {
  const name = `${PREFIX}${++segments}`;
  const writer = RingWriter.create(name, {
    capacity,
    heartbeatIntervalMs: 1000,
  });
  const reader = RingReader.open(name, { from: "first" });
  const raw: Segment = openSegment(name);
  const words = new Int32Array(raw.buffer);
  return {
    writer,
    reader,
    /** The seqlock word of the slot of `position`. */
    sequenceAt: (position: number) =>
      HEADER_WORDS + (position % capacity) * SLOT_WORDS,
    words,
    [Symbol.dispose]() {
      reader.close();
      unmapSegment(raw);
      writer.close();
      unlinkSegment(name);
    },
  };
}

ringTest({
  name:
    "ring writer: a seqlock word another process left odd is overwritten, not inherited (the slot stays readable)",
  fn() {
    using r = ring(64);
    // Not yet written, and in the next lap's slot 3: both get scribbled on.
    r.words[r.sequenceAt(5)] = 0x7fff_ffff;
    r.writer.writeMany(recordBatch(0, 10), 10);
    assert.deepEqual(drain(r.reader), range(0, 10));
    r.words[r.sequenceAt(3)] = 1;
    r.writer.writeMany(recordBatch(10, 64), 64); // rewrites slot 3 in lap 1
    assert.deepEqual(drain(r.reader), range(10, 74));
    assert.equal(r.reader.lost, 0);
    // Even values from the lap number: 4 in lap 1 (positions 64..73), 2 in lap 0.
    assert.equal(r.words[r.sequenceAt(5)], 4);
    assert.equal(r.words[r.sequenceAt(3)], 4);
    assert.equal(r.words[r.sequenceAt(10)], 2);
  },
});

ringTest({
  name:
    "ring reader: a committed slot left odd is skipped after the bound and counted as corrupt-slot loss",
  fn() {
    using r = ring(64);
    r.writer.writeMany(recordBatch(0, 10), 10);
    r.words[r.sequenceAt(4)] = 0x7fff_ffff;
    assert.deepEqual(drain(r.reader), range(0, 4));
    assert.equal(r.reader.skipUnreadable(1000), 0, "first seen stuck");
    assert.equal(r.reader.skipUnreadable(1099), 0, "within the bound");
    assert.deepEqual(drain(r.reader), []);
    assert.equal(r.reader.skipUnreadable(1100), 1, "after 100 ms");
    assert.deepEqual(drain(r.reader), range(5, 10));
    assert.equal(r.reader.lost, 1);
    assert.equal(r.reader.corrupt, 1);
    // Caught up: nothing committed is unreadable, nothing is skipped.
    assert.equal(r.reader.skipUnreadable(5000, 0), 0);
    assert.equal(r.reader.position, 10);
  },
});

ringTest({
  name:
    "ring reader: 20 slots overwritten with older trades or odd words are skipped in one go, up to the next readable trade",
  fn() {
    using r = ring(64);
    r.writer.writeMany(recordBatch(0, 40), 40);
    // Slots 10..19 get copies of slot 0 (an older position: "not written
    // yet"), slots 20..29 odd words.
    for (let position = 10; position < 30; position++) {
      const to = r.sequenceAt(position);
      if (position < 20) {
        r.words.copyWithin(to, r.sequenceAt(0), r.sequenceAt(0) + SLOT_WORDS);
      } else r.words[to] = 3;
    }
    assert.deepEqual(drain(r.reader), range(0, 10));
    assert.equal(r.reader.skipUnreadable(0, 0), 20);
    assert.deepEqual(drain(r.reader), range(30, 40));
    assert.equal(r.reader.lost, 20);
    assert.equal(r.reader.corrupt, 20);
  },
});

ringTest({
  name:
    "ring reader: a slot holding a position that is not a lap of its own is corrupt, not a lap (no resync half a ring away)",
  fn() {
    using r = ring(64);
    r.writer.writeMany(recordBatch(0, 50), 50);
    // Position 1,000,003 in slot 7: not 7 + k × 64.
    r.words[r.sequenceAt(7) + 2] = 1_000_003;
    assert.deepEqual(drain(r.reader), [...range(0, 7), ...range(8, 50)]);
    assert.equal(r.reader.lost, 1);
    assert.equal(r.reader.corrupt, 1);
    assert.equal(r.reader.laps, 0);
  },
});

ringTest({
  name:
    "ring reader: a slot still unwritten is waited for, not skipped, however long",
  fn() {
    using r = ring(64);
    r.writer.writeMany(recordBatch(0, 5), 5);
    assert.deepEqual(drain(r.reader), range(0, 5));
    assert.equal(r.reader.skipUnreadable(0), 0);
    assert.equal(r.reader.skipUnreadable(1e9, 0), 0);
    r.writer.writeMany(recordBatch(5, 5), 5);
    assert.deepEqual(drain(r.reader), range(5, 10));
    assert.equal(r.reader.lost, 0);
  },
});
