// The shared-memory feed with more rings than one futex_waitv call takes
// (128): 500 idle rings, and 500 rings that do not exist yet. Functional: the
// trades of ring #499 arrive while the others idle, and the consumer sleeps
// between them; its CPU is measured by bench/idle_rings.ts, not here.

import assert from "node:assert/strict";
import { RingWriter } from "../common/ipc/mod.ts";
import { shmScope } from "./_ipc_roles.ts";
import { ffiTest } from "./_permissions.ts";
import { publish, range, subscribe, until } from "./_ring_feed_subscription.ts";

const RINGS = 500;
const SYMBOLS = Array.from({ length: RINGS }, (_, i) => `S${i}`);
const LAST = RINGS - 1;

ffiTest(
  "500 idle rings: the consumer sleeps on every ring, and each trade on ring #499 wakes it and is delivered",
  async () => {
    using shm = shmScope();
    const writers: RingWriter[] = [];
    try {
      for (const symbol of SYMBOLS) {
        writers.push(RingWriter.create(shm.ring(symbol), { capacity: 64 }));
      }
      const sub = subscribe(shm, SYMBOLS); // as live runs it: backoff, blocking sleeps
      try {
        await until(
          () =>
            sub.events.filter((e) => e.kind === "attached").length === RINGS,
          "every ring attached",
        );
        for (let seq = 1; seq <= 5; seq++) {
          // Asleep on every ring (a consumer that cannot sleep on them all
          // only ever announces itself between two polls, never while this
          // test's code runs).
          await until(
            () => writers.every((writer) => writer.sleepers === 1),
            `the consumer asleep on every ring before trade ${seq}`,
          );
          publish(writers[LAST], seq, seq);
          await until(() => sub.seqs(LAST).length === seq, `trade ${seq}`);
        }
        assert.deepEqual(sub.seqs(LAST), range(1, 5));
        assert.equal(writers[LAST].wakeups, 5, "each trade woke the sleeper");
        assert.equal(sub.delivered.length, 5);
        const stats = sub.feed.stats();
        assert.ok(stats.every((s) => s.lost === 0 && s.state === "alive"));
      } finally {
        await sub.stop();
      }
      assert.ok(writers.every((writer) => writer.sleepers === 0));
    } finally {
      for (const writer of writers) writer.close();
    }
  },
);

ffiTest(
  "500 rings that do not exist yet: ring #499 is found when it appears and read from its first trade",
  async () => {
    using shm = shmScope();
    const sub = subscribe(shm, SYMBOLS);
    let writer: RingWriter | undefined;
    try {
      await until(
        () => sub.events.filter((e) => e.kind === "waiting").length === RINGS,
        "waiting for every ring",
      );
      writer = RingWriter.create(shm.ring(SYMBOLS[LAST]), { capacity: 64 });
      publish(writer, 1, 3);
      await until(() => sub.seqs(LAST).length === 3, "the trades of #499");
      assert.deepEqual(sub.seqs(LAST), range(1, 3));
      assert.ok(sub.saw("attached", SYMBOLS[LAST]));
      assert.equal(sub.feed.stats()[LAST].state, "alive");
    } finally {
      await sub.stop();
      writer?.close();
    }
  },
);
