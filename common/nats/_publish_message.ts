/**
 * Assembling {@linkcode NatsPublisher}'s messages: each message's payload
 * (a part of its slot's trades) and its `Nats-Msg-Id` header.
 *
 * @module
 */

import { headers } from "@nats-io/nats-core";
import { longestNatsMessageId, natsMessageId } from "../wire/message_id.ts";
import { RecordOffset, type TradeOrigin } from "../wire/mod.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import type { Slot } from "./_publish_lane.ts";

/** Bytes of the header block of a message of `origin` at most (the longest `Nats-Msg-Id`). */
export function headerBytes(origin: TradeOrigin, batchMax: number): number {
  const block = headers();
  block.set("Nats-Msg-Id", longestNatsMessageId(origin, { count: batchMax }));
  return new TextEncoder().encode(block.toString()).length;
}

/**
 * Makes the slot's next message: `sending` of its trades from `offset` on,
 * with their `Nats-Msg-Id`, or with `keepId` the id of the message it is
 * the first part of. (Positional arguments: it runs for every message.)
 */
export function setMessage(
  slot: Slot,
  offset: number,
  sending: number,
  keepId = false,
): void {
  slot.offset = offset;
  slot.sending = sending;
  const from = offset * TRADE_RECORD_SIZE;
  slot.payload = slot.bytes.subarray(from, from + sending * TRADE_RECORD_SIZE);
  if (keepId) {
    slot.keptId = true;
    return;
  }
  const firstTradeId = slot.view.getBigUint64(
    from + RecordOffset.TradeId,
    true,
  );
  const firstSeq = slot.view.getUint32(from + RecordOffset.Seq, true);
  slot.headers = headers();
  slot.headers.set(
    "Nats-Msg-Id",
    natsMessageId(slot.lane!.origin, firstTradeId, {
      count: sending,
      firstSeq,
    }),
  );
  slot.maybeStored = false;
  slot.keptId = false;
}
