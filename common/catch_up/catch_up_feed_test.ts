// The catch-up feed's composition, with two scripted feeds: streams mapped
// by (exchange, symbol) whatever each feed's indexes, history first, the
// switch told once per stream in order, the history subscription ended once
// every stream is live, the live feed's "behind" before the switch not
// passed on, and the losses it passes on counted.

import assert from "node:assert/strict";
import { encodeMessage } from "../wire/codec.ts";
import { Side, TradeFlags } from "../wire/trade.ts";
import { TradeView } from "../wire/trade_view.ts";
import type {
  ConsumerLag,
  FeedEvent,
  OnTick,
  StreamStats,
  SubscribeOptions,
  TradeFeed,
} from "../transport/feed.ts";
import { SnapshotFeed } from "../transport/snapshot_feed.ts";
import { captureLog } from "../../tests/_capture_log.ts";
import { delay } from "../runtime/delay.ts";
import { gauge } from "../metrics/registry.ts";
import { CatchUpFeed } from "./catch_up_feed.ts";

/** A feed whose subscription the test drives; it ends when its signal aborts. */
class ScriptedFeed implements TradeFeed {
  readonly lossCauses = ["overwritten" as const];
  onTick: OnTick = () => {};
  options: SubscribeOptions = {};
  ended = false;
  subscribed = false;
  /** What {@linkcode status} says of `idle`. */
  idle = false;
  /** What {@linkcode status} says of `acknowledged`. */
  acknowledged: number | undefined;
  constructor(readonly name: string, readonly order: string[]) {}
  subscribeTrades(
    _symbols: readonly string[],
    onTick: OnTick,
    options: SubscribeOptions = {},
  ): Promise<void> {
    this.onTick = onTick;
    this.options = options;
    this.subscribed = true;
    this.order.forEach((symbol, index) =>
      options.onStream?.({ exchange: "x", symbol }, index)
    );
    return new Promise((resolve) =>
      options.signal?.addEventListener("abort", () => {
        this.ended = true;
        resolve();
      })
    );
  }
  /** Delivers trades `seqs` of `symbol`, epoch `epoch` told first, received at `tsRecv`. */
  send(
    symbol: string,
    epoch: number,
    seqs: number[],
    tsRecv = 1_764_000_000_000_000_000n,
  ): void {
    const index = this.order.indexOf(symbol);
    this.options.onEpoch?.(index, epoch);
    const view = new TradeView();
    view.wrap(encodeMessage(seqs.map((seq) => ({
      side: Side.Buy,
      flags: 0,
      seq,
      tsEvent: 1_764_000_000_000_000_000n,
      tsRecv,
      priceFixed: 1_000_000_000n,
      size: 1,
      tradeId: BigInt(seq),
    }))));
    for (let i = 0; i < seqs.length; i++) {
      this.onTick(view.select(i), { exchange: "x", symbol }, index);
    }
  }
  /** What {@linkcode stats} returns. */
  rows: StreamStats[] = [];
  stats() {
    return this.rows;
  }
  /** How many times {@linkcode status} was called. */
  polled = 0;
  status() {
    this.polled++;
    return {
      connected: true,
      idle: this.idle,
      acknowledged: this.acknowledged,
      detail: this.name,
    };
  }
  metrics() {
    return [gauge({ name: `${this.name}_family`, help: this.name }, 1)];
  }
}

Deno.test("CatchUpFeed: history, then the held live trades, per stream in order; the history ends once every stream is live", async () => {
  const live = new ScriptedFeed("live", ["A", "B"]);
  const history = new ScriptedFeed("history", ["B", "A"]); // other indexes
  const feed = new CatchUpFeed({ history, live, hold: 16, behindQuietMs: 0 });
  const got: string[] = [];
  const events: FeedEvent[] = [];
  const stop = new AbortController();
  const done = feed.subscribeTrades([], (trade, origin, stream) => {
    got.push(`${origin.symbol}${stream}:${trade.seq}`);
  }, {
    signal: stop.signal,
    onStream: (origin, index) => got.push(`stream ${origin.symbol}=${index}`),
    onCaughtUp: (e) => got.push(`caught ${e.symbol} after ${e.replayed}`),
    onEvent: (e) => events.push(e),
  });
  live.send("A", 9, [5, 6, 7]);
  live.options.onEvent?.({
    kind: "behind",
    exchange: "x",
    symbol: "A",
    stream: 0,
    message: "A: behind",
  });
  assert.equal(feed.status().connected, true);
  assert.match(feed.status().detail, /^catching up: A, B;/);
  history.send("A", 9, [3]);
  history.send("A", 9, [4]); // the switch: the held 5 is next
  history.send("A", 9, [5, 6]); // ignored after it
  live.send("A", 9, [8]);
  assert.deepEqual(feed.caughtUp(), [true, false]);
  assert.equal(history.ended, false);
  live.send("B", 9, [1]);
  history.send("B", 9, [1]);
  assert.equal(history.ended, true);
  assert.equal(feed.status().detail, "live");
  live.options.onGap?.({
    exchange: "x",
    symbol: "B",
    stream: 1,
    cause: "overwritten",
    firstSeq: 2,
    lastSeq: 4,
    count: 3,
  });
  stop.abort();
  await done;
  assert.deepEqual(got, [
    "stream A=0",
    "stream B=1",
    "A0:3",
    "A0:4",
    "caught A after 2",
    "A0:5",
    "A0:6",
    "A0:7",
    "A0:8",
    "B1:1",
    "caught B after 1",
  ]);
  assert.deepEqual(events, [], "behind before the switch is not passed on");
  const stats = feed.stats();
  assert.deepEqual(stats.map((s) => [s.symbol, s.received, s.lost]), [
    ["A", 6, 0],
    ["B", 1, 3],
  ]);
  assert.deepEqual(stats[1].lostBy, { overwritten: 3 });
});

Deno.test("CatchUpFeed: the history's metric families (its NATS connection, its consumer) are exported while it is read, not once every stream is live and its connection closed", async () => {
  const live = new ScriptedFeed("live", ["A", "B"]);
  const history = new ScriptedFeed("history", ["A", "B"]);
  const feed = new CatchUpFeed({ history, live, hold: 16, behindQuietMs: 0 });
  const names = () => feed.metrics([]).map((family) => family.name);
  assert.deepEqual(names(), ["live_family", "history_family"], "before");
  const stop = new AbortController();
  const done = feed.subscribeTrades([], () => {}, { signal: stop.signal });
  live.send("A", 9, [2]);
  history.send("A", 9, [1, 2]);
  assert.deepEqual(names(), ["live_family", "history_family"], "A switched");
  live.send("B", 9, [2]);
  history.send("B", 9, [1, 2]);
  assert.equal(history.ended, true);
  assert.deepEqual(names(), ["live_family"], "every stream live");
  stop.abort();
  await done;
  assert.deepEqual(names(), ["live_family"], "after the subscription");
});

Deno.test("--snapshot with --catch-up: each stream's snapshot first, marked, before its history; then the history in order with the snapshot's trade again, unmarked, in its place, the switch and live; nothing skipped", async () => {
  const live = new ScriptedFeed("live", ["A", "B"]);
  const history = new ScriptedFeed("history", ["A", "B"]);
  const { log } = captureLog();
  const stored = (symbol: string, seq: number) => ({
    origin: { exchange: "x", symbol },
    record: encodeMessage([{
      side: Side.Buy,
      flags: 0,
      seq,
      tsEvent: 1_764_000_000_000_000_000n,
      tsRecv: 1_764_000_000_000_000_000n,
      priceFixed: 1_000_000_000n,
      size: 1,
      tradeId: BigInt(seq),
    }]),
    streamSeq: seq,
    epoch: 9,
    where: `at ${seq}`,
  });
  const feed = new SnapshotFeed(new CatchUpFeed({ history, live, hold: 16 }), {
    load: () => Promise.resolve([stored("A", 4), stored("B", 2)]),
    log,
    preview: true,
  });
  const got: string[] = [];
  const stop = new AbortController();
  const done = feed.subscribeTrades([], (trade, origin) => {
    const mark = (trade.flags & TradeFlags.Snapshot) !== 0 ? "s" : "";
    got.push(`${origin.symbol}:${trade.seq}${mark}`);
  }, {
    signal: stop.signal,
    limit: 100,
    onCaughtUp: (e) => got.push(`caught ${e.symbol} after ${e.replayed}`),
  });
  // The snapshot is loaded before the feeds subscribe.
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(got, ["A:4s", "B:2s"]);
  live.send("A", 9, [5, 6]);
  history.send("A", 9, [2, 3, 4]); // from SINCE, the snapshot's trade in its place
  live.send("B", 9, [3]);
  history.send("B", 9, [1, 2]);
  assert.equal(history.ended, true);
  stop.abort();
  await done;
  assert.deepEqual(got, [
    "A:4s",
    "B:2s",
    "A:2",
    "A:3",
    "A:4",
    "caught A after 3",
    "A:5",
    "A:6",
    "B:1",
    "B:2",
    "caught B after 2",
    "B:3",
  ]);
  assert.deepEqual(feed.stats().map((s) => [s.symbol, s.received]), [
    ["A", 5],
    ["B", 3],
  ]);
});

Deno.test("CatchUpFeed: a stream's lag is its history consumer's (lagOf said) until its switch, then its ring reader's own", async () => {
  const live = new ScriptedFeed("live", ["A"]);
  const history = new ScriptedFeed("history", ["A"]);
  const row = (lag: number, lagOf?: ConsumerLag): StreamStats => ({
    exchange: "x",
    symbol: "A",
    received: 0,
    lost: 0,
    lostBy: {},
    invalid: 0,
    lag,
    ...lagOf !== undefined && { lagOf },
    restarts: 0,
    state: "alive",
  });
  const ordered = { stream: "S", current: true };
  history.rows = [row(70, ordered)];
  live.rows = [row(3)];
  const feed = new CatchUpFeed({ history, live, hold: 16, behindQuietMs: 0 });
  const stop = new AbortController();
  const done = feed.subscribeTrades([], () => {}, { signal: stop.signal });
  live.send("A", 9, [2]);
  assert.deepEqual(
    feed.stats().map((s) => [s.lag, s.lagOf]),
    [[70, ordered]],
  );
  history.send("A", 9, [1]); // the switch
  assert.deepEqual(feed.caughtUp(), [true]);
  assert.deepEqual(feed.stats().map((s) => [s.lag, s.lagOf]), [[3, undefined]]);
  assert.equal("lagOf" in feed.stats()[0], false);
  stop.abort();
  await done;
});

Deno.test("CatchUpFeed: a stream whose ring reader was reported behind switches only behindQuietMs after the report", async () => {
  const live = new ScriptedFeed("live", ["A"]);
  const history = new ScriptedFeed("history", ["A"]);
  const feed = new CatchUpFeed({ history, live, hold: 64, behindQuietMs: 200 });
  const got: string[] = [];
  const stop = new AbortController();
  const done = feed.subscribeTrades([], (trade) => got.push(`${trade.seq}`), {
    signal: stop.signal,
    onCaughtUp: () => got.push("caught"),
  });
  live.options.onEvent?.({
    kind: "behind",
    exchange: "x",
    symbol: "A",
    stream: 0,
    message: "A: behind",
  });
  live.send("A", 9, [2, 3]);
  history.send("A", 9, [1, 2]); // could switch: the reader is behind
  assert.deepEqual(got, ["1", "2"]);
  await delay(300);
  history.send("A", 9, [3]);
  live.send("A", 9, [4]); // quiet long enough: the switch
  stop.abort();
  await done;
  assert.deepEqual(got, ["1", "2", "3", "caught", "4"]);
});

Deno.test("CatchUpFeed: a negative settleMs is a RangeError", () => {
  assert.throws(
    () =>
      new CatchUpFeed({
        history: new ScriptedFeed("history", ["A"]),
        live: new ScriptedFeed("live", ["A"]),
        settleMs: -1,
      }),
    RangeError,
  );
});

Deno.test("CatchUpFeed skips nothing: a skip rule is a TypeError", async () => {
  const feed = new CatchUpFeed({
    history: new ScriptedFeed("history", ["A"]),
    live: new ScriptedFeed("live", ["A"]),
  });
  await assert.rejects(
    feed.subscribeTrades([], () => {}, { skip: () => true }),
    TypeError,
  );
});

/** Resolves with `promise`'s outcome, or rejects after `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`not settled in ${ms} ms`)),
        ms,
      );
    }),
  ]);
}

Deno.test("CatchUpFeed: an aborted signal ends the subscription at once, nothing subscribed", async () => {
  const live = new ScriptedFeed("live", ["A"]);
  const history = new ScriptedFeed("history", ["A"]);
  const feed = new CatchUpFeed({ history, live });
  await within(
    feed.subscribeTrades([], () => {}, { signal: AbortSignal.abort() }),
    2000,
  );
  assert.equal(live.subscribed || history.subscribed, false);
});

Deno.test("CatchUpFeed: the limit holds at the switch (the held trades beyond it are not delivered)", async () => {
  const live = new ScriptedFeed("live", ["A"]);
  const history = new ScriptedFeed("history", ["A"]);
  const feed = new CatchUpFeed({ history, live, hold: 1024 });
  const got: number[] = [];
  const done = feed.subscribeTrades([], (trade) => got.push(trade.seq), {
    limit: 3,
  });
  live.send("A", 9, Array.from({ length: 991 }, (_, i) => i + 2));
  history.send("A", 9, [1]); // the switch: 991 held trades follow
  await within(done, 2000);
  assert.deepEqual(got, [1, 2, 3]);
  assert.deepEqual(feed.stats().map((s) => s.received), [3]);
});

Deno.test("CatchUpFeed: a stream the history has nothing of switches once the history has had nothing pending for settleMs; status().idle is the feeds'", async () => {
  const live = new ScriptedFeed("live", ["A", "B"]);
  const history = new ScriptedFeed("history", ["A", "B"]);
  const feed = new CatchUpFeed({ history, live, hold: 16, settleMs: 50 });
  const got: string[] = [];
  const stop = new AbortController();
  const done = feed.subscribeTrades([], (trade, origin) => {
    got.push(`${origin.symbol}:${trade.seq}`);
  }, {
    signal: stop.signal,
    onGap: (gap) => got.push(`${gap.symbol} gap ${gap.cause}`),
    onCaughtUp: (e) => got.push(`caught ${e.symbol} ${e.lastSeq} ${e.epoch}`),
  });
  // A: quiet since the start, its ring holds older trades. B: the history
  // went from run 8 to run 9 (a restart), the ring is run 9's.
  live.send("A", 9, [40, 41]);
  history.send("B", 8, [5]);
  history.send("B", 9, [1]);
  live.send("B", 9, [1, 2]);
  assert.equal(feed.status().idle, false);
  history.idle = live.idle = true;
  assert.equal(feed.status().idle, true, "nothing pending on either feed");
  const deadline = Date.now() + 3000;
  while (!feed.caughtUp().every(Boolean) && Date.now() < deadline) {
    await delay(20);
  }
  stop.abort();
  await done;
  assert.deepEqual(got, [
    "B:5",
    "B gap producer restart",
    "B:1",
    "caught B 1 9",
    "B:2",
    "caught A null 9",
    "A:40",
    "A:41",
  ]);
});

Deno.test("CatchUpFeed: the ring's loss reports say what the stream lost after its switch, by its own counters (and by cause)", async () => {
  const live = new ScriptedFeed("live", ["A"]);
  const history = new ScriptedFeed("history", ["A"]);
  const feed = new CatchUpFeed({ history, live, hold: 16 });
  const events: string[] = [];
  const counted: FeedEvent["lostBy"][] = [];
  const stop = new AbortController();
  const done = feed.subscribeTrades([], () => {}, {
    signal: stop.signal,
    onEvent: (e) => {
      events.push(e.message);
      counted.push(e.lostBy);
    },
  });
  const lost = (message: string) =>
    live.options.onEvent?.({
      kind: "lost",
      exchange: "x",
      symbol: "A",
      stream: 0,
      message,
    });
  // Lapped before the switch: the history delivers those.
  live.options.onGap?.({
    exchange: "x",
    symbol: "A",
    stream: 0,
    cause: "overwritten",
    firstSeq: 1,
    lastSeq: 50,
    count: 50,
  });
  live.send("A", 9, [60]);
  history.send("A", 9, [58, 59]); // the switch
  lost("overwrote 50 trades (50 lost in total)"); // the batched report
  live.options.onGap?.({
    exchange: "x",
    symbol: "A",
    stream: 0,
    cause: "overwritten",
    firstSeq: 61,
    lastSeq: 64,
    count: 4,
  });
  lost("overwrote 4 trades (54 lost in total)");
  stop.abort();
  await done;
  assert.deepEqual(events, [
    "x A: 4 trades lost (4 in total since the catch-up started)",
  ]);
  assert.deepEqual(counted, [{ overwritten: 4 }]);
  assert.deepEqual(feed.stats().map((s) => s.lost), [4]);
});

Deno.test("CatchUpFeed: the history's loss reports too: told once, by the stream's counters, and not after its switch", async () => {
  const live = new ScriptedFeed("live", ["A"]);
  const history = new ScriptedFeed("history", ["A"]);
  const feed = new CatchUpFeed({ history, live, hold: 16 });
  const events: string[] = [];
  const stop = new AbortController();
  const done = feed.subscribeTrades([], () => {}, {
    signal: stop.signal,
    onEvent: (e) => events.push(e.message),
  });
  // As the NATS feed does: its report first, then the gap.
  const historyLoss = (firstSeq: number, count: number) => {
    history.options.onEvent?.({
      kind: "lost",
      exchange: "x",
      symbol: "A",
      stream: 0,
      message: `${count} trades lost before stream sequence 9`,
    });
    history.options.onGap?.({
      exchange: "x",
      symbol: "A",
      stream: 0,
      cause: "overwritten",
      firstSeq,
      lastSeq: firstSeq + count - 1,
      count,
    });
  };
  historyLoss(1, 5);
  history.send("A", 9, [6, 7]);
  await Promise.resolve();
  live.options.onEvent?.({
    kind: "lost",
    exchange: "x",
    symbol: "A",
    stream: 0,
    message: "overwrote 3 trades (3 lost in total)", // absorbed by the seam
  });
  live.send("A", 9, [8]); // the switch
  historyLoss(20, 7); // after the switch: not this stream's loss
  await Promise.resolve();
  stop.abort();
  await done;
  assert.deepEqual(events, [
    "x A: 5 trades lost (5 in total since the catch-up started)",
  ]);
  assert.deepEqual(feed.stats().map((s) => s.lost), [5]);
});

Deno.test("CatchUpFeed: a stream's state tells the live trades held and those a full hold dropped", async () => {
  const live = new ScriptedFeed("live", ["A"]);
  const history = new ScriptedFeed("history", ["A"]);
  const feed = new CatchUpFeed({ history, live, hold: 16 });
  const stop = new AbortController();
  const done = feed.subscribeTrades([], () => {}, { signal: stop.signal });
  live.send("A", 9, Array.from({ length: 20 }, (_, i) => i + 1));
  assert.equal(
    feed.stats()[0].state,
    "catching up (16 live trades held, 4 dropped)",
  );
  stop.abort();
  await done;
});

Deno.test("CatchUpFeed: a durable start known complete with nothing replayed reads the latest stored trades and leaves out the held ones at or before them (acknowledged in an earlier run)", async () => {
  const live = new ScriptedFeed("live", ["A", "B"]);
  const history = new ScriptedFeed("history", ["A", "B"]);
  const asked: string[][] = [];
  const stored = (seq: number, epoch: number, symbol: string) => {
    const record = encodeMessage([{
      side: Side.Buy,
      flags: 0,
      seq,
      tsEvent: 1n,
      tsRecv: 1n,
      priceFixed: 1_000_000_000n,
      size: 1,
      tradeId: BigInt(seq),
    }]);
    return {
      origin: { exchange: "x", symbol },
      record,
      streamSeq: 1,
      epoch,
      where: "here",
    };
  };
  const feed = new CatchUpFeed({
    history,
    live,
    hold: 16,
    settleMs: 20,
    stored: (symbols) => {
      asked.push([...symbols]);
      // A: run 9 stored up to 41; B: stored of an older run 8.
      return Promise.resolve([stored(41, 9, "A"), stored(70, 8, "B")]);
    },
  });
  const got: string[] = [];
  const stop = new AbortController();
  const done = feed.subscribeTrades([], (trade, origin) => {
    got.push(`${origin.symbol}:${trade.seq}`);
  }, {
    signal: stop.signal,
    onGap: (gap) => got.push(`${gap.symbol} gap ${gap.cause}`),
    onCaughtUp: (e) => got.push(`caught ${e.symbol} ${e.lastSeq} ${e.epoch}`),
  });
  live.send("A", 9, [40, 41, 42]);
  live.send("B", 9, [1, 2]);
  history.idle = live.idle = true;
  const deadline = Date.now() + 5000;
  while (!feed.caughtUp().every(Boolean) && Date.now() < deadline) {
    await delay(20);
  }
  stop.abort();
  await done;
  assert.deepEqual(asked[0], ["A", "B"]);
  assert.deepEqual(got, [
    "caught A null 9",
    "A:42",
    "caught B null 9",
    "B:1",
    "B:2",
  ]);
});

Deno.test("CatchUpFeed: a stream the history still brings trades of does not switch as known complete, however idle the consumer reads", async () => {
  const live = new ScriptedFeed("live", ["A"]);
  const history = new ScriptedFeed("history", ["A"]);
  // Sends 20 ms apart for 1 s, the settle delay 300 ms: generous on a loaded VM.
  const feed = new CatchUpFeed({ history, live, hold: 16, settleMs: 300 });
  const got: string[] = [];
  const stop = new AbortController();
  const done = feed.subscribeTrades([], (trade) => {
    got.push(String(trade.seq));
  }, {
    signal: stop.signal,
    onGap: (gap) => got.push(`gap ${gap.firstSeq}+${gap.count}`),
    onCaughtUp: () => got.push("caught"),
  });
  live.send("A", 9, [500]); // far ahead of the history
  history.idle = live.idle = true; // a pending count read 0 too early
  for (let seq = 1; seq <= 50; seq++) {
    history.send("A", 9, [seq]);
    await delay(20);
  }
  assert.deepEqual(feed.caughtUp(), [false], "switched while replaying");
  const deadline = Date.now() + 5000;
  while (!feed.caughtUp()[0] && Date.now() < deadline) await delay(20);
  stop.abort();
  await done;
  assert.deepEqual(got.slice(50), ["gap 51+449", "caught", "500"]);
});

Deno.test("CatchUpFeed: a failed read of the latest stored trades is told once, however often it fails alike, and tried again 5 s later; the quiet stream then switches", async () => {
  const live = new ScriptedFeed("live", ["A"]);
  const history = new ScriptedFeed("history", ["A"]);
  let reads = 0;
  const feed = new CatchUpFeed({
    history,
    live,
    hold: 16,
    settleMs: 20,
    stored: () => {
      reads++;
      return reads <= 2
        ? Promise.reject(new Error("no responders"))
        : Promise.resolve([]);
    },
  });
  const events: string[] = [];
  const stop = new AbortController();
  const done = feed.subscribeTrades([], () => {}, {
    signal: stop.signal,
    onEvent: (e) => events.push(`${e.kind}: ${e.message}`),
  });
  live.send("A", 9, [1]);
  history.idle = live.idle = true;
  const deadline = Date.now() + 25_000;
  while (!feed.caughtUp()[0] && Date.now() < deadline) await delay(50);
  stop.abort();
  await done;
  assert.deepEqual(feed.caughtUp(), [true]);
  assert.equal(reads, 3);
  assert.deepEqual(events, [
    "waiting: catch-up: the latest stored trades could not be read (no responders); the quiet streams holding ring trades wait (not caught up) and try again every 5 s",
  ]);
});

Deno.test("CatchUpFeed: a stored read that fails holds only the unread quiet streams: another stream, known complete in another run, switches behind a restart gap", async () => {
  const live = new ScriptedFeed("live", ["B"]);
  const history = new ScriptedFeed("history", ["A", "B"]);
  const feed = new CatchUpFeed({
    history,
    live,
    hold: 16,
    settleMs: 20,
    stored: () => Promise.reject(new Error("allow_direct is false")),
  });
  const got: string[] = [];
  const stop = new AbortController();
  const done = feed.subscribeTrades([], (trade, origin) => {
    got.push(`${origin.symbol}:${trade.seq}`);
  }, {
    signal: stop.signal,
    onGap: (gap) => got.push(`${gap.symbol} gap ${gap.cause}`),
    onCaughtUp: (e) => got.push(`caught ${e.symbol}`),
  });
  history.send("B", 1, [1, 2, 3], 1_000n);
  live.send("B", 2, [1, 2], 2_000n);
  history.idle = live.idle = true;
  const deadline = Date.now() + 3000;
  while (!got.includes("caught B") && Date.now() < deadline) await delay(20);
  stop.abort();
  await done;
  assert.deepEqual(got, [
    "B:1",
    "B:2",
    "B:3",
    "B gap producer restart",
    "caught B",
    "B:1",
    "B:2",
  ]);
});

/** A stored trade `seq` of `symbol`, run `epoch`, at stream sequence `streamSeq`, as a snapshot loader gives it. */
function storedTrade(
  symbol: string,
  seq: number,
  epoch: number,
  streamSeq: number,
) {
  const record = encodeMessage([{
    side: Side.Buy,
    flags: 0,
    seq,
    tsEvent: 1n,
    tsRecv: 1n,
    priceFixed: 1_000_000_000n,
    size: 1,
    tradeId: BigInt(seq),
  }]);
  return {
    origin: { exchange: "x", symbol },
    record,
    streamSeq,
    epoch,
    where: "here",
  };
}

Deno.test("CatchUpFeed: a durable start leaves out a held trade at the latest stored one only once the consumer acknowledged it (stored just before the read, delivered by the history after it: delivered once, not lost)", async () => {
  const live = new ScriptedFeed("live", ["A"]);
  const history = new ScriptedFeed("history", ["A"]);
  history.acknowledged = 6; // stream sequence 7, A:43, not passed yet
  const feed = new CatchUpFeed({
    history,
    live,
    hold: 16,
    settleMs: 20,
    stored: () => {
      setTimeout(() => {
        history.send("A", 9, [43]);
        history.acknowledged = 7;
      }, 200);
      return Promise.resolve([storedTrade("A", 43, 9, 7)]);
    },
  });
  const got: string[] = [];
  const stop = new AbortController();
  const done = feed.subscribeTrades([], (trade, origin) => {
    got.push(`${origin.symbol}:${trade.seq}`);
  }, {
    signal: stop.signal,
    onGap: (gap) => got.push(`${gap.symbol} gap ${gap.cause}`),
    onCaughtUp: (e) => got.push(`caught ${e.symbol} ${e.lastSeq} ${e.epoch}`),
  });
  live.send("A", 9, [43]);
  history.idle = live.idle = true;
  const deadline = Date.now() + 5000;
  while (!feed.caughtUp()[0] && Date.now() < deadline) await delay(20);
  live.send("A", 9, [44]);
  stop.abort();
  await done;
  assert.deepEqual(got, ["A:43", "caught A 43 9", "A:44"]);
});

Deno.test("CatchUpFeed: a durable start reads the latest stored trades once per stream, however long a stream stays unswitched (no ring yet)", async () => {
  const live = new ScriptedFeed("live", ["A"]);
  const history = new ScriptedFeed("history", ["A"]);
  let reads = 0;
  const feed = new CatchUpFeed({
    history,
    live,
    hold: 16,
    settleMs: 20,
    stored: () => {
      reads++;
      return Promise.resolve([]);
    },
  });
  const stop = new AbortController();
  const done = feed.subscribeTrades([], () => {}, { signal: stop.signal });
  history.idle = live.idle = true;
  await delay(1000);
  assert.deepEqual(
    feed.caughtUp(),
    [false],
    "nothing held: nothing to switch at",
  );
  live.send("A", 9, [1]);
  const deadline = Date.now() + 5000;
  while (!feed.caughtUp()[0] && Date.now() < deadline) await delay(20);
  stop.abort();
  await done;
  assert.deepEqual(feed.caughtUp(), [true]);
  assert.equal(reads, 1);
});

Deno.test("CatchUpFeed: the held trades of an old run dropped before the switch (a fifth producer restart) are counted in its lost (cause given up) and told in a 'lost' event only for the seqs the history does not bring", async () => {
  // hold 16; the ring reader sees A [1, 2] in runs 1..6 (run 1 dropped),
  // the history brings `history` (seqs by run), then the ring A [3] of run 6.
  const run = async (history: Map<number, number[]>) => {
    const live = new ScriptedFeed("live", ["A"]);
    const hist = new ScriptedFeed("history", ["A"]);
    const feed = new CatchUpFeed({
      history: hist,
      live,
      hold: 16,
      settleMs: 60_000,
    });
    const events: string[] = [];
    let received = 0;
    const stop = new AbortController();
    const done = feed.subscribeTrades([], () => received++, {
      signal: stop.signal,
      onEvent: (e) => events.push(`${e.kind}: ${e.message}`),
    });
    for (let epoch = 1; epoch <= 6; epoch++) live.send("A", epoch, [1, 2]);
    for (const [epoch, seqs] of history) hist.send("A", epoch, seqs);
    live.send("A", 6, [3]);
    stop.abort();
    await done;
    const [{ lost, lostBy }] = feed.stats();
    return { lost, lostBy, events, received, caught: feed.caughtUp()[0] };
  };
  const all = new Map([1, 2, 3, 4, 5, 6].map((e) => [e, [1, 2]]));
  // The history brings them all: nothing lost (received 13 = published 13).
  assert.deepEqual(await run(all), {
    lost: 0,
    lostBy: {},
    events: [],
    received: 13,
    caught: true,
  });
  // The history lacks run 1's seq 2: only it is given up on, counted (the
  // summary's lost: the role exits 1) and told.
  const why =
    "(more than 4 producer restarts while catching up, and the history did not bring them): lost";
  const lacks = new Map(all).set(1, [1]);
  const one = await run(lacks);
  assert.deepEqual(one, {
    lost: 1,
    lostBy: { "given up": 1 },
    events: [`lost: x A: 1 held live trades of run 1 given up on ${why}`],
    received: 12,
    caught: true,
  });
  // The history never has run 1: both its held trades, at the switch.
  const none = new Map(all);
  none.delete(1);
  const two = await run(none);
  assert.deepEqual(two, {
    lost: 2,
    lostBy: { "given up": 2 },
    events: [`lost: x A: 2 held live trades of run 1 given up on ${why}`],
    received: 11,
    caught: true,
  });
});

Deno.test("CatchUpFeed: history trades stored after later ones of their run (a publish retried) are counted in its lost (cause given up) and told in one 'lost' event per message, not delivered out of order", async () => {
  const live = new ScriptedFeed("live", ["A"]);
  const history = new ScriptedFeed("history", ["A"]);
  const feed = new CatchUpFeed({ history, live, hold: 16, settleMs: 60_000 });
  const got: number[] = [];
  const events: string[] = [];
  const stop = new AbortController();
  const done = feed.subscribeTrades([], (trade) => got.push(trade.seq), {
    signal: stop.signal,
    onEvent: (e) => events.push(`${e.kind}: ${e.message}`),
  });
  history.send("A", 9, [1, 2]);
  history.send("A", 9, [5]);
  history.send("A", 9, [3, 4]); // the retry, stored after 5
  await delay(10);
  stop.abort();
  await done;
  assert.deepEqual(got, [1, 2, 5]);
  const [{ lost, lostBy }] = feed.stats();
  assert.deepEqual({ lost, lostBy }, { lost: 2, lostBy: { "given up": 2 } });
  assert.deepEqual(events, [
    "lost: x A: 2 history trades given up on (JetStream stored them after later trades of their run: a publish retried after a later one of the symbol went through; delivering them would break the order): lost",
  ]);
});

Deno.test("CatchUpFeed: a ring run whose trades are older than the history's last of another run (a clock stepped back, JetStream without the ring's run) switches behind a restart gap once a replaced ring would have been attached, not never", async () => {
  const live = new ScriptedFeed("live", ["A"]);
  const history = new ScriptedFeed("history", ["A"]);
  const feed = new CatchUpFeed({ history, live, hold: 16, settleMs: 20 });
  const got: string[] = [];
  const stop = new AbortController();
  const done = feed.subscribeTrades([], (trade, origin) => {
    got.push(`${origin.symbol}:${trade.seq}`);
  }, {
    signal: stop.signal,
    onGap: (gap) => got.push(`${gap.symbol} gap ${gap.cause}`),
    onCaughtUp: (e) =>
      got.push(`caught ${e.symbol} ${e.lastSeq} of ${e.lastEpoch}, ${e.epoch}`),
  });
  history.send("A", 1, [10], 2_000n);
  live.send("A", 2, [1, 2], 1_000n); // run 2, its clock behind run 1's
  history.idle = live.idle = true;
  const started = Date.now();
  await delay(500);
  assert.deepEqual(feed.caughtUp(), [false], "held, not yet taken as newer");
  const deadline = Date.now() + 10_000;
  while (!feed.caughtUp()[0] && Date.now() < deadline) await delay(20);
  assert.ok(Date.now() - started >= 1000, "waits a replaced ring's attach");
  live.send("A", 2, [3], 3_000n);
  // Every stream live: the settle ticks stop (no status polled).
  const polled = history.polled;
  await delay(200);
  assert.equal(history.polled, polled);
  stop.abort();
  await done;
  assert.deepEqual(got, [
    "A:10",
    "A gap producer restart",
    "caught A 10 of 1, 2",
    "A:1",
    "A:2",
    "A:3",
  ]);
});

Deno.test("CatchUpFeed: a stale ring older than the history's run is never switched to as a newer run: not its trades received before SINCE, not a ring whose producer is dead; the history's later trades still come", async () => {
  const run = async (ringAt: bigint, dead: boolean) => {
    const live = new ScriptedFeed("live", ["A"]);
    const history = new ScriptedFeed("history", ["A"]);
    const feed = new CatchUpFeed({
      history,
      live,
      hold: 16,
      settleMs: 20,
      since: new Date(1000),
    });
    const got: string[] = [];
    const stop = new AbortController();
    const done = feed.subscribeTrades([], (trade, origin) => {
      got.push(`${origin.symbol}:${trade.seq}`);
    }, {
      signal: stop.signal,
      onGap: (gap) => got.push(`${gap.symbol} gap ${gap.cause}`),
      onCaughtUp: (e) => got.push(`caught ${e.symbol}`),
    });
    live.send("A", 1, [7, 8, 9], ringAt); // serve E1's ring, killed -9
    if (dead) {
      live.options.onEvent?.({
        kind: "dead",
        exchange: "x",
        symbol: "A",
        stream: 0,
        message: "producer pid 1 died",
      });
    }
    history.send("A", 2, [1, 2], 2_000_000_000n); // serve E2, --no-ipc
    history.idle = live.idle = true;
    await delay(1500); // past the run settle time (1 s here)
    history.send("A", 2, [3], 3_000_000_000n);
    await delay(100);
    stop.abort();
    await done;
    assert.deepEqual(feed.caughtUp(), [false]);
    assert.deepEqual(got, ["A:1", "A:2", "A:3"]);
  };
  await run(500_000_000n, false); // received before SINCE (1 s)
  await run(1_500_000_000n, true); // after it, but its producer is dead
});

Deno.test("CatchUpFeed: a durable start delivers a killed run's ring trades past its latest stored one, then a restart gap; older kept runs it cannot tell are counted in its lost (cause given up) and told in a 'lost' event", async () => {
  const attempt = async (stored: ReturnType<typeof storedTrade>) => {
    const live = new ScriptedFeed("live", ["A"]);
    const history = new ScriptedFeed("history", ["A"]);
    history.acknowledged = 10;
    const feed = new CatchUpFeed({
      history,
      live,
      hold: 16,
      settleMs: 20,
      stored: () => Promise.resolve([stored]),
    });
    const got: string[] = [];
    const stop = new AbortController();
    const done = feed.subscribeTrades([], (trade, origin) => {
      got.push(`${origin.symbol}:${trade.seq}`);
    }, {
      signal: stop.signal,
      onGap: (gap) => got.push(`${gap.symbol} gap ${gap.cause}`),
      onCaughtUp: (e) => got.push(`caught ${e.symbol} ${e.lastSeq}`),
      onEvent: (e) => got.push(`${e.kind}: ${e.message}`),
    });
    live.send("A", 1, [4, 5, 6]); // serve killed -9: 5, 6 never stored
    live.send("A", 2, [1, 2]);
    history.idle = live.idle = true;
    const deadline = Date.now() + 5000;
    while (!feed.caughtUp()[0] && Date.now() < deadline) await delay(20);
    stop.abort();
    await done;
    const [{ lost, lostBy }] = feed.stats();
    got.push(`lost ${lost} ${JSON.stringify(lostBy)}`);
    return got;
  };
  assert.deepEqual(await attempt(storedTrade("A", 4, 1, 3)), [
    "A:5",
    "A:6",
    "A gap producer restart",
    "caught A null",
    "A:1",
    "A:2",
    "lost 0 {}",
  ]);
  assert.deepEqual(await attempt(storedTrade("A", 1, 2, 4)), [
    "lost: x A: 3 held live trades of run 1 given up on (a durable start: JetStream stored trades of that run, acknowledged in an earlier run, and cannot tell which of these it did not; use a time start, --catch-up SINCE, to get them): lost if JetStream never stored them",
    "caught A null",
    "A:2",
    'lost 3 {"given up":3}',
  ]);
});
