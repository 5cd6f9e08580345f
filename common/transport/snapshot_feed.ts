/**
 * Last value for late joiners (`live --snapshot`): a {@linkcode TradeFeed}
 * that hands each stream the latest trade stored before the subscription
 * started, marked {@linkcode TradeFlags.Snapshot}, before any trade of the
 * feed it wraps, then that feed's trades from the first one after the
 * snapshot.
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
 * `deliver all`, a ring read from its oldest trade or from its newest, which
 * is often the snapshot's own trade). Those trades, at or before the
 * snapshot in the same publisher run, are skipped, counted and logged once
 * per stream, so that a stream's `seq` only moves forward from its snapshot
 * and no trade is delivered twice. A trade is of the same run and at or
 * before the snapshot when its `seq` is at or before the snapshot's (modulo
 * 2^32) and it was received (`ts_recv`) no later: a new publisher run
 * numbers from 1 again, but later. The first trade that is not covered ends
 * the skipping for good.
 *
 * @module
 */

import type { Logger } from "../runtime/log.ts";
import { RecordOffset, type TradeOrigin } from "../wire/record.ts";
import { TRADE_RECORD_SIZE, TradeFlags } from "../wire/trade.ts";
import { TradeView } from "../wire/trade_view.ts";
import type {
  FeedStatus,
  LossCause,
  OnTick,
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
  /** Where it was found, for the log line (e.g. `"stream sequence 57"`). */
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
}

/** The flags a snapshot's copy keeps: the gaps its stored trade announced were the live stream's. */
const DROPPED_FLAGS = TradeFlags.Reconnect | TradeFlags.Gap;

const TWO_32 = 2 ** 32;

/** A stream's snapshot, once delivered: what the wrapped feed's trades are compared with. */
interface Cut {
  seq: number;
  tsRecv: bigint;
  skipped: number;
}

/** `exchange/symbol`. */
function keyOf(origin: TradeOrigin): string {
  return `${origin.exchange}/${origin.symbol}`;
}

/** A copy of `record` marked as a snapshot (and without the gap flags). */
export function markSnapshot(record: Uint8Array): Uint8Array {
  if (record.byteLength !== TRADE_RECORD_SIZE) {
    throw new RangeError(
      `Invalid snapshot record of ${record.byteLength} bytes: expected one ${TRADE_RECORD_SIZE}-byte record`,
    );
  }
  const copy = record.slice();
  const view = new DataView(copy.buffer);
  const flags = view.getUint16(RecordOffset.Flags, true);
  view.setUint16(
    RecordOffset.Flags,
    (flags | TradeFlags.Snapshot) & ~DROPPED_FLAGS,
    true,
  );
  return copy;
}

/**
 * Whether a trade (`seq`, `tsRecv`) is one the snapshot `cut` stands for:
 * at or before it in the same publisher run (see the module documentation).
 */
export function coveredBy(
  cut: { seq: number; tsRecv: bigint },
  trade: { seq: number; tsRecv: bigint },
): boolean {
  const behind = (cut.seq - trade.seq + TWO_32) % TWO_32;
  return behind < TWO_32 / 2 && trade.tsRecv <= cut.tsRecv;
}

/**
 * Wraps a feed: each stream's latest stored trade first, marked
 * {@linkcode TradeFlags.Snapshot}, then the wrapped feed's trades after it
 * (see the module documentation). Counters, status and metrics are the
 * wrapped feed's: a snapshot is not a received trade, and the trades skipped
 * count as received by the wrapped feed (and toward `limit`).
 */
export class SnapshotFeed implements TradeFeed {
  #feed: TradeFeed;
  #load: LoadSnapshot;
  #log: Logger;

  /** Wraps `feed`; nothing is read until {@linkcode subscribeTrades}. */
  constructor(feed: TradeFeed, options: SnapshotFeedOptions) {
    this.#feed = feed;
    this.#load = options.load;
    this.#log = options.log;
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
   * wrapped feed's trades it covers are skipped.
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
    const endCut = (stream: number, next: string) => {
      const cut = cuts[stream]!;
      cuts[stream] = undefined;
      if (cut.skipped === 0) return;
      log.info(
        `${
          origins[stream].symbol
        }: snapshot: skipped ${cut.skipped} trade(s) at or before its seq ${cut.seq} (the start position delivered them; the snapshot stands for them), ${next}`,
      );
    };
    try {
      await this.#feed.subscribeTrades(symbols, (trade, origin, stream) => {
        const cut = cuts[stream];
        if (cut !== undefined) {
          if (coveredBy(cut, trade)) {
            cut.skipped++;
            return;
          }
          endCut(stream, `continuing at seq ${trade.seq}`);
        }
        onTick(trade, origin, stream);
      }, {
        ...options,
        onStream: (origin, index) => {
          options.onStream?.(origin, index);
          origins[index] = origin;
          const found = pending.get(keyOf(origin));
          if (found === undefined) {
            log.info(
              `${origin.symbol}: snapshot: no trade stored yet on ${origin.exchange}; live trades only`,
            );
            return;
          }
          pending.delete(keyOf(origin));
          view.wrap(markSnapshot(found.record));
          cuts[index] = { seq: view.seq, tsRecv: view.tsRecv, skipped: 0 };
          log.info(
            `${origin.symbol}: snapshot: latest stored trade seq ${view.seq} (${found.where}) delivered first`,
          );
          onTick(view, origin, index);
        },
      });
    } finally {
      cuts.forEach((cut, stream) => {
        if (cut !== undefined) endCut(stream, "and none after it yet");
      });
    }
  }
}
