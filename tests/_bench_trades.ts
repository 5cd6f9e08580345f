/**
 * The synthetic trades the per-trade benchmarks of trading_core run over
 * (trading_core/bars_bench.ts, trading_core/broker/broker_bench.ts): one
 * message of `count` records, a BTC-like price cycling over 17 ticks,
 * sizes over 5 steps, a third of them buys.
 *
 * @module
 */

import { encodeMessage } from "../common/wire/codec.ts";
import { Side, type TradeRecord } from "../common/wire/trade.ts";
import { TradeView } from "../common/wire/trade_view.ts";

/** Trade time of the first trade, ns (2025-11-24). */
export const BENCH_T0_NS = 1_764_000_000_000_000_000n;

/** A view over `count` trades, `options.stepNs` of trade time apart (default 1 ms). */
export function benchTrades(
  count: number,
  options: { stepNs?: bigint } = {},
): TradeView {
  const { stepNs = 1_000_000n } = options;
  const records: TradeRecord[] = Array.from({ length: count }, (_, i) => ({
    side: i % 3 === 0 ? Side.Buy : Side.Sell,
    flags: 0,
    seq: i,
    tsEvent: BENCH_T0_NS + BigInt(i) * stepNs,
    tsRecv: BENCH_T0_NS,
    priceFixed: 67_123_450_000_000n + BigInt(i % 17) * 10_000_000n,
    size: 0.001 * ((i % 5) + 1),
    tradeId: BigInt(i),
  }));
  const view = new TradeView();
  view.wrap(encodeMessage(records));
  return view;
}
