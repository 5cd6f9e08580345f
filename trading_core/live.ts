/**
 * `deno task live`: follows the configured symbols, prints progress per
 * (exchange, symbol) stream, and on exit (SIGINT/SIGTERM, or after
 * `--max-trades`) a final summary, optionally as one JSON line.
 *
 * @module
 */

import { type Config, ConfigError } from "../common/config/mod.ts";
import {
  DurableInUseError,
  DurableMirrorUnreadableError,
  DurablePositionError,
  DurableRecorder,
} from "../common/catch_up/mod.ts";
import {
  closeRingDurable,
  openRingDurable,
  type RingDurable,
} from "./_ring_durable.ts";
import {
  NatsAuthError,
  natsPermissionError,
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
import type { TradeGap } from "../common/transport/feed.ts";
import { TradeFlags } from "../common/wire/trade.ts";
import type { RecordFormat, TradeRecorder } from "./recorder.ts";
import { ConsumerConflictError } from "../common/nats/feed.ts";
import {
  closeOutputs,
  durableOutputs,
  type LiveOutputs,
  openOutputs,
  type Selection,
} from "./live_outputs.ts";
import { liveFamilies, liveHealth, type LiveState } from "./metrics.ts";
import { type LiveSummary, reportSummary, summarize } from "./live_report.ts";
import { LiveReporting } from "./live_reporting.ts";
import { TradeStats } from "./trade_stats.ts";
import { flaggedGaps, GAP_FLAGS } from "./processing.ts";
import { LiveRegistry } from "./publishers.ts";
import { createFeed } from "./live_feed.ts";
import { ConsoleRun } from "./live_console.ts";

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

/** The parts of a run opened first, in order. */
interface LiveParts {
  /** What the config says to read. */
  read: Selection;
  /** The ring durable, if any. */
  durable: RingDurable | undefined;
  /** The web console (`--console-port`), not listening yet. */
  view: ConsoleRun | undefined;
  /** Bars, the strategy and the recording. */
  outputs: LiveOutputs;
}

/**
 * Opens the ring durable and the outputs, with the console's bars hook, or
 * returns the exit status after saying why it could not.
 */
async function openParts(
  config: Config,
  options: LiveOptions,
  context: RoleContext,
): Promise<LiveParts | number> {
  const { log } = context;
  const read = selection(config);
  const unsafe = durableOutputs(config, options);
  if (unsafe !== undefined) {
    log.error(unsafe);
    return 2;
  }
  const durable = await openDurable(config, log);
  if (typeof durable === "number") return durable;
  const view = ConsoleRun.for(config);
  const outputs = await openOutputs(config, context, {
    selection: read,
    record: options.record,
    recordFormat: options.recordFormat,
    onBar: view?.onBar,
  });
  if (typeof outputs === "number") {
    if (durable) await closeRingDurable(durable);
    return outputs;
  }
  return { read, durable, view, outputs };
}

/** Opens the outputs and the feed; the work reads the feed into them. */
async function openLive(
  config: Config,
  options: LiveOptions,
  context: RoleContext,
): Promise<RoleWork | number> {
  const { log } = context;
  const parts = await openParts(config, options, context);
  if (typeof parts === "number") return parts;
  const { read, durable, view, outputs } = parts;
  const { processing, recorder } = outputs;
  const { feed, catchUp } = createFeed(config, log, durable);
  const positions = durable && new DurableRecorder(durable.store);
  const stats = new TradeStats();
  const state: LiveState = { feed, stats, processing, catchUp };
  const registry = LiveRegistry.for(config, log);
  const release = async () => {
    await view?.close();
    await processing?.stop();
    recorder?.close();
    await registry?.close();
    if (durable) await closeRingDurable(durable);
  };
  if (view && !await view.listen(state, log)) return release().then(() => 1);
  const { metrics } = config.tradingCore;
  const reporting = new LiveReporting(config, { state, log });
  return {
    metrics: {
      config: metrics,
      section: "trading_core.metrics",
      collect: () => [
        ...liveFamilies(state),
        ...registry?.families(stats.streams, feed.name) ?? [],
        ...view?.families() ?? [],
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
    progress: (seconds, context) => reporting.lines(seconds, context),
    run(signal) {
      const consuming = () =>
        consume(config, state, {
          signal,
          recorder,
          log,
          symbols: read.symbols,
          positions,
          view,
          reporting,
        });
      return registry?.during(signal, feed, consuming) ?? consuming();
    },
    expected: EXPECTED,
    async close() {
      await view?.close();
      await registry?.close();
      if (durable) await closeRingDurable(durable);
      await closeOutputs(outputs, { log, paths: config.tradingCore });
    },
    report({ startedAt }) {
      reporting.flush();
      const summary = finalSummary(state, performance.now() - startedAt);
      const json = options.summaryJson;
      const listed = reporting.listed();
      if (reportSummary(summary, log, { json, listed })) context.setFailed();
    },
    release,
  };
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

/** Options of {@linkcode consume}. */
interface ConsumeOptions {
  /** Stops consuming when aborted. */
  signal: AbortSignal;
  /** The `--record` file. */
  recorder: TradeRecorder | undefined;
  /** The role's logger. */
  log: Logger;
  /** The symbols subscribed. */
  symbols: readonly string[];
  /** A ring durable's: each trade is recorded once the strategy, the bars and the recording handled it. */
  positions?: DurableRecorder;
  /** The web console: each stream, trade and gap reaches it too. */
  view?: ConsoleRun;
  /** Per-stream lines (feed events, caught up), folded with many streams. */
  reporting: LiveReporting;
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
  options: ConsumeOptions,
): Promise<void> {
  const { feed, stats, processing } = state;
  const { signal, recorder, log, symbols, positions, view, reporting } =
    options;
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
    view?.gap(gap);
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
      view?.trade(trade, origin, stream);
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
        view?.addStream(origin);
        processing?.addStream(origin);
      },
      onCaughtUp: (event) => {
        processing?.caughtUp(event);
        reporting.caughtUp(event);
      },
      onEvent: (event) => {
        if (
          event.stream >= 0 && event.stream < stats.streams.length &&
          (event.kind === "attached" || event.kind === "restarted")
        ) stats.restart(event.stream);
        reporting.event(event);
      },
    },
  );
}
