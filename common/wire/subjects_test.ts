// Tests of the NATS subject helpers: {prefix}.{exchange}.{SYMBOL}.trades.

import assert from "node:assert/strict";
import {
  checkPrefix,
  checkToken,
  DEFAULT_SUBJECT_PREFIX,
  normalizeExchange,
  normalizeSymbol,
  parseTradeSubject,
  streamSubjects,
  tradeFilter,
  tradeFilters,
  TRADES_TOKEN,
  tradeSubject,
} from "./subjects.ts";
import { assertThrowsWith } from "../../tests/_assert_throws.ts";

Deno.test("constants", () => {
  assert.equal(DEFAULT_SUBJECT_PREFIX, "market");
  assert.equal(TRADES_TOKEN, "trades");
});

Deno.test("tradeSubject: one symbol's subject, case normalised", () => {
  assert.equal(
    tradeSubject("binance", "BTCUSDT"),
    "market.binance.BTCUSDT.trades",
  );
  assert.equal(
    tradeSubject("Binance", "btcusdt"),
    "market.binance.BTCUSDT.trades",
  );
  assert.equal(
    tradeSubject("COINBASE", "btc-usd"),
    "market.coinbase.BTC-USD.trades",
  );
  assert.equal(normalizeExchange("BiNaNcE"), "binance");
  assert.equal(normalizeSymbol("ethUsdt"), "ETHUSDT");
});

Deno.test("tradeSubject: a prefix, dotted or not", () => {
  assert.equal(
    tradeSubject("binance", "BTCUSDT", { prefix: "prod.market" }),
    "prod.market.binance.BTCUSDT.trades",
  );
  assert.equal(
    tradeSubject("binance", "BTCUSDT", { prefix: "md" }),
    "md.binance.BTCUSDT.trades",
  );
});

Deno.test("parseTradeSubject: inverse of tradeSubject", () => {
  assert.deepEqual(parseTradeSubject("market.binance.BTCUSDT.trades"), {
    exchange: "binance",
    symbol: "BTCUSDT",
  });
  assert.deepEqual(
    parseTradeSubject("prod.market.bybit.ETHUSDT.trades", {
      prefix: "prod.market",
    }),
    { exchange: "bybit", symbol: "ETHUSDT" },
  );
  for (
    const [exchange, symbol] of [["Binance", "btcusdt"], ["okx", "BTC-USDT"]]
  ) {
    for (const prefix of [undefined, "market", "a.b.c"]) {
      const subject = tradeSubject(exchange, symbol, { prefix });
      assert.deepEqual(parseTradeSubject(subject, { prefix }), {
        exchange: normalizeExchange(exchange),
        symbol: normalizeSymbol(symbol),
      });
    }
  }
});

Deno.test("parseTradeSubject: rejects a wrong prefix, shape or case", () => {
  const bad: [string, { prefix?: string }?][] = [
    ["other.binance.BTCUSDT.trades"],
    ["MARKET.binance.BTCUSDT.trades"],
    ["marketbinance.BTCUSDT.trades"],
    ["market.binance.BTCUSDT"],
    ["market.binance.BTCUSDT.trades.extra"],
    ["market.binance.trades"],
    ["market.binance.BTCUSDT.quotes"],
    ["market.binance.BTCUSDT.TRADES"],
    ["market.Binance.BTCUSDT.trades"],
    ["market.binance.btcusdt.trades"],
    ["market.binance.BtcUsdt.trades"],
    [""],
    ["market"],
    ["market."],
    ["prod.market.binance.BTCUSDT.trades"],
    ["market.binance.BTCUSDT.trades", { prefix: "prod.market" }],
  ];
  for (const [subject, options] of bad) {
    assertThrowsWith(
      () => parseTradeSubject(subject, options),
      RangeError,
      `Invalid trade subject ${JSON.stringify(subject)}`,
    );
  }
  // Wildcards and empty tokens are not subjects of one symbol.
  for (
    const subject of [
      "market.*.BTCUSDT.trades",
      "market.binance.*.trades",
      "market.binance..trades",
      "market..BTCUSDT.trades",
      "market.>",
    ]
  ) {
    assert.throws(() => parseTradeSubject(subject), RangeError, subject);
  }
  assert.throws(
    () => parseTradeSubject(42 as unknown as string),
    RangeError,
  );
});

Deno.test("tradeFilter: one symbol, one exchange, one symbol across exchanges, everything", () => {
  assert.equal(
    tradeFilter({ exchange: "binance", symbol: "BTCUSDT" }),
    "market.binance.BTCUSDT.trades",
  );
  assert.equal(tradeFilter({ exchange: "binance" }), "market.binance.*.trades");
  assert.equal(tradeFilter({ symbol: "BTCUSDT" }), "market.*.BTCUSDT.trades");
  assert.equal(tradeFilter(), "market.*.*.trades");
  assert.equal(tradeFilter({}), "market.*.*.trades");
  assert.equal(
    tradeFilter({ exchange: "BINANCE", symbol: "btcusdt" }),
    "market.binance.BTCUSDT.trades",
  );
  assert.equal(
    tradeFilter({ symbol: "ethusdt", prefix: "prod.market" }),
    "prod.market.*.ETHUSDT.trades",
  );
});

Deno.test("tradeFilters: one per symbol, deduplicated, empty → wildcard", () => {
  assert.deepEqual(
    tradeFilters(["btcusdt", "BTCUSDT", "ETHUSDT", "BtcUsdt"], {
      exchange: "Binance",
    }),
    ["market.binance.BTCUSDT.trades", "market.binance.ETHUSDT.trades"],
  );
  assert.deepEqual(tradeFilters(["BTCUSDT"]), ["market.*.BTCUSDT.trades"]);
  assert.deepEqual(tradeFilters([], { exchange: "binance" }), [
    "market.binance.*.trades",
  ]);
  assert.deepEqual(tradeFilters([]), ["market.*.*.trades"]);
  assert.deepEqual(tradeFilters([], { prefix: "prod.market" }), [
    "prod.market.*.*.trades",
  ]);
  assert.deepEqual(
    tradeFilters(["ETHUSDT", "BTCUSDT"], { exchange: "bybit", prefix: "md" }),
    ["md.bybit.ETHUSDT.trades", "md.bybit.BTCUSDT.trades"],
    "order kept",
  );
});

Deno.test("streamSubjects: {prefix}.>", () => {
  assert.deepEqual(streamSubjects(), ["market.>"]);
  assert.deepEqual(streamSubjects({ prefix: "prod.market" }), [
    "prod.market.>",
  ]);
});

/** Every bad token: empty, a separator, a wildcard, whitespace or a control character. */
const badTokens = [
  "",
  "a.b",
  "*",
  ">",
  "BTC*",
  "a>",
  "a b",
  " ",
  "\t",
  "a\nb",
  "\r",
  "\u0000",
  "a\u001f",
  "\u007f",
  "\u00a0", // no-break space
  "a\u2003b", // em space
];

/** JSON.stringify, with non-ASCII characters escaped too (for test names). */
function shown(text: string): string {
  return JSON.stringify(text).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

for (const token of badTokens) {
  Deno.test(`subjects: token ${shown(token)} is rejected, quoted`, () => {
    const quoted = JSON.stringify(token);
    assertThrowsWith(() => checkToken(token), RangeError, `token ${quoted}`);
    assertThrowsWith(
      () => tradeSubject(token, "BTCUSDT"),
      RangeError,
      `Invalid exchange ${quoted}`,
    );
    assertThrowsWith(
      () => tradeSubject("binance", token),
      RangeError,
      `Invalid symbol ${quoted}`,
    );
    assertThrowsWith(
      () => tradeFilter({ exchange: token }),
      RangeError,
      `Invalid exchange ${quoted}`,
    );
    assertThrowsWith(
      () => tradeFilter({ symbol: token }),
      RangeError,
      `Invalid symbol ${quoted}`,
    );
    assertThrowsWith(
      () => tradeFilters(["BTCUSDT", token]),
      RangeError,
      `Invalid symbol ${quoted}`,
    );
    assertThrowsWith(
      () => tradeFilters([], { exchange: token }),
      RangeError,
      `Invalid exchange ${quoted}`,
    );
    assertThrowsWith(() => normalizeExchange(token), RangeError, quoted);
    assertThrowsWith(() => normalizeSymbol(token), RangeError, quoted);
  });
}

Deno.test("subjects: a non-string token is a TypeError", () => {
  assert.throws(() => checkToken(1 as unknown as string), TypeError);
  assert.throws(
    () => tradeSubject(undefined as unknown as string, "BTCUSDT"),
    TypeError,
  );
});

Deno.test("subjects: bad prefixes are rejected, quoted", () => {
  for (
    const prefix of [
      "",
      ".",
      ".market",
      "market.",
      "prod..market",
      "mar*ket",
      "market.*",
      "market.>",
      "a b",
      "market\t",
      "\u0000",
    ]
  ) {
    const quoted = JSON.stringify(prefix);
    const text = `Invalid subject prefix ${quoted}`;
    assertThrowsWith(() => checkPrefix(prefix), RangeError, text);
    assertThrowsWith(
      () => tradeSubject("binance", "BTCUSDT", { prefix }),
      RangeError,
      text,
    );
    assertThrowsWith(() => tradeFilter({ prefix }), RangeError, text);
    assertThrowsWith(() => tradeFilters([], { prefix }), RangeError, text);
    assertThrowsWith(() => streamSubjects({ prefix }), RangeError, text);
  }
  assert.equal(checkPrefix("a.b.c"), "a.b.c");
  assert.throws(() => checkPrefix(1 as unknown as string), TypeError);
});
