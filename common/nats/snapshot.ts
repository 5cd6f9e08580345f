/**
 * The snapshot of `live --snapshot` from JetStream: the last message of each
 * trade subject a subscription reads, by batch direct gets (`multi_last`,
 * at most {@linkcode MAX_DIRECT_SUBJECTS} subjects each; the stream must
 * allow direct gets, as the one `serve` creates does), and its last record,
 * the latest trade of that stream. Both transports read it here: a ring
 * consumer with a NATS connection too.
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
import { whenAborted } from "../runtime/delay.ts";
import { lastRecord } from "../wire/codec.ts";
import { tradeFilters } from "../wire/subjects.ts";
import type {
  LoadSnapshot,
  SnapshotTrade,
} from "../transport/snapshot_feed.ts";
import { streamName } from "../transport/feed_events.ts";
import { connectNats } from "./connection.ts";
import { exchangeStream, ExchangeStreamFinder } from "./_exchange_streams.ts";
import {
  directGetStatus,
  lastMessages,
  MAX_DIRECT_SUBJECTS,
  TooManySubjectsError,
} from "./_last_messages.ts";

export { MAX_DIRECT_SUBJECTS };

/** The snapshot could not be read (no direct gets, no answer, too many subjects): `live --snapshot` cannot keep its promise. */
export class SnapshotError extends Error {
  /** Creates the error; `message` says what failed and what to do. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SnapshotError";
  }
}

/** Options of {@linkcode latestTrades}. */
export interface LatestTradesOptions {
  /** The trade subjects (filters, wildcards allowed) to read the last message of. */
  filters: string[];
  /** First token(s) of the trade subjects. */
  prefix: string;
  /** Where a stored message that holds no valid trade records, or a missing stream, is reported. */
  log: Logger;
  /**
   * What the latest trades are read for: its errors name it and what to do
   * without it.
   *
   * @default {"snapshot"}
   */
  purpose?: SnapshotPurpose;
}

/** What the latest stored trades are read for: `live --snapshot`, or the start of `live --catch-up durable`. */
export type SnapshotPurpose = "snapshot" | "catch_up";

/** What each {@linkcode SnapshotPurpose} is called in an error, and what to do without it. */
const PURPOSES: Record<SnapshotPurpose, { what: string; instead: string }> = {
  snapshot: {
    what: "the snapshot (data_source.snapshot, --snapshot)",
    instead: "run live without --snapshot",
  },
  catch_up: {
    what:
      "the latest stored trades (where --catch-up durable's earlier runs ended)",
    instead: "catch up from a time instead (--catch-up SINCE)",
  },
};

/** The start of every {@linkcode SnapshotError} message. */
function cannot(stream: string, purpose: SnapshotPurpose): string {
  return `Cannot read ${PURPOSES[purpose].what} from stream ${stream}`;
}

/**
 * Why the direct get failed. Only "no responders" (503: no stream, or one
 * without direct gets) is worth asking the stream's state about; a timeout
 * (e.g. no permission: the server logged the violation and dropped the
 * request) is not, as a second request would be refused the same way.
 * `undefined`: the stream does not exist.
 */
async function whyNoAnswer(
  jsm: JetStreamManager,
  stream: string,
  error: unknown,
  purpose: SnapshotPurpose,
): Promise<SnapshotError | undefined> {
  const said = error instanceof Error ? error.message : String(error);
  let allowDirect: boolean | undefined;
  if (directGetStatus(error) === 503) {
    try {
      allowDirect = (await jsm.streams.info(stream)).config.allow_direct;
    } catch (info) {
      if (
        info instanceof JetStreamApiError &&
        info.code === JetStreamApiCodes.StreamNotFound
      ) return undefined;
    }
  }
  const hint = allowDirect === false
    ? `stream ${stream} does not allow direct gets (allow_direct false; serve creates its stream with allow_direct true): \`nats stream edit ${stream} --allow-direct\`, or ${
      PURPOSES[purpose].instead
    }`
    : `check that the server is 2.11 or newer and that this user may publish to $JS.API.DIRECT.GET.${stream}`;
  return new SnapshotError(`${cannot(stream, purpose)}: ${said}; ${hint}`, {
    cause: error,
  });
}

/** The last record of each subject's last message of `filters` (see `_last_messages.ts`). */
async function directGets(
  jsm: JetStreamManager,
  stream: string,
  options: LatestTradesOptions,
): Promise<SnapshotTrade[]> {
  let found;
  try {
    found = await lastMessages(jsm, stream, options);
  } catch (error) {
    if (!(error instanceof TooManySubjectsError)) throw error;
    const purpose = options.purpose ?? "snapshot";
    throw new SnapshotError(
      `${
        cannot(stream, purpose)
      }: ${error.message}: name the exchange (data_source.exchange) or the symbols (data_source.symbols, --symbols), or ${
        PURPOSES[purpose].instead
      }`,
      { cause: error },
    );
  }
  const trades: SnapshotTrade[] = [];
  for (const { origin, data, streamSeq, epoch } of found) {
    let record: Uint8Array;
    try {
      record = lastRecord(data);
    } catch (error) {
      options.log.warn(
        `${
          streamName(origin)
        }: snapshot: its last stored message (stream ${stream} sequence ${streamSeq}) does not hold valid trade records (${
          (error as Error).message
        }); no snapshot for it`,
      );
      continue;
    }
    trades.push({
      origin,
      record: record.slice(),
      streamSeq,
      epoch,
      where: `stream ${stream} sequence ${streamSeq}`,
    });
  }
  return trades;
}

/**
 * The last record of the last message of each subject of
 * `options.filters` in `stream`: one {@linkcode SnapshotTrade} per
 * (exchange, symbol) that has a message. A stream that does not exist has
 * none (an empty list, warned with the config key that names it).
 *
 * @throws {SnapshotError} when the server does not answer the direct get
 * (e.g. the stream does not allow direct gets), or a wildcard matches more
 * subjects than one direct get answers.
 */
export async function latestTrades(
  jsm: JetStreamManager,
  stream: string,
  options: LatestTradesOptions,
): Promise<SnapshotTrade[]> {
  try {
    return await directGets(jsm, stream, options);
  } catch (error) {
    if (error instanceof SnapshotError) throw error;
    const problem = await whyNoAnswer(
      jsm,
      stream,
      error,
      options.purpose ?? "snapshot",
    );
    if (problem !== undefined) throw problem;
    options.log.warn(
      `snapshot: stream ${stream} (data_source.nats.stream_name) does not exist: no trade stored, no snapshot; check the name if serve publishes to NATS`,
    );
    return [];
  }
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
  /** Read the per-exchange streams `{streamName}_{EXCHANGE}` (`stream_per_exchange`). */
  streamPerExchange?: boolean;
  /** Where the connection and the snapshot log. */
  log: Logger;
  /**
   * What the latest trades are read for (named in its errors).
   *
   * @default {"snapshot"}
   */
  purpose?: SnapshotPurpose;
}

/**
 * A {@linkcode LoadSnapshot} that connects to NATS (waiting for a server
 * until the signal aborts), reads {@linkcode latestTrades} of the
 * subscription's subjects and closes its connection. The signal ends it
 * at once, whatever it waits on (the direct get, the stream's state): the
 * connection is closed and nothing is returned.
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
      const reading = options.streamPerExchange
        ? latestPerExchange(jsm, symbols, options)
        : latestTrades(jsm, options.streamName, {
          filters,
          prefix: options.subjectPrefix,
          log,
          purpose: options.purpose,
        });
      if (signal === undefined) return await reading;
      reading.catch(() => {}); // what fails after the abort is not waited for
      const ended = await Promise.race([reading, whenAborted(signal)]);
      return ended ?? [];
    } finally {
      await nc.close();
    }
  };
}

/** {@linkcode latestTrades} of each exchange stream read (`stream_per_exchange`), in exchange order. */
async function latestPerExchange(
  jsm: JetStreamManager,
  symbols: readonly string[],
  options: NatsSnapshotOptions,
): Promise<SnapshotTrade[]> {
  const base = { base: options.streamName, prefix: options.subjectPrefix };
  const streams = options.exchange === undefined
    ? await new ExchangeStreamFinder(jsm, { ...base, log: options.log }).look()
    : [exchangeStream(options.streamName, options.exchange)];
  const trades: SnapshotTrade[] = [];
  for (const { exchange, stream } of streams) {
    trades.push(
      ...await latestTrades(jsm, stream, {
        filters: tradeFilters(symbols, {
          exchange,
          prefix: options.subjectPrefix,
        }),
        prefix: options.subjectPrefix,
        log: options.log,
        purpose: options.purpose,
      }),
    );
  }
  return trades;
}
