/**
 * The synthetic trades a `serve` with a fixed seed and first trade id
 * published, regenerated for comparison.
 *
 * @module
 */

import { RecordOffset } from "../common/wire/codec.ts";
import { TRADE_RECORD_SIZE } from "../common/wire/trade.ts";
import { SyntheticGenerator } from "../data_manager/synthetic/generator.ts";

/** The fields of a synthetic trade that do not depend on timing. */
export interface Generated {
  side: number;
  flags: number;
  priceFixed: bigint;
  size: number;
  tradeId: bigint;
}

/** The first `count` trades of a source with `seed` and `firstTradeId`, per symbol. */
export function regenerate(
  symbols: readonly string[],
  seed: number,
  firstTradeId: number,
  count: number,
): Map<string, Generated[]> {
  const source = new SyntheticGenerator(symbols, {
    seed,
    firstTradeId,
    maxTrades: count,
  });
  const view = new DataView(new ArrayBuffer(TRADE_RECORD_SIZE));
  const bySymbol = new Map(symbols.map((s) => [s, [] as Generated[]]));
  for (;;) {
    const symbol = source.next(view, 0, 1_764_000_000, 0);
    if (symbol < 0) break;
    bySymbol.get(symbols[symbol])!.push({
      side: view.getUint8(RecordOffset.Side),
      flags: view.getUint16(RecordOffset.Flags, true),
      priceFixed: view.getBigInt64(RecordOffset.Price, true),
      size: view.getFloat64(RecordOffset.Size, true),
      tradeId: view.getBigUint64(RecordOffset.TradeId, true),
    });
  }
  return bySymbol;
}
