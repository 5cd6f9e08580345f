// The seam of catch-up then live, driven by simulated history and live
// feeds at random moments: every seq exactly once, in order, one caught-up
// event between the last history trade and the first live one.

import assert from "node:assert/strict";
import { encodeMessage } from "../wire/codec.ts";
import { Side } from "../wire/trade.ts";
import { TradeView } from "../wire/trade_view.ts";
import type { TradeGap } from "../transport/feed.ts";
import { Seam } from "./_seam.ts";
import { RecordQueue } from "./_record_queue.ts";

function message(seqs: readonly number[]): TradeView {
  const view = new TradeView();
  view.wrap(encodeMessage(seqs.map((seq) => ({
    side: Side.Buy,
    flags: 0,
    seq,
    tsEvent: 1_764_000_000_000_000_000n,
    tsRecv: 1_764_000_000_000_100_000n,
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

interface Outcome {
  seqs: number[];
  caughtUpAfter: number | undefined;
  gaps: number;
}

/**
 * One simulated run: `published` trades of epoch 7, published live in
 * steps; the ring keeps the last `ringSize`; the history (JetStream) holds
 * everything from `historyFrom` and replays in steps of random size, faster
 * than publishing; the live reader reads from the oldest the ring holds and
 * is lapped now and then (a gap). The first `oldRun` history trades are of
 * another epoch.
 */
function simulate(seed: number): Outcome {
  const rand = random(seed);
  const hold = 2 ** Math.floor(1 + rand() * 8);
  const ringSize = 16 + Math.floor(rand() * 200);
  const published = 2000;
  const historyFrom = 1 + Math.floor(rand() * 50);
  const out: Outcome = { seqs: [], caughtUpAfter: undefined, gaps: 0 };
  const seam = new Seam({
    tick: (trade) => out.seqs.push(trade.seq),
    caughtUp: () => {
      assert.equal(out.caughtUpAfter, undefined, "caught up twice");
      out.caughtUpAfter = out.seqs.length;
    },
  }, hold);
  // After the switch a lapped reader loses trades for good: a gap, in order.
  const gap = (lost: TradeGap) => {
    assert.notEqual(
      out.caughtUpAfter,
      undefined,
      "a live gap before the switch",
    );
    out.gaps++;
    for (let seq = lost.firstSeq!; seq <= lost.lastSeq!; seq++) {
      out.seqs.push(-seq);
    }
  };
  let head = Math.floor(rand() * 400); // published so far
  let historyAt = historyFrom; // next seq the history delivers
  let liveAt = Math.max(1, head - ringSize + 1); // next seq the reader reads
  seam.liveEpoch(7);
  seam.historyEpoch(7);
  while (historyAt <= published || liveAt <= published) {
    const step = rand();
    if (step < 0.3 && head < published) {
      head = Math.min(published, head + 1 + Math.floor(rand() * 20));
    } else if (step < 0.65 && historyAt <= head) {
      const n = Math.min(head - historyAt + 1, 1 + Math.floor(rand() * 64));
      const view = message(
        Array.from({ length: n }, (_, i) => historyAt + i),
      );
      for (let i = 0; i < n; i++) seam.history(view.select(i));
      historyAt += n;
    } else if (liveAt <= head) {
      if (head - liveAt >= ringSize || rand() < 0.02) {
        // lapped: the reader jumps to the oldest the ring holds
        const to = Math.max(liveAt + 1, head - ringSize + 1);
        seam.liveGap({
          exchange: "x",
          symbol: "S",
          stream: 0,
          cause: "overwritten",
          firstSeq: liveAt,
          lastSeq: to - 1,
          count: to - liveAt,
        }, gap);
        liveAt = to;
      }
      const n = Math.min(head - liveAt + 1, 1 + Math.floor(rand() * 32));
      if (n > 0) {
        const view = message(Array.from({ length: n }, (_, i) => liveAt + i));
        for (let i = 0; i < n; i++) seam.liveTrade(view.select(i));
        liveAt += n;
      }
    } else if (head === published && historyAt > head && liveAt > head) {
      break;
    }
  }
  return out;
}

Deno.test("seam: 500 random runs deliver every seq from the history's first once, in order (or, after the switch, in a gap), and catch up once", () => {
  for (let seed = 1; seed <= 500; seed++) {
    const out = simulate(seed);
    const first = out.seqs[0];
    const covered = out.seqs.map(Math.abs);
    const expected = Array.from(
      { length: 2000 - first + 1 },
      (_, i) => first + i,
    );
    const bad = covered.findIndex((s, i) => s !== expected[i]);
    assert.equal(
      bad === -1 && out.seqs.length === expected.length,
      true,
      `seed ${seed}: ${out.seqs.length} of ${expected.length}, first wrong at ${bad}: ${
        out.seqs.slice(Math.max(0, bad - 3), bad + 3)
      } caught after ${out.caughtUpAfter}`,
    );
    assert.notEqual(out.caughtUpAfter, undefined, `seed ${seed}: no switch`);
    // Nothing of the history is lost: everything before the switch is there.
    assert.ok(out.seqs.slice(0, out.caughtUpAfter).every((seq) => seq > 0));
  }
});

Deno.test("seam: history of another run does not switch; the live run's does", () => {
  const seqs: number[] = [];
  let caught = -1;
  const seam = new Seam({
    tick: (trade) => seqs.push(trade.seq),
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
  assert.equal(caught, 4); // at its first trade: the ring holds the rest
  assert.deepEqual(seqs, [1, 2, 3, 1, 2, 3, 4]);
  seam.history(message([3]).select(0)); // after the switch: ignored
  seam.liveTrade(message([4]).select(0)); // delivered already
  seam.liveTrade(message([5]).select(0));
  assert.deepEqual(seqs, [1, 2, 3, 1, 2, 3, 4, 5]);
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
