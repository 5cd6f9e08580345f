/**
 * The inner loop both feeds share: hand a batch of records to `onTick`,
 * except those a {@linkcode SkipTrade} rule rules out (`live --snapshot`).
 *
 * @module
 */

import type { TradeOrigin } from "../wire/record.ts";
import type { TradeView } from "../wire/trade_view.ts";
import type { OnTick, SkipTrade, TradePlace } from "./feed.ts";

/** Where a batch goes, for {@linkcode deliverTrades}. */
export interface DeliverTo {
  /** Receives each trade not skipped. */
  onTick: OnTick;
  /** Rules trades out; undefined: none is. */
  skip: SkipTrade | undefined;
  /** The batch's (exchange, symbol). */
  origin: TradeOrigin;
  /** The batch's stream index. */
  stream: number;
  /** Where the batch was read. */
  place: TradePlace;
}

/**
 * Hands records 0 to `count - 1` of `view` (wrapped on a batch) to
 * `to.onTick`, but those `to.skip` rules out: returns how many it skipped.
 */
export function deliverTrades(
  view: TradeView,
  count: number,
  to: DeliverTo,
): number {
  const { onTick, skip, origin, stream, place } = to;
  if (skip === undefined) {
    for (let i = 0; i < count; i++) onTick(view.select(i), origin, stream);
    return 0;
  }
  let skipped = 0;
  for (let i = 0; i < count; i++) {
    const trade = view.select(i);
    if (skip(trade, stream, place)) skipped++;
    else onTick(trade, origin, stream);
  }
  return skipped;
}
