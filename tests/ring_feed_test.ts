// Tests of the shared-memory feed in one process, with RingWriters as
// producers: order and origin of deliveries, the limit, rings that appear
// later, producer restarts, laps, invalid records, foreign segments, and
// abort for each wait strategy. Every test has its own segment prefix and removes whatever is
// left under it.

import assert from "node:assert/strict";
import { delay } from "../common/runtime/delay.ts";
import {
  RingFormatError,
  RingWriter,
  unlinkSegment,
  WAIT_STRATEGIES,
} from "../common/ipc/mod.ts";
import { TRADE_RECORD_SIZE } from "../common/wire/trade.ts";
import { shmScope } from "./_ipc_roles.ts";
import { ffiTest, gatedTest, SHM_PERMISSIONS } from "./_permissions.ts";
import {
  makeNotSegment,
  NOT_SEGMENTS,
  removeNotSegment,
} from "./ipc/not_segments.ts";
import type { FeedEvent } from "../common/transport/feed.ts";
import { RingFeed } from "../common/ipc/ring_feed.ts";
import {
  forgeSegment,
  publish,
  range,
  subscribe,
  until,
} from "./_ring_feed_subscription.ts";

ffiTest(
  "delivers every symbol's trades in order, with its origin and index",
  async () => {
    using shm = shmScope();
    const btc = RingWriter.create(shm.ring("BTCUSDT"), { capacity: 256 });
    const eth = RingWriter.create(shm.ring("ETHUSDT"), { capacity: 256 });
    try {
      publish(btc, 1, 100);
      publish(eth, 1, 60);
      const sub = subscribe(shm, ["BTCUSDT", "ETHUSDT"], {
        from: "oldest",
        limit: 160,
      });
      // Every stream is announced at once, before any trade.
      assert.deepEqual(sub.streams, ["binance BTCUSDT", "binance ETHUSDT"]);
      await sub.ended();
      assert.deepEqual(sub.seqs(0), range(1, 100));
      assert.deepEqual(sub.seqs(1), range(1, 60));
      for (const d of sub.delivered) {
        assert.equal(d.exchange, "binance");
        assert.equal(d.name, ["BTCUSDT", "ETHUSDT"][d.symbol]);
      }
      assert.ok(
        sub.saw("attached", "BTCUSDT") && sub.saw("attached", "ETHUSDT"),
      );
      assert.deepEqual(
        sub.events.filter((e) => e.kind === "attached").map((e) => [
          e.exchange,
          e.symbol,
          e.stream,
        ]),
        [["binance", "BTCUSDT", 0], ["binance", "ETHUSDT", 1]],
      );
      const stats = sub.feed.stats();
      assert.deepEqual(
        stats.map((s) => [s.exchange, s.symbol, s.received, s.lost]),
        [
          ["binance", "BTCUSDT", 100, 0],
          ["binance", "ETHUSDT", 60, 0],
        ],
      );
    } finally {
      btc.close();
      eth.close();
    }
  },
);

ffiTest(
  "trades the skip rule rules out are counted skipped, not received, and not toward the limit; every ring trade is read at stream sequence 0",
  async () => {
    using shm = shmScope();
    const btc = RingWriter.create(shm.ring("BTCUSDT"), { capacity: 256 });
    try {
      publish(btc, 1, 100);
      const places = new Set<number>();
      const sub = subscribe(shm, ["BTCUSDT"], {
        from: "oldest",
        limit: 30,
        skip: (trade, _stream, place) => {
          places.add(place.streamSeq);
          return trade.seq <= 40 || trade.seq % 2 === 0;
        },
      });
      await sub.ended();
      assert.deepEqual(
        sub.seqs(0),
        range(41, 100).filter((seq) => seq % 2 === 1),
      );
      const [row] = sub.feed.stats();
      // 1-40, then the even seqs up to 98: 100 was not read once 99 was the 30th.
      assert.deepEqual([row.received, row.skipped], [30, 69]);
      assert.deepEqual([...places], [0]);
    } finally {
      btc.close();
    }
  },
);

ffiTest(
  "limit stops after exactly that many trades, across symbols and batches",
  async () => {
    using shm = shmScope();
    const btc = RingWriter.create(shm.ring("BTCUSDT"), { capacity: 1024 });
    const eth = RingWriter.create(shm.ring("ETHUSDT"), { capacity: 1024 });
    try {
      publish(btc, 1, 1000);
      publish(eth, 1, 1000);
      const sub = subscribe(shm, ["BTCUSDT", "ETHUSDT"], {
        from: "oldest",
        limit: 700,
      });
      await sub.ended();
      assert.equal(sub.delivered.length, 700);
      const received = sub.feed.stats().reduce((n, s) => n + s.received, 0);
      assert.equal(received, 700);
      // In order per symbol, from the first.
      assert.deepEqual(sub.seqs(0), range(1, sub.seqs(0).length));
      assert.deepEqual(sub.seqs(1), range(1, sub.seqs(1).length));
    } finally {
      btc.close();
      eth.close();
    }
  },
);

ffiTest(
  "waits for a ring that does not exist yet and reads it from its first trade",
  async () => {
    using shm = shmScope();
    // `newest` applies to rings already running, not to one waited for.
    const sub = subscribe(shm, ["BTCUSDT"], { from: "newest", limit: 25 });
    let writer: RingWriter | undefined;
    try {
      await until(() => sub.saw("waiting", "BTCUSDT"), "waiting event");
      assert.match(sub.events[0].message, new RegExp(shm.ring("BTCUSDT")));
      writer = RingWriter.create(shm.ring("BTCUSDT"), { capacity: 64 });
      publish(writer, 1, 25); // all before the consumer can look
      await sub.ended();
      assert.deepEqual(sub.seqs(), range(1, 25));
      assert.ok(sub.saw("attached", "BTCUSDT"));
      assert.ok(!sub.saw("restarted"));
    } finally {
      await sub.stop();
      writer?.close();
    }
  },
);

ffiTest(
  "follows a producer restart: closed, then restarted, and the new ring from its first trade",
  async () => {
    using shm = shmScope();
    const name = shm.ring("BTCUSDT");
    const first = RingWriter.create(name, { capacity: 64 });
    let second: RingWriter | undefined;
    const sub = subscribe(shm, ["BTCUSDT"], { from: "oldest", limit: 10 });
    try {
      publish(first, 1, 5);
      await until(() => sub.delivered.length === 5, "first producer's trades");
      first.close();
      second = RingWriter.create(name, { capacity: 64 });
      publish(second, 1, 5);
      await sub.ended();
      assert.deepEqual(sub.seqs(), [1, 2, 3, 4, 5, 1, 2, 3, 4, 5]);
      const kinds = sub.events.map((e) => e.kind);
      assert.deepEqual(kinds, ["attached", "closed", "restarted"]);
      assert.match(
        sub.events[2].message,
        new RegExp(
          `producer restarted: attached to ${name} .*epoch ${
            second.epoch.toString(16)
          }\\) at position 0`,
        ),
      );
      const [stats] = sub.feed.stats();
      assert.equal(stats.restarts, 1);
      assert.equal(stats.received, 10);
      assert.equal(stats.lost, 0);
    } finally {
      await sub.stop();
      first.close();
      second?.close();
    }
  },
);

ffiTest(
  "lapped: a 'lost' event, the overwritten trades in stats.lost, then in order again",
  async () => {
    using shm = shmScope();
    const writer = RingWriter.create(shm.ring("BTCUSDT"), { capacity: 64 });
    const sub = subscribe(shm, ["BTCUSDT"], { from: "oldest" });
    try {
      publish(writer, 1, 10);
      await until(() => sub.delivered.length === 10, "first trades");
      publish(writer, 11, 266); // four laps while the consumer cannot run
      await until(() => sub.saw("lost"), "lost event");
      await until(() => sub.feed.stats()[0].lag === 0, "caught up");
      await sub.stop();
      const seqs = sub.seqs();
      const [stats] = sub.feed.stats();
      assert.ok(stats.lost > 0, JSON.stringify(stats));
      assert.equal(stats.received + stats.lost, 266, JSON.stringify(stats));
      assert.equal(stats.received, seqs.length);
      // 1..10, then a jump over exactly the lost trades, then consecutive.
      const resumed = 11 + stats.lost;
      assert.deepEqual(seqs, [...range(1, 10), ...range(resumed, 266)]);
      const lapped = sub.events.find((e) => e.kind === "lost")!;
      assert.match(lapped.message, new RegExp(`${stats.lost} lost in total`));
      // The count it tells, by cause, as the digest sums it.
      const told = /overwrote (\d+) trades/.exec(lapped.message)!;
      assert.deepEqual(lapped.lostBy, { overwritten: Number(told[1]) });
    } finally {
      await sub.stop();
      writer.close();
    }
  },
);

ffiTest(
  "the first loss is reported at the next check, even in the process's first second",
  async () => {
    // RingFeed reads performance.now(), which starts near 0 when a process
    // starts. Freeze it there, as in a consumer lapped right after starting,
    // and move it on by hand past one producer check (every 100 ms).
    let now = 0;
    Object.defineProperty(performance, "now", {
      value: () => now,
      configurable: true,
      writable: true,
    });
    using shm = shmScope();
    const writer = RingWriter.create(shm.ring("BTCUSDT"), { capacity: 64 });
    // `yield` is the strategy that keeps the event loop going on a frozen clock.
    const sub = subscribe(shm, ["BTCUSDT"], { from: "oldest", wait: "yield" });
    try {
      publish(writer, 1, 10);
      await until(() => sub.delivered.length === 10, "first trades");
      publish(writer, 11, 266);
      await until(() => sub.feed.stats()[0].lag === 0, "caught up");
      assert.ok(sub.feed.stats()[0].lost > 0);
      // The next check reports the loss, then (this close) the producer.
      writer.close();
      now = 150;
      await until(() => sub.saw("closed"), "closed event");
      assert.deepEqual(
        sub.events.map((e) => e.kind),
        ["attached", "lost", "closed"],
        "the loss was not reported at the check that reported the close",
      );
    } finally {
      delete (performance as unknown as Record<string, unknown>).now;
      await sub.stop();
      writer.close();
    }
  },
);

ffiTest(
  "an invalid record is skipped and counted; the trades around it are delivered",
  async () => {
    using shm = shmScope();
    const writer = RingWriter.create(shm.ring("BTCUSDT"), { capacity: 64 });
    try {
      publish(writer, 1, 1);
      const bad = new Uint8Array(TRADE_RECORD_SIZE);
      bad[0] = 99; // wire version
      writer.write(bad);
      publish(writer, 3, 4);
      const sub = subscribe(shm, ["BTCUSDT"], { from: "oldest", limit: 3 });
      await sub.ended();
      assert.deepEqual(sub.seqs(), [1, 3, 4]);
      const [stats] = sub.feed.stats();
      assert.equal(stats.invalid, 1);
      assert.equal(stats.received, 3);
      assert.equal(stats.lost, 0);
    } finally {
      writer.close();
    }
  },
);

ffiTest(
  "a segment that is not a ring (bad magic) when the subscription starts makes it reject with RingFormatError",
  async () => {
    using shm = shmScope();
    const name = shm.ring("ETHUSDT");
    forgeSegment(name);
    const sub = subscribe(shm, ["ETHUSDT"]);
    await assert.rejects(sub.done, (error: unknown) => {
      assert.ok(error instanceof RingFormatError, `${error}`);
      assert.equal(error.segment, name);
      assert.match(error.message, /magic 0xdeadbeef.*not a marketbus ring/);
      return true;
    });
  },
);

ffiTest(
  "a foreign segment that appears while waiting for a producer is reported once and waited past; the valid producer that replaces it is read",
  async () => {
    using shm = shmScope();
    const name = shm.ring("ETHUSDT");
    const btc = RingWriter.create(shm.ring("BTCUSDT"), { capacity: 64 });
    let eth: RingWriter | undefined;
    const sub = subscribe(shm, ["BTCUSDT", "ETHUSDT"]);
    try {
      await until(() => sub.saw("waiting", "ETHUSDT"), "waiting event");
      forgeSegment(name);
      const refused = () =>
        sub.events.filter((e) =>
          e.kind === "refused" && e.symbol === "ETHUSDT"
        );
      await until(() => refused().length > 0, "the foreign segment reported");
      assert.match(
        refused()[0].message,
        /^binance ETHUSDT: ignoring \/.*ETHUSDT: Ring .* is not usable: magic 0xdeadbeef.*not a marketbus ring; still waiting for a valid producer/,
      );
      // Still running, still reading the other ring; the foreign segment,
      // rewritten, is not reported again.
      publish(btc, 1, 3);
      await until(() => sub.seqs(0).length === 3, "BTCUSDT trades");
      unlinkSegment(name);
      forgeSegment(name);
      await delay(300);
      assert.equal(refused().length, 1);
      // A producer replaces it: attached, read from its first trade.
      eth = RingWriter.create(name, { capacity: 64 });
      assert.match(eth.replaced?.reason ?? "", /not a usable ring/);
      publish(eth, 1, 5);
      await until(() => sub.seqs(1).length === 5, "ETHUSDT trades");
      assert.deepEqual(sub.seqs(1), range(1, 5));
      assert.ok(sub.saw("attached", "ETHUSDT"));
      assert.equal(sub.feed.stats()[1].state, "alive");
    } finally {
      await sub.stop();
      btc.close();
      eth?.close();
    }
  },
);

/** A test that also makes things under /dev/shm. */
function shmFileTest(name: string, fn: () => Promise<void>): void {
  gatedTest({
    name,
    permissions: [...SHM_PERMISSIONS, { name: "run" }],
    fn,
  });
}

for (const kind of NOT_SEGMENTS) {
  shmFileTest(
    `a ${kind} at a ring's name while waiting for its producer is reported once and waited past`,
    async () => {
      using shm = shmScope();
      const name = shm.ring("ETHUSDT");
      const path = `/dev/shm${name}`;
      const btc = RingWriter.create(shm.ring("BTCUSDT"), { capacity: 64 });
      let eth: RingWriter | undefined;
      const sub = subscribe(shm, ["BTCUSDT", "ETHUSDT"]);
      try {
        await until(() => sub.saw("waiting", "ETHUSDT"), "waiting event");
        makeNotSegment(kind, path);
        const refused = () =>
          sub.events.filter((e) =>
            e.kind === "refused" && e.symbol === "ETHUSDT"
          );
        await until(() => refused().length > 0, `the ${kind} reported`);
        assert.match(
          refused()[0].message,
          new RegExp(
            `^binance ETHUSDT: ignoring /.*ETHUSDT: Ring .* is not usable: /dev/shm/.*ETHUSDT is a ${kind}, expected a regular file \\(a ring segment\\); still waiting for a valid producer`,
          ),
        );
        publish(btc, 1, 3);
        await until(() => sub.seqs(0).length === 3, "BTCUSDT trades");
        await delay(300);
        assert.equal(refused().length, 1);
        removeNotSegment(path);
        eth = RingWriter.create(name, { capacity: 64 });
        publish(eth, 1, 5);
        await until(() => sub.seqs(1).length === 5, "ETHUSDT trades");
        assert.deepEqual(sub.seqs(1), range(1, 5));
      } finally {
        await sub.stop();
        btc.close();
        eth?.close();
        removeNotSegment(path);
      }
    },
  );

  shmFileTest(
    `a ${kind} at a ring's name when the subscription starts makes it reject with RingFormatError`,
    async () => {
      using shm = shmScope();
      const name = shm.ring("ETHUSDT");
      const path = `/dev/shm${name}`;
      makeNotSegment(kind, path);
      try {
        const sub = subscribe(shm, ["ETHUSDT"]);
        await assert.rejects(sub.done, (error: unknown) => {
          assert.ok(error instanceof RingFormatError, `${error}`);
          assert.equal(error.segment, name);
          assert.match(error.message, new RegExp(`is a ${kind}, expected`));
          return true;
        });
      } finally {
        removeNotSegment(path);
      }
    },
  );
}

for (const wait of WAIT_STRATEGIES) {
  ffiTest(
    `abort ends a '${wait}' subscription promptly, attached and idle or still waiting`,
    async () => {
      using shm = shmScope();
      const writer = RingWriter.create(shm.ring("BTCUSDT"), { capacity: 64 });
      // BTCUSDT has a producer; ETHUSDT does not (yet).
      const sub = subscribe(shm, ["BTCUSDT", "ETHUSDT"], { wait });
      try {
        await until(
          () => sub.saw("attached", "BTCUSDT") && sub.saw("waiting", "ETHUSDT"),
          "attached and waiting",
        );
        publish(writer, 1, 3);
        await until(() => sub.delivered.length === 3, "the trades");
        await delay(150); // idle long enough for `backoff` to go to sleep
        const abortedAt = performance.now();
        await sub.stop();
        const ms = performance.now() - abortedAt;
        console.log(
          `'${wait}' subscription ended ${ms.toFixed(1)} ms after abort`,
        );
        // Liveness only: the machine is shared and noisy.
        assert.ok(ms < 1000, `took ${ms.toFixed(0)} ms`);
        assert.equal(
          writer.sleepers,
          0,
          "still registered as asleep on the ring",
        );
        assert.deepEqual(sub.feed.stats().map((s) => s.received), [3, 0]);
        // And with no ring at all to read.
        const none = subscribe(shm, ["SOLUSDT"], { wait });
        await until(() => none.saw("waiting"), "waiting event");
        const waitingAbortedAt = performance.now();
        await none.stop();
        const waitingMs = performance.now() - waitingAbortedAt;
        assert.ok(waitingMs < 1000, `took ${waitingMs.toFixed(0)} ms`);
      } finally {
        await sub.stop();
        writer.close();
      }
    },
  );
}

ffiTest(
  "behind: a consumer over half a ring behind is told before it loses trades",
  async () => {
    using shm = shmScope();
    const writer = RingWriter.create(shm.ring("BTCUSDT"), { capacity: 64 });
    const feed = new RingFeed({
      exchange: "binance",
      shmPathPrefix: shm.prefix,
      from: "oldest",
    });
    const events: FeedEvent[] = [];
    let lagSeen = 0;
    try {
      publish(writer, 1, 1);
      await feed.subscribeTrades(
        ["BTCUSDT"],
        (trade) => {
          if (trade.seq !== 1) return;
          // A slow strategy: while it works on trade 1, 40 more arrive (over
          // half of the 64-slot ring), and the periodic check comes due.
          publish(writer, 2, 41);
          const until = performance.now() + 150;
          while (performance.now() < until) { /* busy */ }
          lagSeen = feed.stats()[0].lag;
        },
        { limit: 41, onEvent: (event) => events.push(event) },
      );
    } finally {
      writer.close();
    }
    assert.equal(lagSeen, 40);
    const behind = events.filter((event) => event.kind === "behind");
    assert.equal(behind.length, 1, JSON.stringify(events));
    assert.equal(
      behind[0].message,
      "binance BTCUSDT: consumer is 40 trades (63% of the ring) behind the producer: trades are lost once it falls a whole ring behind (a slow strategy or recorder?)",
    );
    const [stats] = feed.stats();
    assert.deepEqual([stats.received, stats.lost], [41, 0]);
  },
);

ffiTest(
  "a busy pass over many full rings lets timers run between rings, and an abort stops it there (not after the whole pass)",
  async () => {
    using shm = shmScope();
    const RINGS = 40;
    const SLOTS = 256;
    const symbols = Array.from({ length: RINGS }, (_, i) => `B${i}USDT`);
    const writers = symbols.map((symbol) =>
      RingWriter.create(shm.ring(symbol), { capacity: SLOTS })
    );
    const feed = new RingFeed({
      exchange: "binance",
      shmPathPrefix: shm.prefix,
      from: "oldest",
    });
    const controller = new AbortController();
    let delivered = 0;
    let timerAt: number | undefined;
    try {
      for (const writer of writers) publish(writer, 1, SLOTS);
      await feed.subscribeTrades(
        symbols,
        () => {
          // A slow strategy: a ring's batch of 256 trades takes ~5 ms, a
          // pass over the 40 rings ~0.2 s.
          if (delivered++ === 0) {
            setTimeout(() => {
              timerAt = delivered;
              controller.abort();
            }, 0);
          }
          const until = performance.now() + 0.02;
          while (performance.now() < until) { /* busy */ }
        },
        { signal: controller.signal },
      );
    } finally {
      for (const writer of writers) writer.close();
    }
    // The timer ran within the first rings of the pass, not after all 40.
    assert.ok(
      timerAt !== undefined && timerAt < 4 * SLOTS,
      `timer at ${timerAt}`,
    );
    // Aborted: no ring read after the one in hand.
    assert.ok(delivered <= timerAt + SLOTS, `${delivered} after ${timerAt}`);
  },
);
