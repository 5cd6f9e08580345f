/**
 * The last stored message of each trade subject a set of filters matches,
 * by batch direct gets (`multi_last`; the stream must allow direct gets, as
 * the one `serve` creates does), in groups of at most
 * {@linkcode MAX_DIRECT_SUBJECTS} subjects. Shared by the snapshot
 * (`snapshot.ts`) and the loss watch's positions (`_feed_loss.ts`); the
 * reading of a stored message's last trade ({@linkcode lastTradeOf}) also by
 * the standby's leader reads (`last_trades.ts`).
 *
 * @module
 */

import { JetStreamError, type JetStreamManager } from "@nats-io/jetstream";
import { lastRecord, RecordOffset, type TradeOrigin } from "../wire/codec.ts";
import { parseTradeSubject } from "../wire/subjects.ts";
import { headersEpoch } from "./_message_epoch.ts";

/** The most subjects one direct get answers (the server's limit; more: status 413 "too many results"). */
export const MAX_DIRECT_SUBJECTS = 1024;

/** One filter alone matches more subjects than one direct get answers. */
export class TooManySubjectsError extends Error {
  /** The filter. */
  readonly filter: string;

  /** Creates the error for `filter`. */
  constructor(filter: string, options?: ErrorOptions) {
    super(
      `${filter} matches more than ${MAX_DIRECT_SUBJECTS} subjects, the most one direct get answers (the server said 413 "too many results")`,
      options,
    );
    this.name = "TooManySubjectsError";
    this.filter = filter;
  }
}

/** The last trade record of a stored message. */
export interface LastTrade {
  /** Its per-symbol seq. */
  seq: number;
  /** Its trade id. */
  tradeId: bigint;
}

/**
 * The seq and trade id of a stored message's last record (checked, like
 * every record before it, by {@linkcode lastRecord}), undefined when the
 * message does not hold valid records.
 */
export function lastTradeOf(data: Uint8Array): LastTrade | undefined {
  let record: Uint8Array;
  try {
    record = lastRecord(data);
  } catch {
    return undefined;
  }
  const view = new DataView(record.buffer, record.byteOffset);
  return {
    seq: view.getUint32(RecordOffset.Seq, true),
    tradeId: view.getBigUint64(RecordOffset.TradeId, true),
  };
}

/** The last stored message of one trade subject. */
export interface LastMessage {
  /** The (exchange, symbol) its subject names. */
  origin: TradeOrigin;
  /** Its payload. */
  data: Uint8Array;
  /** Its stream sequence. */
  streamSeq: number;
  /** The run epoch of its `Marketbus-Epoch` header, or `NO_EPOCH` (see `common/wire/run_epoch.ts`). */
  epoch: number;
}

/** Options of {@linkcode lastMessages}. */
export interface LastMessagesOptions {
  /** The trade subjects (filters, wildcards allowed). */
  filters: string[];
  /** First token(s) of the trade subjects. */
  prefix: string;
  /** Only messages at or before this stream sequence. @default {undefined} (all) */
  upToSeq?: number;
}

/**
 * The status code of a direct get's failed answer (nats.js 3.4's
 * JetStreamStatusError, not exported): 413 too many results, 503 no
 * responders; undefined for anything else.
 */
export function directGetStatus(error: unknown): number | undefined {
  if (!(error instanceof JetStreamError)) return undefined;
  const { code } = error as JetStreamError & { code?: unknown };
  return typeof code === "number" ? code : undefined;
}

/**
 * The last message of each trade subject of `options.filters` in `stream`
 * (subjects that are not trade subjects are left out). A group the server
 * finds too many subjects for (wildcards) is halved until one filter alone
 * is too many.
 *
 * @throws {TooManySubjectsError} when one filter alone matches too many.
 * @throws {Error} what nats.js throws when the direct get is not answered.
 */
export async function lastMessages(
  jsm: JetStreamManager,
  stream: string,
  options: LastMessagesOptions,
): Promise<LastMessage[]> {
  const { filters } = options;
  if (filters.length > MAX_DIRECT_SUBJECTS) {
    const found: LastMessage[] = [];
    for (let i = 0; i < filters.length; i += MAX_DIRECT_SUBJECTS) {
      const group = filters.slice(i, i + MAX_DIRECT_SUBJECTS);
      found.push(
        ...await lastMessages(jsm, stream, { ...options, filters: group }),
      );
    }
    return found;
  }
  try {
    return await directGet(jsm, stream, options);
  } catch (error) {
    if (directGetStatus(error) !== 413) throw error;
    if (filters.length === 1) {
      throw new TooManySubjectsError(filters[0], { cause: error });
    }
    const half = Math.ceil(filters.length / 2);
    return [
      ...await lastMessages(jsm, stream, {
        ...options,
        filters: filters.slice(0, half),
      }),
      ...await lastMessages(jsm, stream, {
        ...options,
        filters: filters.slice(half),
      }),
    ];
  }
}

/** One direct get of `options.filters` (at most {@linkcode MAX_DIRECT_SUBJECTS}). */
async function directGet(
  jsm: JetStreamManager,
  stream: string,
  options: LastMessagesOptions,
): Promise<LastMessage[]> {
  const found: LastMessage[] = [];
  const messages = await jsm.direct.getLastMessagesFor(stream, {
    multi_last: options.filters,
    ...(options.upToSeq === undefined ? {} : { up_to_seq: options.upToSeq }),
  });
  for await (const message of messages) {
    let origin: TradeOrigin;
    try {
      origin = parseTradeSubject(message.subject, { prefix: options.prefix });
    } catch {
      continue; // not a trade subject: no stream of ours
    }
    found.push({
      origin,
      data: message.data,
      streamSeq: message.seq,
      epoch: headersEpoch(message.header),
    });
  }
  return found;
}
