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
import { NO_EPOCH } from "../wire/run_epoch.ts";
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
  /** That message's run epoch; 0: none (an older publisher), the ring is told by time. */
  epoch: number;
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
 *   serve run wrote them; nothing after it, and nothing of a stream created
 *   again since the subscription started (a later `place.generation`).
 * - Read from the ring, the snapshot's message carrying a run epoch: a
 *   trade of a ring of that epoch (the same serve run) at or before the
 *   snapshot's seq (modulo 2^32); none of another run's ring.
 * - Read from the ring, the snapshot's message without one (an older
 *   publisher): a trade at or before the snapshot's seq received (ts_recv)
 *   no later, in the same serve run as far as time tells (a new run numbers
 *   from 1 again, but later).
 */
export function covers(
  cut: Cut,
  trade: { seq: number; tsRecv: bigint },
  place: TradePlace,
): boolean {
  if (place.streamSeq > 0) {
    return !place.generation && place.streamSeq <= cut.streamSeq;
  }
  if (cut.epoch !== NO_EPOCH) {
    return place.epoch === cut.epoch && atOrBefore(trade.seq, cut.seq);
  }
  return atOrBefore(trade.seq, cut.seq) && trade.tsRecv <= cut.tsRecv;
}

/** Whether `seq` is at or before `than`, modulo 2^32 (within half the range). */
function atOrBefore(seq: number, than: number): boolean {
  return (than - seq + TWO_32) % TWO_32 < TWO_32 / 2;
}

/**
 * Whether no later trade read at `place` can be covered by `cut`, once one
 * read there was not: JetStream delivers in stream order and a new stream
 * (a later generation) holds nothing the snapshot stands for; a ring of the
 * snapshot's epoch delivers in seq order (and a ring replaced later never
 * has it).
 */
export function passed(cut: Cut, place: TradePlace): boolean {
  if (place.streamSeq > 0) {
    return place.streamSeq > cut.streamSeq || Boolean(place.generation);
  }
  return cut.epoch !== NO_EPOCH && place.epoch === cut.epoch;
}

/** `cut` as the view `trade` of its snapshot record, read from the message at `stored`, gives it. */
export function cutOf(
  trade: TradeView,
  stored: { streamSeq: number; epoch: number },
): Cut {
  return {
    seq: trade.seq,
    tsRecv: trade.tsRecv,
    streamSeq: stored.streamSeq,
    epoch: stored.epoch,
    skipped: 0,
    logged: 0,
    jetstream: false,
  };
}
