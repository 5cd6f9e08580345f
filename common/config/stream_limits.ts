/**
 * NATS has no per-subject byte limit: `max_bytes_per_subject` is mapped onto
 * `max_msgs_per_subject` by the bytes JetStream accounts for one stored
 * single-trade message (see docs/configuration.md).
 *
 * @module
 */

import { longestNatsMessageId } from "../wire/message_id.ts";
import { MAX_EPOCH_LINE } from "../wire/run_epoch.ts";
import { tradeSubject } from "../wire/subjects.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import type { Storage } from "./types.ts";

/** Bytes a message's headers take on the wire when it carries only `Nats-Msg-Id`. */
export function msgIdHeaderBytes(messageId: string): number {
  // "NATS/1.0\r\n" + "Nats-Msg-Id: " + id + "\r\n" + "\r\n"
  return 10 + 13 + new TextEncoder().encode(messageId).length + 2 + 2;
}

/**
 * Bytes JetStream accounts for one stored message (stream state `bytes`), as
 * nats-server computes them: file store = 22 + subject + 4 + headers +
 * payload + 8 (headers present) or 22 + subject + payload + 8 (none);
 * memory store = subject + headers + payload + 16.
 */
export function storedMessageSize(
  message: { subject: string; headerBytes: number; payloadBytes: number },
  options: { storage?: Storage } = {},
): number {
  const subject = new TextEncoder().encode(message.subject).length;
  const { headerBytes, payloadBytes } = message;
  if ((options.storage ?? "file") === "memory") {
    return subject + headerBytes + payloadBytes + 16;
  }
  return headerBytes > 0
    ? 22 + subject + 4 + headerBytes + payloadBytes + 8
    : 22 + subject + payloadBytes + 8;
}

/** What the per-subject mapping needs to know about the published subjects. */
export interface SubjectShape {
  /** Subject prefix. */
  subjectPrefix: string;
  /** Exchange published. */
  exchange: string;
  /** Symbols published; the longest one sizes the estimate. */
  symbols: readonly string[];
  /** Stream storage. */
  storage: Storage;
}

/**
 * The stored size of the largest single-trade message the publisher sends
 * for these subjects (longest symbol, a 20-digit trade id, a 10-digit seq,
 * a 10-digit run epoch).
 */
export function singleTradeMessageSize(shape: SubjectShape): number {
  const symbol = shape.symbols.reduce(
    (longest, s) => s.length > longest.length ? s : longest,
    "X",
  );
  const origin = { exchange: shape.exchange, symbol };
  const id = longestNatsMessageId(origin);
  return storedMessageSize({
    subject: tradeSubject(shape.exchange, symbol, {
      prefix: shape.subjectPrefix,
    }),
    headerBytes: msgIdHeaderBytes(id) + MAX_EPOCH_LINE,
    payloadBytes: TRADE_RECORD_SIZE,
  }, { storage: shape.storage });
}

/**
 * Maps a per-subject byte budget to a message count (at least 1).
 */
export function maxMsgsPerSubjectFor(
  maxBytesPerSubject: number,
  shape: SubjectShape,
): number {
  return Math.max(
    1,
    Math.floor(maxBytesPerSubject / singleTradeMessageSize(shape)),
  );
}
