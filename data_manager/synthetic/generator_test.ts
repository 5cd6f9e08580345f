// Tests of the synthetic trade source: determinism, the records it writes
// (checked with the codec), trade ids, maxTrades, pacing and option errors.

import assert from "node:assert/strict";
import { checkRecordBytes, decodeTrade } from "../../common/wire/codec.ts";
import { formatPrice } from "../../common/wire/fixed_point.ts";
import {
  Side,
  type Trade,
  TRADE_RECORD_SIZE,
  TradeFlags,
  WIRE_VERSION,
} from "../../common/wire/trade.ts";
import {
  MAX_SYNTHETIC_SYMBOLS,
  SyntheticGenerator,
  type SyntheticGeneratorOptions,
  UNPACED_CHUNK,
} from "./generator.ts";

const SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "PEPEUSDT", "XRPUSDT"];
const SECONDS = 1_764_000_000;

interface Written {
  bytes: Uint8Array;
  /** The symbol index `next` returned for each record. */
  symbols: number[];
  names: readonly string[];
}

/** Runs `source` for `count` trades into one buffer, with distinct times. */
function write(source: SyntheticGenerator, count: number): Written {
  const bytes = new Uint8Array(count * TRADE_RECORD_SIZE);
  const view = new DataView(bytes.buffer);
  const symbols = [];
  for (let i = 0; i < count; i++) {
    symbols.push(
      source.next(view, i * TRADE_RECORD_SIZE, SECONDS + i, i * 99_991),
    );
  }
  return { bytes, symbols, names: source.symbols };
}

function decodeAll({ bytes, symbols, names }: Written): Trade[] {
  const view = new DataView(bytes.buffer);
  return symbols.map((symbol, index) => {
    checkRecordBytes(view, index * TRADE_RECORD_SIZE);
    return decodeTrade(bytes, {
      exchange: "synthetic",
      symbol: names[symbol],
    }, { index });
  });
}

Deno.test("the same seed gives byte-identical trades", () => {
  const options = { seed: 42, firstTradeId: 1000 };
  const a = write(new SyntheticGenerator(SYMBOLS, options), 10_000);
  const b = write(new SyntheticGenerator(SYMBOLS, options), 10_000);
  assert.deepEqual(a.symbols, b.symbols);
  assert.deepEqual(a.bytes, b.bytes);
});

Deno.test("another seed gives other trades", () => {
  const a = write(new SyntheticGenerator(SYMBOLS, { seed: 42 }), 10_000);
  const b = write(new SyntheticGenerator(SYMBOLS, { seed: 43 }), 10_000);
  assert.notDeepEqual(a.symbols, b.symbols);
  assert.notDeepEqual(a.bytes, b.bytes);
});

Deno.test("pacing calls do not change the sequence", () => {
  const plain = write(new SyntheticGenerator(SYMBOLS, { seed: 5 }), 2000);
  const paced = new SyntheticGenerator(SYMBOLS, { seed: 5, rate: 1000 });
  for (let ms = 0; ms <= 2000; ms += 7) {
    paced.due(ms);
    paced.nextDueInMs(ms);
  }
  assert.deepEqual(write(paced, 2000), plain);
});

Deno.test("every record decodes as a valid synthetic trade", () => {
  const written = write(new SyntheticGenerator(SYMBOLS, { seed: 9 }), 10_000);
  const trades = decodeAll(written);
  const view = new DataView(written.bytes.buffer);
  trades.forEach((trade, i) => {
    const at = i * TRADE_RECORD_SIZE;
    assert.equal(view.getUint8(at), WIRE_VERSION);
    assert.ok(trade.side === Side.Buy || trade.side === Side.Sell);
    assert.equal(trade.flags, TradeFlags.Synthetic);
    assert.equal(trade.seq, 0);
    const ns = BigInt(SECONDS + i) * 1_000_000_000n + BigInt(i * 99_991);
    assert.equal(trade.tsEvent, ns);
    assert.equal(trade.tsRecv, ns);
    assert.ok(trade.priceFixed > 0n && trade.price > 0, `price ${trade.price}`);
    assert.ok(trade.priceFixed < 1n << 53n);
    assert.ok(trade.size > 0 && trade.size < 100, `size ${trade.size}`);
    // A few digits: the double nearest a multiple of 0.0001, ≤ 3 digits.
    const units = Math.round(trade.size * 10_000);
    assert.equal(trade.size, units / 10_000);
    assert.match(String(units), /^[1-9]\d{0,2}0*$/);
  });
});

Deno.test("a time repeated over records, then changed, stamps each record with its own; seq is left to the publisher", () => {
  const source = new SyntheticGenerator(SYMBOLS, { seed: 9 });
  const view = new DataView(new ArrayBuffer(TRADE_RECORD_SIZE));
  const times = [[SECONDS, 5], [SECONDS, 5], [SECONDS, 6], [SECONDS + 1, 6]];
  for (const [seconds, nanos] of times) {
    view.setUint32(4, 0xdead_beef, true); // the seq word
    source.next(view, 0, seconds, nanos);
    const trade = decodeTrade(new Uint8Array(view.buffer), {
      exchange: "synthetic",
      symbol: "BTCUSDT",
    });
    const ns = BigInt(seconds) * 1_000_000_000n + BigInt(nanos);
    assert.equal(trade.tsEvent, ns);
    assert.equal(trade.tsRecv, ns);
    assert.equal(trade.seq, 0xdead_beef);
  }
});

Deno.test("prices start near each symbol's level and walk in ticks", () => {
  const trades = decodeAll(
    write(new SyntheticGenerator(SYMBOLS, { seed: 3 }), 20_000),
  );
  const levels: Record<string, [number, bigint]> = {
    BTCUSDT: [60_000, 10_000_000n],
    ETHUSDT: [3_000, 1_000_000n],
    SOLUSDT: [150, 100_000n],
  };
  const last = new Map<string, bigint>();
  for (const trade of trades) {
    const level = levels[trade.symbol];
    if (level !== undefined) {
      const [price, tick] = level;
      assert.ok(Math.abs(trade.price / price - 1) < 0.01, `${trade.price}`);
      assert.equal(trade.priceFixed % tick, 0n, formatPrice(trade.priceFixed));
    } else {
      assert.ok(trade.price >= 0.99 && trade.price <= 1010, `${trade.price}`);
    }
    const previous = last.get(trade.symbol);
    if (previous !== undefined) {
      const move = Number(trade.priceFixed - previous) / Number(previous);
      // At most 7 ticks, and a price is about 10^6 ticks or more.
      assert.ok(Math.abs(move) <= 7.1e-6, `move ${move}`);
    }
    last.set(trade.symbol, trade.priceFixed);
  }
});

Deno.test("other symbols start at a price derived from the name", () => {
  const first = (symbol: string) =>
    decodeAll(write(new SyntheticGenerator([symbol]), 1))[0];
  assert.equal(first("PEPEUSDT").price, first("PEPEUSDT").price);
  assert.notEqual(first("PEPEUSDT").price, first("XRPUSDT").price);
  // The case of a name does not matter; other sources' symbols do not either.
  const lower = new SyntheticGenerator(["btc-usd"]);
  assert.ok(Math.abs(decodeAll(write(lower, 1))[0].price / 60_000 - 1) < 1e-4);
});

Deno.test("symbols are drawn uniformly and sides are ~50/50", () => {
  const trades = decodeAll(
    write(new SyntheticGenerator(SYMBOLS, { seed: 11 }), 50_000),
  );
  const perSymbol = new Map<string, number>();
  let buys = 0;
  for (const trade of trades) {
    perSymbol.set(trade.symbol, (perSymbol.get(trade.symbol) ?? 0) + 1);
    if (trade.side === Side.Buy) buys++;
  }
  for (const symbol of SYMBOLS) {
    const share = perSymbol.get(symbol)! / trades.length;
    assert.ok(Math.abs(share - 0.2) < 0.01, `${symbol}: ${share}`);
  }
  assert.ok(Math.abs(buys / trades.length - 0.5) < 0.01, `buys ${buys}`);
});

Deno.test("trade ids are consecutive per symbol from firstTradeId", () => {
  for (const firstTradeId of [0, 1, 2 ** 32 - 3, 2 ** 53 - 20_000]) {
    const source = new SyntheticGenerator(SYMBOLS, { seed: 2, firstTradeId });
    const trades = decodeAll(write(source, 10_000));
    const next = new Map<string, bigint>();
    for (const trade of trades) {
      const expected = next.get(trade.symbol) ?? BigInt(firstTradeId);
      assert.equal(trade.tradeId, expected, `${trade.symbol}`);
      next.set(trade.symbol, expected + 1n);
    }
    assert.equal(next.size, SYMBOLS.length);
  }
});

Deno.test("maxTrades stops the source with -1 and writes nothing more", () => {
  const source = new SyntheticGenerator(SYMBOLS, { maxTrades: 3 });
  const view = new DataView(new ArrayBuffer(TRADE_RECORD_SIZE));
  for (let i = 0; i < 3; i++) {
    assert.equal(source.done, false);
    assert.ok(source.next(view, 0, SECONDS, 0) >= 0);
    assert.equal(source.produced, i + 1);
  }
  assert.equal(source.done, true);
  const before = new Uint8Array(view.buffer).slice();
  assert.equal(source.next(view, 0, SECONDS + 1, 0), -1);
  assert.equal(source.next(view, 0, SECONDS + 1, 0), -1);
  assert.deepEqual(new Uint8Array(view.buffer), before);
  assert.equal(source.produced, 3);
});

Deno.test("unlimited trades end only where an id would pass 2^53 - 1", () => {
  const source = new SyntheticGenerator(["BTCUSDT"], {
    firstTradeId: Number.MAX_SAFE_INTEGER - 1,
  });
  const trades = decodeAll(write(source, 2));
  assert.equal(trades[1].tradeId, BigInt(Number.MAX_SAFE_INTEGER));
  assert.equal(source.done, true);
  assert.equal(write(source, 1).symbols[0], -1);
});

Deno.test("next writes at any offset and only its 48 bytes", () => {
  const bytes = new Uint8Array(3 * TRADE_RECORD_SIZE + 5).fill(0xee);
  const view = new DataView(bytes.buffer, 5);
  const source = new SyntheticGenerator(SYMBOLS, { seed: 8 });
  const symbol = source.next(view, TRADE_RECORD_SIZE, SECONDS, 1);
  const expected = write(new SyntheticGenerator(SYMBOLS, { seed: 8 }), 1);
  assert.equal(symbol, expected.symbols[0]);
  const record = bytes.subarray(5 + 48, 5 + 96);
  // Only the times differ from write()'s first record (SECONDS + 0, 0 ns).
  assert.deepEqual(record.subarray(24), expected.bytes.subarray(24));
  assert.ok(bytes.subarray(0, 53).every((byte) => byte === 0xee));
  assert.ok(bytes.subarray(101).every((byte) => byte === 0xee));
});

Deno.test("next rejects an offset without room and does not advance", () => {
  const source = new SyntheticGenerator(SYMBOLS, { seed: 4 });
  const view = new DataView(new ArrayBuffer(100));
  for (const at of [53, -1, 1.5, NaN]) {
    assert.throws(() => source.next(view, at, SECONDS, 0), {
      name: "RangeError",
      message:
        `Invalid offset ${at}: expected an integer from 0 to 52 (room for a 48-byte record in 100 bytes)`,
    });
  }
  assert.equal(source.produced, 0);
  const fresh = new SyntheticGenerator(SYMBOLS, { seed: 4 });
  assert.deepEqual(write(source, 100), write(fresh, 100));
});

Deno.test("symbols getter returns a frozen copy", () => {
  const names = ["BTCUSDT", "ETHUSDT"];
  const source = new SyntheticGenerator(names);
  names.push("SOLUSDT");
  assert.deepEqual(source.symbols, ["BTCUSDT", "ETHUSDT"]);
  assert.ok(Object.isFrozen(source.symbols));
});

/** Produces what `source` says is due at `nowMs`; returns that count. */
function catchUp(source: SyntheticGenerator, nowMs: number): number {
  const due = source.due(nowMs);
  write(source, due);
  return due;
}

Deno.test("due: rate without bursts, from the first call", () => {
  const source = new SyntheticGenerator(SYMBOLS, { rate: 1000 });
  assert.equal(source.due(5000), 0);
  assert.equal(source.nextDueInMs(5000), 1);
  assert.equal(source.due(5000.5), 0);
  assert.equal(source.nextDueInMs(5000.5), 0.5);
  assert.equal(source.due(5001), 1);
  assert.equal(source.nextDueInMs(5001), 0);
  assert.equal(source.due(5010.5), 10);
  write(source, 4);
  assert.equal(source.due(5010.5), 6);
  assert.equal(catchUp(source, 5250), 246);
  assert.equal(source.produced, 250);
  assert.equal(source.nextDueInMs(5250), 1);
  assert.equal(source.nextDueInMs(5250.25), 0.75);
  // Late: everything missed is due at once (no drift), and nothing before
  // the start is ever due.
  assert.equal(source.due(7000), 1750);
  assert.equal(source.due(4000), 0);
});

Deno.test("due: bursts add burstSize at each interval boundary", () => {
  const source = new SyntheticGenerator(SYMBOLS, {
    rate: 100,
    burstSize: 50,
    burstIntervalMs: 1000,
  });
  assert.equal(source.due(0), 0);
  assert.equal(source.due(999), 99);
  assert.equal(source.due(1000), 150);
  assert.equal(source.due(2500), 350);
  assert.equal(catchUp(source, 1000), 150);
  assert.equal(source.nextDueInMs(1000), 10);
  assert.equal(catchUp(source, 1995), 99);
  // Trade 250 comes at 2000 ms, with the rate's 200th and the second burst.
  assert.equal(source.nextDueInMs(1995), 5);
  assert.equal(source.due(2000), 51);
});

Deno.test("nextDueInMs: a burst can come before the rate's next trade", () => {
  const source = new SyntheticGenerator(SYMBOLS, {
    rate: 1,
    burstSize: 10,
    burstIntervalMs: 100,
  });
  assert.equal(source.nextDueInMs(0), 100);
  assert.equal(catchUp(source, 100), 10);
  assert.equal(source.nextDueInMs(100), 100);
  // Far ahead of the schedule (pacing ignored): the wait is still exact.
  write(source, 1000);
  // Allowed by t ms: floor(t / 1000) + 10 × floor(t / 100); trade 1011 is
  // due at 10100 ms (10 + 1010 = 1020), not yet at 10099 (10 + 1000 = 1010).
  assert.equal(source.nextDueInMs(100), 10_000);
  assert.equal(source.due(10_099), 0);
  assert.equal(source.due(10_100), 10);
});

Deno.test("nextDueInMs is never early and at most 1 µs late", () => {
  let state = 777;
  const random = () => (state = state * 48271 % 2147483647);
  for (let round = 0; round < 1000; round++) {
    // Integer and fractional rates and intervals, at large times, where
    // float rounding shows.
    const rate = round % 2 === 0
      ? 1 + random() % 5000
      : random() % 1e6 / 997 + 0.001;
    const burstSize = random() % 3 === 0 ? 0 : random() % 500;
    const burstIntervalMs = round % 3 === 0
      ? 1 + random() % 2000
      : random() % 1e5 / 13 + 0.01;
    const source = new SyntheticGenerator(["X"], {
      rate,
      burstSize,
      burstIntervalMs,
    });
    const context = `rate ${rate} burst ${burstSize} per ${burstIntervalMs} ms`;
    let now = random() % 1e7 / 7;
    source.due(now);
    for (let step = 0; step < 20; step++) {
      write(source, random() % 50);
      now += random() % 5000 / 9;
      const wait = source.nextDueInMs(now);
      assert.ok(source.due(now + wait) > 0, `${context}: ${wait} ms`);
      if (wait > 0) {
        assert.equal(source.due(now + wait - 0.0011), 0, context);
      }
    }
  }
});

Deno.test("due: maxTrades caps what is due, then nothing is", () => {
  const source = new SyntheticGenerator(SYMBOLS, { rate: 1000, maxTrades: 5 });
  assert.equal(source.due(0), 0);
  assert.equal(source.due(100), 5);
  write(source, 5);
  assert.equal(source.due(200), 0);
  assert.equal(source.done, true);
  assert.equal(source.nextDueInMs(200), Infinity);
});

Deno.test("due: rate 0 grants a constant chunk as fast as possible", () => {
  const source = new SyntheticGenerator(SYMBOLS);
  assert.equal(source.due(0), UNPACED_CHUNK);
  assert.equal(source.due(0), UNPACED_CHUNK);
  assert.equal(source.nextDueInMs(0), 0);
  const limited = new SyntheticGenerator(SYMBOLS, { maxTrades: 10 });
  assert.equal(limited.due(0), 10);
  write(limited, 7);
  assert.equal(limited.due(0), 3);
  assert.equal(limited.nextDueInMs(0), 0);
  write(limited, 3);
  assert.equal(limited.due(0), 0);
  assert.equal(limited.nextDueInMs(0), Infinity);
});

Deno.test("due and nextDueInMs reject a time that is not finite", () => {
  const source = new SyntheticGenerator(SYMBOLS, { rate: 10 });
  const expected =
    "expected a finite monotonic time in milliseconds (e.g. performance.now())";
  assert.throws(() => source.due(NaN), {
    name: "RangeError",
    message: `Invalid nowMs NaN: ${expected}`,
  });
  assert.throws(() => source.nextDueInMs(Infinity), {
    name: "RangeError",
    message: `Invalid nowMs Infinity: ${expected}`,
  });
  assert.throws(() => source.due("5" as unknown as number), {
    name: "TypeError",
    message: `Invalid nowMs "5": ${expected}`,
  });
  // A rejected time does not fix the start.
  assert.equal(source.due(100), 0);
  assert.equal(source.due(200), 1);
});

const RATE = "trades per second over all symbols, 0 = as fast as possible";
const optionErrors: [SyntheticGeneratorOptions, string, string][] = [
  [
    { seed: -1 },
    "RangeError",
    "Invalid seed -1: expected an integer from 0 to 4294967295 (a u32)",
  ],
  [
    { seed: 2 ** 32 },
    "RangeError",
    "Invalid seed 4294967296: expected an integer from 0 to 4294967295 (a u32)",
  ],
  [
    { seed: 1.5 },
    "RangeError",
    "Invalid seed 1.5: expected an integer from 0 to 4294967295 (a u32)",
  ],
  [
    { seed: "1" as unknown as number },
    "TypeError",
    `Invalid seed "1": expected an integer from 0 to 4294967295 (a u32)`,
  ],
  [
    { seed: 1n as unknown as number },
    "TypeError",
    "Invalid seed 1n: expected an integer from 0 to 4294967295 (a u32)",
  ],
  [
    { rate: -5 },
    "RangeError",
    `Invalid rate -5: expected a finite number ≥ 0 (${RATE})`,
  ],
  [
    { rate: NaN },
    "RangeError",
    `Invalid rate NaN: expected a finite number ≥ 0 (${RATE})`,
  ],
  [
    { rate: Infinity },
    "RangeError",
    `Invalid rate Infinity: expected a finite number ≥ 0 (${RATE})`,
  ],
  [
    { rate: null as unknown as number },
    "TypeError",
    `Invalid rate null: expected a finite number ≥ 0 (${RATE})`,
  ],
  [
    { rate: 10, burstSize: -1 },
    "RangeError",
    "Invalid burstSize -1: expected an integer ≥ 0 (extra trades at each burst interval)",
  ],
  [
    { rate: 10, burstSize: 0.5 },
    "RangeError",
    "Invalid burstSize 0.5: expected an integer ≥ 0 (extra trades at each burst interval)",
  ],
  [
    { burstSize: 10 },
    "RangeError",
    "Invalid burstSize 10: expected 0 while rate is 0 (which already means as fast as possible)",
  ],
  [
    { burstIntervalMs: 0 },
    "RangeError",
    "Invalid burstIntervalMs 0: expected a finite number > 0 (milliseconds between bursts)",
  ],
  [
    { burstIntervalMs: -1 },
    "RangeError",
    "Invalid burstIntervalMs -1: expected a finite number > 0 (milliseconds between bursts)",
  ],
  [
    { burstIntervalMs: Infinity },
    "RangeError",
    "Invalid burstIntervalMs Infinity: expected a finite number > 0 (milliseconds between bursts)",
  ],
  [
    { firstTradeId: -1 },
    "RangeError",
    "Invalid firstTradeId -1: expected an integer from 0 to 9007199254740991",
  ],
  [
    { firstTradeId: 2 ** 53 },
    "RangeError",
    "Invalid firstTradeId 9007199254740992: expected an integer from 0 to 9007199254740991",
  ],
  [
    { maxTrades: -1 },
    "RangeError",
    "Invalid maxTrades -1: expected an integer from 0 to 9007199254740991 (0 = unlimited; trade ids from firstTradeId 1 must stay ≤ 2^53 - 1)",
  ],
  [
    { maxTrades: 1.5 },
    "RangeError",
    "Invalid maxTrades 1.5: expected an integer from 0 to 9007199254740991 (0 = unlimited; trade ids from firstTradeId 1 must stay ≤ 2^53 - 1)",
  ],
  [
    { firstTradeId: 2 ** 53 - 10, maxTrades: 11 },
    "RangeError",
    "Invalid maxTrades 11: expected an integer from 0 to 10 (0 = unlimited; trade ids from firstTradeId 9007199254740982 must stay ≤ 2^53 - 1)",
  ],
];

for (const [options, name, message] of optionErrors) {
  Deno.test(`options ${message.split(":")[0]}`, () => {
    assert.throws(() => new SyntheticGenerator(SYMBOLS, options), {
      name,
      message,
    });
  });
}

Deno.test("options at their limits are accepted", () => {
  new SyntheticGenerator(SYMBOLS, {
    seed: 2 ** 32 - 1,
    rate: 0.5,
    burstSize: 1,
    burstIntervalMs: 0.25,
    firstTradeId: 2 ** 53 - 10,
    maxTrades: 10,
  });
  new SyntheticGenerator(SYMBOLS, { seed: 0, firstTradeId: 0, maxTrades: 0 });
});

Deno.test("invalid options object and symbols are rejected", () => {
  const cases: [() => unknown, string, string][] = [
    [
      () => new SyntheticGenerator(SYMBOLS, null as unknown as object),
      "TypeError",
      "Invalid options null: expected an object of SyntheticGeneratorOptions",
    ],
    [
      () => new SyntheticGenerator("BTCUSDT" as unknown as string[]),
      "TypeError",
      `Invalid symbols "BTCUSDT": expected an array of symbols`,
    ],
    [
      () => new SyntheticGenerator([]),
      "RangeError",
      `Invalid symbols: 0 given, expected 1 to ${MAX_SYNTHETIC_SYMBOLS}`,
    ],
    [
      () =>
        new SyntheticGenerator(
          Array.from({ length: MAX_SYNTHETIC_SYMBOLS + 1 }, (_, i) => `S${i}`),
        ),
      "RangeError",
      `Invalid symbols: ${
        MAX_SYNTHETIC_SYMBOLS + 1
      } given, expected 1 to ${MAX_SYNTHETIC_SYMBOLS}`,
    ],
    [
      () => new SyntheticGenerator(["BTCUSDT", 7 as unknown as string]),
      "TypeError",
      "Invalid symbol 7: expected a non-empty string (symbols[1])",
    ],
    [
      () => new SyntheticGenerator(["BTCUSDT", ""]),
      "RangeError",
      `Invalid symbol "": expected a non-empty string (symbols[1])`,
    ],
    [
      () => new SyntheticGenerator(["BTCUSDT", "ETHUSDT", "BTCUSDT"]),
      "RangeError",
      `Invalid symbol "BTCUSDT": expected each symbol once (symbols[2] repeats symbols[0])`,
    ],
  ];
  for (const [construct, name, message] of cases) {
    assert.throws(construct, { name, message });
  }
});
