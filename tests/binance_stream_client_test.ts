import assert from "node:assert/strict";
import { delay } from "../common/runtime/delay.ts";
import { TradeFlags } from "../common/wire/trade.ts";
import { captureLog } from "./_capture_log.ts";
import {
  FakeBinance,
  loadBinanceFixture,
  tradeFrame,
} from "./_fake_binance.ts";
import { READ_PERMISSIONS, testNeeding } from "./_permissions.ts";
import {
  BinanceTradeStream,
  type BinanceTradeStreamOptions,
  type TradeGap,
} from "../data_manager/binance/stream_client.ts";
import {
  type ParsedTrade,
  parseTradeFrame,
} from "../data_manager/binance/trade_event.ts";

/** A test that reads fixtures: skipped, saying why, without --allow-read. */
const test = testNeeding(READ_PERMISSIONS);
const SYMBOLS = ["BTCUSDT", "ETHUSDT"];
const clock = { seconds: 1_764_196_801, nanos: 5 };

/** Polls `condition` until it holds; fails after 10 s (a hang, not a speed check). */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(5);
  }
}

interface Received {
  trade: ParsedTrade;
  symbolIndex: number;
}

/** A fake server, a stream on it and what the stream delivered; `stop` tears both down. */
async function setUp(
  symbols: readonly string[] = SYMBOLS,
  options: BinanceTradeStreamOptions = {},
) {
  const fake = FakeBinance.start();
  const received: Received[] = [];
  const gaps: TradeGap[] = [];
  const { log, lines } = captureLog();
  const stream = new BinanceTradeStream(symbols, {
    endpoint: fake.endpoint,
    initialBackoffMs: 5,
    maxBackoffMs: 20,
    clock: (into) => Object.assign(into, clock),
    onTrade: (trade, symbolIndex) => received.push({ trade, symbolIndex }),
    onGap: (gap) => gaps.push(gap),
    log,
    ...options,
  });
  const controller = new AbortController();
  const done = stream.run(controller.signal);
  const stop = async () => {
    controller.abort();
    await done;
    await fake.close();
  };
  try {
    if (fake.refuse === 0) await fake.waitForAccepted(stream.urls.length);
  } catch (error) {
    await stop();
    throw error;
  }
  return { fake, stream, received, gaps, lines, stop };
}

function expected(lines: readonly string[]): ParsedTrade[] {
  return lines.map((line) =>
    parseTradeFrame(line, { receivedAt: clock }) as ParsedTrade
  );
}

Deno.test("BinanceTradeStream builds combined-stream URLs", () => {
  const stream = new BinanceTradeStream(["BTCUSDT", "ethusdt"]);
  assert.deepEqual(stream.urls, [
    "wss://stream.binance.com:9443/stream?streams=btcusdt@trade/ethusdt@trade",
  ]);
  assert.equal(stream.stats.connections, 1);
  const micro = new BinanceTradeStream(["BTCUSDT"], {
    endpoint: "wss://stream.testnet.binance.vision/",
    timeUnit: "microsecond",
  });
  assert.deepEqual(micro.urls, [
    "wss://stream.testnet.binance.vision/stream?streams=btcusdt@trade&timeUnit=MICROSECOND",
  ]);
});

Deno.test("BinanceTradeStream splits streams over connections", () => {
  const symbols = ["A1", "B2", "C3", "D4", "E5"];
  const stream = new BinanceTradeStream(symbols, {
    endpoint: "ws://localhost:1",
    maxStreamsPerConnection: 2,
  });
  assert.deepEqual(stream.urls, [
    "ws://localhost:1/stream?streams=a1@trade/b2@trade",
    "ws://localhost:1/stream?streams=c3@trade/d4@trade",
    "ws://localhost:1/stream?streams=e5@trade",
  ]);
  const many = Array.from({ length: 2049 }, (_, i) => `S${i}`);
  assert.equal(new BinanceTradeStream(many).urls.length, 3);
});

Deno.test("BinanceTradeStream rejects bad arguments naming the value", () => {
  const cases: [() => unknown, RegExp][] = [
    [() => new BinanceTradeStream([]), /Invalid symbols \[\]/],
    [
      () => new BinanceTradeStream(["BTCUSDT", "btcusdt"]),
      /Invalid symbol "btcusdt": expected each symbol once \(symbols\[1\] repeats symbols\[0\]\)/,
    ],
    [() => new BinanceTradeStream(["BTC/USDT"]), /Invalid symbol "BTC\/USDT"/],
    [
      () => new BinanceTradeStream(["A"], { endpoint: "http://x" }),
      /Invalid endpoint "http:\/\/x": expected a ws:\/\/ or wss:\/\/ URL/,
    ],
    [
      () => new BinanceTradeStream(["A"], { endpoint: "nope" }),
      /Invalid endpoint "nope"/,
    ],
    [
      () => new BinanceTradeStream(["A"], { maxStreamsPerConnection: 0 }),
      /Invalid maxStreamsPerConnection 0: expected an integer greater than 0/,
    ],
    [
      () =>
        new BinanceTradeStream(["A"], {
          initialBackoffMs: 100,
          maxBackoffMs: 10,
        }),
      /Invalid maxBackoffMs 10: expected at least initialBackoffMs \(100\)/,
    ],
  ];
  for (const [create, message] of cases) {
    assert.throws(create, message);
  }
});

test("BinanceTradeStream delivers exactly the trades sent", async () => {
  const { fake, stream, received, stop } = await setUp();
  try {
    const frames = await loadBinanceFixture("trades.ndjson");
    assert.deepEqual(fake.requests, [
      "/stream?streams=btcusdt@trade/ethusdt@trade",
    ]);
    fake.send(frames);
    await until(() => stream.stats.trades === frames.length, "all trades");
    assert.deepEqual(received.map((r) => r.trade), expected(frames));
    assert.deepEqual(
      received.map((r) => r.symbolIndex),
      received.map((r) => SYMBOLS.indexOf(r.trade.symbol)),
    );
    assert.equal(received[0].trade.tradeId, 5_412_345_670n);
    assert.equal(received[0].trade.priceFixed, 67_123_450_000_000n);
    const stats = stream.stats;
    assert.equal(stats.frames, 12);
    assert.equal(stats.invalid, 0);
    assert.equal(stats.gaps, 0);
    assert.equal(stats.reconnects, 0);
    assert.equal(stats.openConnections, 1);
  } finally {
    await stop();
  }
  assert.equal(stream.stats.openConnections, 0);
});

test("BinanceTradeStream flags the first trade after a reconnect and counts gaps", async () => {
  const { fake, stream, received, gaps, lines, stop } = await setUp();
  try {
    const frames = await loadBinanceFixture("trades.ndjson");
    fake.send(frames.slice(0, 6));
    await until(() => stream.stats.trades === 6, "the first 6 trades");
    fake.drop();
    await fake.waitForAccepted(2);
    assert.equal(fake.requests.length, 2);
    // A repeat of the last BTCUSDT trade, then the rest with 2 ids skipped.
    fake.send([frames[5]]);
    const sent = fake.send(frames.slice(6), {
      skipIds: [5412345674, 5412345675],
    });
    assert.equal(sent, 4);
    await until(() => stream.stats.trades === 10, "the last 4 trades");
    const after = received.slice(6).map(({ trade }) => [
      trade.symbol,
      trade.tradeId,
      trade.flags,
    ]);
    assert.deepEqual(after, [
      ["ETHUSDT", 2912345003n, TradeFlags.Reconnect],
      ["ETHUSDT", 2912345004n, 0],
      ["BTCUSDT", 5412345676n, TradeFlags.Reconnect],
      ["BTCUSDT", 5412345677n, 0],
    ]);
    assert.ok(received.slice(0, 6).every(({ trade }) => trade.flags === 0));
    assert.deepEqual(gaps, [{
      symbol: "BTCUSDT",
      symbolIndex: 0,
      lastTradeId: 5412345673n,
      tradeId: 5412345676n,
      missing: 2n,
      afterReconnect: true,
    }]);
    const stats = stream.stats;
    assert.equal(stats.reconnects, 1);
    assert.equal(stats.gaps, 1);
    assert.equal(stats.missedTrades, 2n);
    assert.equal(stats.duplicates, 1);
    assert.ok(
      lines.some((line) =>
        line.includes("BTCUSDT: 2 trades missing between ids 5412345673")
      ),
      lines.join("\n"),
    );
  } finally {
    await stop();
  }
});

test("BinanceTradeStream counts garbage and publishes none of it", async () => {
  const { fake, stream, received, lines, stop } = await setUp(SYMBOLS, {
    logIntervalMs: 60_000,
  });
  try {
    const trades = await loadBinanceFixture("trades.ndjson");
    const garbage = await loadBinanceFixture("garbage.txt");
    const ignored = await loadBinanceFixture("ignored.ndjson");
    // Interleave: trade, garbage, trade, garbage, ... then the ignored
    // frames (one of an unsubscribed stream) and the garbage again.
    const frames: string[] = [];
    trades.forEach((trade, i) => {
      frames.push(trade);
      if (i < garbage.length) frames.push(garbage[i]);
    });
    fake.send(frames);
    fake.send(ignored, { everyone: true });
    fake.send(garbage);
    const total = trades.length + 2 * garbage.length + ignored.length;
    await until(() => stream.stats.frames === total, "every frame");
    assert.deepEqual(received.map((r) => r.trade), expected(trades));
    const stats = stream.stats;
    assert.equal(stats.trades, 12);
    assert.equal(stats.ignored, 3);
    assert.equal(stats.invalid, 16);
    assert.deepEqual(stats.invalidByReason, {
      json: 4,
      shape: 2,
      field: 6,
      range: 2,
      stream: 2,
      binary: 0,
    });
    // Rate-limited: one line per reason in the interval.
    const invalidLines = lines.filter((line) => line.includes("invalid frame"));
    assert.equal(invalidLines.length, 5, invalidLines.join("\n"));
    assert.ok(lines.some((line) => line.startsWith("warn: Error 2 from")));
  } finally {
    await stop();
  }
});

test("BinanceTradeStream rejects trades of streams it did not subscribe", async () => {
  const { fake, stream, received, stop } = await setUp(["BTCUSDT"]);
  try {
    const frames = await loadBinanceFixture("trades.ndjson");
    fake.send(frames.slice(0, 3), { everyone: true });
    await until(() => stream.stats.frames === 3, "3 frames");
    assert.deepEqual(
      received.map(({ trade }) => trade.tradeId),
      [5412345670n, 5412345671n],
    );
    assert.equal(stream.stats.invalidByReason.stream, 1);
  } finally {
    await stop();
  }
});

test("BinanceTradeStream uses one connection per stream group", async () => {
  const { fake, stream, received, stop } = await setUp(
    ["BTCUSDT", "SOLUSDT", "ETHUSDT"],
    { maxStreamsPerConnection: 2 },
  );
  try {
    assert.deepEqual(fake.requests.toSorted(), [
      "/stream?streams=btcusdt@trade/solusdt@trade",
      "/stream?streams=ethusdt@trade",
    ]);
    const frames = await loadBinanceFixture("trades.ndjson");
    fake.send(frames);
    await until(() => stream.stats.trades === 12, "all trades");
    for (const { trade, symbolIndex } of received) {
      assert.equal(symbolIndex, trade.symbol === "BTCUSDT" ? 0 : 2);
    }
    assert.equal(stream.stats.openConnections, 2);
    assert.equal(stream.stats.connections, 2);
  } finally {
    await stop();
  }
});

Deno.test("BinanceTradeStream backs off exponentially, capped, while refused", async () => {
  const fake = FakeBinance.start();
  fake.refuse = 4;
  const { log, lines } = captureLog();
  const stream = new BinanceTradeStream(["BTCUSDT"], {
    endpoint: fake.endpoint,
    initialBackoffMs: 4,
    maxBackoffMs: 16,
    random: () => 0.999_999,
    log,
  });
  const controller = new AbortController();
  const done = stream.run(controller.signal);
  try {
    await fake.waitForAccepted(1);
    const waits = lines
      .filter((line) => line.includes("reconnecting in"))
      .map((line) => Number(/in (\d+) ms/.exec(line)?.[1]));
    assert.deepEqual(waits, [4, 8, 16, 16]);
    assert.equal(fake.requests.length, 5);
    // The first open is not a reconnect.
    assert.equal(stream.stats.reconnects, 0);
  } finally {
    controller.abort();
    await done;
    await fake.close();
  }
});

Deno.test("BinanceTradeStream warns why a connection never opened, once per attempt", async () => {
  const fake = FakeBinance.start();
  fake.refuse = 2;
  const { log, lines } = captureLog();
  const stream = new BinanceTradeStream(["BTCUSDT"], {
    endpoint: fake.endpoint,
    initialBackoffMs: 4,
    maxBackoffMs: 16,
    log,
  });
  const controller = new AbortController();
  const done = stream.run(controller.signal);
  try {
    await fake.waitForAccepted(1);
    const warnings = lines.filter((line) => line.startsWith("warn: "));
    assert.equal(warnings.length, 2, lines.join("\n"));
    for (const warning of warnings) {
      assert.match(
        warning,
        /^warn: connection 0 to ws:\/\/127\.0\.0\.1:\d+\/stream failed \(.*503.*\); reconnecting in \d+ ms$/,
      );
    }
  } finally {
    controller.abort();
    await done;
    await fake.close();
  }
});

Deno.test("BinanceTradeStream stops at once on an aborted signal and runs once at a time", async () => {
  const stream = new BinanceTradeStream(["BTCUSDT"], {
    endpoint: "ws://127.0.0.1:9",
  });
  await stream.run(AbortSignal.abort());
  const controller = new AbortController();
  const first = stream.run(controller.signal);
  await assert.rejects(
    () => stream.run(controller.signal),
    /Cannot run a BinanceTradeStream twice at once/,
  );
  controller.abort();
  await first;
});

test("BinanceTradeStream survives a throwing onTrade", async () => {
  const { fake, stream, lines, stop } = await setUp(SYMBOLS, {
    onTrade: () => {
      throw new Error("boom");
    },
  });
  try {
    const frames = await loadBinanceFixture("trades.ndjson");
    fake.send(frames);
    await until(() => stream.stats.trades === 12, "all trades");
    assert.ok(lines.includes("error: callback failed: boom"));
  } finally {
    await stop();
  }
});

Deno.test("BinanceTradeStream stops while a handshake hangs", async () => {
  // A TCP listener that accepts and never answers the upgrade.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) conns.push(conn);
  })();
  const stream = new BinanceTradeStream(["BTCUSDT"], {
    endpoint: `ws://127.0.0.1:${listener.addr.port}`,
  });
  const controller = new AbortController();
  const done = stream.run(controller.signal);
  await until(() => conns.length === 1, "the TCP connection");
  controller.abort();
  await done;
  assert.equal(stream.stats.openConnections, 0);
  listener.close();
  await accepting.catch(() => {});
  for (const conn of conns) conn.close();
});

/** Sends `frame(i)` every `everyMs` until `stop` says so; resolves with how many were sent. */
async function sendEvery(
  fake: FakeBinance,
  everyMs: number,
  frame: (i: number) => string,
  stop: () => boolean,
): Promise<number> {
  let i = 0;
  while (!stop()) {
    fake.send([frame(i++)]);
    await delay(everyMs);
  }
  return i;
}

test("BinanceTradeStream reconnects a connection that goes silent with its socket open", async () => {
  const timeout = 300;
  const { fake, stream, received, lines, stop } = await setUp(SYMBOLS, {
    silenceTimeoutMs: timeout,
  });
  try {
    const sentAt = performance.now();
    fake.send([
      tradeFrame("BTCUSDT", 100, "67000.10000000"),
      tradeFrame("ETHUSDT", 500, "3000.10000000"),
    ]);
    await until(() => stream.stats.trades === 2, "the first trades");
    fake.silence();
    await until(() => fake.accepted === 2, "a reconnect after the silence");
    // Not before the timeout: the last frame came after sentAt.
    assert.ok(performance.now() - sentAt >= timeout);
    await until(() => stream.stats.openConnections === 1, "the new socket");
    fake.send([
      tradeFrame("BTCUSDT", 101, "67000.20000000"),
      tradeFrame("BTCUSDT", 102, "67000.30000000"),
      tradeFrame("ETHUSDT", 501, "3000.20000000"),
    ]);
    await until(() => stream.stats.trades === 5, "the trades after it");
    assert.deepEqual(
      received.map(({ trade }) => [trade.symbol, trade.tradeId, trade.flags]),
      [
        ["BTCUSDT", 100n, 0],
        ["ETHUSDT", 500n, 0],
        ["BTCUSDT", 101n, TradeFlags.Reconnect],
        ["BTCUSDT", 102n, 0],
        ["ETHUSDT", 501n, TradeFlags.Reconnect],
      ],
    );
    const stats = stream.stats;
    assert.equal(stats.reconnects, 1);
    assert.deepEqual(stats.reconnectsByCause, {
      dropped: 0,
      silent: 1,
      stalled: 0,
    });
    // The unanswered probe went to the silent socket.
    assert.ok(
      fake.received.some((m) => JSON.parse(m).method === "LIST_SUBSCRIPTIONS"),
      fake.received.join("\n"),
    );
    assert.ok(
      lines.some((line) =>
        /^warn: connection 0 silent: no frame for \d+ ms, not even the reply to a probe \(silence timeout 300 ms\); reconnecting$/
          .test(line)
      ),
      lines.join("\n"),
    );
  } finally {
    await stop();
  }
});

test("BinanceTradeStream reconnects when an active symbol stalls while its connection answers", async () => {
  const timeout = 1000;
  const { fake, stream, received, lines, stop } = await setUp(SYMBOLS, {
    silenceTimeoutMs: timeout,
  });
  try {
    // BTCUSDT trades all through a whole window; ETHUSDT once (quiet).
    fake.send([tradeFrame("ETHUSDT", 500, "3000.10000000")]);
    const start = performance.now();
    const sent = await sendEvery(
      fake,
      20,
      (i) => tradeFrame("BTCUSDT", 1000 + i, "67000.10000000"),
      () => performance.now() - start > 1.2 * timeout,
    );
    await until(() => stream.stats.trades === sent + 1, "every trade");
    // BTCUSDT stops; the connection still answers probes.
    await until(() => fake.accepted === 2, "a reconnect after the stall");
    assert.deepEqual(stream.stats.reconnectsByCause, {
      dropped: 0,
      silent: 0,
      stalled: 1,
    });
    assert.ok(
      lines.some((line) =>
        /^warn: connection 0: BTCUSDT traded in \d+ of the last 10 100 ms slots, then nothing for \d+ ms while the connection answered \(silence timeout 1000 ms\); reconnecting$/
          .test(line)
      ),
      lines.join("\n"),
    );
    // A symbol that stopped trading for good does not make a reconnect loop.
    await delay(2.5 * timeout);
    assert.equal(fake.accepted, 2);
    assert.equal(stream.stats.reconnects, 1);
    fake.send([tradeFrame("BTCUSDT", 1000 + sent, "67000.20000000")]);
    await until(() => received.length === sent + 2, "the trade after it");
    assert.equal(received.at(-1)!.trade.flags, TradeFlags.Reconnect);
  } finally {
    await stop();
  }
});

test("BinanceTradeStream keeps a quiet connection that answers its probes", async () => {
  const timeout = 1000;
  const { fake, stream, lines, stop } = await setUp(SYMBOLS, {
    silenceTimeoutMs: timeout,
  });
  try {
    // One burst (a sweep of 20 trades at once) is not steady activity.
    fake.send(
      Array.from(
        { length: 20 },
        (_, i) => tradeFrame("BTCUSDT", 100 + i, "67000.10000000"),
      ),
    );
    await until(() => stream.stats.trades === 20, "the burst");
    await delay(3.5 * timeout);
    assert.equal(fake.accepted, 1, lines.join("\n"));
    assert.equal(stream.stats.reconnects, 0);
    const probes = fake.received.filter((m) =>
      JSON.parse(m).method === "LIST_SUBSCRIPTIONS"
    );
    assert.ok(probes.length >= 2, fake.received.join("\n"));
    assert.ok(stream.stats.ignored >= 2, "the replies are ignored frames");
  } finally {
    await stop();
  }
});

Deno.test("BinanceTradeStream gives up a handshake that hangs for the silence timeout and tries again", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) conns.push(conn);
  })();
  const { log, lines } = captureLog();
  const stream = new BinanceTradeStream(["BTCUSDT"], {
    endpoint: `ws://127.0.0.1:${listener.addr.port}`,
    initialBackoffMs: 5,
    maxBackoffMs: 10,
    silenceTimeoutMs: 100,
    log,
  });
  const controller = new AbortController();
  const done = stream.run(controller.signal);
  try {
    await until(() => conns.length >= 2, "a second attempt");
    assert.match(
      lines.find((line) => line.startsWith("warn: ")) ?? lines.join("\n"),
      /^warn: connection 0 to ws:\/\/127\.0\.0\.1:\d+\/stream failed \(no handshake within 100 ms\); reconnecting in \d+ ms$/,
    );
  } finally {
    controller.abort();
    await done;
    listener.close();
    await accepting.catch(() => {});
    for (const conn of conns) conn.close();
  }
});

Deno.test("BinanceTradeStream rejects a bad silence timeout", () => {
  for (const value of [-1, Infinity, NaN]) {
    assert.throws(
      () => new BinanceTradeStream(["A"], { silenceTimeoutMs: value }),
      /Invalid silenceTimeoutMs .*: expected a finite number > 0/,
    );
  }
  // 0 turns the watchdog off.
  new BinanceTradeStream(["A"], { silenceTimeoutMs: 0 });
});
