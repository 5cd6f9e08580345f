// The Nats-Msg-Id of a trade message: unique per message within a run, the
// same for the same data published again.

import assert from "node:assert/strict";
import {
  longestNatsMessageId,
  natsMessageId,
  natsMessageIdPrefix,
} from "./message_id.ts";

const ORIGIN = { exchange: "binance", symbol: "BTCUSDT" };

Deno.test("natsMessageId names the first trade by trade id and seq, and the count", () => {
  assert.equal(
    natsMessageId(ORIGIN, 123456789n, { count: 64, firstSeq: 1001 }),
    "binance:BTCUSDT:123456789:64:1001",
  );
  assert.equal(natsMessageId(ORIGIN, 7n), "binance:BTCUSDT:7:1:1");
});

Deno.test("natsMessageId: messages of trades sharing a trade id (e.g. 0) differ by their first seq", () => {
  const ids = new Set<string>();
  for (let seq = 1; seq <= 1000; seq += 64) {
    ids.add(natsMessageId(ORIGIN, 0n, { count: 64, firstSeq: seq }));
  }
  assert.equal(ids.size, 16);
});

Deno.test("longestNatsMessageId is at least as long as any id of its origin and count", () => {
  const longest = longestNatsMessageId(ORIGIN, { count: 64 });
  assert.equal(longest, "binance:BTCUSDT:18446744073709551615:64:4294967295");
  for (const [tradeId, seq] of [[0n, 1], [2n ** 64n - 1n, 2 ** 32 - 1]]) {
    const id = natsMessageId(ORIGIN, tradeId as bigint, {
      count: 64,
      firstSeq: seq as number,
    });
    assert.ok(id.length <= longest.length, id);
  }
});

Deno.test("natsMessageIdPrefix: the bytes every id of the origin starts with", () => {
  const origin = { exchange: "binance", symbol: "BTCUSDT" };
  const prefix = new TextDecoder().decode(natsMessageIdPrefix(origin));
  assert.equal(prefix, "binance:BTCUSDT:");
  assert.ok(
    natsMessageId(origin, 42n, { count: 3, firstSeq: 7 }).startsWith(prefix),
  );
});
