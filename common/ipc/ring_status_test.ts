// What an observer reads from a ring through a read-only mapping: the
// producer, positions and registered readers of a layout 2 ring, a layout 1
// ring without readers, and segments that are no ring.

import assert from "node:assert/strict";
import { claimSlot, evict, monotonicMs } from "./_registry.ts";
import {
  EvictionCause,
  Header,
  ReaderSlot,
  REGISTRY_OFFSET,
  REGISTRY_SLOT_SIZE,
  RING_MAGIC,
  SLOT_PAYLOAD_SIZE,
  SLOT_SIZE,
} from "./layout.ts";
import { RingNotFoundError } from "./errors.ts";
import {
  ringActivity,
  type RingSnapshot,
  ringSnapshot,
  ringSnapshots,
  segmentSnapshot,
  type SegmentStatus,
} from "./ring_status.ts";
import { RingWriter } from "./ring_writer.ts";
import {
  createSegment,
  openSegment,
  type Segment,
  unlinkSegment,
  unmapSegment,
} from "./segment.ts";
import { WIRE_VERSION } from "../wire/trade.ts";
import {
  cleanUpSegment,
  Fnv1a,
  recordBatch,
  ringTest,
  testSegmentPrefix,
} from "../../tests/_ring_helpers.ts";

const PREFIX = testSegmentPrefix();
let segments = 0;

function uniqueName(): string {
  return `${PREFIX}${++segments}`;
}

function asRing(status: SegmentStatus): RingSnapshot {
  assert.equal(status.kind, "ring", JSON.stringify(status));
  return status as RingSnapshot;
}

/** FNV-1a of every byte of segment `name`, through a read-write mapping of the test's own. */
function hashOf(name: string): string {
  const segment = openSegment(name);
  try {
    const hash = new Fnv1a();
    hash.update(new Uint8Array(segment.buffer));
    return hash.hex;
  } finally {
    unmapSegment(segment);
  }
}

/** A writer of `capacity` slots that has written `count` trades. */
function writerWith(capacity: number, count: number): RingWriter {
  const writer = RingWriter.create(uniqueName(), { capacity });
  writer.writeMany(recordBatch(0, count), count);
  return writer;
}

/** A new segment of `size` bytes, `fill` writing its first bytes. */
function rawSegment(size: number, fill: (view: DataView) => void): string {
  const name = uniqueName();
  const segment: Segment = createSegment(name, size);
  fill(new DataView(segment.buffer));
  unmapSegment(segment);
  return name;
}

ringTest({
  name:
    "ringSnapshot: producer, positions and both policies' readers, read without writing",
  fn() {
    const writer = writerWith(1024, 5000);
    const mapped = openSegment(writer.name);
    try {
      const words = new Int32Array(mapped.buffer);
      const lossy = claimSlot(words, {
        policy: "lossy",
        position: 3000,
        tetherTimeoutMs: 0,
      })!;
      const tethered = claimSlot(words, {
        policy: "tethered",
        position: 4990,
        tetherTimeoutMs: 2000,
      })!;
      const before = hashOf(writer.name);
      const ring = asRing(ringSnapshot(writer.name));
      assert.equal(hashOf(writer.name), before, "the snapshot wrote");
      assert.deepEqual(
        [ring.layout, ring.pid, ring.producerAlive, ring.state],
        [2, Deno.pid, true, "open"],
      );
      assert.deepEqual(
        [ring.epoch, ring.capacity, ring.writePosition],
        [writer.epoch, 1024, 5000],
      );
      const readers = ring.readers.map((r) => ({
        id: r.id,
        idHex: r.idHex,
        policy: r.policy,
        pid: r.pid,
        position: r.position,
        lag: r.lag,
        alive: r.alive,
        tetherTimeoutMs: r.tetherTimeoutMs,
      }));
      const hex = (id: number) => (id >>> 0).toString(16).padStart(8, "0");
      assert.deepEqual(readers, [
        {
          id: lossy.id,
          idHex: hex(lossy.id),
          policy: "lossy",
          pid: Deno.pid,
          position: 3000,
          lag: 2000,
          alive: true,
          tetherTimeoutMs: 0,
        },
        {
          id: tethered.id,
          idHex: hex(tethered.id),
          policy: "tethered",
          pid: Deno.pid,
          position: 4990,
          lag: 10,
          alive: true,
          tetherTimeoutMs: 2000,
        },
      ]);
      assert.equal(ring.readers[0].lagPercent, 2000 / 1024 * 100);
      for (const reader of ring.readers) {
        assert.ok(reader.heartbeatAgeMs < 5_000, `${reader.heartbeatAgeMs}`);
        assert.equal(reader.lastEviction, null);
      }
      // The producer's own mapping gives the same picture.
      const own = segmentSnapshot(mapped);
      assert.deepEqual(
        own.readers.map((r) => r.position),
        ring.readers.map((r) => r.position),
      );
    } finally {
      unmapSegment(mapped);
      writer.close();
      cleanUpSegment(writer.name);
    }
  },
});

ringTest({
  name:
    "ringSnapshot: an evicted reader shows its cause; a dead one is not alive",
  async fn() {
    const writer = writerWith(256, 1000);
    const mapped = openSegment(writer.name);
    const gone = new Deno.Command(Deno.execPath(), {
      args: ["eval", ""],
    }).spawn();
    await gone.status; // its pid is now unused
    try {
      const words = new Int32Array(mapped.buffer);
      const evicted = claimSlot(words, {
        policy: "tethered",
        position: 500,
        tetherTimeoutMs: 100,
      })!;
      assert.ok(evict(words, evicted.index, {
        cause: EvictionCause.Timeout,
        writePosition: 1000,
        lag: 500,
      }));
      const dead = claimSlot(words, {
        policy: "lossy",
        position: 1000,
        tetherTimeoutMs: 0,
      })!;
      const slot = new DataView(
        mapped.buffer,
        REGISTRY_OFFSET + dead.index * REGISTRY_SLOT_SIZE,
      );
      slot.setInt32(ReaderSlot.Pid, gone.pid, true);
      slot.setUint32(
        ReaderSlot.HeartbeatMs,
        (monotonicMs() - 10_000) >>> 0,
        true,
      );
      const [first, second] = asRing(ringSnapshot(writer.name)).readers;
      assert.deepEqual(
        [first.policy, first.evictions, first.lastEviction, first.alive],
        ["evicted", 1, "timeout", true],
      );
      assert.deepEqual([first.evictedAt, first.lagAtEviction], [1000, 500]);
      assert.deepEqual([second.pid, second.alive], [gone.pid, false]);
      assert.ok(second.heartbeatAgeMs >= 10_000, `${second.heartbeatAgeMs}`);
    } finally {
      unmapSegment(mapped);
      writer.close();
      cleanUpSegment(writer.name);
    }
  },
});

ringTest({
  name: "ringSnapshot: a layout 1 ring is listed without readers",
  fn() {
    const capacity = 64;
    const name = rawSegment(256 + capacity * SLOT_SIZE, (view) => {
      const u32 = (at: number, value: number) =>
        view.setUint32(at, value, true);
      u32(Header.LayoutVersion, 1);
      u32(Header.HeaderSize, 256);
      u32(Header.Capacity, capacity);
      u32(Header.SlotSize, SLOT_SIZE);
      u32(Header.PayloadSize, SLOT_PAYLOAD_SIZE);
      u32(Header.WireVersion, WIRE_VERSION);
      view.setInt32(Header.ProducerPid, Deno.pid, true);
      u32(Header.Epoch, 0xabcdef01);
      u32(Header.HeartbeatIntervalMs, 100);
      u32(Header.WritePositionLo, 777);
      view.setInt32(Header.State, 2, true);
      u32(Header.Magic, RING_MAGIC);
    });
    try {
      const ring = asRing(ringSnapshot(name));
      assert.deepEqual(
        [ring.layout, ring.pid, ring.state, ring.epoch, ring.capacity],
        [1, Deno.pid, "closed", 0xabcdef01, capacity],
      );
      assert.equal(ring.writePosition, 777);
      assert.deepEqual(ring.readers, []);
    } finally {
      cleanUpSegment(name);
    }
  },
});

ringTest({
  name:
    "ringSnapshot: what is no ring is said in one line; a missing name throws",
  fn() {
    const text = new TextEncoder().encode("hello, world");
    const names = {
      foreign: rawSegment(4096, (view) => {
        new Uint8Array(view.buffer).set(text);
      }),
      empty: rawSegment(8192, () => {}),
      tiny: rawSegment(3, () => {}),
      future: rawSegment(8192, (view) => {
        view.setUint32(Header.LayoutVersion, 9, true);
        view.setUint32(Header.Magic, RING_MAGIC, true);
      }),
      truncated: rawSegment(1000, (view) => {
        view.setUint32(Header.LayoutVersion, 2, true);
        view.setUint32(Header.Magic, RING_MAGIC, true);
      }),
    };
    try {
      const problems = Object.fromEntries(
        Object.entries(names).map(([what, name]) => {
          const status = ringSnapshot(name);
          assert.equal(status.kind, "unreadable", what);
          return [what, status.kind === "unreadable" ? status : undefined];
        }),
      );
      assert.equal(
        problems.foreign?.problem,
        'not a marketbus ring (magic 0x6c6c6568, expected 0x4752424d "MBRG")',
      );
      assert.equal(problems.empty?.problem, "being created (no magic yet)");
      assert.equal(
        problems.tiny?.problem,
        "not a marketbus ring (3 bytes, no ring header)",
      );
      assert.equal(problems.future?.layout, 9);
      assert.match(
        problems.future!.problem,
        /^layout version 9, this marketbus reads 1 and 2/,
      );
      assert.match(
        problems.truncated!.problem,
        /^1000 bytes, expected at least the 4352-byte ring header/,
      );
      assert.throws(
        () => ringSnapshot(`${PREFIX}absent`),
        (error) => error instanceof RingNotFoundError,
      );
    } finally {
      for (const name of Object.values(names)) cleanUpSegment(name);
    }
  },
});

ringTest({
  name:
    "ringSnapshots lists a prefix in name order; ringActivity gives the rate of one incarnation",
  async fn() {
    const prefix = testSegmentPrefix();
    const writer = RingWriter.create(`${prefix}b`, { capacity: 256 });
    const other = rawSegment(100, () => {});
    const foreign = `${prefix}a`;
    unmapSegment(createSegment(foreign, 64));
    try {
      const first = ringSnapshots(prefix);
      assert.deepEqual(first.map((s) => [s.name, s.kind]), [
        [foreign, "unreadable"],
        [writer.name, "ring"],
      ]);
      assert.ok(!first.some((s) => s.name === other), "another prefix listed");
      await new Promise((resolve) => setTimeout(resolve, 250));
      writer.writeMany(recordBatch(0, 500), 500);
      const [, second] = ringSnapshots(prefix);
      const activity = ringActivity(asRing(first[1]), asRing(second))!;
      assert.ok(activity.elapsedMs >= 200, `${activity.elapsedMs}`);
      assert.equal(
        activity.ratePerSecond,
        500 / (activity.elapsedMs / 1000),
      );
      assert.equal(activity.heartbeatMoved, true);
      const renewed = {
        ...asRing(second),
        epoch: second.kind === "ring" ? second.epoch + 1 : 0,
      };
      assert.equal(ringActivity(asRing(first[1]), renewed), undefined);
      assert.deepEqual(ringSnapshots(`${prefix}none_`), []);
    } finally {
      writer.close();
      for (const name of [writer.name, other, foreign]) unlinkSegment(name);
    }
  },
});
