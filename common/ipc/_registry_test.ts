// The reader registry on real segments: claim, release, reclaim of a dead
// reader, exhaustion, eviction and re-tether, positions read while a reader
// stores them, and claims racing from several threads (this file is also
// the module of those Worker threads).

import assert from "node:assert/strict";
import {
  ageMs,
  beat,
  claimSlot,
  evict,
  evictionOf,
  freeSlot,
  isDead,
  monotonicMs,
  readEntries,
  type Registration,
  releaseSlot,
  retether,
  slotState,
  STALE_AFTER_MS,
  storePosition,
  tetherWakeWordOf,
  wakeGatedWriter,
} from "./_registry.ts";
import { W_TETHER_WAKE, W_WRITER_WAITING } from "./_header.ts";
import {
  EvictionCause,
  ReaderSlot,
  ReaderState,
  REGISTRY_OFFSET,
  REGISTRY_SLOT_SIZE,
  REGISTRY_SLOTS,
  RING_HEADER_SIZE,
  segmentSize,
} from "./layout.ts";
import {
  createSegment,
  openSegment,
  type Segment,
  unlinkSegment,
  unmapSegment,
} from "./segment.ts";
import { futexWait } from "../os/futex.ts";
import {
  ringTest,
  settlesWithin,
  testSegmentPrefix,
} from "../../tests/_ring_helpers.ts";

/** The `name` of the Worker threads that race for slots. */
const CLAIMER = "registry-claimer";
/** Threads racing, each holding 7 slots at a time (the last 8 slots are claimed after). */
const CLAIMERS = 8;
const PER_CLAIMER = 7;
/** Claim-and-release rounds each thread runs before the last claim. */
const ROUNDS = 200;
/** No process has this pid (above any pid_max). */
const NO_SUCH_PID = 0x7fff_fffe;
const TWO_32 = 2 ** 32;

const IN_WORKER = "WorkerGlobalScope" in globalThis;
const PREFIX = testSegmentPrefix();
let segments = 0;

const lossy = { policy: "lossy", position: 0, tetherTimeoutMs: 0 } as const;
const tethered = {
  policy: "tethered",
  position: 1000,
  tetherTimeoutMs: 2000,
} as const;

/** Word index of field `offset` (a {@linkcode ReaderSlot} byte offset) of slot `index`. */
function word(index: number, offset: number): number {
  return (REGISTRY_OFFSET + index * REGISTRY_SLOT_SIZE + offset) >> 2;
}

/** Runs `fn` on a fresh zero-filled segment of 64 slots, removed afterwards. */
async function withSegment(
  fn: (words: Int32Array, segment: Segment) => void | Promise<void>,
): Promise<void> {
  const name = `${PREFIX}${++segments}`;
  const segment = createSegment(name, segmentSize(64));
  try {
    await fn(new Int32Array(segment.buffer, 0, RING_HEADER_SIZE >> 2), segment);
  } finally {
    unmapSegment(segment);
    unlinkSegment(name);
  }
}

/** Claims every slot, asserting they are distinct. */
function claimAll(words: Int32Array): Registration[] {
  const all: Registration[] = [];
  for (let k = 0; k < REGISTRY_SLOTS; k++) {
    const registration = claimSlot(words, lossy);
    assert.ok(registration, `claim ${k + 1} of ${REGISTRY_SLOTS}`);
    all.push(registration);
  }
  assert.equal(new Set(all.map((r) => r.index)).size, REGISTRY_SLOTS);
  return all;
}

const test: typeof ringTest = IN_WORKER ? () => {} : ringTest;

test({
  name:
    "registry: a claimed slot is published with its policy, pid and position; released, it is free again",
  fn: () =>
    withSegment((words) => {
      const before = Date.now();
      const reader = claimSlot(words, tethered)!;
      assert.ok(reader.id !== 0 && reader.index === 0);
      assert.equal(slotState(words, reader.index), ReaderState.Tethered);
      const [entry] = readEntries(words, 1500);
      assert.deepEqual(
        { ...entry, heartbeatMs: 0, registeredAtMs: 0 },
        {
          index: 0,
          id: reader.id,
          state: ReaderState.Tethered,
          pid: Deno.pid,
          position: 1000,
          lag: 500,
          heartbeatMs: 0,
          tetherTimeoutMs: 2000,
          evictions: 0,
          evictedAt: 0,
          evictionCause: 0,
          lagAtEviction: 0,
          registeredAtMs: 0,
        },
      );
      assert.ok(ageMs(monotonicMs(), entry.heartbeatMs) < STALE_AFTER_MS);
      assert.ok(entry.registeredAtMs >= before);
      const second = claimSlot(words, lossy)!;
      assert.equal(second.index, 1);
      assert.equal(slotState(words, 1), ReaderState.Lossy);
      releaseSlot(words, reader);
      assert.equal(slotState(words, 0), ReaderState.Free);
      assert.equal(Atomics.load(words, word(0, ReaderSlot.Owner)), 0);
      assert.deepEqual(readEntries(words, 0).map((e) => e.index), [1]);
      assert.equal(claimSlot(words, lossy)!.index, 0);
    }),
});

test({
  name:
    "registry: the 65th claim gets no slot; a dead reader's (pid gone, heartbeat stale) is reclaimed, no other",
  fn: () =>
    withSegment((words) => {
      const all = claimAll(words);
      assert.equal(claimSlot(words, lossy), undefined);
      const stale = (monotonicMs() - 5 * STALE_AFTER_MS) >>> 0;
      // Gone but beating (another pid namespace), stale but alive (stopped), dead.
      Atomics.store(words, word(30, ReaderSlot.Pid), NO_SUCH_PID);
      Atomics.store(words, word(40, ReaderSlot.HeartbeatMs), stale);
      assert.equal(claimSlot(words, lossy), undefined);
      Atomics.store(words, word(17, ReaderSlot.Pid), NO_SUCH_PID);
      Atomics.store(words, word(17, ReaderSlot.HeartbeatMs), stale);
      assert.ok(isDead(words, 17, monotonicMs()));
      assert.ok(!isDead(words, 30, monotonicMs()));
      assert.ok(!isDead(words, 40, monotonicMs()));
      const taker = claimSlot(words, tethered)!;
      assert.equal(taker.index, 17);
      assert.notEqual(taker.id, all[17].id);
      assert.equal(claimSlot(words, lossy), undefined);
      // The dead reader's late release leaves the new owner's slot alone.
      releaseSlot(words, all[17]);
      assert.equal(Atomics.load(words, word(17, ReaderSlot.Owner)), taker.id);
      assert.equal(slotState(words, 17), ReaderState.Tethered);
      assert.equal(Atomics.load(words, word(17, ReaderSlot.Pid)), Deno.pid);
    }),
});

test({
  name:
    "registry: heartbeat ages are taken modulo 2^32; beat refreshes a stale reader",
  fn: () =>
    withSegment((words) => {
      assert.equal(ageMs(5, 0xffff_fff6), 15);
      assert.equal(ageMs(100, 40), 60);
      const now = monotonicMs();
      assert.ok(Number.isInteger(now) && now >= 0 && now < TWO_32);
      const { index } = claimSlot(words, lossy)!;
      Atomics.store(words, word(index, ReaderSlot.Pid), NO_SUCH_PID);
      assert.ok(isDead(words, index, (now + STALE_AFTER_MS + 50) >>> 0));
      beat(words, index, (now + STALE_AFTER_MS) >>> 0);
      assert.ok(!isDead(words, index, (now + STALE_AFTER_MS + 50) >>> 0));
    }),
});

test({
  name:
    "registry: evict records cause, position and lag and moves Tethered to Evicted; retether moves it back",
  fn: () =>
    withSegment((words) => {
      const reader = claimSlot(words, tethered)!;
      const { index } = reader;
      const writePosition = 5 * TWO_32 + 7;
      const cause = EvictionCause.Timeout;
      assert.ok(evict(words, index, { cause, writePosition, lag: 4000 }));
      assert.equal(slotState(words, index), ReaderState.Evicted);
      const eviction = { cause, evictedAt: writePosition, lag: 4000 };
      assert.deepEqual(evictionOf(words, index), { ...eviction, evictions: 1 });
      // Not tethered any more: a second eviction changes no count.
      assert.ok(!evict(words, index, { cause, writePosition, lag: 1 }));
      assert.equal(evictionOf(words, index).evictions, 1);
      assert.ok(retether(words, index, writePosition, 0));
      assert.equal(slotState(words, index), ReaderState.Tethered);
      assert.ok(!retether(words, index, writePosition, 5));
      const [entry] = readEntries(words, writePosition + 3);
      assert.equal(entry.position, writePosition);
      assert.equal(entry.lag, 3);
      assert.equal(entry.evictions, 1);
      const lossyReader = claimSlot(words, lossy)!;
      assert.ok(
        !evict(words, lossyReader.index, { cause, writePosition, lag: 0 }),
      );
      assert.equal(slotState(words, lossyReader.index), ReaderState.Lossy);
      // The producer frees a dead reader's slot after evicting it.
      const dead = EvictionCause.Dead;
      assert.ok(evict(words, index, { cause: dead, writePosition, lag: 9 }));
      freeSlot(words, index);
      assert.equal(slotState(words, index), ReaderState.Free);
      assert.equal(Atomics.load(words, word(index, ReaderSlot.Owner)), 0);
      assert.equal(claimSlot(words, lossy)!.index, index);
      assert.equal(
        evictionOf(words, index).evictions,
        0,
        "a new reader starts afresh",
      );
    }),
});

test({
  name:
    "registry: positions round-trip across 2^32; a read between the high and low stores is rebuilt from the low word",
  fn: () =>
    withSegment((words) => {
      const start = 3 * TWO_32 - 16;
      const { index } = claimSlot(words, { ...lossy, position: start })!;
      const at = (writePosition: number) =>
        readEntries(words, writePosition)[0];
      assert.equal(at(start + 10).position, start);
      // The reader moves to 3·2^32 + 5: high word stored, low not yet.
      Atomics.store(words, word(index, ReaderSlot.PositionHi), 3);
      assert.deepEqual(
        [at(start + 26).position, at(start + 26).lag],
        [start, 26],
      );
      assert.equal(storePosition(words, index, start + 21, 3), 3);
      assert.equal(at(start + 26).position, start + 21);
      // Far behind (beyond 2^31), and slightly ahead of a stale write position.
      storePosition(words, index, 5, 3);
      assert.deepEqual([at(start).position, at(start).lag], [5, start - 5]);
      storePosition(words, index, start + 3, 0);
      assert.deepEqual([at(start).position, at(start).lag], [start + 3, 0]);
      // Free and half-claimed slots are not listed.
      Atomics.store(words, word(9, ReaderSlot.Owner), 77);
      Atomics.store(words, word(9, ReaderSlot.State), ReaderState.Claimed);
      assert.deepEqual(readEntries(words, start).map((e) => e.index), [index]);
    }),
});

test({
  name:
    "registry: a reader wakes a gated writer (futex on the tether word) only while it waits",
  async fn() {
    await withSegment(async (words, segment) => {
      const wakeWord = tetherWakeWordOf(segment);
      wakeGatedWriter(words, wakeWord);
      assert.equal(Atomics.load(words, W_TETHER_WAKE), 0, "no writer waits");
      Atomics.store(words, W_WRITER_WAITING, 1);
      const sleep = futexWait(wakeWord, 0, {
        timeoutMs: 10_000,
        blocking: false,
      })!;
      await new Promise((resolve) => setTimeout(resolve, 50));
      wakeGatedWriter(words, wakeWord);
      assert.equal(Atomics.load(words, W_TETHER_WAKE), 1);
      assert.ok(await settlesWithin(sleep, 2000, { rethrow: true }));
    });
  },
});

/** What a claimer thread reports: the slots it holds at the end, and every claim that failed or slot taken from it. */
interface ClaimerReport {
  held: Registration[];
  failures: string[];
}

test({
  name:
    "registry: 8 threads racing for slots (claim 7, check, release; 200 rounds) hold distinct slots and ids",
  permissions: [{ name: "read" }],
  async fn() {
    await withSegment(async (words, segment) => {
      const go = new Int32Array(new SharedArrayBuffer(4));
      const workers = Array.from(
        { length: CLAIMERS },
        () => new Worker(import.meta.url, { type: "module", name: CLAIMER }),
      );
      let ready = 0;
      const release = () => {
        if (++ready < CLAIMERS) return;
        Atomics.store(go, 0, 1);
        Atomics.notify(go, 0);
      };
      try {
        const reports = await Promise.all(
          workers.map((worker) =>
            new Promise<ClaimerReport>((resolve, reject) => {
              worker.onerror = (event) => {
                event.preventDefault();
                reject(new Error(`claimer failed: ${event.message}`));
              };
              worker.onmessage = (event) => {
                if (event.data === "ready") release();
                else resolve(event.data as ClaimerReport);
              };
              worker.postMessage({ name: segment.name, go });
            })
          ),
        );
        assert.deepEqual(reports.flatMap((r) => r.failures), []);
        const held = reports.flatMap((r) => r.held);
        assert.equal(held.length, CLAIMERS * PER_CLAIMER);
        // The rest, claimed here one by one: every slot once, then none.
        while (held.length < REGISTRY_SLOTS) {
          held.push(claimSlot(words, lossy)!);
        }
        assert.equal(claimSlot(words, lossy), undefined);
        assert.equal(new Set(held.map((r) => r.index)).size, REGISTRY_SLOTS);
        assert.equal(new Set(held.map((r) => r.id)).size, REGISTRY_SLOTS);
        for (const { index, id } of held) {
          assert.equal(Atomics.load(words, word(index, ReaderSlot.Owner)), id);
          assert.equal(slotState(words, index), ReaderState.Lossy);
        }
      } finally {
        for (const worker of workers) worker.terminate();
      }
    });
  },
});

/** A claimer thread: maps the segment, waits for the start, races, reports. */
function serveClaims(): void {
  const scope = globalThis as unknown as {
    onmessage: (event: MessageEvent) => void;
    postMessage(message: unknown): void;
  };
  scope.onmessage = (event) => {
    const { name, go } = event.data as { name: string; go: Int32Array };
    const segment = openSegment(name);
    const words = new Int32Array(segment.buffer, 0, RING_HEADER_SIZE >> 2);
    scope.postMessage("ready");
    Atomics.wait(go, 0, 0);
    const failures: string[] = [];
    let held: Registration[] = [];
    for (let round = 0; round <= ROUNDS; round++) {
      held = [];
      for (let k = 0; k < PER_CLAIMER; k++) {
        const registration = claimSlot(words, lossy);
        if (registration === undefined) {
          failures.push(`round ${round}: no slot`);
        } else held.push(registration);
      }
      for (const { index, id } of held) {
        const owner = Atomics.load(words, word(index, ReaderSlot.Owner));
        if (owner !== id) failures.push(`round ${round}: slot ${index} taken`);
      }
      if (round < ROUNDS) { for (const r of held) releaseSlot(words, r); }
    }
    scope.postMessage({ held, failures } satisfies ClaimerReport);
    unmapSegment(segment);
  };
}

if (IN_WORKER) serveClaims();
