// In-process tests of the shared-memory ring (one process plays producer and
// consumers through real POSIX shared memory). Needs unscoped --allow-ffi
// (Deno refuses the pointer APIs under --allow-ffi=<path>); the tests that
// run `sleep` or `find` also need --allow-run. Without them the tests are
// skipped, saying why. Multi-process tests: tests/ipc_ring_test.ts.

import assert from "node:assert/strict";
import {
  checkCapacity,
  createSegment,
  EvictionCause,
  MAX_CAPACITY,
  MIN_CAPACITY,
  openSegment,
  OsError,
  ReaderState,
  REGISTRY_OFFSET,
  REGISTRY_SLOT_SIZE,
  REGISTRY_SLOTS,
  RING_HEADER_SIZE,
  RING_LAYOUT_VERSION,
  RING_MAGIC,
  RingFormatError,
  RingInUseError,
  RingNotFoundError,
  RingReader,
  type RingReaderOptions,
  RingReadersFullError,
  RingState,
  RingWaiter,
  type RingWaiterOptions,
  RingWriter,
  type RingWriterOptions,
  type Segment,
  segmentName,
  segmentPath,
  segmentSize,
  SLOT_PAYLOAD_SIZE,
  SLOT_SIZE,
  unlinkSegment,
  unmapSegment,
  WAIT_STRATEGIES,
  type WaitStrategy,
} from "./mod.ts";
import { Header } from "./layout.ts";
import {
  ageMs,
  evict,
  freeSlot,
  monotonicMs,
  readEntries,
  slotState,
} from "./_registry.ts";
import { monotonicNanos, readWallClock } from "../runtime/clock.ts";
import { cString, libc, O_CREAT, O_EXCL, O_RDWR } from "../os/libc.ts";
import { TRADE_RECORD_SIZE, WIRE_VERSION } from "../wire/trade.ts";
import { assertThrowsWith } from "../../tests/_assert_throws.ts";
import { gatedTest } from "../../tests/_permissions.ts";
import {
  drain,
  FIND_PERMISSION,
  range,
  recordBatch,
  recordMismatch,
  recordSeq,
  ringTest,
  segmentExists,
  settlesWithin,
  shmModes,
  testSegmentPrefix,
} from "../../tests/_ring_helpers.ts";

const PREFIX = testSegmentPrefix();
const RUN_SLEEP: Deno.PermissionDescriptor = { name: "run", command: "sleep" };
/** Above the kernel's pid_max (at most 2^22): no process can have this pid. */
const IMPOSSIBLE_PID = 0x7fff_ffff;
/** Generous bound for things that should happen within milliseconds. */
const LIVENESS_MS = 10_000;

let segments = 0;

/** Opens rings for one test and closes and removes all of them when it ends, whatever happened. */
class Rings implements Disposable {
  #cleanups: (() => void)[] = [];

  /** A unique segment name, removed at the end. */
  name(label: string): string {
    const name = `${PREFIX}${++segments}_${label}`;
    this.#cleanups.push(() => unlinkSegment(name));
    return name;
  }

  /** A writer, closed at the end. */
  writer(name: string, options?: RingWriterOptions): RingWriter {
    const writer = RingWriter.create(name, options);
    this.#cleanups.push(() => writer.close());
    return writer;
  }

  /** A reader, closed at the end. */
  reader(name: string, options?: RingReaderOptions): RingReader {
    const reader = RingReader.open(name, options);
    this.#cleanups.push(() => reader.close());
    return reader;
  }

  /** The raw mapping of segment `name`, unmapped at the end. */
  segment(name: string): Segment {
    const segment = openSegment(name);
    this.#cleanups.push(() => unmapSegment(segment));
    return segment;
  }

  /** Runs the clean-ups, newest first. */
  [Symbol.dispose](): void {
    for (const cleanup of this.#cleanups.reverse()) {
      try {
        cleanup();
      } catch {
        // clean up the rest anyway
      }
    }
  }
}

/** Header fields of a hand-made segment; anything omitted is what a valid producer writes. */
interface CraftedSegment {
  size?: number;
  magic?: number;
  layoutVersion?: number;
  headerSize?: number;
  registrySlots?: number;
  capacity?: number;
  slotSize?: number;
  payloadSize?: number;
  wireVersion?: number;
  pid?: number;
  epoch?: number;
  state?: RingState;
  /** Fill every byte with this text's bytes instead of writing a header. */
  garbage?: string;
}

/** Creates segment `name` (with segment.ts, not RingWriter) holding a header as described. */
function craftSegment(name: string, fields: CraftedSegment = {}): void {
  const capacity = fields.capacity ?? MIN_CAPACITY;
  const segment = createSegment(name, fields.size ?? segmentSize(capacity));
  try {
    const bytes = new Uint8Array(segment.buffer);
    if (fields.garbage !== undefined) {
      const text = new TextEncoder().encode(fields.garbage);
      for (let k = 0; k < bytes.length; k++) bytes[k] = text[k % text.length];
      return;
    }
    if (segment.size < RING_HEADER_SIZE) return;
    const view = new DataView(segment.buffer);
    const u32 = (offset: number, value: number) =>
      view.setUint32(offset, value, true);
    u32(Header.LayoutVersion, fields.layoutVersion ?? RING_LAYOUT_VERSION);
    u32(Header.HeaderSize, fields.headerSize ?? RING_HEADER_SIZE);
    u32(Header.RegistrySlots, fields.registrySlots ?? REGISTRY_SLOTS);
    u32(Header.RegistrySlotSize, REGISTRY_SLOT_SIZE);
    u32(Header.Capacity, capacity);
    u32(Header.SlotSize, fields.slotSize ?? SLOT_SIZE);
    u32(Header.PayloadSize, fields.payloadSize ?? SLOT_PAYLOAD_SIZE);
    u32(Header.WireVersion, fields.wireVersion ?? WIRE_VERSION);
    view.setInt32(Header.ProducerPid, fields.pid ?? IMPOSSIBLE_PID, true);
    u32(Header.Epoch, fields.epoch ?? 0xe90c);
    u32(Header.HeartbeatIntervalMs, 100);
    view.setInt32(Header.State, fields.state ?? RingState.Open, true);
    u32(Header.Magic, fields.magic ?? RING_MAGIC);
  } finally {
    unmapSegment(segment);
  }
}

/** Publishes records `first` to `first + count - 1` one `write` at a time. */
function publish(writer: RingWriter, first: number, count: number): void {
  const batch = recordBatch(first, count);
  for (let k = 0; k < count; k++) writer.write(batch, k * TRADE_RECORD_SIZE);
}

/** Reads the next record, waiting with `waiter` while the ring is empty; resolves with its number. */
async function nextRecord(
  reader: RingReader,
  waiter: RingWaiter,
): Promise<number> {
  const target = new Uint8Array(TRADE_RECORD_SIZE);
  while (!reader.read(target)) {
    const wait = waiter.idle([reader]);
    if (wait !== undefined) await wait;
  }
  waiter.busy();
  return reader.position - 1 - reader.firstPosition;
}

/** Sleeps on `readers` with a backoff waiter until `write` (run from a timer) publishes; returns what was seen. */
async function sleepUntilWritten(
  readers: RingReader[],
  writers: RingWriter[],
  write: () => void,
  options: RingWaiterOptions = {},
): Promise<{ woke: boolean; sleepersAtWrite: number[]; sleeps: number }> {
  const waiter = new RingWaiter("backoff", {
    spinMs: 0,
    maxSleepMs: 30_000,
    ...options,
  });
  const target = new Uint8Array(TRADE_RECORD_SIZE);
  let sleepersAtWrite: number[] = [];
  const timer = setTimeout(() => {
    sleepersAtWrite = writers.map((writer) => writer.sleepers);
    write();
  }, 20);
  const reading = (async () => {
    while (!readers.some((reader) => reader.read(target))) {
      const wait = waiter.idle(readers);
      if (wait !== undefined) await wait;
    }
  })();
  const woke = await settlesWithin(reading, LIVENESS_MS);
  clearTimeout(timer);
  if (!woke) {
    // Not woken: closing bumps the wake word and ends the sleep for good.
    for (const writer of writers) writer.close();
  }
  await reading;
  return { woke, sleepersAtWrite, sleeps: waiter.sleeps };
}

// ------------------------------------------------------------ reading back

ringTest({
  name:
    "ring: records come back byte-identical and in order, at any aligned offset",
  fn() {
    using rings = new Rings();
    const name = rings.name("roundtrip");
    const writer = rings.writer(name, { capacity: 64 });
    const reader = rings.reader(name, { from: "first" });
    // The source records sit at byte 16 of a buffer, seen through a view that
    // starts at byte 4: the ring must honour both offsets.
    const source = new Uint8Array(16 + 40 * TRADE_RECORD_SIZE);
    source.set(recordBatch(0, 40), 16);
    const shifted = source.subarray(4);
    for (let k = 0; k < 40; k++) {
      writer.write(shifted, 12 + k * TRADE_RECORD_SIZE);
    }
    assert.equal(writer.position, 40);
    assert.equal(reader.lag(), 40);
    const target = new Uint8Array(64).subarray(4);
    for (let k = 0; k < 40; k++) {
      assert.equal(reader.read(target, 8), true, `record ${k}`);
      const at = 16 + k * TRADE_RECORD_SIZE;
      assert.deepEqual(
        target.subarray(8, 8 + TRADE_RECORD_SIZE),
        source.subarray(at, at + TRADE_RECORD_SIZE),
      );
      assert.equal(reader.position, k + 1);
    }
    assert.equal(reader.read(target, 8), false);
    assert.equal(reader.received, 40);
    assert.equal(reader.lost, 0);
    assert.equal(reader.lag(), 0);
  },
});

ringTest({
  name: "ring: readers start at first, oldest or newest (the default)",
  fn() {
    using rings = new Rings();
    const name = rings.name("start");
    const writer = rings.writer(name, { capacity: 64 });
    // Empty ring: every start is the first position; newest gets the next trade.
    const early = ["first", "oldest", "newest"].map((from) =>
      rings.reader(name, { from } as RingReaderOptions)
    );
    const byDefault = rings.reader(name);
    for (const reader of [...early, byDefault]) {
      assert.equal(reader.startPosition, 0);
    }
    publish(writer, 0, 10);
    for (const reader of [...early, byDefault]) {
      assert.deepEqual(drain(reader), range(0, 10));
    }
    // 10 written, no wrap yet.
    assert.equal(rings.reader(name, { from: "first" }).startPosition, 0);
    assert.equal(rings.reader(name, { from: "oldest" }).startPosition, 0);
    assert.equal(rings.reader(name, { from: "newest" }).startPosition, 9);
    assert.equal(rings.reader(name).startPosition, 9);
    // 100 written into 64 slots: the oldest still held is 36.
    publish(writer, 10, 90);
    const first = rings.reader(name, { from: "first" });
    const oldest = rings.reader(name, { from: "oldest" });
    const newest = rings.reader(name, { from: "newest" });
    assert.deepEqual(
      [first.startPosition, oldest.startPosition, newest.startPosition],
      [0, 36, 99],
    );
    assert.deepEqual(drain(oldest), range(36, 100));
    assert.equal(oldest.lost, 0);
    assert.deepEqual(drain(newest), [99]);
    // first was lapped before reading: it skips to half a ring behind.
    assert.deepEqual(drain(first), range(68, 100));
    assert.equal(first.lost, 68);
    assertThrowsWith(
      () => RingReader.open(name, { from: "latest" as "newest" }),
      RangeError,
      `Invalid start "latest"`,
    );
  },
});

ringTest({
  name:
    "ring: broadcast: every reader gets every record, and reading changes nothing shared",
  fn() {
    using rings = new Rings();
    const name = rings.name("broadcast");
    const writer = rings.writer(name, { capacity: 256 });
    const readers = range(0, 4).map(() =>
      rings.reader(name, { from: "first" })
    );
    publish(writer, 0, 200);
    const shared = new Uint8Array(rings.segment(name).buffer);
    const before = shared.slice();
    const [a, b, c, d] = readers;
    assert.deepEqual(drain(a), range(0, 200));
    // a read everything: the others still see all of it.
    for (const other of [b, c, d]) {
      assert.equal(other.hasData(), true);
      assert.equal(other.lag(), 200);
      assert.equal(other.position, 0);
    }
    // b reads in batches of 7.
    const batch = new Uint8Array(7 * TRADE_RECORD_SIZE);
    const got: number[] = [];
    for (let n = b.readMany(batch, 7); n > 0; n = b.readMany(batch, 7)) {
      for (let k = 0; k < n; k++) {
        const i = got.length;
        assert.equal(
          recordMismatch(batch, k * TRADE_RECORD_SIZE, i),
          undefined,
        );
        got.push(i);
      }
    }
    assert.deepEqual(got, range(0, 200));
    // c reads half, d is untouched, c reads the rest.
    const target = new Uint8Array(TRADE_RECORD_SIZE);
    for (let k = 0; k < 100; k++) assert.equal(c.read(target), true);
    assert.equal(d.lag(), 200);
    assert.deepEqual(drain(c), range(100, 200));
    assert.deepEqual(drain(d), range(0, 200));
    for (const reader of readers) {
      assert.equal(reader.received, 200);
      assert.equal(reader.lost, 0);
    }
    assert.deepEqual(shared, before, "a reader wrote to the shared segment");
  },
});

// ------------------------------------------------------------ lapped readers

ringTest({
  name:
    "ring: a lapped reader counts exactly what it skipped and resumes with consecutive records",
  fn() {
    for (const capacity of [64, 256, 4096]) {
      const half = capacity / 2;
      for (const alreadyRead of [0, 10]) {
        for (
          const ahead of [
            capacity,
            capacity + 1,
            capacity + half,
            2 * capacity,
            5 * capacity + 3,
          ]
        ) {
          const label =
            `capacity ${capacity}, read ${alreadyRead}, then ${ahead} ahead`;
          using rings = new Rings();
          const name = rings.name("lapped");
          const writer = rings.writer(name, { capacity });
          const reader = rings.reader(name, { from: "first" });
          publish(writer, 0, alreadyRead);
          assert.deepEqual(drain(reader), range(0, alreadyRead), label);
          const published = alreadyRead + ahead;
          publish(writer, alreadyRead, ahead);
          assert.equal(reader.lag(), ahead, label);
          assert.equal(reader.hasData(), true, label);
          // Lapped when the slot it needs was overwritten (ahead > capacity):
          // it then continues half a ring behind the producer.
          const lost = ahead > capacity ? published - half - alreadyRead : 0;
          assert.deepEqual(
            drain(reader),
            range(alreadyRead + lost, published),
            label,
          );
          assert.equal(reader.lost, lost, label);
          assert.equal(reader.laps, lost > 0 ? 1 : 0, label);
          assert.equal(reader.received + reader.lost, published, label);
          // Back on track: no further loss.
          publish(writer, published, 10);
          assert.deepEqual(
            drain(reader),
            range(published, published + 10),
            label,
          );
          assert.equal(reader.lost, lost, label);
          assert.equal(reader.received + reader.lost, published + 10, label);
        }
      }
    }
  },
});

ringTest({
  name: "ring: a reader lapped twice counts both laps",
  fn() {
    using rings = new Rings();
    const name = rings.name("twice");
    const writer = rings.writer(name, { capacity: 64 });
    const reader = rings.reader(name, { from: "first" });
    publish(writer, 0, 100);
    assert.deepEqual(drain(reader), range(68, 100));
    publish(writer, 100, 200);
    assert.deepEqual(drain(reader), range(268, 300));
    assert.equal(reader.laps, 2);
    assert.equal(reader.lost, 68 + 168);
    assert.equal(reader.received + reader.lost, 300);
  },
});

// ------------------------------------------------------------ 64-bit positions

ringTest({
  name: "ring: positions stay exact past 2^32",
  fn() {
    using rings = new Rings();
    const start = 2 ** 32 - 100;
    const name = rings.name("pos64");
    const writer = rings.writer(name, { capacity: 512, startPosition: start });
    const reader = rings.reader(name, { from: "first" });
    assert.equal(writer.position, start);
    assert.equal(reader.firstPosition, start);
    assert.equal(reader.startPosition, start);
    assert.equal(reader.writePosition(), start);
    assert.equal(reader.lag(), 0);
    assert.equal(reader.hasData(), false);
    publish(writer, 0, 300);
    assert.equal(writer.position, 2 ** 32 + 200);
    assert.equal(reader.writePosition(), 2 ** 32 + 200);
    assert.equal(reader.lag(), 300);
    assert.equal(
      rings.reader(name, { from: "newest" }).startPosition,
      2 ** 32 + 199,
    );
    assert.equal(rings.reader(name, { from: "oldest" }).startPosition, start);
    assert.deepEqual(drain(reader), range(0, 300));
    assert.equal(reader.position, 2 ** 32 + 200);
    assert.equal(reader.lag(), 0);
    // The header's 64-bit fields, as another implementation would read them.
    const header = new DataView(
      rings.segment(name).buffer,
      0,
      RING_HEADER_SIZE,
    );
    assert.deepEqual(
      [Header.WritePositionLo, Header.WritePositionHi].map((at) =>
        header.getUint32(at, true)
      ),
      [200, 1],
    );
    assert.deepEqual(
      [Header.FirstPositionLo, Header.FirstPositionHi].map((at) =>
        header.getUint32(at, true)
      ),
      [2 ** 32 - 100, 0],
    );

    // Lapped across 2^32.
    const small = rings.name("pos64lap");
    const lapping = rings.writer(small, { capacity: 64, startPosition: start });
    const behind = rings.reader(small, { from: "first" });
    publish(lapping, 0, 300);
    assert.deepEqual(drain(behind), range(268, 300));
    assert.equal(behind.lost, 268);
    assert.equal(behind.position, 2 ** 32 + 200);

    // A first position above 2^32, nothing written yet.
    const high = rings.name("pos64high");
    const above = rings.writer(high, {
      capacity: 64,
      startPosition: 2 ** 32 + 5,
    });
    const waiting = rings.reader(high, { from: "newest" });
    assert.equal(waiting.firstPosition, 2 ** 32 + 5);
    assert.equal(waiting.writePosition(), 2 ** 32 + 5);
    publish(above, 0, 3);
    assert.deepEqual(drain(waiting), [0, 1, 2]);
  },
});

ringTest({
  name: "ring: writeMany across 2^32 updates the header's high position word",
  fn() {
    using rings = new Rings();
    const name = rings.name("many64");
    const writer = rings.writer(name, {
      capacity: 512,
      startPosition: 2 ** 32 - 100,
    });
    writer.writeMany(recordBatch(0, 300), 300);
    assert.equal(writer.position, 2 ** 32 + 200);
    const reader = rings.reader(name, { from: "first" });
    assert.equal(reader.writePosition(), 2 ** 32 + 200);
    assert.deepEqual(drain(reader), range(0, 300));
    const header = new DataView(
      rings.segment(name).buffer,
      0,
      RING_HEADER_SIZE,
    );
    assert.deepEqual(
      {
        lo: header.getUint32(Header.WritePositionLo, true),
        hi: header.getUint32(Header.WritePositionHi, true),
      },
      { lo: 200, hi: 1 },
      "header write position after one writeMany that crossed 2^32",
    );
  },
});

// ------------------------------------------------------------ batches

ringTest({
  name: "ring: writeMany publishes a batch (also one that laps a reader)",
  fn() {
    using rings = new Rings();
    const name = rings.name("many");
    const writer = rings.writer(name, { capacity: 64 });
    const reader = rings.reader(name, { from: "first" });
    const batch = recordBatch(0, 50);
    writer.writeMany(batch, 50);
    writer.writeMany(batch, 0);
    assert.equal(writer.position, 50);
    const target = new Uint8Array(60 * TRADE_RECORD_SIZE);
    assert.equal(reader.readMany(target, 60), 50);
    assert.deepEqual(target.subarray(0, batch.length), batch);
    assert.equal(reader.readMany(target, 60), 0);
    assert.equal(reader.readMany(target, 0), 0);
    // 200 more in one call, into 64 slots: the reader loses all but half a ring.
    writer.writeMany(recordBatch(50, 200), 200);
    assert.deepEqual(drain(reader), range(218, 250));
    assert.equal(reader.lost, 168);
    assert.equal(writer.wakeups, 0);
    assertThrowsWith(
      () => writer.writeMany(recordBatch(0, 2), 3),
      RangeError,
      "Invalid record offset",
    );
    assert.equal(writer.position, 250);
  },
});

ringTest({
  name:
    "ring: fractional batch counts never touch bytes outside the given view",
  fn() {
    using rings = new Rings();
    const name = rings.name("fraction");
    const writer = rings.writer(name, { capacity: 64 });
    const reader = rings.reader(name, { from: "first" });
    // 72 bytes hold one and a half records; the bytes after them are not the caller's to give.
    const source = recordBatch(0, 2);
    assert.throws(
      () => writer.writeMany(source.subarray(0, 72), 1.5),
      RangeError,
    );
    assert.equal(
      writer.position,
      0,
      "writeMany(72-byte view, 1.5) published records",
    );
    writer.writeMany(source, 2);
    const outer = new Uint8Array(2 * TRADE_RECORD_SIZE).fill(0xee);
    assert.throws(
      () => reader.readMany(outer.subarray(0, 72), 1.5),
      RangeError,
    );
    assert.deepEqual(
      outer.subarray(72),
      new Uint8Array(24).fill(0xee),
      "readMany(72-byte view, 1.5) wrote past the end of its view",
    );
  },
});

ringTest({
  name:
    "ring: hasData says whether the next record is there, without consuming it",
  fn() {
    using rings = new Rings();
    const name = rings.name("hasdata");
    const writer = rings.writer(name, { capacity: 64 });
    const reader = rings.reader(name, { from: "first" });
    assert.equal(reader.hasData(), false);
    publish(writer, 0, 1);
    assert.equal(reader.hasData(), true);
    assert.equal(reader.hasData(), true);
    assert.equal(reader.position, 0);
    assert.deepEqual(drain(reader), [0]);
    assert.equal(reader.hasData(), false);
    publish(writer, 1, 100); // laps it: still "something to read"
    assert.equal(reader.hasData(), true);
    assert.equal(reader.lost, 0);
    assert.deepEqual(drain(reader), range(69, 101));
  },
});

// ------------------------------------------------------------ life cycle

ringTest({
  name:
    "ring: close marks the ring closed, wakes and keeps readers, and removes the segment",
  fn() {
    using rings = new Rings();
    const name = rings.name("close");
    const writer = rings.writer(name, { capacity: 64 });
    const reader = rings.reader(name, { from: "first" });
    publish(writer, 0, 3);
    assert.equal(reader.state(), RingState.Open);
    assert.equal(reader.producerStatus(performance.now(), 1000), "alive");
    assert.equal(segmentExists(name), true);
    writer.close();
    writer.close(); // idempotent
    assert.equal(reader.state(), RingState.Closed);
    assert.equal(reader.producerStatus(performance.now(), 1000), "closed");
    assert.equal(segmentExists(name), false);
    assertThrowsWith(() => RingReader.open(name), RingNotFoundError, name);
    // What was written before the close can still be read.
    assert.deepEqual(drain(reader), [0, 1, 2]);
    assertThrowsWith(() => publish(writer, 3, 1), Error, "is closed");
  },
});

ringTest({
  name:
    "ring: a stale segment of a dead producer is replaced, and its readers see it closed",
  fn() {
    using rings = new Rings();
    const name = rings.name("stale");
    craftSegment(name, { pid: IMPOSSIBLE_PID, epoch: 0x1234 });
    const old = rings.reader(name, { from: "first" });
    assert.equal(old.epoch, 0x1234);
    assert.equal(old.producerPid, IMPOSSIBLE_PID);
    assert.equal(old.producerStatus(0, 100), "alive");
    assert.equal(old.producerStatus(1000, 100), "dead");

    const writer = rings.writer(name, { capacity: 128 });
    assert.equal(writer.replaced?.pid, IMPOSSIBLE_PID);
    assert.match(writer.replaced?.reason ?? "", /gone/);
    assert.notEqual(writer.epoch, 0x1234);
    assert.equal(old.state(), RingState.Closed);
    assert.equal(old.producerStatus(2000, 100), "closed");
    assert.equal(segmentExists(name), true);

    const fresh = rings.reader(name, { from: "first" });
    assert.equal(fresh.epoch, writer.epoch);
    assert.equal(fresh.capacity, 128);
    assert.equal(fresh.producerPid, Deno.pid);
    publish(writer, 0, 5);
    assert.deepEqual(drain(fresh), range(0, 5));
    assert.deepEqual(drain(old), [], "the old segment got the new records");
  },
});

ringTest({
  name:
    "ring: replacing says why: closed segment, empty segment, foreign segment, this process's own",
  fn() {
    using rings = new Rings();
    // Closed by a producer that still runs (pid 1 always exists).
    const closed = rings.name("closed");
    craftSegment(closed, { pid: 1, state: RingState.Closed });
    const afterClose = rings.writer(closed).replaced;
    assert.equal(afterClose?.pid, 1);
    assert.match(afterClose?.reason ?? "", /closed by its producer/);

    // Left empty by a producer that died between shm_open and ftruncate.
    const empty = rings.name("empty");
    const fd = libc().shm_open(
      cString(empty),
      O_RDWR | O_CREAT | O_EXCL,
      0o600,
    );
    assert.ok(fd >= 0, `shm_open ${empty} failed`);
    libc().close(fd);
    const beingCreated = assertThrowsWith(
      () => RingReader.open(empty),
      RingNotFoundError,
      "being created",
    );
    assert.equal(beingCreated.reason, "being created");
    const afterEmpty = rings.writer(empty).replaced;
    assert.equal(afterEmpty?.pid, undefined);
    assert.match(afterEmpty?.reason ?? "", /half-created|empty/);

    // Sized but without its magic: the producer died while initialising it.
    const unfinished = rings.name("unfinished");
    craftSegment(unfinished, { magic: 0 });
    const afterUnfinished = rings.writer(unfinished).replaced;
    assert.equal(afterUnfinished?.pid, undefined);
    assert.match(afterUnfinished?.reason ?? "", /half-created|being created/);

    // Not a ring at all.
    const foreign = rings.name("foreign");
    craftSegment(foreign, { garbage: "GARBAGE!" });
    const replaced = rings.writer(foreign).replaced;
    assert.equal(replaced?.pid, undefined);
    assert.match(replaced?.reason ?? "", /magic 0x42524147/);

    // A writer of this process replaced by another one: the old one's close
    // must leave its successor's segment alone.
    const own = rings.name("own");
    const first = rings.writer(own);
    const second = rings.writer(own);
    assert.equal(second.replaced?.pid, Deno.pid);
    assert.notEqual(second.epoch, first.epoch);
    first.close();
    assert.equal(segmentExists(own), true);
    assert.equal(rings.reader(own).epoch, second.epoch);
  },
});

ringTest({
  name:
    "ring: a live producer's segment is refused with RingInUseError and left intact",
  permissions: [RUN_SLEEP],
  async fn() {
    using rings = new Rings();
    const name = rings.name("inuse");
    const producer = new Deno.Command("sleep", {
      args: ["60"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      craftSegment(name, { pid: producer.pid, epoch: 0xabc });
      const error = assertThrowsWith(
        () => RingWriter.create(name),
        RingInUseError,
        name,
        `pid ${producer.pid}`,
      );
      assert.equal(error.pid, producer.pid);
      assert.equal(error.segment, name);
      const intact = rings.reader(name);
      assert.equal(intact.epoch, 0xabc);
      assert.equal(intact.state(), RingState.Open);

      producer.kill("SIGKILL");
      await producer.status;
      assert.equal(rings.writer(name).replaced?.pid, producer.pid);
      assert.equal(intact.state(), RingState.Closed);
    } finally {
      try {
        producer.kill("SIGKILL");
      } catch {
        // already gone
      }
      await producer.status;
    }
  },
});

ringTest({
  name: "ring: segments are owner-only (0600)",
  permissions: [FIND_PERMISSION],
  async fn() {
    using rings = new Rings();
    const name = rings.name("mode");
    rings.writer(name);
    const crafted = rings.name("modecrafted");
    craftSegment(crafted);
    const modes = await shmModes(PREFIX);
    assert.equal(modes.get(name), 0o600);
    assert.equal(modes.get(crafted), 0o600);
  },
});

// ------------------------------------------------------------ losses between batches

ringTest({
  name:
    "ring: readMany stops at a loss (corrupt slot, lap): every loss lies between two batches",
  fn() {
    using rings = new Rings();
    const name = rings.name("stopatloss");
    const writer = rings.writer(name, { capacity: 64 });
    const reader = rings.reader(name, { from: "first", register: false });
    publish(writer, 0, 20);
    const view = new DataView(rings.segment(name).buffer);
    const position = (i: number) => RING_HEADER_SIZE + i * SLOT_SIZE + 8;
    // Slot 5 holds a position that is no lap of it (another process wrote
    // it); slot 12 a later lap of itself (as if the producer lapped there).
    view.setUint32(position(5), 1234567, true);
    view.setUint32(position(12), 12 + 64, true);
    const batch = new Uint8Array(64 * TRADE_RECORD_SIZE);
    const batches: number[][] = [];
    for (
      let n = reader.readMany(batch, 64);
      n > 0;
      n = reader.readMany(batch, 64)
    ) {
      const seqs = range(0, n).map((k) =>
        recordSeq(batch, k * TRADE_RECORD_SIZE)
      );
      batches.push([reader.lost, reader.corrupt, reader.laps, ...seqs]);
    }
    assert.deepEqual(batches, [
      [0, 0, 0, ...range(0, 5)], // stops before the corrupt slot
      [1, 1, 0, ...range(6, 12)], // skipped it first, stops before the lap
      [2, 1, 1, ...range(13, 20)],
    ]);
    // read() goes on past a loss, as before.
    const again = rings.reader(name, { from: "first", register: false });
    assert.deepEqual(drain(again).length, 18);
    assert.equal(again.lost, 2);
  },
});

// ------------------------------------------------------------ reader registry

/** The word index of slot `index`'s owner word. */
function ownerWord(index: number): number {
  return (REGISTRY_OFFSET + index * REGISTRY_SLOT_SIZE) >> 2;
}

ringTest({
  name:
    "ring: readers register in the reader table (a tethered one publishes as it reads) and give their slot back on close",
  fn() {
    using rings = new Rings();
    const name = rings.name("registry");
    const writer = rings.writer(name, { capacity: 64 });
    publish(writer, 0, 10);
    const words = new Int32Array(rings.segment(name).buffer);
    const lossy = rings.reader(name, { from: "oldest" });
    const tethered = rings.reader(name, {
      from: "first",
      delivery: "tethered",
      tetherTimeoutMs: 750,
    });
    const hidden = rings.reader(name, { register: false });
    assert.deepEqual(
      [lossy.registered, tethered.registered, hidden.registered],
      [true, true, false],
    );
    assert.equal(hidden.readerId, undefined);
    const entry = (reader: RingReader) =>
      readEntries(words, writer.position).find((e) => e.id === reader.readerId);
    assert.equal(readEntries(words, writer.position).length, 2);
    assert.equal(writer.readers().length, 2);
    assert.deepEqual(
      [lossy, tethered].map((reader) => {
        const e = entry(reader)!;
        return [e.index, e.state, e.pid, e.position, e.lag, e.tetherTimeoutMs];
      }),
      [
        [lossy.slotIndex, ReaderState.Lossy, Deno.pid, 0, 10, 5000],
        [tethered.slotIndex, ReaderState.Tethered, Deno.pid, 0, 10, 750],
      ],
    );
    assert.ok(ageMs(monotonicMs(), entry(lossy)!.heartbeatMs) < LIVENESS_MS);
    const batch = new Uint8Array(4 * TRADE_RECORD_SIZE);
    assert.equal(tethered.readMany(batch, 4), 4);
    assert.equal(lossy.readMany(batch, 4), 4);
    assert.equal(entry(tethered)!.position, 4, "published after readMany");
    assert.equal(
      entry(lossy)!.position,
      0,
      "a lossy reader publishes when told",
    );
    lossy.publishPosition();
    lossy.beat(12345);
    assert.deepEqual(
      [entry(lossy)!.position, entry(lossy)!.heartbeatMs],
      [4, 12345],
    );
    // Before sleeping: a tethered reader's position, and no heartbeat (the
    // feed's 100 ms check beats; the sleep path writes nothing else).
    const target = new Uint8Array(TRADE_RECORD_SIZE);
    assert.equal(tethered.read(target), true);
    tethered.beat(1);
    tethered.beginSleep();
    tethered.endSleep(false);
    assert.equal(entry(tethered)!.position, 5);
    assert.equal(entry(tethered)!.heartbeatMs, 1);
    const index = tethered.slotIndex!;
    tethered.close();
    assert.equal(entry(tethered), undefined);
    assert.equal(slotState(words, index), ReaderState.Free);
    assert.equal(Atomics.load(words, ownerWord(index)), 0);
    lossy.close();
    assert.deepEqual(readEntries(words, writer.position), []);
  },
});

ringTest({
  name:
    "ring: an evicted tethered reader learns it on its next look, re-tethers half a ring behind and counts the loss as evicted",
  fn() {
    using rings = new Rings();
    const name = rings.name("evicted");
    const writer = rings.writer(name, { capacity: 64 });
    const reader = rings.reader(name, { from: "first", delivery: "tethered" });
    const words = new Int32Array(rings.segment(name).buffer);
    const index = reader.slotIndex!;
    publish(writer, 0, 40);
    const batch = new Uint8Array(10 * TRADE_RECORD_SIZE);
    assert.equal(reader.readMany(batch, 10), 10);
    assert.equal(reader.evicted(), undefined);
    assert.ok(evict(words, index, {
      cause: EvictionCause.Timeout,
      writePosition: 40,
      lag: 30,
    }));
    assert.deepEqual(reader.evicted(), {
      cause: EvictionCause.Timeout,
      evictedAt: 40,
      lag: 30,
      evictions: 1,
    });
    // Evicted, it no longer holds the producer, which laps it.
    publish(writer, 40, 60);
    assert.equal(writer.position, 100);
    assert.equal(reader.retether(), 58); // from 10 to 100 - 64 / 2
    assert.deepEqual(
      [reader.position, reader.lost, reader.evictedLoss],
      [68, 58, 58],
    );
    assert.equal(reader.evicted(), undefined);
    assert.equal(slotState(words, index), ReaderState.Tethered);
    const entry = readEntries(words, 100).find((e) => e.index === index)!;
    assert.equal(entry.position, 68);
    assert.deepEqual(drain(reader), range(68, 100));
    // Evicted again, and lapped before it looks: the lap is the eviction's loss.
    assert.ok(evict(words, index, {
      cause: EvictionCause.BacklogFull,
      writePosition: 100,
      lag: 0,
    }));
    publish(writer, 100, 100);
    assert.deepEqual(drain(reader), range(168, 200));
    assert.deepEqual(
      [reader.lost, reader.evictedLoss, reader.laps],
      [58 + 68, 58 + 68, 1],
    );
    assert.equal(reader.evicted()?.evictions, 2);
    assert.equal(reader.retether(), 0); // already half a ring behind
    assert.equal(slotState(words, index), ReaderState.Tethered);
    // Tethered: re-tethering does nothing (no skip, the same slot).
    const { readerId, lost } = reader;
    publish(writer, 200, 40);
    assert.equal(reader.retether(), 0);
    assert.deepEqual([reader.readerId, reader.lost], [readerId, lost]);
    // A lossy reader is never evicted and never re-tethers.
    const lossy = rings.reader(name);
    assert.equal(lossy.evicted(), undefined);
    assert.equal(lossy.retether(), 0);
  },
});

ringTest({
  name:
    "ring: a tethered reader whose slot the producer freed (taken for dead) claims another when it re-tethers",
  fn() {
    using rings = new Rings();
    const name = rings.name("freed");
    const writer = rings.writer(name, { capacity: 64 });
    const reader = rings.reader(name, { from: "first", delivery: "tethered" });
    const words = new Int32Array(rings.segment(name).buffer);
    const { slotIndex, readerId } = reader;
    assert.ok(evict(words, slotIndex!, {
      cause: EvictionCause.Dead,
      writePosition: 0,
      lag: 0,
    }));
    freeSlot(words, slotIndex!);
    assert.equal(reader.evicted()?.cause, EvictionCause.Dead);
    // Not its slot any more: it writes nothing there.
    reader.beat(777);
    assert.notEqual(Atomics.load(words, ownerWord(slotIndex!)), readerId);
    publish(writer, 0, 5);
    reader.retether();
    assert.equal(reader.registered, true);
    assert.notEqual(reader.readerId, readerId);
    const entries = readEntries(words, writer.position);
    assert.deepEqual(
      entries.map((e) => [e.id, e.state]),
      [[reader.readerId, ReaderState.Tethered]],
    );
  },
});

ringTest({
  name:
    "ring: with every reader slot in use a lossy reader runs unregistered, a tethered one fails with RingReadersFullError",
  fn() {
    using rings = new Rings();
    const name = rings.name("full");
    rings.writer(name, { capacity: 64 });
    const readers = range(0, REGISTRY_SLOTS).map(() => rings.reader(name));
    assert.ok(readers.every((reader) => reader.registered));
    assert.equal(rings.reader(name).registered, false);
    const full = assertThrowsWith(
      () => RingReader.open(name, { delivery: "tethered" }),
      RingReadersFullError,
      `all 64 reader slots of ${name} are in use (deno task rings lists them)`,
    );
    assert.ok(full instanceof RingFormatError);
    const freed = readers[7].slotIndex;
    readers[7].close();
    assert.equal(readers[7].slotIndex, undefined);
    const tethered = rings.reader(name, { delivery: "tethered" });
    assert.equal(tethered.slotIndex, freed);
    for (
      const [options, reason] of [
        [{ delivery: "always" }, `Invalid delivery "always"`],
        [{ tetherTimeoutMs: 0 }, "Invalid tether timeout 0 ms"],
        [{ tetherTimeoutMs: 1.5 }, "Invalid tether timeout 1.5 ms"],
        [{ delivery: "tethered", register: false }, "must register"],
      ] as const
    ) {
      assertThrowsWith(
        () => RingReader.open(name, options as RingReaderOptions),
        RangeError,
        reason,
      );
    }
  },
});

// ------------------------------------------------------------ errors

ringTest({
  name:
    "ring: opening a missing, foreign, other-version or inconsistent segment fails with the reason",
  fn() {
    using rings = new Rings();
    const missing = rings.name("missing");
    const notFound = assertThrowsWith(
      () => RingReader.open(missing),
      RingNotFoundError,
      missing,
      "no such segment",
    );
    assert.equal(notFound.segment, missing);
    assert.equal(notFound.reason, "absent");

    const cases: [string, CraftedSegment, string][] = [
      [
        "garbage",
        { garbage: "GARBAGE!" },
        `magic 0x42524147, expected 0x${
          RING_MAGIC.toString(16)
        } ("MBRG"): not a marketbus ring`,
      ],
      [
        "version",
        { layoutVersion: 1 },
        "layout version 1, expected 2: data_manager is an older marketbus",
      ],
      [
        "version3",
        { layoutVersion: 3 },
        "layout version 3, expected 2: producer and consumer are different",
      ],
      [
        "capacity",
        { capacity: 128, size: segmentSize(64) },
        `${segmentSize(64)} bytes, expected ${segmentSize(128)} for 128 slots`,
      ],
      [
        "badcapacity",
        { capacity: 100, size: segmentSize(64) },
        "Invalid ring capacity 100",
      ],
      [
        "tiny",
        { size: 100 },
        `100 bytes, expected at least the ${RING_HEADER_SIZE}-byte ring header`,
      ],
      [
        "headersize",
        { headerSize: 256 },
        `header size 256, expected ${RING_HEADER_SIZE}`,
      ],
      [
        "registry",
        { registrySlots: 32 },
        `registry slots 32, expected ${REGISTRY_SLOTS}`,
      ],
      ["slotsize", { slotSize: 32 }, "slot size 32, expected 64"],
      ["payload", { payloadSize: 40 }, "payload size 40, expected 48"],
      ["wire", { wireVersion: 9 }, `wire version 9, expected ${WIRE_VERSION}`],
      ["epoch", { epoch: 0 }, "epoch 0, expected non-zero"],
    ];
    for (const [label, fields, reason] of cases) {
      const name = rings.name(label);
      craftSegment(name, fields);
      const error = assertThrowsWith(
        () => RingReader.open(name),
        RingFormatError,
        name,
        reason,
      );
      assert.equal(error.segment, name);
    }

    const unfinished = rings.name("nomagic");
    craftSegment(unfinished, { magic: 0 });
    const noMagic = assertThrowsWith(
      () => RingReader.open(unfinished),
      RingNotFoundError,
      "being created",
    );
    assert.equal(noMagic.reason, "being created");
  },
});

ringTest({
  name:
    "ring: invalid segment names are refused with RangeError, before any OS call",
  fn() {
    using rings = new Rings();
    const bad = [
      "no-slash",
      "/a/b",
      "",
      "/",
      `/${"a".repeat(255)}`,
      "/sp ace",
      "/é",
    ];
    for (const name of bad) {
      const calls: [string, () => unknown][] = [
        ["RingWriter.create", () => RingWriter.create(name)],
        ["RingReader.open", () => RingReader.open(name)],
        ["createSegment", () => createSegment(name, 4096)],
        ["openSegment", () => openSegment(name)],
        ["unlinkSegment", () => unlinkSegment(name)],
      ];
      for (const [what, call] of calls) {
        assert.throws(call, RangeError, `${what}(${JSON.stringify(name)})`);
      }
    }
    // The longest valid name: "/" and 254 characters.
    const longest = rings.name("long");
    const padded = longest + "x".repeat(255 - longest.length);
    assert.equal(padded.length, 255);
    try {
      const writer = RingWriter.create(padded);
      assert.equal(writer.name, padded);
      const reader = RingReader.open(padded);
      assert.equal(reader.epoch, writer.epoch);
      reader.close();
      writer.close();
    } finally {
      unlinkSegment(padded);
    }
  },
});

ringTest({
  name:
    "ring: segmentName builds {prefix}{exchange}_{SYMBOL} and checks the result",
  fn() {
    assert.equal(
      segmentName("/marketbus_", "Binance", "btcusdt"),
      "/marketbus_binance_BTCUSDT",
    );
    assert.equal(segmentName("/", "x", "y"), "/x_Y");
    assert.equal(
      segmentPath("/marketbus_binance_BTCUSDT"),
      "/dev/shm/marketbus_binance_BTCUSDT",
    );
    const longest = `/${"p".repeat(200)}`;
    assert.equal(segmentName(longest, "binance", "S".repeat(46)).length, 255);
    const refused: [string, string, string, string][] = [
      [
        "marketbus_",
        "binance",
        "BTCUSDT",
        `Invalid segment name "marketbus_binance_BTCUSDT"`,
      ],
      [
        "/a/b_",
        "binance",
        "BTCUSDT",
        `Invalid segment name "/a/b_binance_BTCUSDT"`,
      ],
      [
        "/m_",
        "binance",
        "BTC/USDT",
        `Invalid segment name "/m_binance_BTC/USDT"`,
      ],
      ["/m_", "binance", "BTC+USDT", "Invalid segment name"],
      [longest, "binance", "S".repeat(47), "Invalid segment name"],
      ["/m_", "bin.ance", "BTCUSDT", "Invalid exchange"],
      ["/m_", "binance", "", "Invalid symbol"],
      ["/m_", "binance", "BTC USDT", "Invalid symbol"],
    ];
    for (const [prefix, exchange, symbol, message] of refused) {
      assertThrowsWith(
        () => segmentName(prefix, exchange, symbol),
        RangeError,
        message,
      );
    }
  },
});

ringTest({
  name:
    "ring: bad capacities, heartbeat intervals and start positions are RangeErrors and create nothing",
  fn() {
    using rings = new Rings();
    const name = rings.name("options");
    assert.equal(checkCapacity(MIN_CAPACITY), MIN_CAPACITY);
    assert.equal(checkCapacity(MAX_CAPACITY), MAX_CAPACITY);
    const refused: [RingWriterOptions, string][] = [];
    for (
      const capacity of [
        0,
        32,
        63,
        65,
        100,
        96,
        1.5,
        -64,
        NaN,
        Infinity,
        MAX_CAPACITY * 2,
      ]
    ) {
      assertThrowsWith(
        () => checkCapacity(capacity),
        RangeError,
        `Invalid ring capacity ${capacity}`,
      );
      refused.push([{ capacity }, "Invalid ring capacity"]);
    }
    for (const heartbeatIntervalMs of [0, 0.5, 60_001, -1, NaN]) {
      refused.push([{ heartbeatIntervalMs }, "Invalid heartbeat interval"]);
    }
    for (const startPosition of [-1, 1.5, 2 ** 53, NaN]) {
      refused.push([{ startPosition }, "Invalid start position"]);
    }
    for (const [options, message] of refused) {
      assertThrowsWith(
        () => RingWriter.create(name, options),
        RangeError,
        message,
      );
      assertThrowsWith(
        () => RingReader.open(name),
        RingNotFoundError,
        "no such segment",
      );
    }
  },
});

ringTest({
  name:
    "ring: misaligned offsets and short buffers are RangeErrors, other arrays TypeErrors",
  fn() {
    using rings = new Rings();
    const name = rings.name("align");
    const writer = rings.writer(name, { capacity: 64 });
    const reader = rings.reader(name, { from: "first" });
    const record = recordBatch(0, 1);
    const roomy = new Uint8Array(4 * TRADE_RECORD_SIZE);
    for (
      const [what, call] of [
        ["offset 2", () => writer.write(roomy, 2)],
        ["offset -4", () => writer.write(roomy, -4)],
        ["offset NaN", () => writer.write(roomy, NaN)],
        ["array at byte 2", () => writer.write(roomy.subarray(2), 0)],
        ["47 bytes", () => writer.write(new Uint8Array(47))],
        ["offset 4 of 48 bytes", () => writer.write(record, 4)],
        ["writeMany 2 from 1", () => writer.writeMany(record, 2)],
        ["writeMany at byte 2", () => writer.writeMany(roomy.subarray(2), 1)],
      ] as const
    ) {
      assertThrowsWith(call, RangeError, "Invalid record offset");
      assert.equal(writer.position, 0, what);
    }
    for (
      const notBytes of [
        new Uint16Array(24),
        new Int32Array(12),
        Array(48).fill(0),
      ]
    ) {
      assertThrowsWith(
        () => writer.write(notBytes as unknown as Uint8Array),
        TypeError,
        "expected a Uint8Array",
      );
    }
    writer.write(record);
    for (
      const [what, call] of [
        ["offset 1", () => reader.read(roomy, 1)],
        ["array at byte 6", () => reader.read(roomy.subarray(6))],
        ["47 bytes", () => reader.read(new Uint8Array(47))],
        [
          "readMany 2 into 1",
          () => reader.readMany(new Uint8Array(TRADE_RECORD_SIZE), 2),
        ],
      ] as const
    ) {
      assertThrowsWith(call, RangeError, "Invalid record offset");
      assert.equal(reader.position, 0, what);
    }
    assertThrowsWith(
      () => reader.read(new Float64Array(6) as unknown as Uint8Array),
      TypeError,
      "expected a Uint8Array",
    );
    assert.deepEqual(drain(reader), [0]);
  },
});

// ------------------------------------------------------------ waiting

ringTest({
  name: "ring: wait strategies and timings are validated",
  fn() {
    assert.deepEqual(WAIT_STRATEGIES, ["spin", "backoff", "yield"]);
    for (const strategy of WAIT_STRATEGIES) {
      assert.equal(new RingWaiter(strategy).strategy, strategy);
    }
    for (const strategy of ["sleep", "", "Spin"]) {
      assertThrowsWith(
        () => new RingWaiter(strategy as WaitStrategy),
        RangeError,
        `Invalid wait strategy "${strategy}"`,
      );
    }
    for (
      const options of [{ spinMs: -1 }, { spinMs: NaN }, { maxSleepMs: 0 }, {
        maxSleepMs: -5,
      }, { maxSleepMs: NaN }]
    ) {
      assertThrowsWith(
        () => new RingWaiter("backoff", options),
        RangeError,
        "Invalid wait timing",
      );
    }
    const waiter = new RingWaiter("backoff", { spinMs: 0, maxSleepMs: 1 });
    assert.equal(waiter.sleeps, 0);
  },
});

ringTest({
  name:
    "ring: a maxSleepMs the waiter accepts is one it can sleep for (Infinity)",
  async fn() {
    using rings = new Rings();
    const name = rings.name("infinite");
    const writer = rings.writer(name, { capacity: 64 });
    const reader = rings.reader(name, { from: "first" });
    let accepted = true;
    try {
      new RingWaiter("backoff", { maxSleepMs: Infinity });
    } catch (error) {
      assert.ok(error instanceof RangeError, String(error));
      accepted = false;
    }
    if (!accepted) return; // refusing it up front is fine too
    const outcome = await sleepUntilWritten(
      [reader],
      [writer],
      () => publish(writer, 0, 1),
      { maxSleepMs: Infinity },
    ).then(() => "woken", (error: Error) => `sleep failed: ${error}`);
    assert.equal(outcome, "woken");
  },
});

ringTest({
  name:
    "ring: backoff sleeps until a write wakes it; the writer pays a wake-up only for a sleeper",
  async fn() {
    using rings = new Rings();
    const name = rings.name("wake");
    const writer = rings.writer(name, { capacity: 64 });
    const reader = rings.reader(name, { from: "first" });
    publish(writer, 0, 3);
    assert.equal(writer.wakeups, 0, "nobody sleeps yet");
    assert.deepEqual(drain(reader), [0, 1, 2]);
    const seen = await sleepUntilWritten(
      [reader],
      [writer],
      () => publish(writer, 3, 1),
    );
    assert.equal(seen.woke, true, `not woken within ${LIVENESS_MS} ms`);
    assert.deepEqual(seen.sleepersAtWrite, [1]);
    assert.ok(seen.sleeps >= 1);
    assert.equal(writer.wakeups, 1);
    assert.equal(writer.sleepers, 0);
    assert.equal(reader.position, 4);
    publish(writer, 4, 5);
    assert.equal(writer.wakeups, 1, "woke nobody, yet paid for it");
    assert.deepEqual(drain(reader), range(4, 9));
  },
});

ringTest({
  name: "ring: backoff over several rings wakes on a write to any of them",
  async fn() {
    using rings = new Rings();
    const names = [rings.name("multi1"), rings.name("multi2")];
    const writers = names.map((name) => rings.writer(name, { capacity: 64 }));
    const readers = names.map((name) => rings.reader(name, { from: "first" }));
    const seen = await sleepUntilWritten(
      readers,
      writers,
      () => publish(writers[1], 0, 1),
    );
    assert.equal(seen.woke, true, `not woken within ${LIVENESS_MS} ms`);
    assert.deepEqual(seen.sleepersAtWrite, [1, 1]);
    assert.deepEqual(readers.map((reader) => reader.received), [0, 1]);
    assert.deepEqual(writers.map((writer) => writer.wakeups), [0, 1]);
    assert.deepEqual(writers.map((writer) => writer.sleepers), [0, 0]);
  },
});

ringTest({
  name:
    "ring: backoff does not sleep while spinning, with data waiting, or on a closed ring",
  async fn() {
    using rings = new Rings();
    const name = rings.name("nosleep");
    const writer = rings.writer(name, { capacity: 64 });
    const reader = rings.reader(name, { from: "first" });
    const spinning = new RingWaiter("backoff", { spinMs: 60_000 });
    assert.equal(spinning.idle([reader]), undefined);
    assert.equal(writer.sleepers, 0);
    publish(writer, 0, 1);
    const eager = new RingWaiter("backoff", { spinMs: 0, maxSleepMs: 30_000 });
    assert.equal(
      eager.idle([reader]),
      undefined,
      "slept with a record waiting",
    );
    assert.equal(eager.sleeps, 0);
    assert.equal(writer.sleepers, 0);
    assert.equal(await nextRecord(reader, eager), 0);
    writer.close();
    assert.equal(eager.idle([reader]), undefined, "slept on a closed ring");
    assert.equal(eager.sleeps, 0);
  },
});

ringTest({
  name: "ring: interrupt ends a sleep promptly, however soon after it started",
  async fn() {
    using rings = new Rings();
    const name = rings.name("interrupt");
    const writer = rings.writer(name, { capacity: 64 });
    const reader = rings.reader(name, { from: "first" });
    const waiter = new RingWaiter("backoff", { spinMs: 0, maxSleepMs: 30_000 });
    await waiter.interrupt([reader]); // nothing to interrupt
    for (let attempt = 1; attempt <= 200; attempt++) {
      const sleep = waiter.idle([reader]);
      assert.ok(sleep instanceof Promise, `attempt ${attempt} did not sleep`);
      const interrupted = waiter.interrupt([reader]);
      const prompt = await settlesWithin(interrupted, LIVENESS_MS);
      if (!prompt) {
        publish(writer, 0, 1); // release the sleeper before failing
        await interrupted;
      }
      assert.ok(
        prompt,
        `attempt ${attempt}: interrupt() did not end the sleep within ${LIVENESS_MS} ms`,
      );
      await sleep;
      assert.equal(writer.sleepers, 0);
    }
  },
});

ringTest({
  name:
    "ring: spin and yield never sleep; both let the event loop run at most every 64 polls",
  async fn() {
    using rings = new Rings();
    const name = rings.name("spin");
    const writer = rings.writer(name, { capacity: 64 });
    const reader = rings.reader(name, { from: "first" });
    const yielding = new RingWaiter("yield");
    for (let poll = 1; poll < 64; poll++) {
      assert.equal(yielding.idle([reader]), undefined, `poll ${poll}`);
    }
    const turn = yielding.idle([reader]);
    assert.ok(
      turn instanceof Promise,
      "poll 64 did not yield to the event loop",
    );
    await turn;
    // spin reads the clock every 64th empty poll only: its first look at
    // the clock (more than a millisecond since it last yielded) yields.
    const spinning = new RingWaiter("spin");
    for (let poll = 1; poll < 64; poll++) {
      assert.equal(spinning.idle([reader]), undefined, `spin poll ${poll}`);
    }
    assert.ok(
      spinning.idle([reader]) instanceof Promise,
      "spin's poll 64 did not yield to the event loop",
    );
    for (let poll = 0; poll < 1000; poll++) {
      const wait = spinning.idle([reader]);
      if (wait !== undefined) await wait;
    }
    assert.deepEqual([yielding.sleeps, spinning.sleeps, writer.sleepers], [
      0,
      0,
      0,
    ]);
  },
});

// ------------------------------------------------------------ producer status

ringTest({
  name:
    "ring: producerStatus: alive while the heartbeat moves, else stalled or dead; closed",
  async fn() {
    using rings = new Rings();
    const name = rings.name("status");
    const writer = rings.writer(name, { capacity: 64, heartbeatIntervalMs: 1 });
    const reader = rings.reader(name);
    assert.equal(reader.heartbeatIntervalMs, 1);
    // Within one synchronous run the heartbeat timer cannot fire.
    assert.equal(reader.producerStatus(0, 100), "alive");
    assert.equal(reader.producerStatus(99, 100), "alive");
    assert.equal(reader.producerStatus(1000, 100), "stalled");
    assert.equal(reader.silentFor(1000), 1000);
    // Once the heartbeat moved, the producer is alive again.
    let now = 1000;
    const deadline = performance.now() + LIVENESS_MS;
    let status = "stalled";
    while (status !== "alive" && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      now += 1000;
      status = reader.producerStatus(now, 100);
    }
    assert.equal(status, "alive", "the heartbeat never moved");
    writer.close();
    assert.equal(reader.producerStatus(now + 1e6, 100), "closed");

    const dead = rings.name("deadstatus");
    craftSegment(dead, { pid: IMPOSSIBLE_PID });
    const orphan = rings.reader(dead);
    assert.equal(orphan.producerStatus(0, 100), "alive");
    assert.equal(orphan.producerStatus(100, 100), "dead");
  },
});

// ------------------------------------------------------------ segments, clocks

ringTest({
  name:
    "ring: createSegment leaves no name behind when a step after shm_open fails",
  fn() {
    using rings = new Rings();
    const name = rings.name("mapfail");
    // Size 0: posix_fallocate (as mmap after it would) refuses it, EINVAL.
    assertThrowsWith(
      () => createSegment(name, 0),
      OsError,
      "posix_fallocate",
      "(errno 22)",
    );
    assert.equal(
      unlinkSegment(name),
      false,
      `createSegment left ${name} behind`,
    );
  },
});

ringTest({
  name: "ring: unlinkSegment says whether the segment existed",
  fn() {
    using rings = new Rings();
    const name = rings.name("unlink");
    assert.equal(unlinkSegment(name), false);
    craftSegment(name);
    assert.equal(unlinkSegment(name), true);
    assert.equal(unlinkSegment(name), false);
  },
});

ringTest({
  name:
    "ring: the clocks read the wall clock and a non-decreasing monotonic clock",
  fn() {
    const wall = readWallClock({ seconds: 0, nanos: 0 });
    assert.ok(Number.isInteger(wall.seconds) && Number.isInteger(wall.nanos));
    assert.ok(wall.nanos >= 0 && wall.nanos < 1e9);
    // Loose bound: the two clocks are the same clock read twice.
    assert.ok(
      Math.abs(wall.seconds * 1000 + wall.nanos / 1e6 - Date.now()) < 60_000,
    );
    let last = monotonicNanos();
    for (let k = 0; k < 1000; k++) {
      const now = monotonicNanos();
      assert.ok(
        now >= last,
        `monotonic clock went back from ${last} to ${now}`,
      );
      last = now;
    }
  },
});

gatedTest({
  name: "ring: the tests leave no segment behind in /dev/shm",
  permissions: [FIND_PERMISSION],
  async fn() {
    assert.deepEqual([...(await shmModes(PREFIX)).keys()], []);
  },
});
