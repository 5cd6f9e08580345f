// The /dev/shm watch: names of segments created (or moved in, or chmod'ed), waiting until
// one appears, and cancelling a wait. Needs unscoped --allow-ffi; skipped,
// saying why, without it. (/dev/shm is shared with whatever else runs, so a
// wait may also end early for someone else's segment: the tests only rely on
// a wait ending for theirs, and on cancel.)

import assert from "node:assert/strict";
import { SegmentWatch } from "./segment_watch.ts";
import {
  createSegment,
  RingReader,
  RingWriter,
  unlinkSegment,
  unmapSegment,
} from "./mod.ts";
import { ringEpoch } from "./ring_reader.ts";
import { ringTest, testSegmentPrefix } from "../../tests/_ring_helpers.ts";

const PREFIX = testSegmentPrefix();
const LIVENESS_MS = 10_000;

function openWatch(): SegmentWatch {
  const watch = SegmentWatch.open();
  assert.ok(watch, "inotify is available on the test machine");
  return watch;
}

ringTest({
  name:
    "the watch names segments created under /dev/shm, and a wait ends when one appears",
  async fn() {
    const watch = openWatch();
    const name = `${PREFIX}created`;
    try {
      assert.ok(!watch.changed()?.has(name));
      const waiting = watch.wait(LIVENESS_MS);
      unmapSegment(createSegment(name, 4096));
      const started = performance.now();
      await waiting;
      assert.ok(performance.now() - started < LIVENESS_MS);
      assert.ok(watch.changed()?.has(name), "the new segment is named");
      assert.ok(!watch.changed()?.has(name), "reported once");
    } finally {
      unlinkSegment(name);
      await watch.close();
    }
    assert.equal(watch.active, false);
  },
});

ringTest({
  name: "cancel ends a long wait on the watch at once, and close waits for it",
  async fn() {
    const watch = openWatch();
    try {
      const waiting = watch.wait(60_000);
      assert.throws(() => watch.wait(1), /already waiting/);
      watch.cancel();
      const started = performance.now();
      await waiting;
      assert.ok(performance.now() - started < LIVENESS_MS);
      // The next wait is a full one again (not ended by the old cancel).
      const again = watch.wait(60_000);
      const closing = watch.close();
      await again;
      await closing;
    } finally {
      await watch.close();
    }
  },
});

ringTest({
  name:
    "looking at a ring (ringEpoch, RingReader.open and close) does not name it in the watch: a waiting consumer's own probes never wake it",
  async fn() {
    const name = `${PREFIX}probed`;
    const writer = RingWriter.create(name, { capacity: 64 });
    const watch = openWatch();
    try {
      assert.ok(!watch.changed()?.has(name));
      ringEpoch(name);
      assert.ok(!watch.changed()?.has(name), "ringEpoch");
      RingReader.open(name).close();
      assert.ok(!watch.changed()?.has(name), "RingReader.open + close");
    } finally {
      writer.close();
      await watch.close();
    }
  },
});
