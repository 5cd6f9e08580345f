// Tests of the per-subject byte budget mapping (stream_limits.ts). Every
// figure is worked out by hand from nats-server's accounting:
// file store 22 + subject + 4 + headers + payload + 8 (headers present) or
// 22 + subject + payload + 8 (none); memory store subject + headers +
// payload + 16. Needs no permissions.

import assert from "node:assert/strict";
import {
  maxMsgsPerSubjectFor,
  msgIdHeaderBytes,
  singleTradeMessageSize,
  storedMessageSize,
  type SubjectShape,
} from "./stream_limits.ts";

const DEFAULT_SHAPE: SubjectShape = {
  subjectPrefix: "market",
  exchange: "binance",
  symbols: ["BTCUSDT", "ETHUSDT"],
  storage: "file",
};

Deno.test("msgIdHeaderBytes: NATS/1.0 line, one header, blank line", () => {
  // "NATS/1.0\r\n" (10) + "Nats-Msg-Id: " (13) + id + "\r\n" (2) + "\r\n" (2)
  assert.equal(msgIdHeaderBytes(""), 27);
  assert.equal(msgIdHeaderBytes("abc"), 30);
  assert.equal(msgIdHeaderBytes("binance:BTCUSDT:18446744073709551615:1"), 65);
  const wire = "NATS/1.0\r\nNats-Msg-Id: x\r\n\r\n";
  assert.equal(msgIdHeaderBytes("x"), new TextEncoder().encode(wire).length);
});

Deno.test("msgIdHeaderBytes counts UTF-8 bytes", () => {
  assert.equal(msgIdHeaderBytes("é"), 29);
  assert.equal(msgIdHeaderBytes("€"), 30);
});

Deno.test("storedMessageSize: file store with headers", () => {
  // 22 + 3 + 4 + 10 + 48 + 8
  assert.equal(
    storedMessageSize({ subject: "a.b", headerBytes: 10, payloadBytes: 48 }),
    95,
  );
  assert.equal(
    storedMessageSize(
      { subject: "a.b", headerBytes: 10, payloadBytes: 48 },
      { storage: "file" },
    ),
    95,
  );
});

Deno.test("storedMessageSize: file store without headers", () => {
  // 22 + 3 + 48 + 8
  assert.equal(
    storedMessageSize({ subject: "a.b", headerBytes: 0, payloadBytes: 48 }),
    81,
  );
  // an empty message: 22 + 1 + 0 + 8
  assert.equal(
    storedMessageSize({ subject: "a", headerBytes: 0, payloadBytes: 0 }),
    31,
  );
});

Deno.test("storedMessageSize: memory store with and without headers", () => {
  // 3 + 10 + 48 + 16
  assert.equal(
    storedMessageSize(
      { subject: "a.b", headerBytes: 10, payloadBytes: 48 },
      { storage: "memory" },
    ),
    77,
  );
  // 3 + 0 + 48 + 16
  assert.equal(
    storedMessageSize(
      { subject: "a.b", headerBytes: 0, payloadBytes: 48 },
      { storage: "memory" },
    ),
    67,
  );
});

Deno.test("storedMessageSize counts the subject in UTF-8 bytes", () => {
  // "m.é" is 4 bytes: 22 + 4 + 48 + 8
  assert.equal(
    storedMessageSize({ subject: "m.é", headerBytes: 0, payloadBytes: 48 }),
    82,
  );
});

Deno.test("singleTradeMessageSize: the default subjects, file and memory", () => {
  // subject "market.binance.BTCUSDT.trades" 29, header 27 + 49 = 76
  // (id "binance:BTCUSDT:18446744073709551615:1:4294967295")
  assert.equal(
    singleTradeMessageSize(DEFAULT_SHAPE),
    22 + 29 + 4 + 76 + 29 + 48 + 8,
  );
  assert.equal(singleTradeMessageSize(DEFAULT_SHAPE), 216);
  assert.equal(
    singleTradeMessageSize({ ...DEFAULT_SHAPE, storage: "memory" }),
    29 + 76 + 29 + 48 + 16,
  );
});

Deno.test("singleTradeMessageSize: the longest symbol sizes it", () => {
  // "market.binance.1000SHIBUSDT.trades" 34, id 54 → header 81
  assert.equal(
    singleTradeMessageSize({
      ...DEFAULT_SHAPE,
      symbols: ["BTCUSDT", "1000SHIBUSDT", "ETHUSDT"],
    }),
    22 + 34 + 4 + 81 + 29 + 48 + 8,
  );
});

Deno.test("singleTradeMessageSize: with no symbols, a one-letter symbol", () => {
  // "market.binance.X.trades" 23, id "binance:X:18446744073709551615:1:4294967295" 43 → 70
  assert.equal(
    singleTradeMessageSize({ ...DEFAULT_SHAPE, symbols: [] }),
    22 + 23 + 4 + 70 + 29 + 48 + 8,
  );
});

Deno.test("maxMsgsPerSubjectFor: the budget divided by one message, rounded down", () => {
  assert.equal(maxMsgsPerSubjectFor(64 * 2 ** 20, DEFAULT_SHAPE), 310_689);
  assert.equal(maxMsgsPerSubjectFor(216 * 1000, DEFAULT_SHAPE), 1000);
  assert.equal(maxMsgsPerSubjectFor(216 * 1000 - 1, DEFAULT_SHAPE), 999);
  assert.equal(
    maxMsgsPerSubjectFor(64 * 2 ** 20, { ...DEFAULT_SHAPE, storage: "memory" }),
    338_933,
  );
});

Deno.test("maxMsgsPerSubjectFor is at least 1", () => {
  for (const budget of [0, 1, 215, 216]) {
    assert.equal(maxMsgsPerSubjectFor(budget, DEFAULT_SHAPE), 1);
  }
  assert.equal(maxMsgsPerSubjectFor(432, DEFAULT_SHAPE), 2);
});
