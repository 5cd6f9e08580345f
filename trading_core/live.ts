/**
 * `deno task live`: follows the configured symbols, prints progress per
 * (exchange, symbol) stream, and on exit (SIGINT/SIGTERM, or after
 * `--max-trades`) a final summary, optionally as one JSON line.
 *
 * @module
 */

import {
  type Config,
  ConfigError,
  type DataSourceConfig,
  type NatsConsumerConfig,
} from "../common/config/mod.ts";
import {
  CatchUpFeed,
  DurableInUseError,
  DurableMirrorUnreadableError,
  DurablePositionError,
  DurableRecorder,
  type DurableStart,
} from "../common/catch_up/mod.ts";
import {
  closeRingDurable,
  openRingDurable,
  type RingDurable,
} from "./_ring_durable.ts";
import {
  ExchangeStreamsFeed,
  NatsAuthError,
  natsPermissionError,
  natsSnapshot,
  SnapshotError,
} from "../common/nats/mod.ts";
import {
  LibcUnavailableError,
  OsError,
  RingFormatError,
} from "../common/ipc/mod.ts";
import type { Logger } from "../common/runtime/log.ts";
import {
  type ErrorLine,
  errorLine,
  expectedLine,
  type RoleContext,
  type RoleWork,
  runRoleWork,
} from "../common/role/mod.ts";
import type {
  CaughtUp,
  FeedEvent,
  TradeFeed,
  TradeGap,
} from "../common/transport/feed.ts";
import { RingFeed } from "../common/ipc/ring_feed.ts";
import { SnapshotFeed } from "../common/transport/snapshot_feed.ts";
import { TradeFlags } from "../common/wire/trade.ts";
import type { RecordFormat, TradeRecorder } from "./recorder.ts";
import { ConsumerConflictError, NatsFeed } from "../common/nats/feed.ts";
import {
  closeOutputs,
  durableOutputs,
  openOutputs,
  type Selection,
} from "./live_outputs.ts";
import { liveFamilies, liveHealth, type LiveState } from "./metrics.ts";
import { type LiveSummary, reportSummary, summarize } from "./live_report.ts";
import { LiveProgress } from "./live_progress.ts";
import { TradeStats } from "./trade_stats.ts";
import { flaggedGaps, GAP_FLAGS } from "./processing.ts";
import { LiveRegistry } from "./publishers.ts";

const ROLE = "trading_core";

/**
 * The errors that end consuming with one line and exit status 1: a NATS
 * permission refused, a ring that is not one, no libc, a failed OS call, a
 * durable consumer in the way, refused credentials, unreadable creds or TLS
 * files, a snapshot the server would not give.
 */
const EXPECTED: readonly ErrorLine[] = [
  (error) => natsPermissionError(error)?.message,
  errorLine([
    RingFormatError,
    LibcUnavailableError,
    OsError,
    ConsumerConflictError,
    NatsAuthError,
    ConfigError,
    SnapshotError,
    DurableInUseError,
    DurablePositionError,
    DurableMirrorUnreadableError,
  ]),
];

/** Options of {@linkcode live}. */
export interface LiveOptions {
  /** Print the final summary as one JSON line on stdout. */
  summaryJson?: boolean;
  /** Stops consuming when aborted (in addition to SIGINT/SIGTERM). */
  signal?: AbortSignal;
  /** Write every delivered trade to this file (`--record`). */
  record?: string;
  /** Format of {@linkcode LiveOptions.record} (`--record-format`, default ndjson). */
  recordFormat?: RecordFormat;
}

/** What the config says to read. */
function selection(config: Config): Selection {
  const source = config.dataSource;
  // The config decided which keys apply; NATS reads its consumer's own
  // (an undefined exchange: every exchange; no symbols: every symbol).
  const { exchange, symbols } = source.type === "nats"
    ? source.nats.consumer
    : source;
  return { exchange, symbols };
}

/**
 * The feed the config names, NATS, the rings, or (catch-up) both, behind a
 * {@linkcode SnapshotFeed} when `data_source.snapshot` asks for one (read
 * from NATS JetStream for either transport; a preview over a catch-up), and
 * with a catch-up, whether each stream caught up.
 */
function createFeed(
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

/** A feed event as a log line: warnings but for the routine ones. */
function logEvent(log: Logger, event: FeedEvent): void {
  const quiet = event.kind === "attached" || event.kind === "waiting" ||
    event.kind === "recovered" || event.kind === "restarted";
  (quiet ? log.info : log.warn)(event.message);
}

/** Runs the consumer with a validated config; returns the exit status. */
export function live(
  config: Config,
  options: LiveOptions = {},
): Promise<number> {
  return runRoleWork(ROLE, {
    log: config.log,
    signal: options.signal,
    open: (context) => openLive(config, options, context),
  });
}

/** Opens the outputs and the feed; the work reads the feed into them. */
async function openLive(
  config: Config,
  options: LiveOptions,
  context: RoleContext,
): Promise<RoleWork | number> {
  const { log } = context;
  const read = selection(config);
  const unsafe = durableOutputs(config, options);
  if (unsafe !== undefined) {
    log.error(unsafe);
    return 2;
  }
  const durable = await openDurable(config, log);
  if (typeof durable === "number") return durable;
  const outputs = await openOutputs(config, context, {
    selection: read,
    record: options.record,
    recordFormat: options.recordFormat,
  });
  if (typeof outputs === "number") {
    if (durable) await closeRingDurable(durable);
    return outputs;
  }
  const { processing, recorder } = outputs;
  const { feed, catchUp } = createFeed(config, log, durable);
  const positions = durable && new DurableRecorder(durable.store);
  const stats = new TradeStats();
  const state: LiveState = { feed, stats, processing, catchUp };
  const registry = LiveRegistry.for(config, log);
  const { metrics } = config.tradingCore;
  const progress = liveProgress(config, state);
  return {
    metrics: {
      config: metrics,
      section: "trading_core.metrics",
      collect: () => [
        ...liveFamilies(state),
        ...registry?.families(stats.streams, feed.name) ?? [],
      ],
      flowing: () => stats.received,
      health: (flow) => {
        const report = liveHealth(state, {
          flow,
          staleAfterMs: metrics.staleAfterMs,
        });
        return registry ? registry.health(report, stats.streams) : report;
      },
    },
    progress: (seconds) => progress.lines(feed.stats(), seconds),
    run(signal) {
      const consuming = () =>
        consume(config, state, {
          signal,
          recorder,
          log,
          symbols: read.symbols,
          positions,
        });
      return registry?.during(signal, feed, consuming) ?? consuming();
    },
    expected: EXPECTED,
    async close() {
      await registry?.close();
      if (durable) await closeRingDurable(durable);
      await closeOutputs(outputs, { log, paths: config.tradingCore });
    },
    report({ startedAt }) {
      const summary = finalSummary(state, performance.now() - startedAt);
      const json = options.summaryJson;
      if (reportSummary(summary, log, { json })) context.setFailed();
    },
    async release() {
      await processing?.stop();
      recorder?.close();
      await registry?.close();
      if (durable) await closeRingDurable(durable);
    },
  };
}

/** The progress lines of `state`: the summary form above `trading_core.progress_summary_above` streams. */
function liveProgress(config: Config, state: LiveState): LiveProgress {
  const { catchUp } = state;
  return new LiveProgress(state.stats, {
    summaryAbove: config.tradingCore.progressSummaryAbove,
    caughtUp: catchUp && (() => catchUp.caughtUp()),
  });
}

/** The exit summary of a run of `elapsedMs`, with the strategy's paper broker. */
function finalSummary(state: LiveState, elapsedMs: number): LiveSummary {
  const { feed, stats, processing } = state;
  return summarize(feed, stats, elapsedMs, {
    broker: processing?.broker,
    outliers: processing && ((stream) => processing.outliers(stream)),
  });
}

/**
 * Opens the ring durable the config names, if any; an expected error
 * (another process runs it, its file is not one) is logged as one line and
 * gives exit status 1.
 */
async function openDurable(
  config: Config,
  log: Logger,
): Promise<RingDurable | undefined | number> {
  try {
    return await openRingDurable(config.dataSource, log);
  } catch (error) {
    const line = expectedLine(EXPECTED, error);
    if (line === undefined) throw error;
    log.error(line);
    return 1;
  }
}

/** The log line of a stream's switch from the history to the ring. */
function caughtUpLine(event: CaughtUp): string {
  const last = event.lastSeq === null
    ? "none of it"
    : event.lastEpoch === event.epoch
    ? `the last seq ${event.lastSeq}`
    : `the last seq ${event.lastSeq} of run epoch ${event.lastEpoch}`;
  return `${event.symbol}: caught up in ${
    (event.ms / 1000).toFixed(1)
  } s, ${event.replayed} trades replayed from JetStream (${last}); reading the ring from here, run epoch ${event.epoch}`;
}

/**
 * Starts the strategy, then reads the feed into the stats and the outputs
 * until `signal` aborts. Gaps take the trades' path, in order: those the
 * feed delivers, and those a trade's flags announce, just before it. A
 * snapshot (`--snapshot`) goes to the strategy only.
 */
async function consume(
  config: Config,
  state: LiveState,
  options: {
    signal: AbortSignal;
    recorder: TradeRecorder | undefined;
    log: Logger;
    symbols: readonly string[];
    /** A ring durable's: each trade is recorded once the strategy, the bars and the recording handled it. */
    positions?: DurableRecorder;
  },
): Promise<void> {
  const { feed, stats, processing } = state;
  const { signal, recorder, log, symbols, positions } = options;
  // A strategy whose onStart never settles must not hold a SIGINT up.
  const pending = () => feed.stats().map((stream) => stream.lag);
  if (await processing?.start({ signal, pending }) === false) {
    log.warn(
      `strategy ${config.tradingCore.strategy}: onStart had not finished when stopping`,
    );
    return; // stopping: nothing is subscribed
  }
  if (signal.aborted) return;
  const onGap = (gap: TradeGap) => {
    stats.gap(gap);
    recorder?.gap(gap);
    processing?.gap(gap.stream, gap);
  };
  await feed.subscribeTrades(
    symbols,
    (received, origin, stream, epoch) => {
      // A snapshot stands for a trade stored before the subscription: the
      // strategy sees it, the counts, the recording and the bars do not.
      if ((received.flags & TradeFlags.Snapshot) !== 0) {
        processing?.snapshot(received, origin);
        return;
      }
      // In hand before the strategy; marked if a crash may have delivered it.
      const trade = positions && processing?.failed !== true
        ? positions.hand(received, origin, stream, epoch)
        : received;
      if ((trade.flags & GAP_FLAGS) !== 0) {
        const { lastSeq } = stats.figures(stream);
        for (const gap of flaggedGaps(trade, { origin, stream, lastSeq })) {
          onGap(gap);
        }
      }
      stats.record(trade, stream);
      recorder?.record(trade, origin);
      processing?.trade(trade, origin, stream);
      // Handled: delivered (not once the strategy failed: a restart with
      // it fixed gets the trades from the failing one on).
      if (processing?.failed !== true) {
        positions?.record(trade, origin, stream, epoch);
      }
    },
    {
      signal,
      limit: config.dataSource.maxTrades,
      onGap,
      // In index order: the subscribed streams, then those a wildcard
      // subscription meets, each before its first trade.
      onStream: (origin) => {
        stats.add(origin);
        processing?.addStream(origin);
      },
      onCaughtUp: (event) => {
        processing?.caughtUp(event);
        log.info(caughtUpLine(event));
      },
      onEvent: (event) => {
        if (
          event.stream >= 0 && event.stream < stats.streams.length &&
          (event.kind === "attached" || event.kind === "restarted")
        ) stats.restart(event.stream);
        logEvent(log, event);
      },
    },
  );
}
