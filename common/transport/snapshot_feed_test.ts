import assert from "node:assert/strict";
import { encodeMessage } from "../wire/codec.ts";
import type { TradeOrigin } from "../wire/record.ts";
import { TradeFlags, type TradeRecord } from "../wire/trade.ts";
import { TradeView } from "../wire/trade_view.ts";
import { captureLog } from "../../tests/_capture_log.ts";
import type {
  OnTick,
  StreamStats,
  SubscribeOptions,
  TradeFeed,
} from "./feed.ts";
import { SnapshotFeed, type SnapshotTrade } from "./snapshot_feed.ts";
import { covers, cutOf, markSnapshot, passed } from "./_snapshot_cut.ts";

const T0 = 1_700_000_000_000_000_000n;
const TWO_32 = 2 ** 32;

function record(seq: number, tsRecv: bigint, flags = 0): Uint8Array {
  const trade: TradeRecord = {
    side: 1,
    flags,
    seq,
    tsEvent: tsRecv,
    tsRecv,
    priceFixed: 50_000_000_000_000n,
    size: 0.5,
    tradeId: BigInt(seq),
  };
  return encodeMessage([trade]);
}

const BTC: TradeOrigin = { exchange: "binance", symbol: "BTCUSDT" };
const ETH: TradeOrigin = { exchange: "binance", symbol: "ETHUSDT" };
const SOL: TradeOrigin = { exchange: "binance", symbol: "SOLUSDT" };

/**
 * One step of a {@linkcode FakeFeed}: announce a stream, or deliver a trade
 * of one (read from JetStream at `streamSeq`, or from the ring: absent), of
 * run `epoch` (absent: 0, none).
 */
type Step = { announce: TradeOrigin } | {
  stream: number;
  record: Uint8Array;
  streamSeq?: number;
  epoch?: number;
};

/** Announces and delivers what it is told, in order, then ends; skips and counts as a feed does. */
class FakeFeed implements TradeFeed {
  readonly name = "fake";
  readonly lossCauses = [];
  #steps: Step[];
  #rows: StreamStats[] = [];
  constructor(steps: Step[]) {
    this.#steps = steps;
  }
  stats(): StreamStats[] {
    return this.#rows;
  }
  status() {
    return { connected: true, idle: false, detail: "fake" };
  }
  metrics() {
    return [];
  }
  subscribeTrades(
    _symbols: readonly string[],
    onTick: OnTick,
    options: SubscribeOptions = {},
  ): Promise<void> {
    const origins: TradeOrigin[] = [];
    const view = new TradeView();
    const limit = options.limit || Infinity;
    let delivered = 0;
    for (const step of this.#steps) {
      if (delivered >= limit) break;
      if ("announce" in step) {
        origins.push(step.announce);
        this.#rows.push({
          ...step.announce,
          received: 0,
          skipped: 0,
          lost: 0,
          lostBy: {},
          invalid: 0,
          lag: 0,
          restarts: 0,
          state: "alive",
        });
        options.onStream?.(step.announce, origins.length - 1);
        continue;
      }
      view.wrap(step.record);
      const row = this.#rows[step.stream];
      if (
        options.skip?.(view, step.stream, {
          streamSeq: step.streamSeq ?? 0,
          epoch: step.epoch ?? 0,
        })
      ) {
        row.skipped!++;
        continue;
      }
      onTick(view, origins[step.stream], step.stream);
      row.received++;
      delivered++;
    }
    return Promise.resolve();
  }
}

interface Got {
  symbol: string;
  stream: number;
  seq: number;
  snapshot: boolean;
  flags: number;
}

/** Runs a {@linkcode SnapshotFeed} over `steps` with `snapshot`; what it delivered, in order, and its log. */
async function run(
  steps: Step[],
  snapshot: SnapshotTrade[],
  limit?: number,
): Promise<{ got: (Got | string)[]; lines: string[]; stats: StreamStats[] }> {
  const { log, lines } = captureLog();
  const feed = new SnapshotFeed(new FakeFeed(steps), {
    load: () => Promise.resolve(snapshot),
    log,
  });
  const got: (Got | string)[] = [];
  await feed.subscribeTrades([], (trade, origin, stream) => {
    got.push({
      symbol: origin.symbol,
      stream,
      seq: trade.seq,
      snapshot: (trade.flags & TradeFlags.Snapshot) !== 0,
      flags: trade.flags,
    });
  }, { limit, onStream: (origin) => got.push(`stream ${origin.symbol}`) });
  return { got, lines, stats: feed.stats() };
}

function stored(
  origin: TradeOrigin,
  seq: number,
  tsRecv: bigint,
  options: { flags?: number; streamSeq?: number; epoch?: number } = {},
): SnapshotTrade {
  return {
    origin,
    record: record(seq, tsRecv, options.flags),
    streamSeq: options.streamSeq ?? 1,
    epoch: options.epoch ?? 0,
    where: `at ${seq}`,
  };
}

/** `seq`, then `s` for a snapshot. */
function short(got: (Got | string)[]): string[] {
  return got.map((g) =>
    typeof g === "string" ? g : `${g.seq}${g.snapshot ? "s" : ""}`
  );
}

Deno.test("SnapshotFeed: each named stream's snapshot comes right after its announcement, before any trade, marked Snapshot without the gap flags; a stream without one is logged once", async () => {
  const { got, lines } = await run(
    [
      { announce: BTC },
      { announce: ETH },
      { stream: 1, record: record(8, T0 + 10n) },
      { stream: 0, record: record(11, T0 + 10n) },
      { stream: 1, record: record(9, T0 + 11n) },
    ],
    [
      stored(BTC, 10, T0, {
        flags: TradeFlags.Synthetic | TradeFlags.Gap,
      }),
      stored(SOL, 3, T0), // not subscribed: never delivered
    ],
  );
  assert.deepEqual(got, [
    "stream BTCUSDT",
    {
      symbol: "BTCUSDT",
      stream: 0,
      seq: 10,
      snapshot: true,
      flags: TradeFlags.Synthetic | TradeFlags.Snapshot,
    },
    "stream ETHUSDT",
    { symbol: "ETHUSDT", stream: 1, seq: 8, snapshot: false, flags: 0 },
    { symbol: "BTCUSDT", stream: 0, seq: 11, snapshot: false, flags: 0 },
    { symbol: "ETHUSDT", stream: 1, seq: 9, snapshot: false, flags: 0 },
  ]);
  assert.deepEqual(lines, [
    "info: binance BTCUSDT: snapshot: latest stored trade seq 10 (at 10) delivered first",
    "info: binance ETHUSDT: snapshot: no trade stored yet; live trades only",
  ]);
});

Deno.test("SnapshotFeed: the start position's trades at or before the snapshot in the same run are skipped, counted as skipped (not received, not toward the limit) and logged once; the next one is delivered, no duplicate and no hole", async () => {
  const { got, lines, stats } = await run(
    [
      { announce: BTC },
      ...[1, 2, 3, 4, 5].map((seq) => ({
        stream: 0,
        record: record(seq, T0 + BigInt(seq)),
      })),
    ],
    [stored(BTC, 3, T0 + 3n)],
    1,
  );
  assert.deepEqual(short(got), ["stream BTCUSDT", "3s", "4"]);
  assert.deepEqual(lines.slice(1), [
    "info: binance BTCUSDT: snapshot: skipped 3 trade(s) it stands for (at or before its seq 3; the start position delivered them), continuing at seq 4",
  ]);
  assert.equal(stats[0].received, 1);
  assert.equal(stats[0].skipped, 3);
});

/** A stream that holds two serve runs: A (seq 1-6) then B (seq 1-4), at stream sequences 1-6 and 7-10. */
function twoRuns(jetstream: boolean): Step[] {
  const trades = [
    ...[1, 2, 3, 4, 5, 6].map((seq) => ({ seq, ts: T0 + BigInt(seq) })),
    ...[1, 2, 3, 4].map((seq) => ({ seq, ts: T0 + 10n + BigInt(seq) })),
  ];
  return [
    { announce: BTC },
    ...trades.map(({ seq, ts }, i) => ({
      stream: 0,
      record: record(seq, ts),
      ...(jetstream ? { streamSeq: i + 1 } : {}),
    })),
  ];
}

Deno.test("SnapshotFeed on JetStream: with two serve runs stored, exactly the messages at or before the snapshot's stream sequence are skipped (B#3 once, nothing older after it)", async () => {
  // The snapshot is B#3, stream sequence 9; deliver all (or a durable
  // stopped in run A) starts at A#1.
  const { got, lines, stats } = await run(twoRuns(true), [
    stored(BTC, 3, T0 + 13n, { streamSeq: 9 }),
  ]);
  assert.deepEqual(short(got), ["stream BTCUSDT", "3s", "4"]);
  assert.deepEqual(lines.slice(1), [
    "info: binance BTCUSDT: snapshot: skipped 9 trade(s) it stands for (at or before its stream sequence 9, seq 3; the start position delivered them), continuing at seq 4",
  ]);
  assert.equal(stats[0].skipped, 9);
  assert.equal(stats[0].received, 1);
});

Deno.test("SnapshotFeed on the ring, a snapshot without a run epoch (an older publisher): a trade still covered after one that was not is skipped too (no duplicate); an older run's later seqs are the documented limit of time", async () => {
  const { got, lines, stats } = await run(twoRuns(false), [
    stored(BTC, 3, T0 + 13n, { streamSeq: 9 }),
  ]);
  // A#1-3 covered, A#4-6 not (older, but later seqs: the limit), B#1-3 covered, B#4 not.
  assert.deepEqual(short(got), ["stream BTCUSDT", "3s", "4", "5", "6", "4"]);
  assert.equal(stats[0].skipped, 6);
  assert.deepEqual(lines.slice(1).map((line) => line.replace(/ \(.*\)/, "")), [
    "info: binance BTCUSDT: snapshot: skipped 3 trade(s) it stands for, continuing at seq 4",
    "info: binance BTCUSDT: snapshot: skipped 3 more trade(s) it stands for, continuing at seq 4",
  ]);
});

Deno.test("SnapshotFeed: a new publisher run (seq from 1 again, received later) is delivered from its first trade", async () => {
  const { got, lines } = await run(
    [
      { announce: BTC },
      { stream: 0, record: record(100, T0) }, // the snapshot's own trade
      { stream: 0, record: record(1, T0 + 5n) }, // the next run
      { stream: 0, record: record(2, T0 + 6n) },
    ],
    [stored(BTC, 100, T0)],
  );
  assert.deepEqual(short(got), ["stream BTCUSDT", "100s", "1", "2"]);
  assert.match(
    lines[1],
    /skipped 1 trade\(s\) it stands for .* continuing at seq 1$/,
  );
});

Deno.test("SnapshotFeed: a stream a wildcard subscription meets gets its snapshot just before its first trade; skipping left open at the end is logged", async () => {
  const { got, lines } = await run(
    [
      { announce: BTC },
      { stream: 0, record: record(5, T0) },
      { announce: ETH },
      { stream: 1, record: record(7, T0) },
    ],
    [stored(BTC, 4, T0 - 1n), stored(ETH, 7, T0)],
  );
  assert.deepEqual(
    got.map((g) =>
      typeof g === "string" ? g : `${g.symbol} ${g.seq}${g.snapshot ? "s" : ""}`
    ),
    [
      "stream BTCUSDT",
      "BTCUSDT 4s",
      "BTCUSDT 5",
      "stream ETHUSDT",
      "ETHUSDT 7s",
    ],
  );
  assert.equal(
    lines.at(-1),
    "info: binance ETHUSDT: snapshot: skipped 1 trade(s) it stands for (at or before its seq 7; the start position delivered them), and none after them yet",
  );
});

Deno.test("covers: on JetStream by stream sequence only; on the ring at or before the snapshot's seq modulo 2^32, received no later", () => {
  const view = new TradeView();
  view.wrap(record(TWO_32 - 1, T0));
  const cut = cutOf(view, { streamSeq: 50, epoch: 0 });
  const ring = { streamSeq: 0, epoch: 0 };
  assert.equal(covers(cut, { seq: TWO_32 - 1, tsRecv: T0 }, ring), true);
  assert.equal(covers(cut, { seq: TWO_32 - 2, tsRecv: T0 - 1n }, ring), true);
  assert.equal(covers(cut, { seq: 0, tsRecv: T0 }, ring), false); // wrapped: after
  assert.equal(covers(cut, { seq: 5, tsRecv: T0 }, ring), false);
  assert.equal(covers(cut, { seq: TWO_32 - 2, tsRecv: T0 + 1n }, ring), false);
  const later = { seq: 5, tsRecv: T0 + 9n };
  assert.equal(covers(cut, later, { streamSeq: 50, epoch: 0 }), true);
  assert.equal(
    covers(cut, { seq: TWO_32 - 1, tsRecv: T0 }, { streamSeq: 51, epoch: 0 }),
    false,
  );
});

Deno.test("markSnapshot: copies one record with Snapshot set and Reconnect and Gap cleared; anything but 48 bytes is a RangeError", () => {
  const original = record(1, T0, TradeFlags.Reconnect | TradeFlags.Replayed);
  const marked = markSnapshot(original);
  const view = new TradeView();
  view.wrap(marked);
  assert.equal(view.flags, TradeFlags.Replayed | TradeFlags.Snapshot);
  view.wrap(original);
  assert.equal(view.flags, TradeFlags.Reconnect | TradeFlags.Replayed);
  assert.throws(
    () => markSnapshot(new Uint8Array(96)),
    (error: Error) =>
      error instanceof RangeError &&
      error.message ===
        "Invalid snapshot record of 96 bytes: expected one 48-byte record",
  );
});

Deno.test("SnapshotFeed: a loader failure is thrown, unless the subscription was aborted meanwhile", async () => {
  const { log } = captureLog();
  const failing = (abort?: AbortController) =>
    new SnapshotFeed(new FakeFeed([{ announce: BTC }]), {
      load: () => {
        abort?.abort();
        return Promise.reject(new Error("no answer"));
      },
      log,
    });
  await assert.rejects(
    failing().subscribeTrades(["BTCUSDT"], () => {}),
    /no answer/,
  );
  const abort = new AbortController();
  await failing(abort).subscribeTrades(["BTCUSDT"], () => {}, {
    signal: abort.signal,
  });
});

/**
 * Two serve runs on the ring: A (epoch 0xA, seq 1-6) left by a dead serve,
 * then B (epoch 0xB, seq 1-4) after it, its clock stepped back below A's.
 */
function twoRingRuns(): Step[] {
  return [
    { announce: BTC },
    ...[1, 2, 3, 4, 5, 6].map((seq) => ({
      stream: 0,
      record: record(seq, T0 + 10n + BigInt(seq)),
      epoch: 0xA,
    })),
    ...[1, 2, 3, 4].map((seq) => ({
      stream: 0,
      record: record(seq, T0 + BigInt(seq)),
      epoch: 0xB,
    })),
  ];
}

Deno.test("SnapshotFeed on the ring with the run epoch: two runs, the snapshot of the first (A#3): exactly A#1-3 skipped; the second run, received earlier (a clock stepped back), delivered whole", async () => {
  const { got, stats } = await run(twoRingRuns(), [
    stored(BTC, 3, T0 + 13n, { epoch: 0xA }),
  ]);
  // The ts_recv rule skipped B#1-3 too (seq at or before 3, received before A#3).
  assert.deepEqual(short(got), [
    "stream BTCUSDT",
    "3s",
    "4",
    "5",
    "6",
    "1",
    "2",
    "3",
    "4",
  ]);
  assert.equal(stats[0].skipped, 3);
  assert.equal(stats[0].received, 7);
});

Deno.test("SnapshotFeed on the ring with the run epoch: two runs, the snapshot of the second (B#2): exactly B#1-2 skipped, however A's seqs and times compare", async () => {
  const { got, stats } = await run(twoRingRuns(), [
    stored(BTC, 2, T0 + 2n, { epoch: 0xB }),
  ]);
  // The ts_recv rule delivered A#1-6 (received after B#2), and skipped B#1-2.
  assert.deepEqual(short(got), [
    "stream BTCUSDT",
    "2s",
    "1",
    "2",
    "3",
    "4",
    "5",
    "6",
    "3",
    "4",
  ]);
  assert.equal(stats[0].skipped, 2);
});

Deno.test("covers with a run epoch: on the ring, the snapshot's epoch at or before its seq whatever ts_recv says; another epoch never; JetStream still by stream sequence", () => {
  const view = new TradeView();
  view.wrap(record(100, T0));
  const cut = cutOf(view, { streamSeq: 50, epoch: 7 });
  const same = { streamSeq: 0, epoch: 7 };
  const other = { streamSeq: 0, epoch: 8 };
  assert.equal(covers(cut, { seq: 100, tsRecv: T0 + 5n }, same), true);
  assert.equal(covers(cut, { seq: 99, tsRecv: T0 - 5n }, same), true);
  assert.equal(covers(cut, { seq: 101, tsRecv: T0 - 5n }, same), false);
  assert.equal(covers(cut, { seq: 1, tsRecv: T0 - 5n }, other), false);
  assert.equal(covers(cut, { seq: 100, tsRecv: T0 }, other), false);
  assert.equal(
    covers(cut, { seq: 1, tsRecv: T0 }, { streamSeq: 50, epoch: 8 }),
    true,
  );
  assert.equal(passed(cut, same), true);
  assert.equal(passed(cut, other), false);
});

Deno.test("SnapshotFeed as a preview (over a catch-up): the snapshot first, marked; then every trade from the start in order, the snapshot's own trade again unmarked in its place; nothing skipped, the skip rule not applied", async () => {
  const { log, lines } = captureLog();
  const inner = new FakeFeed([
    { announce: BTC },
    ...[1, 2, 3, 4, 5].map((seq) => ({
      stream: 0,
      record: record(seq, T0 + BigInt(seq)),
      epoch: 7,
    })),
  ]);
  let skipGiven = false;
  const feed = new SnapshotFeed({
    name: inner.name,
    lossCauses: inner.lossCauses,
    stats: () => inner.stats(),
    status: () => inner.status(),
    metrics: () => inner.metrics(),
    subscribeTrades(symbols, onTick, options) {
      skipGiven = options?.skip !== undefined;
      return inner.subscribeTrades(symbols, onTick, options);
    },
  }, {
    load: () => Promise.resolve([stored(BTC, 3, T0 + 3n, { epoch: 7 })]),
    log,
    preview: true,
  });
  const got: string[] = [];
  await feed.subscribeTrades([], (trade) => {
    got.push(
      `${trade.seq}${(trade.flags & TradeFlags.Snapshot) !== 0 ? "s" : ""}`,
    );
  });
  assert.equal(skipGiven, false);
  assert.deepEqual(got, ["3s", "1", "2", "3", "4", "5"]);
  assert.equal(feed.stats()[0].skipped, 0);
  assert.equal(feed.stats()[0].received, 5);
  assert.deepEqual(lines, [
    "info: binance BTCUSDT: snapshot: latest stored trade seq 3 (at 3) delivered first, a preview: the catch-up delivers it again in its place",
  ]);
});

Deno.test("covers: on JetStream nothing of a stream created again since the subscription started (a later generation), and the cut is passed", () => {
  const view = new TradeView();
  view.wrap(record(7, T0));
  const cut = cutOf(view, { streamSeq: 9, epoch: 0 });
  const old = { seq: 3, tsRecv: T0 };
  assert.equal(covers(cut, old, { streamSeq: 3, epoch: 0 }), true);
  assert.equal(
    covers(cut, old, { streamSeq: 3, epoch: 0, generation: 0 }),
    true,
  );
  assert.equal(
    covers(cut, old, { streamSeq: 3, epoch: 0, generation: 1 }),
    false,
  );
  assert.equal(passed(cut, { streamSeq: 3, epoch: 0 }), false);
  assert.equal(passed(cut, { streamSeq: 3, epoch: 0, generation: 1 }), true);
});
