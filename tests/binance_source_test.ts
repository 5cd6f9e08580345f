// BinanceSource as a TradeSource against the local fake Binance server:
// exactly the trades the fake sent arrive as records (the parser's fields,
// the right symbol index), the first trade of each symbol after a forced
// drop carries the Reconnect flag, skipped ids make a logged and counted gap,
// garbage frames are never published, and a connection that goes silent with
// its socket open is reconnected, counted in the summary and the metrics.

import assert from "node:assert/strict";
import { decodeTrade } from "../common/wire/codec.ts";
import { type Trade, TradeFlags } from "../common/wire/trade.ts";
import { captureLog } from "./_capture_log.ts";
import {
  FakeBinance,
  loadBinanceFixture,
  tradeFrame as frame,
} from "./_fake_binance.ts";
import { ffiTest } from "./_permissions.ts";
import { LIVENESS_MS } from "./_until.ts";
import { parseTradeFrame } from "../data_manager/binance/mod.ts";
import { BinanceSource } from "../data_manager/binance/source.ts";
import { serveFamilies } from "../data_manager/metrics.ts";
import type { TradeSink } from "../data_manager/source.ts";

const SYMBOLS = ["BTCUSDT", "ETHUSDT"];

/** A sink that keeps a copy of every record and wakes waiters. */
class RecordingSink implements TradeSink {
  readonly published: { symbol: number; record: Uint8Array }[] = [];
  #waiters = new Set<() => void>();

  publish(symbol: number, record: Uint8Array): void {
    this.published.push({ symbol, record: record.slice() });
    for (const wake of this.#waiters) wake();
  }

  room(): Promise<void> | undefined {
    return undefined;
  }

  gap(symbol: number, count: number): void {
    throw new Error(`unexpected gap(${symbol}, ${count}) from a live feed`);
  }

  /** Resolves once `count` records arrived; rejects after LIVENESS_MS. */
  async waitFor(count: number): Promise<void> {
    const deadline = performance.now() + LIVENESS_MS;
    while (this.published.length < count) {
      const left = deadline - performance.now();
      assert.ok(
        left > 0,
        `only ${this.published.length} of ${count} trades arrived`,
      );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, 100));
        this.#waiters.add(done);
        function done() {
          clearTimeout(timer);
          resolve();
        }
      });
    }
  }

  trades(): Trade[] {
    return this.published.map(({ symbol, record }) =>
      decodeTrade(record, { exchange: "binance", symbol: SYMBOLS[symbol] })
    );
  }
}

/** What the parser makes of `frames`, minus tsRecv (the receive time). */
function expected(frames: readonly string[]) {
  return frames.map((text) => {
    const parsed = parseTradeFrame(text, {
      receivedAt: { seconds: 0, nanos: 0 },
    });
    assert.equal(parsed.kind, "trade", text);
    if (parsed.kind !== "trade") throw new Error("unreachable");
    return {
      symbol: parsed.symbol,
      tradeId: parsed.tradeId,
      priceFixed: parsed.priceFixed,
      size: parsed.size,
      side: parsed.side,
      tsEvent: parsed.tsEvent,
      flags: parsed.flags,
      seq: 0,
    };
  });
}

function fields(trades: readonly Trade[]) {
  return trades.map((t) => ({
    symbol: t.symbol,
    tradeId: t.tradeId,
    priceFixed: t.priceFixed,
    size: t.size,
    side: t.side,
    tsEvent: t.tsEvent,
    flags: t.flags,
    seq: t.seq,
  }));
}

/** Starts a fake and a feed on it; disposing stops both. */
async function setUp(silenceTimeoutMs?: number) {
  const fake = FakeBinance.start();
  const { log, lines } = captureLog();
  const feed = new BinanceSource(SYMBOLS, {
    endpoint: fake.endpoint,
    log,
    silenceTimeoutMs,
  });
  const sink = new RecordingSink();
  const controller = new AbortController();
  const done = feed.run(sink, { signal: controller.signal });
  await fake.waitForAccepted(1);
  return {
    fake,
    feed,
    sink,
    lines,
    done,
    async [Symbol.asyncDispose]() {
      controller.abort();
      await done;
      await fake.close();
    },
  };
}

ffiTest(
  "BinanceSource: exactly the fixture trades arrive, with the right symbol index",
  async () => {
    await using t = await setUp();
    const frames = await loadBinanceFixture("trades.ndjson");
    const before = Date.now();
    assert.equal(t.fake.send(frames), frames.length);
    await t.sink.waitFor(frames.length);
    const after = Date.now();
    const trades = t.sink.trades();
    assert.deepEqual(fields(trades), expected(frames));
    for (const [i, { symbol }] of t.sink.published.entries()) {
      assert.equal(SYMBOLS[symbol], trades[i].symbol);
    }
    for (const trade of trades) {
      const ms = Number(trade.tsRecv / 1_000_000n);
      assert.ok(
        ms >= before - 5000 && ms <= after + 5000,
        `tsRecv ${trade.tsRecv}`,
      );
    }
    // Nothing more than what was sent.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(t.sink.published.length, frames.length);
    assert.match(
      t.feed.summary(),
      /^binance 12 trades, 0 reconnects, 0 gaps \(0 missed\), 0 invalid, 0 repeats, 1 open$/,
    );
    assert.deepEqual(t.lines.filter((line) => line.startsWith("warn")), []);
  },
);

ffiTest(
  "BinanceSource: the first trade of each symbol after a drop is flagged Reconnect",
  async () => {
    await using t = await setUp();
    const first = [
      frame("BTCUSDT", 1000, "67000.10000000"),
      frame("ETHUSDT", 5000, "3000.10000000", { buyerMaker: true }),
      frame("BTCUSDT", 1001, "67000.20000000"),
    ];
    t.fake.send(first);
    await t.sink.waitFor(first.length);
    t.fake.drop();
    await t.fake.waitForAccepted(2);
    const second = [
      frame("BTCUSDT", 1002, "67000.30000000"),
      frame("BTCUSDT", 1003, "67000.40000000"),
      frame("ETHUSDT", 5001, "3000.20000000"),
      frame("ETHUSDT", 5002, "3000.30000000"),
    ];
    t.fake.send(second);
    await t.sink.waitFor(first.length + second.length);
    const trades = t.sink.trades();
    assert.deepEqual(
      trades.map((trade) => [trade.tradeId, trade.flags]),
      [
        [1000n, 0],
        [5000n, 0],
        [1001n, 0],
        [1002n, TradeFlags.Reconnect],
        [1003n, 0],
        [5001n, TradeFlags.Reconnect],
        [5002n, 0],
      ],
    );
    // The rest of each record is the parser's.
    assert.deepEqual(
      fields(trades).map((trade) => ({ ...trade, flags: 0 })),
      expected([...first, ...second]),
    );
    assert.match(t.feed.summary(), /1 reconnects, 0 gaps \(0 missed\)/);
    assert.ok(
      t.lines.some((line) =>
        /^warn: connection 0 dropped \(code 1001/.test(line)
      ),
      t.lines.join("\n"),
    );
  },
);

ffiTest(
  "BinanceSource: skipped ids make a gap, logged and counted, across a drop too",
  async () => {
    await using t = await setUp();
    const frames = [
      frame("BTCUSDT", 2000, "67000.10000000"),
      frame("BTCUSDT", 2001, "67000.20000000"),
      frame("BTCUSDT", 2002, "67000.30000000"), // skipped
      frame("BTCUSDT", 2003, "67000.40000000"), // skipped
      frame("BTCUSDT", 2004, "67000.50000000"),
      frame("ETHUSDT", 7000, "3000.10000000"),
    ];
    t.fake.send(frames, { skipIds: [2002, 2003] });
    await t.sink.waitFor(4);
    t.fake.drop();
    await t.fake.waitForAccepted(2);
    // ETHUSDT 7001..7004 lost while disconnected.
    t.fake.send([frame("ETHUSDT", 7005, "3000.20000000")]);
    await t.sink.waitFor(5);
    const trades = t.sink.trades();
    assert.deepEqual(
      trades.map((trade) => [trade.symbol, trade.tradeId, trade.flags]),
      [
        ["BTCUSDT", 2000n, 0],
        ["BTCUSDT", 2001n, 0],
        ["BTCUSDT", 2004n, 0],
        ["ETHUSDT", 7000n, 0],
        ["ETHUSDT", 7005n, TradeFlags.Reconnect],
      ],
    );
    const warns = t.lines.filter((line) => line.startsWith("warn"));
    assert.ok(
      warns.some((line) =>
        /^warn: BTCUSDT: 2 trades missing between ids 2001 and 2004$/
          .test(line)
      ),
      warns.join("\n"),
    );
    assert.ok(
      warns.some((line) =>
        /^warn: ETHUSDT: 4 trades missing between ids 7000 and 7005 \(across a reconnect\)$/
          .test(line)
      ),
      warns.join("\n"),
    );
    assert.match(
      t.feed.summary(),
      /5 trades, 1 reconnects, 2 gaps \(6 missed\)/,
    );
  },
);

ffiTest(
  "BinanceSource: garbage frames are counted, never published",
  async () => {
    await using t = await setUp();
    const garbage = await loadBinanceFixture("garbage.txt");
    const ignored = await loadBinanceFixture("ignored.ndjson");
    t.fake.send([...garbage, ...ignored], { everyone: true });
    // A good trade after the garbage: once it is in, the garbage was seen.
    const good = frame("ETHUSDT", 9000, "3001.00000000");
    t.fake.send([good]);
    await t.sink.waitFor(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(fields(t.sink.trades()), expected([good]));
    assert.match(
      t.feed.summary(),
      new RegExp(`^binance 1 trades, .* ${garbage.length} invalid, `),
    );
  },
);

ffiTest(
  "BinanceSource: a connection silent with its socket open is reconnected, counted and flagged",
  async () => {
    await using t = await setUp(300);
    t.fake.send([frame("BTCUSDT", 3000, "67000.10000000")]);
    await t.sink.waitFor(1);
    t.fake.silence();
    await t.fake.waitForAccepted(2);
    t.fake.send([
      frame("BTCUSDT", 3001, "67000.20000000"),
      frame("ETHUSDT", 8000, "3000.10000000"),
    ]);
    await t.sink.waitFor(3);
    assert.deepEqual(
      t.sink.trades().map((trade) => [trade.tradeId, trade.flags]),
      [[3000n, 0], [3001n, TradeFlags.Reconnect], [
        8000n,
        TradeFlags.Reconnect,
      ]],
    );
    assert.match(
      t.feed.summary(),
      /^binance 3 trades, 1 reconnects \(1 silent\), 0 gaps \(0 missed\), /,
    );
    const family = serveFamilies({
      exchange: "binance",
      source: t.feed,
      counters: { trades: 3, perSymbol: [2, 1] },
      transports: [],
    }).find((f) => f.name === "marketbus_source_reconnects_total");
    assert.ok(family?.type === "counter", "a counter family");
    assert.deepEqual(
      family.samples.map(({ labels, value }) => [labels?.cause, value]),
      [["dropped", 0], ["silent", 1], ["stalled", 0]],
    );
  },
);
