// How a consumer sleeps on its rings (RingWaiter, futex calls): a sleep on
// more rings than one futex_waitv call takes still sleeps until a trade
// wakes it, and a futex call the kernel refuses is an error, never taken for
// a wake-up. Needs unscoped --allow-ffi; skipped, saying why, without it.

import assert from "node:assert/strict";
import { delay } from "../runtime/delay.ts";
import {
  openSegment,
  OsError,
  RingReader,
  RingTruncatedError,
  RingWaiter,
  RingWriter,
  unlinkSegment,
  unmapSegment,
} from "./mod.ts";
import { libc } from "../os/libc.ts";
import { futexWait, futexWake } from "../os/futex.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import {
  recordBatch,
  ringTest,
  settlesWithin,
  testSegmentPrefix,
} from "../../tests/_ring_helpers.ts";

const PREFIX = testSegmentPrefix();
/** Generous bound for what should happen within milliseconds. */
const LIVENESS_MS = 10_000;
/** How long a sleep with nothing to wake it must last to count as asleep. */
const ASLEEP_MS = 300;

/** `count` idle rings with one reader each, closed and removed when disposed. */
function idleRings(label: string, count: number) {
  const writers: RingWriter[] = [];
  const readers: RingReader[] = [];
  try {
    for (let i = 0; i < count; i++) {
      writers.push(
        RingWriter.create(`${PREFIX}${label}_${i}`, { capacity: 64 }),
      );
      readers.push(RingReader.open(writers[i].name));
    }
  } catch (error) {
    for (const reader of readers) reader.close();
    for (const writer of writers) writer.close();
    throw error;
  }
  return {
    writers,
    readers,
    [Symbol.dispose]() {
      for (const reader of readers) reader.close();
      for (const writer of writers) writer.close();
    },
  };
}

/** A sleep that failed (a futex call refused) rejects: never counted as a wake-up. */
const RETHROW = { rethrow: true };

for (const rings of [128, 129, 500]) {
  for (const blockingSleepMs of [0, 10]) {
    ringTest({
      name:
        `a backoff sleep on ${rings} rings (blocking ${blockingSleepMs} ms) lasts until a trade on the last ring wakes it`,
      async fn() {
        using idle = idleRings(`s${rings}b${blockingSleepMs}`, rings);
        const waiter = new RingWaiter("backoff", {
          spinMs: 0,
          maxSleepMs: 60_000,
          blockingSleepMs,
        });
        const last = rings - 1;
        if (rings <= 128 && blockingSleepMs > 0) {
          // One futex_waitv call blocks the thread for the blocking bound,
          // announced on every ring meanwhile; that path is unchanged.
          const before = waiter.sleeps;
          await waiter.idle(idle.readers);
          assert.equal(waiter.sleeps, before + 1);
          assert.ok(idle.writers.every((writer) => writer.sleepers === 0));
          return;
        }
        const sleeping = waiter.idle(idle.readers);
        assert.ok(sleeping instanceof Promise, "sleeps without blocking");
        assert.equal(
          await settlesWithin(sleeping, ASLEEP_MS, RETHROW),
          false,
          "woke up with every ring idle",
        );
        assert.deepEqual(
          new Set(idle.writers.map((writer) => writer.sleepers)),
          new Set([1]),
          "announced asleep on every ring",
        );
        idle.writers[last].write(recordBatch(1, 1));
        assert.ok(
          await settlesWithin(sleeping, LIVENESS_MS, RETHROW),
          "a trade on the last ring did not wake the sleeper",
        );
        assert.equal(idle.writers[last].wakeups, 1);
        assert.ok(idle.readers[last].hasData());
        const target = new Uint8Array(TRADE_RECORD_SIZE);
        assert.ok(idle.readers[last].read(target));
        assert.ok(idle.writers.every((writer) => writer.sleepers === 0));
      },
    });
  }
}

ringTest({
  name: "interrupt ends a sleep on 500 rings at once",
  async fn() {
    using idle = idleRings("interrupt", 500);
    const waiter = new RingWaiter("backoff", {
      spinMs: 0,
      maxSleepMs: 60_000,
    });
    const sleeping = waiter.idle(idle.readers);
    assert.ok(sleeping instanceof Promise);
    await delay(20);
    await waiter.interrupt(idle.readers);
    assert.ok(await settlesWithin(sleeping, LIVENESS_MS, RETHROW));
    assert.ok(idle.writers.every((writer) => writer.sleepers === 0));
  },
});

ringTest({
  name:
    "a futex call the kernel refuses throws OsError (blocking) or rejects with it (not blocking), never passes for a wake-up",
  async fn() {
    // A misaligned address: EINVAL before any comparison or sleep.
    const misaligned = Deno.UnsafePointer.create(0x1001n)!;
    const refused = (error: unknown) =>
      error instanceof OsError && error.errno === 22 &&
      /Invalid argument \(errno 22\)/.test(error.message);
    assert.throws(
      () => futexWait(misaligned, 0, { timeoutMs: 1, blocking: true }),
      refused,
    );
    await assert.rejects(
      Promise.resolve(
        futexWait(misaligned, 0, { timeoutMs: 1, blocking: false }),
      ),
      refused,
    );
    assert.throws(() => futexWake(misaligned, 1), refused);
  },
});

ringTest({
  name:
    "a ring truncated while its consumer sleeps is RingTruncatedError when the sleep ends, never SIGBUS; the other rings' sleeps are undone",
  async fn() {
    using rings = idleRings("truncated", 2);
    const [truncated, other] = rings.readers;
    const waiter = new RingWaiter("backoff", { spinMs: 0, maxSleepMs: 50 });
    const sleeping = waiter.idle(rings.readers);
    assert.ok(sleeping, "asleep on the pool");
    assert.equal(rings.writers[1].sleepers, 1);
    const segment = openSegment(truncated.name, { mapBytes: 256 });
    try {
      assert.equal(libc().ftruncate(segment.fd, 0n), 0);
    } finally {
      unmapSegment(segment);
    }
    await assert.rejects(sleeping, (error: Error) => {
      assert.ok(error instanceof RingTruncatedError, String(error));
      assert.equal(error.segment, truncated.name);
      return true;
    });
    assert.equal(rings.writers[1].sleepers, 0, "the other ring's sleep undone");
    other.checkSize();
    // Its writer leaves a truncated segment alone: remove it here.
    rings.writers[0].close();
    unlinkSegment(truncated.name);
  },
});

ringTest({
  name:
    "backoff learns the gaps between arrivals (trades found after an idle poll), counting merged trades; spin learns nothing; a zero spin budget plans no window",
  async fn() {
    using rings = idleRings("learn", 2);
    const backoff = new RingWaiter("backoff");
    const spin = new RingWaiter("spin");
    const off = new RingWaiter("backoff", {
      spinBudget: { share: 1, maxWindowMs: 0 },
    });
    const target = new Uint8Array(4 * TRADE_RECORD_SIZE);
    for (let i = 0; i < 20; i++) {
      for (const waiter of [backoff, spin, off]) {
        // A short idle period (a spin, or a nap until a window), then trades.
        await waiter.idle(rings.readers);
        rings.writers[i % 2].write(recordBatch(i + 1, 1));
        if (i % 4 === 0) rings.writers[i % 2].write(recordBatch(i + 1, 1));
        while (rings.readers[i % 2].readMany(target, 4) > 0) {
          waiter.busy();
        }
      }
    }
    assert.ok(backoff.arrivals.meanGapMs > 0);
    assert.equal(spin.arrivals.meanGapMs, 0);
    assert.ok(off.arrivals.meanGapMs > 0);
    assert.ok(Number.isNaN(off.arrivals.spinTo));
    for (const waiter of [backoff, spin, off]) waiter.close();
  },
});
