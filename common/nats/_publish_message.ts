/**
 * Assembling {@linkcode NatsPublisher}'s messages: each message's payload
 * (a part of its slot's trades) and its `Nats-Msg-Id`, written as bytes into
 * the slot (the format of {@linkcode natsMessageId}, without building a
 * string per message).
 *
 * @module
 */

import { longestNatsMessageId } from "../wire/message_id.ts";
import { RecordOffset, type TradeOrigin } from "../wire/mod.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import { headerLength, writeDigits } from "./_publish_frames.ts";
import { MAX_EPOCH_LINE } from "../wire/run_epoch.ts";
import type { Slot } from "./_publish_lane.ts";

/** Trade ids below 2^53 are written as numbers; larger ones through BigInt. */
const SAFE_HIGH_WORD = 2 ** 21;
/** Bytes of an id after its `exchange:symbol:` prefix, at most: `{u64}:{count}:{u32}`. */
const ID_TAIL_BYTES = 20 + 1 + 10 + 1 + 10;
const COLON = 0x3a;

/** Bytes of the header block of a message of `origin` at most (the longest `Nats-Msg-Id` and epoch). */
export function headerBytes(origin: TradeOrigin, batchMax: number): number {
  const id = longestNatsMessageId(origin, { count: batchMax });
  return headerLength(new TextEncoder().encode(id).length, MAX_EPOCH_LINE);
}

/** The slot's current `Nats-Msg-Id`, as a string. */
export function messageIdOf(slot: Slot): string {
  return new TextDecoder().decode(slot.id.subarray(0, slot.idLength));
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
  const prefix = slot.lane!.idPrefix;
  if (slot.id.length < prefix.length + ID_TAIL_BYTES) {
    slot.id = new Uint8Array(prefix.length + ID_TAIL_BYTES);
  }
  const id = slot.id;
  id.set(prefix);
  let at = prefix.length;
  const view = slot.view;
  const low = view.getUint32(from + RecordOffset.TradeId, true);
  const high = view.getUint32(from + RecordOffset.TradeId + 4, true);
  if (high < SAFE_HIGH_WORD) {
    at = writeDigits(id, at, high * 2 ** 32 + low);
  } else {
    const digits = String(view.getBigUint64(from + RecordOffset.TradeId, true));
    for (let i = 0; i < digits.length; i++) id[at++] = digits.charCodeAt(i);
  }
  id[at++] = COLON;
  at = writeDigits(id, at, sending);
  id[at++] = COLON;
  at = writeDigits(id, at, view.getUint32(from + RecordOffset.Seq, true));
  slot.idLength = at;
  slot.maybeStored = false;
  slot.keptId = false;
}
