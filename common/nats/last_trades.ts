/**
 * The last trade the stream holds per symbol: the one with the highest
 * trade id among the last message of each trade subject and the messages of
 * that subject stored shortly before it (gets by the stream leader, so the
 * answer includes every acknowledged publish, which the direct gets of
 * `_last_messages.ts` need not). A hot standby resumes after it.
 *
 * Why not the last message alone: the publisher keeps a symbol's messages
 * in order (retries in order, nothing new behind a message unacknowledged
 * for a second), but messages already in flight when one failed may be
 * stored before its retry, which then ends last with lower ids. They were in
 * flight together, so they lie within the publisher's window
 * (`max_in_flight`) of each other: that span is looked at too.
 *
 * @module
 */

import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  jetstreamManager,
  type SeqMsgRequest,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { tradeSubject } from "../wire/subjects.ts";
import { type LastTrade, lastTradeOf } from "./_last_messages.ts";

export type { LastTrade };

/** Options of {@linkcode lastTrades}. */
export interface LastTradesOptions {
  /** The stream. */
  streamName: string;
  /** Its subject prefix. */
  subjectPrefix: string;
  /** The exchange. */
  exchange: string;
  /**
   * The publisher's window (`publish.max_in_flight`): messages of the
   * subject stored up to 4 × this many stream sequences before its last
   * one, at most this many, are looked at too. @default {256}
   */
  window?: number;
}

/** Is `error` the answer for no such message, or no such stream? */
function isMissing(error: unknown): boolean {
  return error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.NoMessageFound ||
      error.code === JetStreamApiCodes.StreamNotFound);
}

/**
 * The trade with the highest trade id of each of `symbols` in the stream
 * (undefined for a symbol with no message, or a stream that does not
 * exist): see the module doc.
 */
export async function lastTrades(
  nc: NatsConnection,
  symbols: readonly string[],
  options: LastTradesOptions,
): Promise<(LastTrade | undefined)[]> {
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const found: (LastTrade | undefined)[] = [];
  for (const symbol of symbols) {
    const subject = tradeSubject(options.exchange, symbol, {
      prefix: options.subjectPrefix,
    });
    found.push(await highestOf(jsm, subject, options));
  }
  return found;
}

/** The highest trade of `subject`'s last message and the ones shortly before it. */
async function highestOf(
  jsm: JetStreamManager,
  subject: string,
  options: LastTradesOptions,
): Promise<LastTrade | undefined> {
  const { streamName } = options;
  const window = options.window ?? 256;
  let last;
  try {
    last = await jsm.streams.getMessage(streamName, { last_by_subj: subject });
  } catch (error) {
    if (!isMissing(error)) throw error;
  }
  if (!last) return undefined;
  let best = lastTradeOf(last.data);
  let from = Math.max(1, last.seq - 4 * window);
  for (let n = 0; n < window && from < last.seq; n++) {
    let message;
    try {
      // The server's STREAM.MSG.GET takes next_by_subj (nats.js types it
      // for direct gets only).
      const next = { seq: from, next_by_subj: subject } as SeqMsgRequest;
      message = await jsm.streams.getMessage(streamName, next);
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
    if (!message || message.seq >= last.seq) break;
    const trade = lastTradeOf(message.data);
    if (trade && (best === undefined || trade.tradeId > best.tradeId)) {
      best = trade;
    }
    from = message.seq + 1;
  }
  return best;
}
