/**
 * The `Nats-Msg-Id` of a trade message: JetStream drops a message whose id it
 * stored within the stream's duplicate window, so a publish retried after a
 * lost ack cannot store the same trades twice.
 *
 * The id names the message's first trade twice: by its trade id and by its
 * per-symbol `seq` (which the publisher stamps from 1 in each run). Trade ids
 * alone repeat (a feed or a file may carry id 0, or the same id twice), and
 * distinct trades must never share an id; the seq makes it unique within a
 * run, while the same data published again by a run less than the duplicate
 * window later gets the same ids and is stored once.
 *
 * @module
 */

import type { TradeOrigin } from "./codec.ts";

/** The largest trade id (u64): the longest id has it. */
const MAX_TRADE_ID = 2n ** 64n - 1n;
/** The largest seq (u32): the longest id has it. */
const MAX_SEQ = 2 ** 32 - 1;

/**
 * The id of a message holding `count` trades starting at the trade with
 * `firstTradeId` and seq `firstSeq`: `binance:BTCUSDT:123456789:64:1001`.
 */
export function natsMessageId(
  origin: TradeOrigin,
  firstTradeId: bigint,
  options: {
    /** Trades in the message. @default {1} */
    count?: number;
    /** Per-symbol seq of the first trade. @default {1} */
    firstSeq?: number;
  } = {},
): string {
  return `${origin.exchange}:${origin.symbol}:${firstTradeId}:${
    options.count ?? 1
  }:${options.firstSeq ?? 1}`;
}

/** The longest id a message of `origin` with up to `count` trades can have (a 20-digit trade id, a 10-digit seq). */
export function longestNatsMessageId(
  origin: TradeOrigin,
  options: {
    /** Trades per message at most. @default {1} */
    count?: number;
  } = {},
): string {
  return natsMessageId(origin, MAX_TRADE_ID, {
    count: options.count ?? 1,
    firstSeq: MAX_SEQ,
  });
}

/** The `exchange:symbol:` start of every message id of `origin`, as UTF-8 bytes (a publisher writes the rest as digits). */
export function natsMessageIdPrefix(origin: TradeOrigin): Uint8Array {
  return new TextEncoder().encode(`${origin.exchange}:${origin.symbol}:`);
}
