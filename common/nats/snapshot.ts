/**
 * The snapshot of `live --snapshot` from JetStream: the last message of each
 * trade subject a subscription reads, with one batch direct get
 * (`multi_last`; the stream must allow direct gets, as the one `serve`
 * creates does), and its last record, the latest trade of that stream. Both
 * transports read it here: a ring consumer with a NATS connection too.
 *
 * @module
 */

import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { NatsConnectionConfig } from "../config/mod.ts";
import type { Logger } from "../runtime/log.ts";
import { checkMessage } from "../wire/codec.ts";
import { parseTradeSubject, tradeFilters } from "../wire/subjects.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import type {
  LoadSnapshot,
  SnapshotTrade,
} from "../transport/snapshot_feed.ts";
import { connectNats } from "./connection.ts";

/** The snapshot could not be read (no direct gets, no answer): `live --snapshot` cannot keep its promise. */
export class SnapshotError extends Error {
  /** The stream asked. */
  readonly stream: string;

  /** Creates the error; `message` says what failed and what to do. */
  constructor(stream: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SnapshotError";
    this.stream = stream;
  }
}

/** Options of {@linkcode latestTrades}. */
export interface LatestTradesOptions {
  /** The trade subjects (filters, wildcards allowed) to read the last message of. */
  filters: string[];
  /** First token(s) of the trade subjects. */
  prefix: string;
  /** Where a stored message that holds no valid trade records is reported (and left out). */
  log: Logger;
}

/** Why the direct get failed, as the stream's state tells: `undefined` when the stream is missing. */
async function whyNoAnswer(
  jsm: JetStreamManager,
  stream: string,
  error: unknown,
): Promise<SnapshotError | undefined> {
  const said = error instanceof Error ? error.message : String(error);
  let allowDirect: boolean | undefined;
  try {
    allowDirect = (await jsm.streams.info(stream)).config.allow_direct;
  } catch (info) {
    if (
      info instanceof JetStreamApiError &&
      info.code === JetStreamApiCodes.StreamNotFound
    ) return undefined;
  }
  const hint = allowDirect === false
    ? `stream ${stream} does not allow direct gets (allow_direct false; serve creates its stream with allow_direct true): \`nats stream edit ${stream} --allow-direct\`, or run live without --snapshot`
    : `check that the server is 2.11 or newer and that this user may publish to $JS.API.DIRECT.GET.${stream}`;
  return new SnapshotError(
    stream,
    `Cannot read the snapshot (data_source.snapshot, --snapshot) from stream ${stream}: ${said}; ${hint}`,
    { cause: error },
  );
}

/**
 * The last record of the last message of each subject of
 * `options.filters` in `stream`: one {@linkcode SnapshotTrade} per
 * (exchange, symbol) that has a message. A stream that does not exist has
 * none (an empty list).
 *
 * @throws {SnapshotError} when the server does not answer the direct get
 * (e.g. the stream does not allow direct gets).
 */
export async function latestTrades(
  jsm: JetStreamManager,
  stream: string,
  options: LatestTradesOptions,
): Promise<SnapshotTrade[]> {
  const trades: SnapshotTrade[] = [];
  try {
    const messages = await jsm.direct.getLastMessagesFor(stream, {
      multi_last: options.filters,
    });
    for await (const message of messages) {
      let origin;
      try {
        origin = parseTradeSubject(message.subject, { prefix: options.prefix });
      } catch {
        continue; // not a trade subject: no stream of ours
      }
      let count: number;
      try {
        count = checkMessage(message.data);
      } catch (error) {
        options.log.warn(
          `${origin.symbol}: snapshot: its last stored message (stream ${stream} sequence ${message.seq}) does not hold valid trade records (${
            (error as Error).message
          }); no snapshot for it`,
        );
        continue;
      }
      const end = count * TRADE_RECORD_SIZE;
      trades.push({
        origin,
        record: message.data.slice(end - TRADE_RECORD_SIZE, end),
        streamSeq: message.seq,
        where: `stream ${stream} sequence ${message.seq}`,
      });
    }
  } catch (error) {
    const problem = await whyNoAnswer(jsm, stream, error);
    if (problem !== undefined) throw problem;
    options.log.info(
      `snapshot: stream ${stream} does not exist yet: no trade stored`,
    );
    return [];
  }
  return trades;
}

/** Options of {@linkcode natsSnapshot}. */
export interface NatsSnapshotOptions {
  /** How to reach the servers. */
  connection: NatsConnectionConfig;
  /** The stream to read. */
  streamName: string;
  /** First token(s) of the trade subjects. */
  subjectPrefix: string;
  /** The exchange read; undefined: every exchange. */
  exchange: string | undefined;
  /** Where the connection and the snapshot log. */
  log: Logger;
}

/**
 * A {@linkcode LoadSnapshot} that connects to NATS (waiting for a server
 * until the signal aborts), reads {@linkcode latestTrades} of the
 * subscription's subjects and closes its connection.
 */
export function natsSnapshot(options: NatsSnapshotOptions): LoadSnapshot {
  const { log } = options;
  return async (symbols, signal) => {
    const filters = tradeFilters(symbols, {
      exchange: options.exchange,
      prefix: options.subjectPrefix,
    });
    const nc = await connectNats(options.connection, {
      log,
      role: "snapshot",
      signal,
    });
    try {
      const jsm = await jetstreamManager(nc, { checkAPI: false });
      return await latestTrades(jsm, options.streamName, {
        filters,
        prefix: options.subjectPrefix,
        log,
      });
    } finally {
      await nc.close();
    }
  };
}
