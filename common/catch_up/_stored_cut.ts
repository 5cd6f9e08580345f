/**
 * A durable catch-up's start for the streams its history brought nothing
 * of: the latest trade JetStream stores of each (acknowledged in an earlier
 * run once the consumer has nothing pending), read with a snapshot loader.
 *
 * @module
 */

import type { TradeOrigin } from "../wire/codec.ts";
import { RecordOffset } from "../wire/record.ts";
import type { LoadSnapshot } from "../transport/snapshot_feed.ts";
import type { StoredCut } from "./_seam.ts";

/** A stream's latest stored trade, with its JetStream stream sequence. */
export interface StoredTrade extends StoredCut {
  /** Its stream sequence. */
  streamSeq: number;
}

/**
 * The latest stored trade of each of `origins` (undefined: none stored),
 * in their order, read with `load`.
 */
export async function readStoredCuts(
  load: LoadSnapshot,
  origins: readonly TradeOrigin[],
  signal?: AbortSignal,
): Promise<(StoredTrade | undefined)[]> {
  const stored = await load(origins.map((origin) => origin.symbol), signal);
  return origins.map((origin) => {
    const found = stored.find((trade) =>
      trade.origin.exchange === origin.exchange &&
      trade.origin.symbol === origin.symbol
    );
    if (found === undefined) return undefined;
    const { record } = found;
    const words = new DataView(record.buffer, record.byteOffset);
    return {
      epoch: found.epoch,
      seq: words.getUint32(RecordOffset.Seq, true),
      streamSeq: found.streamSeq,
    };
  });
}
