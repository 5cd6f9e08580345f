import assert from "node:assert/strict";
import { FILL_LINE_FIELDS, formatFillLine } from "./fill_line.ts";

const FILL = {
  orderId: "7",
  exchange: "binance",
  symbol: "BTCUSDT",
  side: "sell" as const,
  quantity: 0.25,
  price: 42_000.5,
  fee: 10.5,
  liquidity: "taker" as const,
  time: 1_704_067_200_123,
  tsEvent: 1_704_067_200_123_456_789n,
  tradeId: 18_446_744_073_709_551_615n,
  position: -0.25,
  realizedPnl: -10.5,
};

Deno.test("formatFillLine: fixed key order, bigints as decimal strings, the tag last when present", () => {
  assert.equal(
    formatFillLine(FILL),
    '{"orderId":"7","exchange":"binance","symbol":"BTCUSDT","side":"sell","quantity":0.25,' +
      '"price":42000.5,"fee":10.5,"liquidity":"taker","time":1704067200123,' +
      '"tsEvent":"1704067200123456789","tradeId":"18446744073709551615",' +
      '"position":-0.25,"realizedPnl":-10.5}',
  );
  const tagged = JSON.parse(formatFillLine({ ...FILL, tag: "exit" }));
  assert.deepEqual(Object.keys(tagged), [...FILL_LINE_FIELDS, "tag"]);
  assert.equal(tagged.tag, "exit");
});
