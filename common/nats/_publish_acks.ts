/**
 * JetStream's answers to {@linkcode NatsPublisher}'s publishes: the ack and
 * its error codes, and what a duplicate ack for a part of a split message
 * says is stored.
 *
 * @module
 */

import type { JetStreamManager } from "@nats-io/jetstream";
import type { RateLimitedLog } from "../runtime/rate_limited_log.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import { LABEL } from "./_publish_log.ts";

/** JetStream's `err_code` for "message size exceeds maximum allowed". */
export const MESSAGE_TOO_BIG = 10054;

/** A JetStream publish ack, as far as the publisher reads it. */
export interface JetStreamAck {
  /** The stream held a message with this `Nats-Msg-Id` already. */
  duplicate?: boolean;
  /** The stream sequence of the stored message. */
  seq?: number;
  /** Why the message was not stored. */
  error?: { code?: number; err_code?: number; description?: string };
}

const encoder = new TextEncoder();
/** How every plain ack starts. */
const ACK_START = encoder.encode('{"stream":"');
const SEQ_KEY = encoder.encode('"seq":');
const DUPLICATE_KEY = encoder.encode('"duplicate":');
const TRUE = encoder.encode("true");

/** What {@linkcode scanAck} read. */
export interface ScannedAck {
  /** The stream sequence of the stored message. */
  seq: number;
  /** The stream held a message with this `Nats-Msg-Id` already. */
  duplicate: boolean;
}

function indexOf(data: Uint8Array, pattern: Uint8Array, from: number): number {
  const first = pattern[0];
  const last = data.length - pattern.length;
  outer: for (let i = from; i <= last; i++) {
    if (data[i] !== first) continue;
    for (let j = 1; j < pattern.length; j++) {
      if (data[i + j] !== pattern[j]) continue outer;
    }
    return i;
  }
  return -1;
}

/**
 * Reads a plain ack (`{"stream":…,"seq":N[,"duplicate": true]…}`) from its
 * bytes into `into`, without decoding or `JSON.parse`; false for anything
 * else (an error, an odd reply), which the caller parses as JSON.
 */
export function scanAck(data: Uint8Array, into: ScannedAck): boolean {
  for (let i = 0; i < ACK_START.length; i++) {
    if (data[i] !== ACK_START[i]) return false;
  }
  const key = indexOf(data, SEQ_KEY, ACK_START.length);
  if (key < 0) return false;
  let at = key + SEQ_KEY.length;
  let seq = 0;
  const start = at;
  for (; at < data.length && data[at] >= 0x30 && data[at] <= 0x39; at++) {
    seq = seq * 10 + data[at] - 0x30;
  }
  if (at === start || (data[at] !== 0x2c && data[at] !== 0x7d)) return false;
  into.seq = seq;
  into.duplicate = false;
  const duplicate = indexOf(data, DUPLICATE_KEY, ACK_START.length);
  if (duplicate >= 0) {
    // nats-server writes `"duplicate": true`, with a space
    at = duplicate + DUPLICATE_KEY.length;
    while (data[at] === 0x20) at++;
    into.duplicate = indexOf(data, TRUE, at) === at;
  }
  return true;
}

/** An ack error worth a retry: a server error, too many requests, a timeout. */
export function isTransient(code: number): boolean {
  return code >= 500 || code === 429 || code === 408;
}

/**
 * How many trades the stream holds from the first trade of a split
 * message's first part, after a duplicate ack for it: the part carries the
 * id of the message it was split from, so the stream holds a message with
 * that id, but which one? Either the bigger message (an attempt whose ack
 * was lost before the split) or this part (an attempt of it whose ack was
 * lost), or, when nothing with this id may have been stored in this run, an
 * earlier run's message. Every one of them starts at this part's first
 * trade, so the stored message's size (read at the ack's stream sequence
 * `seq`) says how many trades are stored from there. JetStream keeps at most
 * one message per id within the duplicate window, whatever order the
 * attempts arrive in, so the other parts are sent only if that one does not
 * cover them. When it cannot be read (no permission, gone), this part is
 * counted as stored (every attempt with this id in this run held it) and
 * the rest is sent: at worst some trades are stored twice (warned about).
 */
export function storedTrades(
  jsm: JetStreamManager,
  stream: string,
  part: {
    /** The ack's stream sequence. */
    seq: number | undefined;
    /** The part's `Nats-Msg-Id`. */
    id: string | undefined;
    /** Trades from the part's first to the split message's last. */
    max: number;
    /** Trades in the part. */
    sending: number;
    /** Where the warning goes (key "split"). */
    warnings: RateLimitedLog;
  },
): Promise<number> {
  const { seq, id } = part;
  const read = seq === undefined
    ? Promise.reject(new Error("the ack has no stream sequence"))
    : jsm.streams.getMessage(stream, { seq });
  return read.then((message) => {
    const trades = (message?.data.length ?? 0) / TRADE_RECORD_SIZE;
    if (
      message?.header.get("Nats-Msg-Id") !== id ||
      !Number.isInteger(trades) || trades < 1 || trades > part.max
    ) {
      throw new Error(`stream sequence ${seq} holds another message`);
    }
    return trades;
  }).catch((error) => {
    part.warnings.log(
      "split",
      `${LABEL}: cannot read the message ${id} the stream holds (${
        error instanceof Error ? error.message : String(error)
      }); counting the ${part.sending} trades of its first part as stored and sending the rest, which may store some twice`,
    );
    return part.sending;
  });
}
