// The seam of catch-up then live, driven by simulated history and live
// feeds at random moments, with random producer restarts (before, during
// and after the switch, some killed with trades only the ring got), seqs
// that wrap past 2^32, a hold that overflows and quiet spells where the
// history is known complete, a live reader now and then reported behind (no
// switch then): every trade delivered once, in order per run,
// or in a gap that says so (an exact count, or a producer restart); nothing
// the history holds is lost before the switch; one caught-up event.

import assert from "node:assert/strict";
import { encodeMessage } from "../wire/codec.ts";
import { Side } from "../wire/trade.ts";
import { TradeView } from "../wire/trade_view.ts";
import type { TradeGap } from "../transport/feed.ts";
import {
  Seam,
  type SeamGap,
  type SeamOutput,
  type StoredCut,
} from "./_seam.ts";
import { RecordQueue } from "./_record_queue.ts";

/** A message of `seqs`, received at `tsRecv`. */
function message(
  seqs: readonly number[],
  tsRecv = 1_764_000_000_000_100_000n,
): TradeView {
  const view = new TradeView();
  view.wrap(encodeMessage(seqs.map((seq) => ({
    side: Side.Buy,
    flags: 0,
    seq,
    tsEvent: 1_764_000_000_000_000_000n,
    tsRecv,
    priceFixed: 67_000_000_000_000n,
    size: 1,
    tradeId: BigInt(seq),
  }))));
  return view;
}

/** A seeded xorshift, so that a failing run can be repeated. */
function random(seed: number): () => number {
  let x = seed | 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** A published trade: its run's epoch, its seq, whether JetStream stored it. */
interface Published {
  epoch: number;
  seq: number;
  stored: boolean;
}

/** What the seam told, in order. */
type Told =
  | { kind: "trade"; epoch: number; seq: number }
  | { kind: "gap"; gap: SeamGap }
  | { kind: "caught"; lastSeq: number | null; epoch: number };

/**
 * One simulated run of a publisher writing a ring and JetStream: runs of
 * random epochs, each numbering from 1 or from just below 2^32 (the seq
 * wraps); a restart now and then (a kill -9 leaves its last trades in the
 * ring only); a ring keeping the last `ringSize` of the current run; a
 * history replaying JetStream from `historyFrom` in steps of random size;
 * a live reader from the oldest the ring holds, lapped now and then; and,
 * when the history has delivered everything stored and nothing is in
 * flight, sometimes the history known complete.
 */
function simulate(
  seed: number,
): {
  told: Told[];
  published: Published[];
  early: Set<number>;
  durableFrom?: number;
  givenUp: number;
} {
  const rand = random(seed);
  // Half the runs a durable start: the stored trades before `historyFrom`
  // were acknowledged in an earlier run (a separate draw: the rest as is).
  const draw = random(seed ^ 0x5bd1e995);
  const durable = draw() + draw() + draw() < 1.5; // mixed: nearby seeds differ
  let givenUp = 0;
  const hold = 2 ** Math.floor(1 + rand() * 8);
  const ringSize = 16 + Math.floor(rand() * 200);
  const total = 1500 + Math.floor(rand() * 1000);
  const published: Published[] = [];
  const told: Told[] = [];
  let liveEpoch = 0;
  // The live reader is now and then reported behind: no switch then.
  let behind = false;
  const out: SeamOutput = {
    mayGoLive: () => !behind,
    // Each trade's ts_recv is its index in published: its run is known.
    // Each trade's ts_recv is its index in published: its run is known,
    // and the epoch the seam tells with it must be that run's.
    tick: (trade, toldEpoch) => {
      const epoch = published[Number(trade.tsRecv)].epoch;
      assert.equal(toldEpoch, epoch, `seed ${seed}: seq ${trade.seq}'s epoch`);
      told.push({ kind: "trade", epoch, seq: trade.seq });
    },
    gap: (gap) => told.push({ kind: "gap", gap }),
    caughtUp: (_replayed, lastSeq, epoch) =>
      told.push({ kind: "caught", lastSeq, epoch }),
    evicted: (_epoch, count) => givenUp += count,
    unsure: (_epoch, count) => givenUp += count,
    // JetStream stores each run in order here: no trade is ever late.
    late: (seq) => assert.fail(`late ${seq} (seed ${seed})`),
  };
  const seam = new Seam(out, hold);
  const forward = (gap: TradeGap) => told.push({ kind: "gap", gap });
  // The current run.
  let runStart = 0; // index in published of the run's first trade
  let nextSeq = 0;
  const newRun = () => {
    liveEpoch = Math.floor(rand() * 2 ** 32);
    nextSeq = rand() < 0.3 ? 2 ** 32 - 1 - Math.floor(rand() * 40) : 1;
    runStart = published.length;
  };
  newRun();
  const historyFrom = Math.floor(rand() * 60);
  if (durable) {
    // The earlier run of the durable consumer acknowledged these (stored).
    for (let i = 0; i < historyFrom; i++) {
      published.push({ epoch: liveEpoch, seq: nextSeq, stored: true });
      nextSeq = (nextSeq + 1) >>> 0;
    }
  }
  let historyAt = historyFrom; // index in published
  let historyEpoch = -1;
  let liveAt = runStart; // index in published
  let liveRunEpoch = -1; // the ring the reader reads
  let attached = false;
  let steps = 0;
  let lag = 0; // trades the ring has and JetStream not yet
  // What a known-complete switch told (its gaps may be of trades JetStream
  // has but the history has not delivered yet: read too early).
  const early = new Set<number>();
  const complete = () => {
    const from = told.length;
    // A durable start reads the latest stored trade (all before
    // historyFrom: the history, complete, delivered nothing) once.
    let stored: StoredCut | null | undefined;
    if (durable && seam.replayed === 0) {
      const last = published.findLastIndex((t, i) =>
        i < historyFrom && t.stored
      );
      stored = last < 0 ? null : {
        epoch: published[last].epoch,
        seq: published[last].seq,
        tsRecv: BigInt(last),
      };
    }
    if (!seam.historyComplete({ stored })) return;
    for (let i = from; i < told.length; i++) early.add(i);
  };
  while (steps++ < 100_000) {
    behind = rand() < 0.2;
    // JetStream storing behind the ring now and then: a pending count read
    // as 0 too early (the history known complete before it has them).
    if (rand() < 0.05) lag = rand() < 0.5 ? 0 : Math.floor(rand() * 300);
    const stored = Math.max(historyAt, published.length - lag);
    const step = rand();
    if (step < 0.3 && published.length < total) {
      const n = 1 + Math.floor(rand() * 20);
      for (let i = 0; i < n && published.length < total; i++) {
        published.push({ epoch: liveEpoch, seq: nextSeq, stored: true });
        nextSeq = (nextSeq + 1) >>> 0;
      }
    } else if (step < 0.32 && published.length < total) {
      // A restart; killed -9, the last few trades reached the ring only.
      if (rand() < 0.5) {
        const lost = Math.floor(rand() * 5);
        for (
          let i = Math.max(
            runStart,
            published.length - lost,
            durable ? historyFrom : 0, // acknowledged: stored
          );
          i < published.length;
          i++
        ) {
          published[i].stored = false;
        }
      }
      newRun();
    } else if (step < 0.65 && historyAt < stored) {
      const n = 1 + Math.floor(rand() * 64);
      for (let i = 0; i < n && historyAt < stored; i++, historyAt++) {
        const trade = published[historyAt];
        if (!trade.stored) continue;
        if (trade.epoch !== historyEpoch) {
          historyEpoch = trade.epoch;
          seam.historyEpoch(historyEpoch);
        }
        seam.history(message([trade.seq], BigInt(historyAt)).select(0));
      }
    } else if (step < 0.97) {
      if (liveRunEpoch !== liveEpoch && runStart < published.length) {
        // The reader attaches the new ring, from its oldest trade.
        liveRunEpoch = liveEpoch;
        seam.liveEpoch(liveEpoch);
        if (attached) {
          seam.liveGap({
            exchange: "x",
            symbol: "S",
            stream: 0,
            cause: "producer restart",
            firstSeq: null,
            lastSeq: null,
            count: null,
          }, forward);
        }
        liveAt = Math.max(runStart, published.length - ringSize);
        attached = true;
      }
      if (liveRunEpoch !== liveEpoch) continue;
      const head = published.length;
      if (head - liveAt > ringSize || (liveAt < head && rand() < 0.02)) {
        // lapped: the reader jumps to the oldest the ring holds
        const to = Math.max(liveAt + 1, head - ringSize);
        seam.liveGap({
          exchange: "x",
          symbol: "S",
          stream: 0,
          cause: "overwritten",
          firstSeq: published[liveAt].seq,
          lastSeq: published[to - 1].seq,
          count: to - liveAt,
        }, forward);
        liveAt = to;
      }
      const n = Math.min(head - liveAt, 1 + Math.floor(rand() * 32));
      for (let i = 0; i < n; i++, liveAt++) {
        seam.liveTrade(
          message([published[liveAt].seq], BigInt(liveAt)).select(0),
        );
      }
    } else if (historyAt >= stored && rand() < 0.3) {
      complete();
    }
    if (
      published.length >= total && historyAt >= published.length &&
      liveRunEpoch === liveEpoch && liveAt >= published.length
    ) {
      behind = false;
      complete();
      break;
    }
  }
  return {
    told,
    published,
    early,
    durableFrom: durable ? historyFrom : undefined,
    givenUp,
  };
}

/**
 * Checks what a run told: in order per run with every missing trade in an
 * exact gap or behind a producer restart; before the switch only restart
 * gaps, and none hiding a trade JetStream stored; every trade published
 * after the first delivered one delivered or so covered; one switch; at a
 * durable start, no trade acknowledged before it delivered again.
 */
function check(seed: number): void {
  const { told, published, early, durableFrom } = simulate(seed);
  const what = `seed ${seed}`;
  const at = new Map(published.map((t, i) => [`${t.epoch}:${t.seq}`, i]));
  const delivered = new Set<string>();
  const covered = new Set<string>();
  let switched = false;
  let epoch = -1;
  let next = -1;
  let restartSince = false; // a restart gap since the last trade
  let exact: SeamGap[] = []; // exact gaps since the last trade (or restart)
  // Covers `exact` of run `runEpoch`, contiguous from `from`; the next seq.
  const cover = (from: number, runEpoch: number): number => {
    let expected = from;
    for (const gap of exact) {
      assert.equal(
        gap.firstSeq,
        expected,
        `${what}: a gap from ${gap.firstSeq}, ${expected} expected`,
      );
      for (let i = 0; i < gap.count!; i++) {
        covered.add(`${runEpoch}:${(expected + i) >>> 0}`);
      }
      expected = (expected + gap.count!) >>> 0;
    }
    exact = [];
    return expected;
  };
  for (const [index, item] of told.entries()) {
    if (item.kind === "caught") {
      assert.equal(switched, false, `${what}: caught up twice`);
      switched = true;
      continue;
    }
    if (item.kind === "gap") {
      const { gap } = item;
      if (gap.cause === "producer restart") {
        // The exact gaps before it are of the old run (a lapped reader).
        if (epoch !== -1) cover(next, epoch);
        exact = [];
        restartSince = true;
        continue;
      }
      // Before the switch the history has every trade the ring lost: an
      // exact gap then is of trades JetStream never stored (a killed run's
      // last ones) or told by a known-complete switch read too early
      // (JetStream storing behind the ring: the documented limit).
      if (!switched && !early.has(index)) {
        for (let i = 0; i < gap.count!; i++) {
          const key = `${epoch}:${(gap.firstSeq! + i) >>> 0}`;
          assert.ok(
            !published[at.get(key)!].stored,
            `${what}: ${key}, stored, in a ${gap.cause} gap before the switch`,
          );
        }
      }
      exact.push(gap);
      continue;
    }
    const key = `${item.epoch}:${item.seq}`;
    assert.ok(!delivered.has(key), `${what}: ${key} twice`);
    // A durable start: a stored trade before its start was acknowledged.
    const i = at.get(key)!;
    assert.ok(
      durableFrom === undefined || i >= durableFrom || !published[i].stored,
      `${what}: ${key} (#${i}), acknowledged, delivered again`,
    );
    delivered.add(key);
    const newRun = epoch !== -1 && item.epoch !== epoch;
    assert.ok(
      !newRun || restartSince,
      `${what}: epoch ${epoch} to ${item.epoch} with no restart gap`,
    );
    // Exact gaps since the last trade (or restart) are of this trade's run.
    const expected = cover(
      newRun ? exact[0]?.firstSeq ?? item.seq : next,
      item.epoch,
    );
    if (epoch !== -1) {
      assert.equal(
        item.seq,
        expected,
        `${what}: seq ${item.seq}, ${expected} expected (epoch ${epoch})`,
      );
    }
    epoch = item.epoch;
    next = (item.seq + 1) >>> 0;
    restartSince = false;
  }
  if (epoch !== -1 && !restartSince) cover(next, epoch); // gaps at the end
  assert.ok(switched, `${what}: no switch`);
  const first = told.find((item) => item.kind === "trade") as {
    epoch: number;
    seq: number;
  };
  const from = published.findIndex((t) =>
    t.epoch === first.epoch && t.seq === first.seq
  );
  // A run's trades past its last delivered one (its run not the last) or
  // before its first: behind a producer restart; before the switch,
  // JetStream never had them.
  const lastOf = new Map<number, number>();
  const firstOf = new Map<number, number>();
  for (const key of delivered) {
    const i = at.get(key)!;
    const runEpoch = published[i].epoch;
    lastOf.set(runEpoch, Math.max(i, lastOf.get(runEpoch) ?? -1));
    firstOf.set(runEpoch, Math.min(i, firstOf.get(runEpoch) ?? Infinity));
  }
  const caught = told.findIndex((item) => item.kind === "caught");
  let switchedAt = -1; // the latest trade delivered before the switch
  for (const item of told.slice(0, caught)) {
    if (item.kind === "trade") {
      switchedAt = Math.max(switchedAt, at.get(`${item.epoch}:${item.seq}`)!);
    }
  }
  const lastRun = published.at(-1)!.epoch;
  for (let i = from; i < published.length; i++) {
    const t = published[i];
    const key = `${t.epoch}:${t.seq}`;
    if (delivered.has(key) || covered.has(key)) continue;
    // Behind a restart gap: the old run's tail, the new run's head.
    const tail = i > (lastOf.get(t.epoch) ?? -1) && t.epoch !== lastRun;
    const head = i < (firstOf.get(t.epoch) ?? Infinity);
    assert.ok(
      tail || head,
      `${what}: ${key} (#${i}) neither delivered nor in a gap`,
    );
    assert.ok(
      !t.stored || i > switchedAt,
      `${what}: ${key} (#${i}), stored, lost before the switch`,
    );
  }
}

Deno.test("seam: 500 random runs (restarts, killed runs, seqs wrapping past 2^32, quiet spells, a reader reported behind, durable starts cut at the latest stored trade) deliver every trade once in order per run, or in a gap that says so, and catch up once", () => {
  for (let seed = 1; seed <= 500; seed++) check(seed);
});

Deno.test("seam: history of another run does not switch; the live run's does", () => {
  const seqs: number[] = [];
  let caught = -1;
  const seam = new Seam({
    mayGoLive: () => true,
    tick: (trade) => seqs.push(trade.seq),
    gap: (gap) => seqs.push(gap.count ?? -1), // -1: a producer restart
    caughtUp: (replayed, lastSeq, epoch) => {
      caught = seqs.length;
      assert.deepEqual([replayed, lastSeq, epoch], [4, 1, 9]);
    },
  }, 64);
  seam.liveEpoch(9);
  const live = message([1, 2, 3, 4]);
  for (let i = 0; i < 4; i++) seam.liveTrade(live.select(i));
  seam.historyEpoch(8); // an older run: seqs 1..3 of it are not the ring's
  const old = message([1, 2, 3]);
  for (let i = 0; i < 3; i++) seam.history(old.select(i));
  assert.equal(caught, -1);
  seam.historyEpoch(9);
  const now = message([1, 2]);
  for (let i = 0; i < 2; i++) seam.history(now.select(i));
  assert.equal(caught, 5); // at its first trade: the ring holds the rest
  // The history's run changed: a producer restart, as a ring reader gets.
  assert.deepEqual(seqs, [1, 2, 3, -1, 1, 2, 3, 4]);
  seam.history(message([3]).select(0)); // after the switch: ignored
  seam.liveTrade(message([4]).select(0)); // delivered already
  seam.liveTrade(message([5]).select(0));
  assert.deepEqual(seqs, [1, 2, 3, -1, 1, 2, 3, 4, 5]);
});

Deno.test("seam: the switch releases the held trades' queue (its buffer, up to hold × 48 B, is not kept for the life of the stream)", () => {
  const told: string[] = [];
  const seam = new Seam({
    mayGoLive: () => true,
    tick: (trade) => told.push(String(trade.seq)),
    gap: () => {},
    caughtUp: () => told.push("caught"),
  }, 8);
  seam.liveEpoch(5);
  for (let seq = 1; seq <= 10; seq++) {
    seam.liveTrade(message([seq]).select(0));
  }
  assert.equal(seam.droppedHeld, 2); // a full queue of 8
  assert.equal(seam.historyComplete(), true);
  seam.liveTrade(message([11]).select(0));
  assert.deepEqual(told, ["caught", ..."3 4 5 6 7 8 9 10 11".split(" ")]);
  assert.equal(seam.droppedHeld, 0, "a new, empty queue");
});

Deno.test("RecordQueue: keeps the newest when full, in order across the wrap", () => {
  const queue = new RecordQueue(4);
  const view = message([1, 2, 3, 4, 5, 6]);
  for (let i = 0; i < 6; i++) queue.push(view.select(i));
  assert.equal(queue.headSeq, 3);
  assert.equal(queue.dropped, 2);
  const seqs: number[] = [];
  queue.drain((trade) => seqs.push(trade.seq));
  assert.deepEqual(seqs, [3, 4, 5, 6]);
  assert.equal(queue.size, 0);
  assert.throws(() => new RecordQueue(3), RangeError);
});

Deno.test("seam: a history known complete switches at the oldest held trade: no gap for a quiet stream, an exact one in the same run, a producer restart from another run, none back to an older run", () => {
  const run = (
    script: (seam: Seam) => void,
  ): { told: string[]; switched: boolean } => {
    const told: string[] = [];
    const seam = new Seam({
      mayGoLive: () => true,
      tick: (trade) => told.push(String(trade.seq)),
      gap: (gap) => told.push(`gap ${gap.cause} ${gap.firstSeq}+${gap.count}`),
      caughtUp: (_replayed, lastSeq, epoch) =>
        told.push(`caught ${lastSeq} ${epoch}`),
    }, 8);
    script(seam);
    return { told, switched: seam.live };
  };
  const send = (
    seam: Seam,
    side: "history" | "live",
    seqs: number[],
    at = 0n,
  ) => {
    const view = message(seqs, at);
    for (let i = 0; i < seqs.length; i++) {
      if (side === "history") seam.history(view.select(i));
      else seam.liveTrade(view.select(i));
    }
  };
  // A quiet stream: nothing since the start, the ring holds older trades.
  assert.deepEqual(
    run((seam) => {
      seam.liveEpoch(5);
      assert.equal(seam.historyComplete(), false); // nothing held: no switch
      send(seam, "live", [40, 41]);
      assert.equal(seam.historyComplete(), true);
      send(seam, "live", [42]);
    }).told,
    ["caught null 5", "40", "41", "42"],
  );
  // The same run, the held trades past a hole the history does not fill.
  assert.deepEqual(
    run((seam) => {
      seam.liveEpoch(5);
      seam.historyEpoch(5);
      send(seam, "history", [4294967294, 4294967295]);
      seam.liveGap({
        exchange: "x",
        symbol: "S",
        stream: 0,
        cause: "overwritten",
        firstSeq: 0,
        lastSeq: 2,
        count: 3,
      }, () => assert.fail("a live gap before the switch"));
      send(seam, "live", [3, 4]); // seq wrapped: 0, 1, 2 are missing
      seam.historyComplete();
    }).told,
    [
      "4294967294",
      "4294967295",
      "gap overwritten 0+3",
      "caught 4294967295 5",
      "3",
      "4",
    ],
  );
  // The history ended in run 5, the ring is of a newer run 6.
  assert.deepEqual(
    run((seam) => {
      seam.liveEpoch(6);
      seam.historyEpoch(5);
      send(seam, "history", [10], 100n);
      send(seam, "live", [1, 2], 200n);
      seam.historyComplete();
    }).told,
    ["10", "gap producer restart null+null", "caught 10 6", "1", "2"],
  );
  // The ring is still the older run 4 the history went past: no switch.
  const older = run((seam) => {
    seam.liveEpoch(4);
    seam.historyEpoch(5);
    send(seam, "history", [10], 100n);
    send(seam, "live", [90], 50n);
    assert.equal(seam.historyComplete(), false);
    assert.equal(seam.waitsForRing, true);
  });
  assert.deepEqual(older, { told: ["10"], switched: false });
  // Still that run once a replaced ring would have been attached: the
  // ring's own, newer run (a clock stepped back), behind a restart gap.
  assert.deepEqual(
    run((seam) => {
      seam.liveEpoch(4);
      seam.historyEpoch(5);
      send(seam, "history", [10], 100n);
      send(seam, "live", [90], 50n);
      assert.equal(seam.historyComplete(), false);
      assert.equal(seam.historyComplete({ runSettled: true }), true);
      assert.equal(seam.waitsForRing, false);
    }).told,
    ["10", "gap producer restart null+null", "caught 10 4", "90"],
  );
});

Deno.test("seam: a live epoch change after the switch delivers the new run from its start; before it (a time start), the old run's held trades the history never enters go first, then a producer restart", () => {
  const told: number[] = [];
  const seam = new Seam(
    {
      mayGoLive: () => true,
      tick: (trade) => told.push(trade.seq),
      gap: () => told.push(-1),
      caughtUp: () => told.push(0),
    },
    8,
    { since: 0n },
  );
  seam.liveEpoch(1);
  seam.historyEpoch(2);
  seam.liveTrade(message([7]).select(0)); // run 1, held
  seam.liveEpoch(2); // replaced before the switch: 7 is not of run 2
  assert.equal(seam.held, 0);
  // The history starts in run 2: it never brings run 1's 7 (not stored).
  seam.history(message([1]).select(0));
  seam.liveTrade(message([2]).select(0)); // the switch
  seam.liveEpoch(3); // after it: run 3 numbers from 1 again
  seam.liveGap({
    exchange: "x",
    symbol: "S",
    stream: 0,
    cause: "producer restart",
    firstSeq: null,
    lastSeq: null,
    count: null,
  }, () => told.push(-1));
  seam.liveTrade(message([1]).select(0));
  seam.liveTrade(message([2]).select(0));
  assert.deepEqual(told, [7, -1, 1, 0, 2, -1, 1, 2]);
});

Deno.test("seam: a producer killed while the history replays: its ring's last trades, never stored, go out past the history's last one of its run, then the restart", () => {
  const told: string[] = [];
  const seam = new Seam({
    mayGoLive: () => true,
    tick: (trade) => told.push(String(trade.seq)),
    gap: (gap) => told.push(`gap ${gap.cause} ${gap.firstSeq}+${gap.count}`),
    caughtUp: (_replayed, lastSeq, epoch) =>
      told.push(`caught ${lastSeq} ${epoch}`),
  }, 8);
  const send = (side: "history" | "live", seqs: number[]) => {
    const view = message(seqs);
    for (let i = 0; i < seqs.length; i++) {
      if (side === "history") seam.history(view.select(i));
      else seam.liveTrade(view.select(i));
    }
  };
  seam.liveEpoch(1);
  seam.historyEpoch(1);
  send("history", [1, 2]);
  send("live", [4, 5, 6, 7]); // run 1's ring; JetStream stored up to 5
  seam.liveEpoch(2); // killed -9: run 2's ring
  send("live", [1, 2]);
  send("history", [3, 4, 5]);
  seam.historyEpoch(2);
  send("history", [1]); // the history leaves run 1: 6 and 7 first
  assert.deepEqual(told, [
    "1",
    "2",
    "3",
    "4",
    "5",
    "6",
    "7",
    "gap producer restart null+null",
    "1",
    "caught 1 2",
    "2",
  ]);
  // Known complete in run 1 (run 2 stored nothing yet): the same tail.
  told.length = 0;
  const quiet = new Seam({
    mayGoLive: () => true,
    tick: (trade) => told.push(String(trade.seq)),
    gap: (gap) => told.push(`gap ${gap.cause} ${gap.firstSeq}+${gap.count}`),
    caughtUp: (_replayed, lastSeq, epoch) =>
      told.push(`caught ${lastSeq} ${epoch}`),
  }, 8);
  quiet.liveEpoch(1);
  quiet.historyEpoch(1);
  quiet.history(message([1]).select(0));
  const ring1 = message([3, 4]); // 2 overwritten in the ring
  for (let i = 0; i < 2; i++) quiet.liveTrade(ring1.select(i));
  quiet.liveEpoch(2);
  quiet.liveTrade(message([1]).select(0));
  assert.equal(quiet.historyComplete(), true);
  assert.deepEqual(told, [
    "1",
    "gap overwritten 2+1",
    "3",
    "4",
    "gap producer restart null+null",
    "caught 1 2",
    "1",
  ]);
});

Deno.test("seam: a time start known complete with nothing delivered leaves out the held trades received before it", () => {
  const told: string[] = [];
  const seam = new Seam(
    {
      mayGoLive: () => true,
      tick: (trade) => told.push(String(trade.seq)),
      gap: (gap) => told.push(`gap ${gap.cause}`),
      caughtUp: (_replayed, lastSeq, epoch) =>
        told.push(`caught ${lastSeq} ${epoch}`),
    },
    8,
    { since: 250n },
  );
  seam.liveEpoch(5);
  seam.liveTrade(message([40], 100n).select(0));
  seam.liveTrade(message([41], 200n).select(0));
  seam.liveTrade(message([42], 300n).select(0));
  assert.equal(seam.historyComplete(), true);
  assert.deepEqual(told, ["caught null 5", "42"]);
  // Every held trade older than the start: live from the next one.
  told.length = 0;
  const old = new Seam(
    {
      mayGoLive: () => true,
      tick: (trade) => told.push(String(trade.seq)),
      gap: (gap) => told.push(`gap ${gap.cause}`),
      caughtUp: (_replayed, lastSeq, epoch) =>
        told.push(`caught ${lastSeq} ${epoch}`),
    },
    8,
    { since: 250n },
  );
  old.liveEpoch(5);
  old.liveTrade(message([40], 100n).select(0));
  assert.equal(old.historyComplete(), true);
  old.liveTrade(message([41], 300n).select(0));
  assert.deepEqual(told, ["caught null 5", "41"]);
});

Deno.test("seam: history without Marketbus-Epoch known complete switches by ts_recv: what it replayed is left out, the rest continues or follows a producer restart", () => {
  const run = (ring: [number, bigint][]): string[] => {
    const told: string[] = [];
    const seam = new Seam({
      mayGoLive: () => true,
      tick: (trade) => told.push(String(trade.seq)),
      gap: (gap) => told.push(`gap ${gap.cause}`),
      caughtUp: (_replayed, lastSeq) => told.push(`caught ${lastSeq}`),
    }, 16);
    seam.liveEpoch(7);
    seam.historyEpoch(0); // no header: no known run
    for (let seq = 5; seq <= 10; seq++) {
      seam.history(message([seq], BigInt(seq * 10)).select(0));
    }
    for (const [seq, at] of ring) seam.liveTrade(message([seq], at).select(0));
    told.push(`complete ${seam.historyComplete()}`);
    return told.slice(6);
  };
  // The same run: 1 to 10 replayed (by ts_recv), 11 continues.
  const same: [number, bigint][] = [];
  for (let seq = 1; seq <= 11; seq++) same.push([seq, BigInt(seq * 10)]);
  assert.deepEqual(run(same), ["caught 10", "11", "complete true"]);
  // Two trades received together: the one at or before the history's seq went.
  assert.deepEqual(run([[10, 100n], [11, 100n]]), [
    "caught 10",
    "11",
    "complete true",
  ]);
  // A new run's ring (seqs from 1, received later): behind a restart.
  assert.deepEqual(run([[1, 200n], [2, 210n]]), [
    "gap producer restart",
    "caught 10",
    "1",
    "2",
    "complete true",
  ]);
  // Only trades it replayed: no switch yet.
  assert.deepEqual(run([[9, 90n], [10, 100n]]), ["complete false"]);
});

Deno.test("seam: history without Marketbus-Epoch across a producer restart (seqs from 1 again) delivers the new run behind a producer restart, then switches to the ring with no duplicate", () => {
  const told: string[] = [];
  const seam = new Seam({
    mayGoLive: () => true,
    tick: (trade) => told.push(String(trade.seq)),
    gap: (gap) => told.push(`gap ${gap.cause}`),
    caughtUp: (replayed, lastSeq) => told.push(`caught ${replayed} ${lastSeq}`),
  }, 16);
  seam.liveEpoch(77);
  seam.historyEpoch(0); // an old serve: no header
  const at = (i: number) => BigInt(i * 10);
  let i = 0;
  for (let seq = 1; seq <= 5; seq++) {
    seam.history(message([seq], at(++i)).select(0));
  }
  for (let seq = 1; seq <= 10; seq++) {
    seam.history(message([seq], at(++i)).select(0));
  }
  // The ring (the second run, now with a header) from 8 on.
  for (let seq = 8; seq <= 12; seq++) {
    seam.liveTrade(message([seq], at(seq + 5)).select(0));
  }
  assert.equal(seam.historyComplete(), true);
  assert.deepEqual(told, [
    ..."12345".split(""),
    "gap producer restart",
    ..."1 2 3 4 5 6 7 8 9 10".split(" "),
    "caught 15 10",
    "11",
    "12",
  ]);
});

Deno.test("seam: a durable start known complete with nothing delivered leaves out the held trades at or before the latest stored one of their run; an exact gap when the ring lost the next ones", () => {
  const run = (held: number[], stored?: StoredCut) => {
    const told: string[] = [];
    const seam = new Seam({
      mayGoLive: () => true,
      tick: (trade) => told.push(String(trade.seq)),
      gap: (gap) => told.push(`gap ${gap.firstSeq}+${gap.count}`),
      caughtUp: (_replayed, lastSeq) => told.push(`caught ${lastSeq}`),
    }, 16);
    seam.liveEpoch(5);
    for (const seq of held) seam.liveTrade(message([seq]).select(0));
    seam.historyComplete({ stored });
    return told;
  };
  assert.deepEqual(run([1, 2, 3, 4], { epoch: 5, seq: 2, tsRecv: 0n }), [
    "caught null",
    "3",
    "4",
  ]);
  assert.deepEqual(run([5, 6], { epoch: 5, seq: 2, tsRecv: 0n }), [
    "gap 3+2",
    "caught null",
    "5",
    "6",
  ]);
  assert.deepEqual(run([1, 2], { epoch: 4, seq: 9, tsRecv: 0n }), [
    "caught null",
    "1",
    "2",
  ]);
  assert.deepEqual(run([1, 2], { epoch: 5, seq: 2, tsRecv: 0n }), [
    "caught null",
  ]);
  // Stored with no Marketbus-Epoch (an old serve): cut by its ts_recv, the
  // held trades received before it (or with it, at or before its seq) go.
  const at = 1_764_000_000_000_100_000n; // the held trades' ts_recv
  assert.deepEqual(run([1, 2], { epoch: 0, seq: 2, tsRecv: at }), [
    "caught null",
  ]);
  assert.deepEqual(run([1, 2, 3], { epoch: 0, seq: 2, tsRecv: at }), [
    "caught null",
    "3",
  ]);
  assert.deepEqual(run([1, 2], { epoch: 0, seq: 9, tsRecv: at - 1n }), [
    "caught null",
    "1",
    "2",
  ]);
});

Deno.test("seam: a time start known complete with no history trade delivers the kept runs' held trades from since on, each followed by a producer restart, then switches", () => {
  const told: string[] = [];
  const seam = new Seam(
    {
      mayGoLive: () => true,
      tick: (trade) => told.push(String(trade.seq)),
      gap: (gap) => told.push(`gap ${gap.cause}`),
      caughtUp: (_replayed, lastSeq) => told.push(`caught ${lastSeq}`),
    },
    8,
    { since: 100n },
  );
  seam.liveEpoch(1);
  for (const [seq, at] of [[4, 50n], [5, 100n], [6, 150n]] as const) {
    seam.liveTrade(message([seq], at).select(0));
  }
  seam.liveEpoch(2); // serve restarted; JetStream never had run 1's tail
  seam.liveTrade(message([1], 200n).select(0));
  seam.liveTrade(message([2], 210n).select(0));
  assert.equal(seam.historyComplete(), true);
  assert.deepEqual(told, [
    "5",
    "6",
    "gap producer restart",
    "caught null",
    "1",
    "2",
  ]);
});

Deno.test("seam: more than 4 old runs kept before the switch: the oldest one's held trades the history does not bring are counted (evicted) and told, when the history leaves that run or at the switch", () => {
  const run = (history: [number, number[]][]) => {
    const told: string[] = [];
    const seam = new Seam({
      mayGoLive: () => true,
      tick: (trade) => told.push(String(trade.seq)),
      gap: () => {},
      caughtUp: () => told.push("caught"),
      evicted: (epoch, count) => told.push(`evicted ${epoch}: ${count}`),
    }, 16);
    for (let epoch = 1; epoch <= 6; epoch++) {
      seam.liveEpoch(epoch);
      seam.liveTrade(message([1, 2]).select(0));
      seam.liveTrade(message([1, 2]).select(1));
    }
    for (const [epoch, seqs] of history) {
      seam.historyEpoch(epoch);
      for (const seq of seqs) seam.history(message([seq]).select(0));
    }
    seam.liveTrade(message([3]).select(0));
    return { told: told.filter((t) => !/^\d$/.test(t)), evicted: seam.evicted };
  };
  const all: [number, number[]][] = [1, 2, 3, 4, 5, 6].map((e) => [e, [1, 2]]);
  assert.deepEqual(run(all), { told: ["caught"], evicted: 0 });
  assert.deepEqual(run([[1, [1]], ...all.slice(1)]), {
    told: ["evicted 1: 1", "caught"],
    evicted: 1,
  });
  assert.deepEqual(run([[1, [2]], ...all.slice(1)]), {
    told: ["caught"],
    evicted: 0,
  });
  assert.deepEqual(run(all.slice(1)), {
    told: ["evicted 1: 2", "caught"],
    evicted: 2,
  });
});

Deno.test("seam: a durable start delivers the kept runs' held trades JetStream never stored (past the latest stored trade of its run, later runs and runs the history skips whole), each followed by a producer restart; the older ones it cannot tell are counted and told", () => {
  const run = (script: (seam: Seam) => void) => {
    const told: string[] = [];
    const seam = new Seam({
      mayGoLive: () => true,
      tick: (trade) => told.push(String(trade.seq)),
      gap: (gap) => told.push(`gap ${gap.cause} ${gap.firstSeq}+${gap.count}`),
      caughtUp: (_replayed, lastSeq, epoch) =>
        told.push(`caught ${lastSeq} ${epoch}`),
      unsure: (epoch, count) => told.push(`unsure ${epoch}: ${count}`),
    }, 8);
    script(seam);
    return { told, unsure: seam.unsure };
  };
  const held = (seam: Seam, epoch: number, seqs: number[]) => {
    seam.liveEpoch(epoch);
    for (const seq of seqs) seam.liveTrade(message([seq]).select(0));
  };
  const twoRuns = (seam: Seam) => {
    held(seam, 1, [4, 5, 6]); // serve killed: 5, 6 in its ring only
    held(seam, 2, [1, 2]);
  };
  const restart = "gap producer restart null+null";
  // The latest stored trade is run 1's 4: 5 and 6 were never stored.
  assert.deepEqual(
    run((seam) => {
      twoRuns(seam);
      seam.historyComplete({ stored: { epoch: 1, seq: 4, tsRecv: 0n } });
    }),
    {
      told: ["5", "6", restart, "caught null 2", "1", "2"],
      unsure: 0,
    },
  );
  // The ring no longer holds run 1's 3, past the stored 2: an exact gap (3+1).
  assert.deepEqual(
    run((seam) => {
      twoRuns(seam);
      seam.historyComplete({ stored: { epoch: 1, seq: 2, tsRecv: 0n } });
    }).told,
    [
      "gap overwritten 3+1",
      "4",
      "5",
      "6",
      restart,
      "caught null 2",
      "1",
      "2",
    ],
  );
  // Nothing stored: every kept run goes out.
  assert.deepEqual(
    run((seam) => {
      twoRuns(seam);
      seam.historyComplete({ stored: null });
    }).told,
    ["4", "5", "6", restart, "caught null 2", "1", "2"],
  );
  // Stored with no Marketbus-Epoch (an old serve): every run cut by its
  // ts_recv (the held trades' is `at`): all left out, or all delivered.
  const at = 1_764_000_000_000_100_000n;
  assert.deepEqual(
    run((seam) => {
      twoRuns(seam);
      seam.historyComplete({ stored: { epoch: 0, seq: 9, tsRecv: at + 1n } });
    }),
    { told: ["caught null 2"], unsure: 0 },
  );
  assert.deepEqual(
    run((seam) => {
      twoRuns(seam);
      seam.historyComplete({ stored: { epoch: 0, seq: 9, tsRecv: at - 1n } });
    }).told,
    ["4", "5", "6", restart, "caught null 2", "1", "2"],
  );
  // The latest stored trade is of the live run: run 1 cannot be told.
  assert.deepEqual(
    run((seam) => {
      twoRuns(seam);
      seam.historyComplete({ stored: { epoch: 2, seq: 1, tsRecv: 0n } });
    }),
    { told: ["unsure 1: 3", "caught null 2", "2"], unsure: 3 },
  );
  // The history goes from run 1 to run 3: kept run 2, skipped, goes out.
  assert.deepEqual(
    run((seam) => {
      held(seam, 1, [5]);
      held(seam, 2, [1, 2]);
      held(seam, 3, [1]);
      seam.historyEpoch(1);
      seam.history(message([4]).select(0));
      seam.history(message([5]).select(0));
      seam.historyEpoch(3);
      seam.history(message([1]).select(0));
    }).told,
    ["4", "5", restart, "1", "2", restart, "1", "caught 1 3"],
  );
});

Deno.test("seam: a history trade of its run filling a range the history skipped (stored after later ones: a publish retried) is told late, not dropped silently; a repeat and a range a history gap told are not", () => {
  const told: string[] = [];
  const seam = new Seam({
    mayGoLive: () => true,
    tick: (trade) => told.push(String(trade.seq)),
    gap: (gap) => told.push(`gap ${gap.firstSeq}+${gap.count}`),
    caughtUp: () => told.push("caught"),
    late: (seq) => told.push(`late ${seq}`),
  }, 8);
  const history = (seqs: number[]) => {
    const view = message(seqs);
    for (let i = 0; i < seqs.length; i++) seam.history(view.select(i));
  };
  const gap: TradeGap = {
    exchange: "x",
    symbol: "A",
    stream: 0,
    cause: "stream limit or deleted",
    firstSeq: 7,
    lastSeq: 8,
    count: 2,
  };
  seam.historyEpoch(7);
  history([1, 2]);
  history([5, 6]); // 3 and 4 not stored yet
  history([3, 4]); // the retry, stored late
  history([6]); // stored twice
  seam.historyGap(gap, (g) => told.push(`gap ${g.firstSeq}+${g.count}`));
  history([9]);
  history([8]); // counted in the gap already
  assert.deepEqual(told, [
    "1",
    "2",
    "5",
    "6",
    "late 3",
    "late 4",
    "gap 7+2",
    "9",
  ]);
  // Another run: the old run's holes (3, 4) are forgotten: 4 is a repeat.
  seam.historyEpoch(8);
  history([1, 2, 3, 4]);
  history([4]);
  assert.deepEqual(told.slice(8), ["gap null+null", "1", "2", "3", "4"]);
});
