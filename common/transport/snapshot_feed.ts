/**
 * Last value for late joiners (`live --snapshot`): a {@linkcode TradeFeed}
 * that hands each stream the latest trade stored before the subscription
 * started, marked `TradeFlags.Snapshot`, before any trade of the
 * feed it wraps, then that feed's trades after the snapshot.
 *
 * Where the snapshot comes from is the loader's business (NATS JetStream's
 * last message per subject, `common/nats/snapshot.ts`); this file is the
 * same for both transports.
 *
 * **The seam.** A stream's snapshot is delivered right after the wrapped
 * feed announces the stream (`onStream`): for the streams a subscription
 * names, when it starts, before its first trade; for the others a wildcard
 * subscription meets, just before their first trade. The wrapped feed's
 * start position may deliver trades the snapshot already stands for (NATS
 * `deliver all` or a durable's position, a ring read from its oldest trade
 * or from its newest, which is often the snapshot's own trade). The wrapped
 * feed skips those (`SubscribeOptions.skip`): they are not delivered, and
 * count as skipped, not received, nor toward `limit`; the skipping is logged
 * per stream. Which trades the snapshot stands for (`_snapshot_cut.ts`):
 *
 * - on NATS, exactly the messages at or before the snapshot's JetStream
 *   stream sequence, whatever serve run wrote them, and none after it;
 * - on the ring, each trade of a ring of the snapshot's run epoch (the
 *   stored message's `Marketbus-Epoch`) at or before its seq (modulo 2^32),
 *   and no trade of another run's ring (a ring left by a dead serve, or of
 *   a newer run) however their seqs and times compare;
 * - on the ring, for a stored message without an epoch (an older
 *   publisher), each trade at or before the snapshot's seq and received
 *   (ts_recv) no later, checked for every trade of the subscription: a trade
 *   of an older run with a later seq is then delivered after the snapshot
 *   though older, and one of a newer run received earlier (the clock stepped
 *   back between runs) with a seq at or before it is skipped.
 *
 * **A preview** (`preview`, `live --snapshot --catch-up`): the wrapped feed
 * replays the history from a start before the snapshot, in order, the
 * snapshot's own trade in its place. The snapshot then comes first, marked
 * as it always is, as a preview of the latest value, and nothing is
 * skipped: the wrapped feed delivers every trade, the snapshot's trade
 * again, unmarked, where it belongs.
 *
 * @module
 */

import type { Logger } from "../runtime/log.ts";
import type { TradeOrigin } from "../wire/record.ts";
import { TradeView } from "../wire/trade_view.ts";
import { streamName } from "./feed_events.ts";
import {
  covers,
  type Cut,
  cutOf,
  markSnapshot,
  passed,
} from "./_snapshot_cut.ts";
import type {
  FeedStatus,
  LossCause,
  OnTick,
  SkipTrade,
  StreamStats,
  SubscribeOptions,
  TradeFeed,
} from "./feed.ts";
import type { Labels, MetricFamily } from "../metrics/exposition.ts";

/** The latest stored trade of one (exchange, symbol) stream, as a loader found it. */
export interface SnapshotTrade {
  /** Its exchange and symbol. */
  origin: TradeOrigin;
  /** The 48-byte record as stored (the last record of the stream's last message). */
  record: Uint8Array;
  /** The JetStream stream sequence of the message it is the last record of. */
  streamSeq: number;
  /** That message's run epoch (`Marketbus-Epoch`); 0 when it has none (an older publisher). */
  epoch: number;
  /** Where it was found, for the log line (e.g. `"stream MARKETBUS sequence 57"`). */
  where: string;
}

/**
 * Reads the latest stored trade of each stream of `symbols` (empty: every
 * symbol) once; a stream with none is left out.
 */
export type LoadSnapshot = (
  symbols: readonly string[],
  signal: AbortSignal | undefined,
) => Promise<SnapshotTrade[]>;

/** Options of {@linkcode SnapshotFeed}. */
export interface SnapshotFeedOptions {
  /** Reads the snapshot when a subscription starts. */
  load: LoadSnapshot;
  /** Where the snapshot of each stream, a stream without one and the trades skipped are told. */
  log: Logger;
  /**
   * Deliver the snapshot as a preview and skip nothing: the wrapped feed
   * replays history that holds the snapshot's trade (the catch-up feed).
   *
   * @default {false}
   */
  preview?: boolean;
}

/** `exchange/symbol`. */
function keyOf(origin: TradeOrigin): string {
  return `${origin.exchange}/${origin.symbol}`;
}

/**
 * Wraps a feed: each stream's latest stored trade first, marked
 * `TradeFlags.Snapshot`, then the wrapped feed's trades after it
 * (see the module documentation). Counters, status and metrics are the
 * wrapped feed's: a snapshot is not a received trade, and the trades it
 * stands for count as skipped (`StreamStats.skipped`).
 */
export class SnapshotFeed implements TradeFeed {
  #feed: TradeFeed;
  #load: LoadSnapshot;
  #log: Logger;
  #preview: boolean;

  /** Wraps `feed`; nothing is read until {@linkcode subscribeTrades}. */
  constructor(feed: TradeFeed, options: SnapshotFeedOptions) {
    this.#feed = feed;
    this.#load = options.load;
    this.#log = options.log;
    this.#preview = options.preview ?? false;
  }

  /** The wrapped feed's name. */
  get name(): string {
    return this.#feed.name;
  }

  /** The wrapped feed's causes of loss. */
  get lossCauses(): readonly LossCause[] {
    return this.#feed.lossCauses;
  }

  /** The wrapped feed's counters. */
  stats(): StreamStats[] {
    return this.#feed.stats();
  }

  /** The wrapped feed's state. */
  status(): FeedStatus {
    return this.#feed.status();
  }

  /** The wrapped feed's families. */
  metrics(streams: readonly Labels[]): MetricFamily[] {
    return this.#feed.metrics(streams);
  }

  /**
   * Loads the snapshot, then subscribes the wrapped feed: each stream's
   * snapshot goes to `onTick` just after the stream is announced, the
   * wrapped feed's trades it covers are skipped (none for a preview).
   *
   * @throws what the loader or the wrapped feed throws.
   */
  async subscribeTrades(
    symbols: readonly string[],
    onTick: OnTick,
    options: SubscribeOptions = {},
  ): Promise<void> {
    const { signal } = options;
    let loaded: SnapshotTrade[];
    try {
      loaded = await this.#load(symbols, signal);
    } catch (error) {
      if (signal?.aborted) return;
      throw error;
    }
    if (signal?.aborted) return;
    const log = this.#log;
    const pending = new Map<string, SnapshotTrade>();
    for (const trade of loaded) pending.set(keyOf(trade.origin), trade);
    const cuts: (Cut | undefined)[] = [];
    const origins: TradeOrigin[] = [];
    const view = new TradeView();
    const tell = (stream: number, next: number | undefined) =>
      tellSkipped(log, streamName(origins[stream]), cuts[stream]!, next);
    const skip: SkipTrade = (trade, stream, place) => {
      if (options.skip?.(trade, stream, place)) return true;
      const cut = cuts[stream];
      if (cut === undefined) return false;
      if (covers(cut, trade, place)) {
        cut.skipped++;
        cut.jetstream = place.streamSeq > 0;
        return true;
      }
      tell(stream, trade.seq);
      if (passed(cut, place)) cuts[stream] = undefined;
      return false;
    };
    const preview = this.#preview;
    try {
      await this.#feed.subscribeTrades(symbols, onTick, {
        ...options,
        skip: preview ? options.skip : skip,
        onStream: (origin, index) => {
          options.onStream?.(origin, index);
          origins[index] = origin;
          const found = pending.get(keyOf(origin));
          if (found === undefined) {
            log.info(
              `${
                streamName(origin)
              }: snapshot: no trade stored yet; live trades only`,
            );
            return;
          }
          pending.delete(keyOf(origin));
          view.wrap(markSnapshot(found.record));
          if (!preview) cuts[index] = cutOf(view, found);
          log.info(
            `${
              streamName(origin)
            }: snapshot: latest stored trade seq ${view.seq} (${found.where}) delivered first${
              preview
                ? ", a preview: the catch-up delivers it again in its place"
                : ""
            }`,
          );
          onTick(view, origin, index);
        },
      });
    } finally {
      cuts.forEach((cut, stream) => {
        if (cut !== undefined) tell(stream, undefined);
      });
    }
  }
}

/**
 * Logs the trades `cut` skipped since it last logged (none: nothing);
 * `next` is the seq delivered after them, or undefined at the end.
 */
function tellSkipped(
  log: Logger,
  stream: string,
  cut: Cut,
  next: number | undefined,
): void {
  const more = cut.skipped - cut.logged;
  if (more === 0) return;
  cut.logged = cut.skipped;
  log.info(
    `${stream}: snapshot: skipped ${more}${
      more === cut.skipped ? "" : " more"
    } trade(s) it stands for (at or before its ${
      cut.jetstream ? `stream sequence ${cut.streamSeq}, ` : ""
    }seq ${cut.seq}; the start position delivered them), ${
      next === undefined
        ? "and none after them yet"
        : `continuing at seq ${next}`
    }`,
  );
}
