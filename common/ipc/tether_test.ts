// In-process tests of the producer's tethered gate (a RingWriter and readers
// over the same real segment): the writer never overwrites what a tethered
// reader has not read, lossy readers never hold it, evictions (timeout,
// dead reader, backlog full), the backlog and room(), writeMany split at the
// limit, and a registration during a burst (a Worker: tests/ipc/
// tether_reader.ts). Readers register with the registry functions and read
// with a RingReader that does not register itself, so that the test
// controls their slot (a dead pid, a stale heartbeat). RingPublisher:
// ring_publisher_tether_test.ts. Needs unscoped --allow-ffi; skipped
// without it.

import assert from "node:assert/strict";
import { RingReader } from "./ring_reader.ts";
import {
  type ReaderEvictionInfo,
  RingWriter,
  type RingWriterOptions,
} from "./ring_writer.ts";
import {
  openSegment,
  type Segment,
  unlinkSegment,
  unmapSegment,
} from "./segment.ts";
import {
  claimSlot,
  evictionOf,
  monotonicMs,
  type Policy,
  type Registration,
  releaseSlot,
  slotState,
  storePosition,
  tetherWakeWordOf,
  wakeGatedWriter,
} from "./_registry.ts";
import {
  EvictionCause,
  Header,
  ReaderSlot,
  ReaderState,
  REGISTRY_OFFSET,
  REGISTRY_SLOT_SIZE,
} from "./layout.ts";
import type { TetherReaderReport } from "../../tests/ipc/tether_reader.ts";
import { yieldToEventLoop } from "../runtime/delay.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import {
  range,
  recordBatch,
  recordMismatch,
  ringTest,
  settlesWithin,
  testSegmentPrefix,
} from "../../tests/_ring_helpers.ts";

const PREFIX = testSegmentPrefix();
/** Above the kernel's pid_max (at most 2^22): no process has it. */
const NO_SUCH_PID = 0x7fff_fffe;
/** Generous bound for things that should happen within milliseconds. */
const LIVENESS_MS = 10_000;
let rings = 0;

/** Resolves after `ms` (a timer: the drain's futex wait and other tasks run). */
function tick(ms = 1): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A registered reader: a registry slot claimed by hand, read through a RingReader that does not register. */
class TestReader {
  readonly reader: RingReader;
  readonly registration: Registration;
  readonly segment: Segment;
  readonly words: Int32Array;
  #hi = -1;

  constructor(name: string, policy: Policy, tetherTimeoutMs = 60_000) {
    this.reader = RingReader.open(name, { from: "first", register: false });
    this.segment = openSegment(name);
    this.words = new Int32Array(this.segment.buffer);
    const registration = claimSlot(this.words, {
      policy,
      position: this.reader.position,
      tetherTimeoutMs,
    });
    assert.ok(registration, "no free reader slot");
    this.registration = registration;
  }

  /** Reads up to `max` trades, checking each is the one written there; returns their numbers (positions from the first). */
  read(max = Infinity): number[] {
    const target = new Uint8Array(TRADE_RECORD_SIZE);
    const got: number[] = [];
    while (got.length < max && this.reader.read(target)) {
      const k = this.reader.position - 1 - this.reader.firstPosition;
      assert.equal(recordMismatch(target, 0, k), undefined);
      got.push(k);
    }
    return got;
  }

  /** Publishes the reader's position and wakes a gated writer. */
  publish(): void {
    const { index } = this.registration;
    this.#hi = storePosition(this.words, index, this.reader.position, this.#hi);
    wakeGatedWriter(this.words, tetherWakeWordOf(this.segment));
  }

  /** Word `field` (a ReaderSlot byte offset) of its slot. */
  field(field: number): number {
    const slot = REGISTRY_OFFSET + this.registration.index * REGISTRY_SLOT_SIZE;
    return (slot + field) >> 2;
  }

  /** Its process looks gone: a pid nobody has, a heartbeat 5 s old. */
  die(): void {
    Atomics.store(this.words, this.field(ReaderSlot.Pid), NO_SUCH_PID);
    Atomics.store(
      this.words,
      this.field(ReaderSlot.HeartbeatMs),
      (monotonicMs() - 5000) >>> 0,
    );
  }

  /** Its slot's state. */
  state(): number {
    return slotState(this.words, this.registration.index);
  }

  /** Releases the slot, closes the reader, unmaps. */
  close(): void {
    releaseSlot(this.words, this.registration);
    this.reader.close();
    unmapSegment(this.segment);
  }
}

/** Writers and readers of one test, closed (and the segments removed) at its end. */
class Scope implements Disposable {
  #cleanups: (() => void)[] = [];
  /** Every eviction of the writers, in order. */
  evictions: ReaderEvictionInfo[] = [];

  /** A writer of capacity 64 (unless told) whose evictions are kept, closed and removed at the end. */
  writer(label: string, options: RingWriterOptions = {}): RingWriter {
    const name = `${PREFIX}${++rings}_${label}`;
    this.#cleanups.push(() => unlinkSegment(name));
    const writer = RingWriter.create(name, {
      capacity: 64,
      onEvict: (info) => this.evictions.push(info),
      ...options,
    });
    this.#cleanups.push(() => writer.close());
    return writer;
  }

  /** A registered {@linkcode TestReader}, closed at the end. */
  reader(name: string, policy: Policy, tetherTimeoutMs?: number): TestReader {
    const reader = new TestReader(name, policy, tetherTimeoutMs);
    this.#cleanups.push(() => reader.close());
    return reader;
  }

  /** Runs `cleanup` at the end. */
  defer(cleanup: () => void): void {
    this.#cleanups.push(cleanup);
  }

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

/** Writes trades `first` to `first + count - 1` in batches of `batch`; returns how many went straight into the ring. */
function writeTrades(
  writer: RingWriter,
  first: number,
  count: number,
  batch = 16,
): number {
  let direct = 0;
  for (let i = first; i < first + count; i += batch) {
    const n = Math.min(batch, first + count - i);
    direct += writer.writeMany(recordBatch(i, n), n);
  }
  return direct;
}

/** Reads `total` trades, `step` at a time, publishing and letting the writer's drain run in between. */
async function readSlowly(
  reader: TestReader,
  total: number,
  step: number,
): Promise<number[]> {
  const got: number[] = [];
  const until = performance.now() + LIVENESS_MS;
  while (got.length < total && performance.now() < until) {
    got.push(...reader.read(step));
    reader.publish();
    await tick();
  }
  return got;
}

/** The worker's modules are read as files: the project's folders. */
const WORKER_READ: Deno.PermissionDescriptor = {
  name: "read",
  path: decodeURIComponent(new URL("../../", import.meta.url).pathname),
};

ringTest({
  name:
    "tether: the writer never overwrites a slot a tethered reader has not read",
  async fn() {
    using scope = new Scope();
    const writer = scope.writer("never");
    const reader = scope.reader(writer.name, "tethered");
    const total = 3 * writer.capacity;
    const got: number[] = [];
    for (let i = 0; i < total; i += 16) {
      writeTrades(writer, i, 16);
      got.push(...reader.read(5));
      reader.publish();
      await tick(0);
    }
    assert.ok(writer.room() !== undefined, "the writer was never held");
    got.push(...await readSlowly(reader, total - got.length, 7));
    assert.deepEqual(got, range(0, total));
    assert.equal(reader.reader.lost, 0);
    assert.equal(writer.position, total);
    assert.ok(await settlesWithin(writer.room() ?? Promise.resolve(), 1000));
    assert.equal(writer.tetherStats().backlog, 0);
    assert.ok(writer.tetherStats().stalledMs > 0);
    assert.deepEqual(scope.evictions, []);
  },
});

ringTest({
  name: "tether: positions just below and past 2^32 are gated exactly",
  async fn() {
    using scope = new Scope();
    const start = 2 ** 32 - 100;
    const writer = scope.writer("wrap", { startPosition: start });
    const reader = scope.reader(writer.name, "tethered");
    writeTrades(writer, 0, 300, 50);
    assert.equal(writer.position, start + writer.capacity);
    const got = await readSlowly(reader, 300, 9);
    assert.deepEqual(got, range(0, 300));
    assert.equal(reader.reader.lost, 0);
    assert.equal(writer.position, start + 300);
  },
});

ringTest({
  name: "tether: a lossy registered reader never holds the writer",
  fn() {
    using scope = new Scope();
    const writer = scope.writer("lossy");
    const reader = scope.reader(writer.name, "lossy");
    const total = 3 * writer.capacity;
    for (let i = 0; i < total; i++) {
      assert.equal(writer.write(recordBatch(i, 1)), 1);
    }
    assert.equal(writer.room(), undefined);
    assert.equal(writer.position, total);
    reader.read();
    assert.ok(reader.reader.lost > 0, "the lossy reader was not lapped");
    assert.equal(writer.tetherStats().tethered, 0);
  },
});

ringTest({
  name:
    "tether: writeMany splits at the limit, positions exact, the rest drained in order",
  async fn() {
    using scope = new Scope();
    const writer = scope.writer("split");
    const reader = scope.reader(writer.name, "tethered");
    assert.equal(writer.writeMany(recordBatch(0, 100), 100), 64);
    assert.equal(writer.position, 64);
    assert.equal(writer.tetherStats().backlog, 36);
    const room = writer.room();
    assert.ok(room);
    assert.deepEqual(reader.read(10), range(0, 10));
    reader.publish();
    // The drain writes exactly the 10 slots the reader freed.
    const until = performance.now() + LIVENESS_MS;
    while (writer.position < 74 && performance.now() < until) await tick();
    assert.equal(writer.position, 74);
    assert.equal(writer.tetherStats().backlog, 26);
    // Later writes queue behind the backlog, in order.
    assert.equal(writer.write(recordBatch(100, 1)), 0);
    assert.equal(writer.writeMany(recordBatch(101, 9), 9), 0);
    const rest = await readSlowly(reader, 100, 13);
    assert.ok(await settlesWithin(room, LIVENESS_MS));
    assert.deepEqual(rest, range(10, 110));
    assert.equal(writer.room(), undefined);
    assert.equal(writer.position, 110);
    // Room again: straight into the ring.
    assert.equal(writer.writeMany(recordBatch(110, 20), 20), 20);
  },
});

ringTest({
  name:
    "tether: a reader holding the writer past its timeout is evicted and counted",
  async fn() {
    using scope = new Scope();
    const writer = scope.writer("timeout");
    const reader = scope.reader(writer.name, "tethered", 50);
    const started = performance.now();
    assert.equal(writeTrades(writer, 0, 80), 64);
    const room = writer.room();
    assert.ok(room);
    assert.ok(await settlesWithin(room, LIVENESS_MS));
    const waited = performance.now() - started;
    assert.ok(waited >= 45, `evicted after ${waited} ms, before its 50 ms`);
    assert.equal(writer.position, 80);
    assert.equal(reader.state(), ReaderState.Evicted);
    const eviction = evictionOf(reader.words, reader.registration.index);
    assert.equal(eviction.cause, EvictionCause.Timeout);
    assert.equal(eviction.lag, 64);
    assert.equal(eviction.evictedAt, 64);
    assert.equal(eviction.evictions, 1);
    assert.deepEqual(writer.tetherStats().evictions, {
      timeout: 1,
      dead: 0,
      backlogFull: 0,
    });
    assert.equal(Atomics.load(reader.words, Header.Evictions >> 2), 1);
    assert.equal(scope.evictions.length, 1);
    const [info] = scope.evictions;
    assert.equal(info.readerId, reader.registration.id >>> 0);
    assert.equal(info.pid, Deno.pid);
    assert.equal(info.cause, EvictionCause.Timeout);
    assert.ok(info.waitedMs >= 45);
    // Evicted: lapped like a lossy reader, counted.
    const got = reader.read();
    assert.ok(reader.reader.lost >= 16);
    assert.equal(got.length + reader.reader.lost, 80);
    const stalled = new DataView(reader.segment.buffer)
      .getFloat64(Header.StalledMs, true);
    assert.ok(stalled >= 45, `stalled_ms ${stalled}`);
  },
});

ringTest({
  name: "tether: the writer's cap bounds a reader's own timeout",
  async fn() {
    using scope = new Scope();
    const writer = scope.writer("cap", { maxTetherTimeoutMs: 30 });
    scope.reader(writer.name, "tethered", 60_000);
    writeTrades(writer, 0, 70);
    assert.ok(
      await settlesWithin(writer.room()!, 5000),
      "not evicted at the cap",
    );
    assert.equal(writer.tetherStats().evictions.timeout, 1);
  },
});

ringTest({
  name: "tether: a dead tethered reader is evicted at once and its slot freed",
  fn() {
    using scope = new Scope();
    const writer = scope.writer("dead");
    const reader = scope.reader(writer.name, "tethered");
    reader.die();
    // Past the limit: the scan finds the holder dead, never waits.
    assert.equal(writeTrades(writer, 0, 100), 100);
    assert.equal(writer.room(), undefined);
    assert.equal(reader.state(), ReaderState.Free);
    assert.equal(scope.evictions.length, 1);
    assert.equal(scope.evictions[0].cause, EvictionCause.Dead);
    assert.equal(scope.evictions[0].pid, NO_SUCH_PID);
    assert.equal(writer.tetherStats().evictions.dead, 1);
  },
});

ringTest({
  name:
    "tether: the writer's heartbeat frees dead readers' slots whatever their policy, and leaves live ones",
  async fn() {
    using scope = new Scope();
    const writer = scope.writer("reap", { heartbeatIntervalMs: 5 });
    const lossy = scope.reader(writer.name, "lossy");
    const tethered = scope.reader(writer.name, "tethered");
    const alive = scope.reader(writer.name, "lossy");
    lossy.die();
    tethered.die();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(lossy.state(), ReaderState.Free);
    assert.equal(tethered.state(), ReaderState.Free);
    assert.equal(alive.state(), ReaderState.Lossy);
    assert.deepEqual(writer.readers().map((r) => r.state), [ReaderState.Lossy]);
    assert.equal(writer.tetherStats().evictions.dead, 1);
  },
});

ringTest({
  name: "tether: a full backlog evicts the holder rather than drop trades",
  async fn() {
    using scope = new Scope();
    const writer = scope.writer("full", { backlog: 16 });
    const reader = scope.reader(writer.name, "tethered");
    assert.equal(writeTrades(writer, 0, 80), 64); // 16 queued: full
    assert.equal(writer.tetherStats().backlog, 16);
    // Evicts the holder, writes the backlog, queues this one behind it.
    assert.equal(writer.write(recordBatch(80, 1)), 0);
    assert.equal(writer.position, 80);
    assert.equal(reader.state(), ReaderState.Evicted);
    assert.equal(scope.evictions.length, 1);
    assert.equal(scope.evictions[0].cause, EvictionCause.BacklogFull);
    assert.equal(scope.evictions[0].backlog, 16);
    assert.equal(scope.evictions[0].lag, 64);
    assert.ok(await settlesWithin(writer.room()!, LIVENESS_MS));
    assert.equal(writer.position, 81);
    assert.equal(writer.tetherStats().backlog, 0);
    assert.equal(writer.tetherStats().dropped, 0);
    assert.deepEqual(writer.tetherStats().evictions, {
      timeout: 0,
      dead: 0,
      backlogFull: 1,
    });
  },
});

ringTest({
  name: "tether: close drops what is still queued, counted",
  async fn() {
    using scope = new Scope();
    const writer = scope.writer("close");
    scope.reader(writer.name, "tethered");
    writeTrades(writer, 0, 100);
    const room = writer.room();
    assert.ok(room);
    await tick(20); // the drain sleeps
    writer.close();
    assert.ok(await settlesWithin(room, 1000), "close left the drain pending");
    assert.equal(writer.tetherStats().dropped, 36);
    assert.equal(writer.tetherStats().backlog, 0);
    assert.equal(writer.room(), undefined);
    assert.deepEqual(writer.readers(), []);
    assert.throws(() => writer.write(recordBatch(0, 1)), /closed/);
  },
});

ringTest({
  name:
    "tether: a registration during a writeMany burst loses nothing from its W on (Worker)",
  permissions: [WORKER_READ],
  async fn() {
    using scope = new Scope();
    const writer = scope.writer("burst");
    const worker = new Worker(
      new URL("../../tests/ipc/tether_reader.ts", import.meta.url),
      { type: "module" },
    );
    scope.defer(() => worker.terminate());
    const report = new Promise<TetherReaderReport>((resolve, reject) => {
      worker.onmessage = (event) => resolve(event.data);
      worker.onerror = (event) => {
        event.preventDefault();
        reject(new Error(`worker: ${event.message}`));
      };
    });
    let done = false;
    report.then(() => done = true, () => done = true);
    worker.postMessage({ name: writer.name, cycles: 100, perCycle: 1000 });
    const until = performance.now() + 60_000;
    let batches = 0;
    while (!done && performance.now() < until) {
      const n = 1 + (batches % 300);
      writer.writeMany(
        recordBatch(writer.position + writer.tetherStats().backlog, n),
        n,
      );
      const room = writer.room();
      if (room !== undefined) await room;
      else if (++batches % 16 === 0) await yieldToEventLoop();
    }
    const result = await report;
    assert.equal(result.cycles, 100);
    assert.deepEqual(result.overwritten, []);
    assert.deepEqual(result.mismatches, []);
    assert.ok(writer.tetherStats().stalledMs > 0, "never held: no test");
    assert.deepEqual(scope.evictions, []);
  },
});
