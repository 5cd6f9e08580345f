import assert from "node:assert/strict";
import { join } from "node:path";
import { encodeMessage } from "../common/wire/codec.ts";
import type { TradingCoreConfig } from "../common/config/mod.ts";
import type { Logger } from "../common/runtime/log.ts";
import { Side, TradeFlags } from "../common/wire/trade.ts";
import type { TradeGap } from "../common/transport/feed.ts";
import { TradeView } from "../common/wire/trade_view.ts";
import { TEMP_FILE_PERMISSIONS, testNeeding } from "../tests/_permissions.ts";
import { type Fill, formatFillLine } from "./broker/mod.ts";
import type { Bar } from "./bar.ts";
import { flaggedGaps, GAP_FLAGS, TradeProcessing } from "./processing.ts";

/** A test that writes strategy modules and bar files: skipped, saying why, without those permissions. */
const test = testNeeding(TEMP_FILE_PERMISSIONS);
const T0 = 1_704_067_200_000; // 2024-01-01T00:00:00Z
const ORIGIN = { exchange: "binance", symbol: "BTCUSDT" };
const SILENT: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

function config(overrides: Partial<TradingCoreConfig>): TradingCoreConfig {
  return {
    strategy: undefined,
    barsOut: undefined,
    fillsOut: undefined,
    onExistingFile: "refuse",
    onWriteError: "stop",
    bars: {
      intervals: ["1s"],
      closeDelayMs: 250,
      clock: "wall",
      maxClockJumpMs: 3_600_000,
    },
    broker: {
      startingBalance: 1000,
      feeBps: 10,
      makerFeeBps: 0,
      slippageBps: 0,
      latencyMs: 0,
      maxOpenOrders: 10_000,
    },
    console: {
      port: undefined,
      host: "127.0.0.1",
      updatesPerSecond: 4,
      intervals: ["1s", "1m"],
      maxClients: 32,
    },
    metrics: { port: 0, host: "127.0.0.1", staleAfterMs: 10_000 },
    progressSummaryAbove: 8,
    ...overrides,
  };
}

/** A message of BTCUSDT trades at `T0 + ms` with the given prices. */
function trades(points: [ms: number, price: number][]): TradeView {
  const view = new TradeView();
  view.wrap(encodeMessage(points.map(([ms, price], i) => ({
    side: Side.Buy,
    flags: 0,
    seq: i + 1,
    tsEvent: BigInt(T0 + ms) * 1_000_000n,
    tsRecv: BigInt(T0 + ms) * 1_000_000n,
    priceFixed: BigInt(price) * 1_000_000_000n,
    size: 0.5,
    tradeId: BigInt(i + 1),
  }))));
  return view;
}

async function strategyModule(dir: string, body: string): Promise<string> {
  const path = join(dir, "strategy.ts");
  await Deno.writeTextFile(path, body);
  return path;
}

/** Processing that runs the strategy at `path` and keeps its error reports. */
async function withStrategy(
  path: string,
): Promise<{ processing: TradeProcessing; errors: string[] }> {
  const errors: string[] = [];
  const processing = await TradeProcessing.open(config({ strategy: path }), {
    exchange: "binance",
    symbols: ["BTCUSDT"],
    strategyLog: SILENT,
    onStrategyError: (message) => errors.push(message),
  });
  assert.ok(processing);
  assert.equal(processing.addStream(ORIGIN), 0);
  return { processing, errors };
}

Deno.test("without a strategy or a bar file, nothing is processed", async () => {
  const processing = await TradeProcessing.open(config({}), {
    exchange: "binance",
    symbols: ["BTCUSDT"],
    strategyLog: SILENT,
    onStrategyError: () => assert.fail("no strategy"),
  });
  assert.equal(processing, undefined);
});

Deno.test("buildBars (the live console's own bars): bars with neither a strategy nor a bar file, to onBar only", async () => {
  const bars: Bar[] = [];
  const processing = await TradeProcessing.open(config({}), {
    exchange: "*",
    symbols: [],
    strategyLog: SILENT,
    onStrategyError: () => assert.fail("no strategy"),
    buildBars: true,
    onBar: (bar) => bars.push(bar),
  });
  assert.ok(processing);
  assert.equal(processing.broker, undefined);
  assert.equal(processing.barsWritten, undefined, "no bar file");
  processing.addStream(ORIGIN);
  const view = trades([[0, 100], [1_500, 101]]);
  for (let i = 0; i < 2; i++) processing.trade(view.select(i), ORIGIN, 0);
  assert.deepEqual(bars.map((bar) => [bar.start - T0, bar.close]), [[0, 100]]);
  assert.equal(processing.strategyCalls.bars, 0);
  await processing.stop();
});

test("the strategy gets a closed bar before the trade that closed it, and the bar file gets the bar", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const events: string[] = [];
    (globalThis as Record<string, unknown>).__events = events;
    const path = await strategyModule(
      dir,
      `const events = globalThis.__events;
export default {
  onStart: () => events.push("start"),
  onTrade: (t) => events.push(\`trade \${t.symbol} \${t.price}\`),
  onBar: (b) => events.push(\`bar \${b.interval} \${b.start - ${T0}} \${b.close} \${b.trades}\`),
  onStop: () => events.push("stop"),
};`,
    );
    const barsOut = join(dir, "bars.ndjson");
    const processing = await TradeProcessing.open(
      config({ strategy: path, barsOut }),
      {
        exchange: "binance",
        symbols: ["BTCUSDT"],
        strategyLog: SILENT,
        onStrategyError: (message) => assert.fail(message),
      },
    );
    assert.ok(processing);
    assert.equal(processing.addStream(ORIGIN), 0);
    await processing.start();
    const view = trades([[100, 10], [900, 11], [2_100, 12]]);
    for (let i = 0; i < view.count; i++) {
      processing.trade(view.select(i), ORIGIN, 0);
    }
    await processing.stop();
    assert.deepEqual(events, [
      "start",
      "trade BTCUSDT 10",
      "trade BTCUSDT 11",
      // The trade at 2.1 s closes the first bar and an empty one, first.
      "bar 1s 0 11 2",
      "bar 1s 1000 11 0",
      "trade BTCUSDT 12",
      "stop",
    ]);
    assert.equal(processing.barsWritten, 2);
    assert.deepEqual(processing.strategyCalls, {
      trades: 3,
      bars: 2,
      gaps: 0,
      fills: 0,
      errors: 0,
    });
    const lines = (await Deno.readTextFile(barsOut)).trim().split("\n");
    assert.deepEqual(
      lines.map((line) => {
        const bar = JSON.parse(line);
        return [bar.start - T0, bar.open, bar.close, bar.volume, bar.trades];
      }),
      [[0, 10, 11, 1, 2], [1000, 11, 11, 0, 0]],
    );
    assert.deepEqual(
      processing.counts().map(({ symbol, interval, closed, late }) => [
        symbol,
        interval,
        closed,
        late,
      ]),
      [["BTCUSDT", "1s", 2, 0]],
    );
  } finally {
    delete (globalThis as Record<string, unknown>).__events;
    await Deno.remove(dir, { recursive: true });
  }
});

test("the broker sees a trade first: an order fills against the next trade, onFill before that trade's bars and onTrade", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const events: string[] = [];
    (globalThis as Record<string, unknown>).__events = events;
    const path = await strategyModule(
      dir,
      `const events = globalThis.__events;
export default {
  onStart(context) { events.push(\`start \${context.broker.balance}\`); },
  onTrade(t, context) {
    const p = context.broker.position(t.exchange, t.symbol);
    events.push(\`trade \${t.price} position \${p.quantity}\`);
    if (t.price === 10) {
      events.push("id " + context.broker.submit({ exchange: t.exchange, symbol: t.symbol, side: "buy", quantity: 2 }));
    }
  },
  onBar: (b) => events.push(\`bar \${b.close}\`),
  onFill: (f, context) => events.push(\`fill \${f.orderId} \${f.quantity}@\${f.price} fee \${f.fee.toFixed(4)} balance \${context.broker.balance.toFixed(4)}\`),
};`,
    );
    const fills: string[] = [];
    const processing = await TradeProcessing.open(
      config({ strategy: path }),
      {
        exchange: "binance",
        symbols: ["BTCUSDT"],
        strategyLog: SILENT,
        onStrategyError: (message) => assert.fail(message),
        onFill: (fill) => fills.push(`${fill.orderId} ${fill.quantity}`),
      },
    );
    assert.ok(processing?.broker);
    assert.equal(processing.addStream(ORIGIN), 0);
    await processing.start();
    // Each trade is 0.5 units: the order of 2 fills over four trades.
    const view = trades([[100, 10], [1_200, 11], [1_300, 12], [1_400, 13], [
      2_500,
      14,
    ]]);
    for (let i = 0; i < view.count; i++) {
      processing.trade(view.select(i), ORIGIN, 0);
    }
    await processing.stop();
    assert.deepEqual(events, [
      "start 1000",
      "trade 10 position 0",
      "id 1",
      "fill 1 0.5@11 fee 0.0055 balance 994.4945",
      "bar 10",
      "trade 11 position 0.5",
      "fill 1 0.5@12 fee 0.0060 balance 988.4885",
      "trade 12 position 1",
      "fill 1 0.5@13 fee 0.0065 balance 981.9820",
      "trade 13 position 1.5",
      "fill 1 0.5@14 fee 0.0070 balance 974.9750",
      "bar 13",
      "trade 14 position 2",
    ]);
    assert.deepEqual(fills, ["1 0.5", "1 0.5", "1 0.5", "1 0.5"]);
    assert.equal(processing.strategyCalls.fills, 4);
    assert.equal(processing.broker.position("binance", "BTCUSDT").quantity, 2);
  } finally {
    delete (globalThis as Record<string, unknown>).__events;
    await Deno.remove(dir, { recursive: true });
  }
});

test("--fills-out: each fill of the strategy's orders is one formatFillLine line, in order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = await strategyModule(
      dir,
      `export default {
  onTrade(t, context) {
    if (t.price === 10) context.broker.submit({ exchange: t.exchange, symbol: t.symbol, side: "sell", quantity: 0.75, tag: "t" });
  },
  onBar() {},
};`,
    );
    const fillsOut = join(dir, "fills.ndjson");
    const seen: Fill[] = [];
    const processing = await TradeProcessing.open(
      config({ strategy: path, fillsOut }),
      {
        exchange: "binance",
        symbols: ["BTCUSDT"],
        strategyLog: SILENT,
        onStrategyError: (message) => assert.fail(message),
        onFill: (fill) => seen.push(fill),
      },
    );
    assert.ok(processing);
    processing.addStream(ORIGIN);
    await processing.start();
    const view = trades([[100, 10], [200, 11], [300, 12]]);
    for (let i = 0; i < view.count; i++) {
      processing.trade(view.select(i), ORIGIN, 0);
    }
    assert.equal(processing.fillsWritten, 2);
    await processing.stop();
    const text = await Deno.readTextFile(fillsOut);
    assert.equal(
      text,
      seen.map((fill) => formatFillLine(fill) + "\n").join(""),
    );
    assert.deepEqual(
      text.trim().split("\n").map((line) => JSON.parse(line)).map((
        f,
      ) => [f.orderId, f.quantity, f.price, f.position, f.tag]),
      [["1", 0.5, 11, -0.5, "t"], ["1", 0.25, 12, -0.75, "t"]],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("a bad order is a strategy bug: reported with the hook that placed it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = await strategyModule(
      dir,
      `export default {
  onTrade(t, context) {
    context.broker.submit({ exchange: t.exchange, symbol: t.symbol, side: "buy", quantity: -1 });
  },
  onBar() {},
};`,
    );
    const { processing, errors } = await withStrategy(path);
    await processing.start();
    processing.trade(trades([[100, 10]]).select(0), ORIGIN, 0);
    await processing.stop();
    assert.equal(errors.length, 1);
    assert.ok(
      errors[0].startsWith(
        `strategy ${path} failed in onTrade: RangeError: Invalid order quantity -1: expected a positive number`,
      ),
      errors[0],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("without a strategy there is no broker", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const processing = await TradeProcessing.open(
      config({ barsOut: join(dir, "bars.ndjson") }),
      {
        exchange: "binance",
        symbols: ["BTCUSDT"],
        strategyLog: SILENT,
        onStrategyError: (message) => assert.fail(message),
      },
    );
    assert.ok(processing);
    assert.equal(processing.broker, undefined);
    await processing.stop();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("a strategy that throws is reported once, with its file and hook", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = await strategyModule(
      dir,
      `export default {
  onTrade() { throw new Error("boom"); },
  onBar() {},
};`,
    );
    const { processing, errors } = await withStrategy(path);
    await processing.start();
    const view = trades([[100, 10], [200, 11]]);
    assert.equal(processing.failed, false);
    processing.trade(view.select(0), ORIGIN, 0);
    assert.equal(processing.failed, true); // a ring durable stops storing
    processing.trade(view.select(1), ORIGIN, 0);
    await processing.stop();
    assert.equal(errors.length, 1);
    assert.ok(
      errors[0].startsWith(`strategy ${path} failed in onTrade: Error: boom`),
      errors[0],
    );
    assert.equal(processing.strategyCalls.errors, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("after the strategy failed, the broker fills nothing more: its orders stay open, counted", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = await strategyModule(
      dir,
      `export default {
  onTrade(trade, context) {
    context.broker.submit({ exchange: "binance", symbol: "BTCUSDT", side: "buy", quantity: 0.1 });
    throw new Error("boom");
  },
  onBar() {},
};`,
    );
    const { processing } = await withStrategy(path);
    await processing.start();
    const view = trades([[100, 10], [200, 11], [300, 12]]);
    for (let i = 0; i < 3; i++) processing.trade(view.select(i), ORIGIN, 0);
    await processing.stop();
    assert.equal(processing.failed, true);
    assert.equal(processing.broker?.fills, 0);
    assert.equal(processing.broker?.openOrders().length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("a strategy whose onStart or onStop throws is reported with the hook", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = await strategyModule(
      dir,
      `export default {
  onStart() { throw new Error("no start"); },
  onTrade() {},
  onBar() {},
  onStop() { throw new Error("no stop"); },
};`,
    );
    const { processing, errors } = await withStrategy(path);
    await processing.start();
    await processing.stop();
    assert.deepEqual(errors.map((e) => e.split("\n")[0]), [
      `strategy ${path} failed in onStart: Error: no start`,
      `strategy ${path} failed in onStop: Error: no stop`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("a strategy whose onStart or onStop never settles does not hold the consumer: start() ends when the signal aborts, stop() after its bound, reported", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = await strategyModule(
      dir,
      `export default {
  onStart() { return new Promise(() => {}); },
  onTrade() {},
  onBar() {},
  onStop() { return new Promise(() => {}); },
};`,
    );
    const { processing, errors } = await withStrategy(path);
    const stopping = new AbortController();
    setTimeout(() => stopping.abort(), 50);
    assert.equal(await processing.start({ signal: stopping.signal }), false);
    await processing.stop({ timeoutMs: 50 });
    assert.deepEqual(errors, [
      `strategy ${path} failed in onStop: it did not finish within 50 ms; stopped without it`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("streams are added as the subscription announces them: the same symbol on two exchanges has bars of its own, named by its exchange", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const barsOut = join(dir, "bars.ndjson");
    const processing = await TradeProcessing.open(config({ barsOut }), {
      exchange: "*",
      symbols: ["AUDA"],
      strategyLog: SILENT,
      onStrategyError: (message) => assert.fail(message),
    });
    assert.ok(processing);
    const audx = { exchange: "audx", symbol: "AUDA" };
    const audy = { exchange: "audy", symbol: "AUDA" };
    assert.equal(processing.addStream(audx), 0);
    assert.equal(processing.addStream(audy), 1);
    await processing.start();
    const x = trades([[100, 10], [900, 11], [1_100, 12]]);
    const y = trades([[200, 20], [1_200, 21]]);
    processing.trade(x.select(0), audx, 0);
    processing.trade(y.select(0), audy, 1);
    processing.trade(x.select(1), audx, 0);
    processing.trade(x.select(2), audx, 0);
    processing.trade(y.select(1), audy, 1);
    await processing.stop();
    const lines = (await Deno.readTextFile(barsOut)).trim().split("\n");
    assert.deepEqual(
      lines.map((line) => {
        const bar = JSON.parse(line);
        return [bar.exchange, bar.symbol, bar.open, bar.close, bar.trades];
      }),
      [["audx", "AUDA", 10, 11, 2], ["audy", "AUDA", 20, 20, 1]],
    );
    assert.deepEqual(
      processing.counts().map((row) => [row.exchange, row.symbol, row.closed]),
      [["audx", "AUDA", 1], ["audy", "AUDA", 1]],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** BTCUSDT's trades `first` to `last` missing, overwritten in the ring. */
function overwritten(first: number, last: number): TradeGap {
  return {
    ...ORIGIN,
    stream: 0,
    cause: "overwritten",
    firstSeq: first,
    lastSeq: last,
    count: last - first + 1,
  };
}

test("a gap reaches the strategy in order: after the trades before it, before the bars the next trade closes and that trade; those bars are incomplete, in the bar file too", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const events: string[] = [];
    (globalThis as Record<string, unknown>).__events = events;
    const path = await strategyModule(
      dir,
      `const events = globalThis.__events;
export default {
  onTrade: (t) => events.push(\`trade \${t.price}\`),
  onBar: (b) => events.push(\`bar \${b.start - ${T0}} \${b.trades} \${b.complete}\`),
  onGap: (g) => events.push(\`gap \${g.cause} \${g.firstSeq}-\${g.lastSeq} \${g.count}\`),
};`,
    );
    const barsOut = join(dir, "bars.ndjson");
    const processing = await TradeProcessing.open(
      config({ strategy: path, barsOut }),
      {
        exchange: "binance",
        symbols: ["BTCUSDT"],
        strategyLog: SILENT,
        onStrategyError: (message) => assert.fail(message),
      },
    );
    assert.ok(processing);
    assert.equal(processing.addStream(ORIGIN), 0);
    await processing.start();
    const view = trades([[100, 10], [1_100, 11], [3_200, 12], [4_300, 13]]);
    processing.trade(view.select(0), ORIGIN, 0);
    processing.trade(view.select(1), ORIGIN, 0);
    processing.gap(0, overwritten(3, 9));
    processing.trade(view.select(2), ORIGIN, 0);
    processing.trade(view.select(3), ORIGIN, 0);
    await processing.stop();
    assert.deepEqual(events, [
      "trade 10",
      "bar 0 1 true",
      "trade 11",
      "gap overwritten 3-9 7",
      "bar 1000 1 false", // open at the gap
      "bar 2000 0 false", // empty, before the next trade
      "trade 12",
      "bar 3000 1 false", // holds the next trade
      "trade 13",
    ]);
    assert.deepEqual(processing.strategyCalls, {
      trades: 4,
      bars: 4,
      gaps: 1,
      fills: 0,
      errors: 0,
    });
    const lines = (await Deno.readTextFile(barsOut)).trim().split("\n");
    assert.deepEqual(
      lines.map((line) => JSON.parse(line).complete),
      [true, false, false, false],
    );
  } finally {
    delete (globalThis as Record<string, unknown>).__events;
    await Deno.remove(dir, { recursive: true });
  }
});

test("a strategy whose onGap throws is reported once with the hook; it is not called again", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = await strategyModule(
      dir,
      `export default {
  onTrade() {},
  onBar() {},
  onGap(gap) { throw new RangeError(\`no \${gap.count}\`); },
};`,
    );
    const { processing, errors } = await withStrategy(path);
    await processing.start();
    processing.gap(0, overwritten(1, 4));
    processing.gap(0, overwritten(6, 6));
    await processing.stop();
    assert.equal(errors.length, 1);
    assert.ok(
      errors[0].startsWith(
        `strategy ${path} failed in onGap: RangeError: no 4`,
      ),
      errors[0],
    );
    assert.deepEqual(processing.strategyCalls, {
      trades: 0,
      bars: 0,
      gaps: 1,
      fills: 0,
      errors: 1,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A view of one BTCUSDT trade with `seq` and `flags`. */
function flagged(seq: number, flags: number): TradeView {
  const view = new TradeView();
  view.wrap(encodeMessage([{
    side: Side.Sell,
    flags,
    seq,
    tsEvent: BigInt(T0) * 1_000_000n,
    tsRecv: BigInt(T0) * 1_000_000n,
    priceFixed: 1_000_000_000n,
    size: 1,
    tradeId: BigInt(seq),
  }]));
  return view;
}

Deno.test("flaggedGaps: Reconnect is a reconnect gap of unknown size; Gap a source gap counted from the seq jump", () => {
  const at = { origin: ORIGIN, stream: 3 };
  const gaps = (seq: number, flags: number, lastSeq: number | undefined) =>
    flaggedGaps(flagged(seq, flags), { ...at, lastSeq });
  const stream = { ...ORIGIN, stream: 3 };
  const reconnect = {
    ...stream,
    cause: "reconnect",
    firstSeq: null,
    lastSeq: null,
    count: null,
  };
  assert.deepEqual(gaps(8, TradeFlags.Reconnect, 7), [reconnect]);
  const source = {
    ...stream,
    cause: "source",
    firstSeq: 8,
    lastSeq: 11,
    count: 4,
  };
  assert.deepEqual(gaps(12, TradeFlags.Gap, 7), [source]);
  assert.deepEqual(
    gaps(12, TradeFlags.Gap | TradeFlags.Reconnect | TradeFlags.Replayed, 7),
    [reconnect, source],
  );
  // Across the u32 wrap.
  assert.deepEqual(gaps(1, TradeFlags.Gap, 2 ** 32 - 2), [{
    ...source,
    firstSeq: 2 ** 32 - 1,
    lastSeq: 0,
    count: 2,
  }]);
  // The stream's seq before it unknown: only the last missing seq is.
  assert.deepEqual(gaps(12, TradeFlags.Gap, undefined), [{
    ...source,
    firstSeq: null,
    count: null,
  }]);
  // A transport gap already delivered the jump (lastSeq 11): nothing twice.
  assert.deepEqual(gaps(12, TradeFlags.Gap, 11), []);
  assert.deepEqual(gaps(12, TradeFlags.Replayed | TradeFlags.Synthetic, 7), []);
  assert.equal(GAP_FLAGS, TradeFlags.Reconnect | TradeFlags.Gap);
});

test("a snapshot goes to the strategy's onTrade, flagged, and no bar counts it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const events: string[] = [];
    (globalThis as Record<string, unknown>).__snapshotEvents = events;
    const path = await strategyModule(
      dir,
      `const events = globalThis.__snapshotEvents;
export default {
  onTrade: (t) => events.push(\`trade \${t.price} \${t.flags}\`),
  onBar: (b) => events.push(\`bar \${b.start - ${T0}} \${b.open} \${b.trades}\`),
};`,
    );
    const barsOut = join(dir, "bars.ndjson");
    const processing = await TradeProcessing.open(
      config({ strategy: path, barsOut }),
      {
        exchange: "binance",
        symbols: ["BTCUSDT"],
        strategyLog: SILENT,
        onStrategyError: (message) => assert.fail(message),
      },
    );
    assert.ok(processing);
    assert.equal(processing.addStream(ORIGIN), 0);
    await processing.start();
    // The latest stored trade, 5 s before the live ones: it would open (and
    // the next trade close) a bar of its own if it were counted.
    const snapshot = new TradeView();
    snapshot.wrap(encodeMessage([{
      side: Side.Buy,
      flags: TradeFlags.Snapshot,
      seq: 7,
      tsEvent: BigInt(T0 - 5_000) * 1_000_000n,
      tsRecv: BigInt(T0 - 5_000) * 1_000_000n,
      priceFixed: 9_000_000_000n,
      size: 0.5,
      tradeId: 7n,
    }]));
    processing.snapshot(snapshot, ORIGIN);
    const view = trades([[100, 10], [900, 11], [1_100, 12]]);
    for (let i = 0; i < view.count; i++) {
      processing.trade(view.select(i), ORIGIN, 0);
    }
    await processing.stop();
    assert.deepEqual(events, [
      `trade 9 ${TradeFlags.Snapshot}`,
      "trade 10 0",
      "trade 11 0",
      "bar 0 10 2",
      "trade 12 0",
    ]);
    const lines = (await Deno.readTextFile(barsOut)).trim().split("\n");
    assert.equal(lines.length, 1);
    assert.equal(JSON.parse(lines[0]).trades, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("a clock outlier (a trade in 2099) changes no bar and no fill, still reaches onTrade, is counted and logged once; a jump the next trade confirms is accepted", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const seen: number[] = [];
    (globalThis as Record<string, unknown>).__seen = seen;
    const path = await strategyModule(
      dir,
      `export default { onTrade: (t) => globalThis.__seen.push(t.price), onBar: () => {} };`,
    );
    const bars: string[] = [];
    const warnings: string[] = [];
    const processing = await TradeProcessing.open(
      config({
        strategy: path,
        bars: {
          intervals: ["1s"],
          closeDelayMs: 250,
          clock: "trade",
          maxClockJumpMs: 3_600_000,
        },
      }),
      {
        exchange: "binance",
        symbols: ["BTCUSDT"],
        strategyLog: SILENT,
        onStrategyError: (message) => assert.fail(message),
        onBar: (bar) => bars.push(`${bar.start - T0} ${bar.close}`),
        log: { ...SILENT, warn: (message) => warnings.push(message) },
      },
    );
    assert.ok(processing);
    assert.equal(processing.addStream(ORIGIN), 0);
    const Y2099 = Date.UTC(2099, 0, 1) - T0;
    const HOUR = 3_600_000;
    const view = trades([
      [100, 10],
      [Y2099, 99], // outlier
      [1_100, 11],
      [Y2099 + 5, 98], // outlier again: the one before was not confirmed
      [2_100, 12],
      [3 * HOUR, 20], // a real jump: an outlier until...
      [3 * HOUR + 1_000, 21], // ...the next trade confirms it
      [3 * HOUR + 2_000, 22],
    ]);
    const accepted: boolean[] = [];
    for (let i = 0; i < view.count; i++) {
      accepted.push(processing.trade(view.select(i), ORIGIN, 0));
    }
    await processing.stop();
    assert.deepEqual(accepted, [
      true,
      false,
      true,
      false,
      true,
      false,
      true,
      true,
    ]);
    assert.deepEqual(
      seen,
      [10, 99, 11, 98, 12, 20, 21, 22],
      "onTrade gets all",
    );
    // Bars as if the 2099 trades never came; the 3 h jump skips the empty bars.
    assert.deepEqual(bars, [
      "0 10",
      "1000 11",
      "2000 12",
      `${3 * HOUR + 1000} 21`,
    ]);
    assert.equal(processing.outliers(0), 3);
    assert.deepEqual(
      processing.counts().map((row) => [row.symbol, row.outliers, row.late]),
      [["BTCUSDT", 3, 0]],
    );
    assert.equal(warnings.length, 1, "logged once per stream");
    assert.match(
      warnings[0],
      /binance BTCUSDT at 2099-01-01T00:00:00\.000Z .* clock 2024-01-01T00:00:00\.100Z/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("a stream's first trade 3 h ahead of its exchange's clock is an outlier, logged against that clock; its bars start from its next trade", async () => {
  const dir = await Deno.makeTempDir();
  const bars: string[] = [];
  const warnings: string[] = [];
  const processing = await TradeProcessing.open(
    config({
      barsOut: `${dir}/bars.ndjson`,
      bars: {
        intervals: ["1s"],
        closeDelayMs: 250,
        clock: "trade",
        maxClockJumpMs: 3_600_000,
      },
    }),
    {
      exchange: "binance",
      symbols: ["BTCUSDT", "ETHUSDT"],
      strategyLog: SILENT,
      onStrategyError: (message) => assert.fail(message),
      onBar: (bar) => bars.push(`${bar.symbol} ${bar.start - T0} ${bar.close}`),
      log: { ...SILENT, warn: (message) => warnings.push(message) },
    },
  );
  assert.ok(processing);
  const eth = { exchange: "binance", symbol: "ETHUSDT" };
  assert.equal(processing.addStream(ORIGIN), 0);
  assert.equal(processing.addStream(eth), 1);
  const HOUR = 3_600_000;
  const btc = trades([[100, 10], [1_100, 11], [2_100, 12]]);
  const ethView = trades([[3 * HOUR, 99], [200, 20], [1_200, 21]]);
  const accepted = [
    processing.trade(btc.select(0), ORIGIN, 0),
    processing.trade(ethView.select(0), eth, 1),
    processing.trade(ethView.select(1), eth, 1),
    processing.trade(btc.select(1), ORIGIN, 0),
    processing.trade(ethView.select(2), eth, 1),
    processing.trade(btc.select(2), ORIGIN, 0),
  ];
  await processing.stop();
  await Deno.remove(dir, { recursive: true });
  assert.deepEqual(accepted, [true, false, true, true, true, true]);
  assert.deepEqual(bars.filter((bar) => bar.startsWith("ETHUSDT")), [
    "ETHUSDT 0 20",
  ]);
  assert.equal(processing.outliers(1), 1);
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0],
    /ETHUSDT at 2024-01-01T03:00:00\.000Z .* its exchange's clock \(the stream's first trade\) 2024-01-01T00:00:00\.100Z/,
  );
});
