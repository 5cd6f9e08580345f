/**
 * The feed `live` reads, as the config says: the rings, NATS (one stream,
 * or one per exchange), a catch-up through NATS then the rings (also from a
 * ring durable's position), behind a snapshot when asked.
 *
 * @module
 */

import type {
  Config,
  DataSourceConfig,
  NatsConsumerConfig,
} from "../common/config/mod.ts";
import { CatchUpFeed, type DurableStart } from "../common/catch_up/mod.ts";
import type { RingDurable } from "./_ring_durable.ts";
import { ExchangeStreamsFeed, natsSnapshot } from "../common/nats/mod.ts";
import type { Logger } from "../common/runtime/log.ts";
import type { TradeFeed } from "../common/transport/feed.ts";
import { RingFeed } from "../common/ipc/ring_feed.ts";
import { SnapshotFeed } from "../common/transport/snapshot_feed.ts";
import { NatsFeed } from "../common/nats/feed.ts";
import type { LiveState } from "./metrics.ts";

/**
 * The feed the config names, NATS, the rings, or (catch-up) both, behind a
 * {@linkcode SnapshotFeed} when `data_source.snapshot` asks for one (read
 * from NATS JetStream for either transport; a preview over a catch-up), and
 * with a catch-up, whether each stream caught up.
 */
export function createFeed(
  config: Config,
  log: Logger,
  durable: RingDurable | undefined,
): Pick<LiveState, "feed" | "catchUp"> {
  const feed = transportFeed(config, log, durable);
  // The catch-up's switches, read through a snapshot wrapped around it.
  const catchUp = feed instanceof CatchUpFeed ? feed : undefined;
  const source = config.dataSource;
  if (!source.snapshot) return { feed, catchUp };
  const { nats } = source;
  const load = natsSnapshot({
    connection: nats.connection,
    streamName: nats.streamName,
    streamPerExchange: nats.streamPerExchange,
    subjectPrefix: nats.subjectPrefix,
    exchange: source.type === "nats" ? nats.consumer.exchange : source.exchange,
    log,
  });
  // A catch-up replays the snapshot's trade in its place: a preview.
  const preview = catchUp !== undefined;
  return {
    feed: new SnapshotFeed(feed, { load, log, preview }),
    catchUp,
  };
}

/** The feed of the configured transport (a ring durable: a catch-up from its position). */
function transportFeed(
  config: Config,
  log: Logger,
  durable: RingDurable | undefined,
): TradeFeed {
  const source = config.dataSource;
  if (durable !== undefined) return createCatchUpFeed(source, log, durable);
  if (source.catchUp !== undefined) return createCatchUpFeed(source, log);
  if (source.type === "nats") return createNatsFeed(source, log);
  return createRingFeed(source);
}

/**
 * Where a catch-up's history starts: by time through an ordered consumer
 * (`historyStart`), or with neither, at the NATS durable consumer's point.
 */
type HistoryStart = Partial<DurableStart>;

/** Where `source.catchUp` starts. */
function catchUpStart(source: DataSourceConfig, log: Logger): HistoryStart {
  const start = source.catchUp!;
  if (start.kind !== "durable") {
    const since = start.kind === "time"
      ? start.at
      : new Date(Date.now() - start.ms);
    return { historyStart: since, since };
  }
  // What earlier runs acknowledged ends at the latest stored trade.
  const stored = natsSnapshot({
    connection: source.nats.connection,
    streamName: source.nats.streamName,
    streamPerExchange: source.nats.streamPerExchange,
    subjectPrefix: source.nats.subjectPrefix,
    exchange: source.exchange,
    log,
    purpose: "catch_up",
  });
  return { stored };
}

/**
 * The history from `source.catchUp` (or a ring durable's position) through
 * NATS, then the rings from their oldest trade.
 */
function createCatchUpFeed(
  source: DataSourceConfig,
  log: Logger,
  durable?: RingDurable,
): CatchUpFeed {
  const start = durable?.start ?? catchUpStart(source, log);
  const consumer: NatsConsumerConfig = start.historyStart === undefined
    ? source.nats.consumer
    : {
      ...source.nats.consumer,
      exchange: source.exchange,
      symbols: source.symbols,
      durableName: undefined,
      deliver: "by_start_time",
      startTime: start.historyStart,
      replay: "instant",
    };
  const history = createNatsFeed(
    { ...source, nats: { ...source.nats, consumer } },
    log,
  );
  return new CatchUpFeed({
    hold: source.catchUpHold,
    since: start.since,
    stored: start.stored,
    continuing: start.continuing,
    history: start.history?.(history) ?? history,
    live: createRingFeed({ ...source, ipc: { ...source.ipc, from: "oldest" } }),
  });
}

/** The NATS feed of `source`: one stream, or (`stream_per_exchange`) one per exchange. */
function createNatsFeed(source: DataSourceConfig, log: Logger): TradeFeed {
  const options = {
    connection: source.nats.connection,
    consumer: source.nats.consumer,
    streamName: source.nats.streamName,
    subjectPrefix: source.nats.subjectPrefix,
    log,
  };
  return source.nats.streamPerExchange
    ? new ExchangeStreamsFeed(options)
    : new NatsFeed(options);
}

/** The ring feed of `source`. */
function createRingFeed(source: DataSourceConfig): RingFeed {
  return new RingFeed({
    exchange: source.exchange,
    shmPathPrefix: source.ipc.shmPathPrefix,
    wait: source.ipc.wait,
    from: source.ipc.from,
    spinMs: source.ipc.spinMs,
    staleAfterMs: source.ipc.staleAfterMs,
    delivery: source.ipc.delivery,
    tetherTimeoutMs: source.ipc.tetherTimeoutMs,
    publisherUid: source.ipc.publisherUid,
  });
}
