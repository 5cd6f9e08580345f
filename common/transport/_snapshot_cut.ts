/**
 * The seam of `live --snapshot`: a stream's snapshot as delivered (its
 * copy, marked) and the one rule that tells which of the wrapped feed's
 * trades it stands for.
 *
 * @module
 */

import { RecordOffset } from "../wire/record.ts";
import { TRADE_RECORD_SIZE, TradeFlags } from "../wire/trade.ts";
import type { TradeView } from "../wire/trade_view.ts";
import type { TradePlace } from "./feed.ts";

/**
 * The flags a snapshot's copy drops: the gaps its stored trade announced
 * were the live stream's, before the subscription, not the consumer's.
 */
const DROPPED_FLAGS = TradeFlags.Reconnect | TradeFlags.Gap;

const TWO_32 = 2 ** 32;

/** A stream's snapshot, once delivered: what the wrapped feed's trades are compared with. */
export interface Cut {
  /** The snapshot's seq. */
  seq: number;
  /** The snapshot's ts_recv. */
  tsRecv: bigint;
  /** The JetStream stream sequence of the message it was read from. */
  streamSeq: number;
  /** Trades skipped so far. */
  skipped: number;
  /** Of those, the ones already logged. */
  logged: number;
  /** Whether they were read from JetStream (told apart by stream sequence). */
  jetstream: boolean;
}

/** A copy of `record` marked {@linkcode TradeFlags.Snapshot}, without the gap flags. */
export function markSnapshot(record: Uint8Array): Uint8Array {
  if (record.byteLength !== TRADE_RECORD_SIZE) {
    throw new RangeError(
      `Invalid snapshot record of ${record.byteLength} bytes: expected one ${TRADE_RECORD_SIZE}-byte record`,
    );
  }
  const copy = record.slice();
  const view = new DataView(copy.buffer);
  const flags = view.getUint16(RecordOffset.Flags, true);
  view.setUint16(
    RecordOffset.Flags,
    (flags | TradeFlags.Snapshot) & ~DROPPED_FLAGS,
    true,
  );
  return copy;
}

/**
 * Whether the snapshot `cut` stands for `trade`, read at `place`.
 *
 * - Read from JetStream (`place.streamSeq > 0`, the stream the snapshot was
 *   read from): exactly the messages at or before the snapshot's, whatever
 *   serve run wrote them; nothing after it.
 * - Read from the ring: a trade at or before the snapshot's seq (modulo
 *   2^32) received (ts_recv) no later, in the same serve run as far as time
 *   tells (a new run numbers from 1 again, but later). The run epoch will
 *   make it exact: `return place.epoch === cut.epoch && atOrBefore(...)`.
 */
export function covers(
  cut: Cut,
  trade: { seq: number; tsRecv: bigint },
  place: TradePlace,
): boolean {
  if (place.streamSeq > 0) return place.streamSeq <= cut.streamSeq;
  return atOrBefore(trade.seq, cut.seq) && trade.tsRecv <= cut.tsRecv;
}

/** Whether `seq` is at or before `than`, modulo 2^32 (within half the range). */
function atOrBefore(seq: number, than: number): boolean {
  return (than - seq + TWO_32) % TWO_32 < TWO_32 / 2;
}

/** Whether no later trade read at `place` can be covered by `cut`: JetStream delivers in stream order. */
export function passed(cut: Cut, place: TradePlace): boolean {
  return place.streamSeq > cut.streamSeq;
}

/** `cut` as the view `trade` of its snapshot record gives it. */
export function cutOf(trade: TradeView, streamSeq: number): Cut {
  return {
    seq: trade.seq,
    tsRecv: trade.tsRecv,
    streamSeq,
    skipped: 0,
    logged: 0,
    jetstream: false,
  };
}
