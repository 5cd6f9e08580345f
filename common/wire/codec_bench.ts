/**
 * Codec costs: encode into a caller's buffer, decode to objects, and scan
 * with the zero-copy view. `deno task bench`; figures in docs/benchmarks.md.
 *
 * @module
 */

import {
  decodeTrades,
  encodeTrade,
  encodeTrades,
  formatPrice,
  parsePrice,
  Side,
  TRADE_RECORD_SIZE,
  type TradeRecord,
  TradeView,
} from "./mod.ts";

const BATCH = 64;
const origin = { exchange: "binance", symbol: "BTCUSDT" };
const records: TradeRecord[] = Array.from({ length: BATCH }, (_, i) => ({
  side: i % 2 === 0 ? Side.Buy : Side.Sell,
  flags: 0,
  seq: i,
  tsEvent: 1_764_000_000_000_000_000n + BigInt(i),
  tsRecv: 1_764_000_000_000_100_000n + BigInt(i),
  priceFixed: 67_123_450_000_000n + BigInt(i) * 10_000_000n,
  size: 0.001 * (i + 1),
  tradeId: 4_294_967_297n + BigInt(i),
}));
const buffer = new Uint8Array(BATCH * TRADE_RECORD_SIZE);
encodeTrades(records, buffer);
const view = new TradeView();
let sink = 0;

Deno.bench("encodeTrade: 1 record into a reused buffer", {
  group: "encode",
  baseline: true,
}, () => {
  encodeTrade(records[0], buffer);
});

Deno.bench(`encodeTrades: ${BATCH} records into a reused buffer`, {
  group: "encode",
}, () => {
  encodeTrades(records, buffer);
});

Deno.bench(`decodeTrades: ${BATCH} records to objects`, {
  group: "decode",
  baseline: true,
}, () => {
  sink += decodeTrades(buffer, origin).length;
});

Deno.bench(`TradeView: wrap + read price and size of ${BATCH} records`, {
  group: "decode",
}, () => {
  const count = view.wrap(buffer);
  for (let i = 0; i < count; i++) {
    view.select(i);
    sink += view.price * view.size;
  }
});

Deno.bench('parsePrice("67123.45000000")', { group: "price" }, () => {
  sink += Number(parsePrice("67123.45000000") & 1n);
});

Deno.bench("formatPrice(67123450000000n)", { group: "price" }, () => {
  sink += formatPrice(67_123_450_000_000n).length;
});

globalThis.addEventListener("unload", () => {
  if (Number.isNaN(sink)) console.log(sink);
});
