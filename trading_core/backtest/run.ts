/**
 * The backtest run: the recordings merged in trade-time order
 * (`TradeFileMerger`), fed batch by batch to the same `TradeProcessing` as
 * `live` (bars on the `"trade"` clock, the strategy, its paper broker), the
 * equity sampled per sample interval, and the results written:
 * `summary.json`, `fills.ndjson` (as fills happen) and `report.html`, into
 * a staging directory inside `--out` ({@linkcode STAGING}) and renamed into
 * place at the end: a run refused or killed leaves the previous run's three
 * files as they were.
 *
 * @module
 */

import { join } from "node:path";
import type { BarsConfig, Config } from "../../common/config/mod.ts";
import { parseBarInterval } from "../../common/config/bar_interval.ts";
import { createLogger, type Logger } from "../../common/runtime/log.ts";
import type { StatusLine } from "../../common/runtime/status_line.ts";
import { shutdownSignal } from "../../common/runtime/shutdown.ts";
import {
  TradeFileMerger,
  TradeFileReadError,
  TradeFileRowError,
} from "../../common/trade_file/mod.ts";
import { RecordFileError } from "../recorder.ts";
import { TradeProcessing } from "../processing.ts";
import { StrategyLoadError } from "../strategy.ts";
import type { BacktestArgs } from "./cli.ts";
import { CandleKeeper } from "./_candles.ts";
import { EquityCurve } from "./_equity.ts";
import { startProgressLine, stderrStatus } from "./_progress.ts";
import { EquitySampler } from "./_sampler.ts";
import { Feed } from "./_feed.ts";
import { belowZeroLine, finalLine, oneLine } from "./_lines.ts";
import {
  describeFilters,
  givenTwice,
  makeDirectory,
  outInsideData,
} from "./_paths.ts";
import { buildSummary } from "./_summary.ts";
import { Thinned } from "./_thinned.ts";
import type { BacktestResult, ReportFill } from "./result.ts";

/** Exit status of a run stopped by SIGINT/SIGTERM (its results are partial). */
const INTERRUPTED = 130;
/** Most fills the report draws per (exchange, symbol) (thinned evenly past it; the summary and fills.ndjson have all). */
const MAX_REPORT_FILLS = 10_000;
/** Most fills the report draws in all (symbols past it are thinned further). */
const MAX_REPORT_FILLS_TOTAL = 50_000;
/** The directory inside `--out` the results are written to before they are renamed into place. */
const STAGING = ".partial";
/** The three result files. */
const RESULT_FILES = ["summary.json", "fills.ndjson", "report.html"];
/** Bad rows logged one by one under `--on-bad-row skip`; the rest are only counted. */
const BAD_ROWS_LOGGED = 10;

/** Options of {@linkcode backtest}. */
export interface BacktestOptions {
  /** Stops the run when aborted (in addition to SIGINT/SIGTERM). */
  signal?: AbortSignal;
  /** The report page of a result (pure, deterministic). */
  renderReport: (result: BacktestResult) => string;
  /** Show the progress line on stderr (`--quiet` and a stderr that is not a terminal: no). */
  progress?: boolean;
}

/** What a run collects besides the processing's own state. */
interface Collected {
  /** The first failure, as one line: it makes the exit status 1. */
  failure: string | undefined;
  /** Bad rows skipped. */
  badRows: number;
  /** Input bytes read so far. */
  bytesRead: number;
  /** The report's candles. */
  candles: CandleKeeper;
  /** The report's fills, per "exchange\nsymbol". */
  fills: Map<string, Thinned<ReportFill>>;
  /** Samples equity before each accepted trade, once the broker exists. */
  sampler?: EquitySampler;
}

/**
 * Runs the backtest `args` asks for with `config`'s `[trading_core]` (bars,
 * broker) and returns the exit status: 0; 1 for bad data, a strategy that
 * throws, or a file that cannot be written (one line each); 2 for a
 * strategy that cannot be loaded; {@linkcode INTERRUPTED} after a signal.
 * Unless the inputs or the outputs cannot be opened, the three files are
 * written, for what was processed until then.
 */
export async function backtest(
  config: Config,
  args: BacktestArgs,
  options: BacktestOptions,
): Promise<number> {
  const status = options.progress ? stderrStatus() : undefined;
  const log = createLogger("backtest", { ...config.log, status });
  const bars = { ...config.tradingCore.bars, clock: "trade" as const };
  const inData = outInsideData(args);
  if (inData !== undefined) {
    log.error(inData);
    return 2;
  }
  const collected: Collected = {
    failure: undefined,
    badRows: 0,
    bytesRead: 0,
    candles: new CandleKeeper(bars.intervals),
    fills: new Map(),
  };
  // Before the first read: opening reads up to each file's first kept
  // trade (all of it, under --from or --symbols), and a signal meanwhile
  // must stop the run as any other.
  const shutdown = shutdownSignal({
    signal: options.signal,
    onSignal: (signal) => log.info(`${signal}: stopping`),
  });
  const clock = { startedAt: performance.now(), totalBytes: 0, trades: 0 };
  const progress = status && startProgressLine(status, () => ({
    bytesRead: collected.bytesRead,
    totalBytes: clock.totalBytes,
    trades: clock.trades,
    seconds: (performance.now() - clock.startedAt) / 1000,
  }));
  try {
    return await openAndRun(config, args, {
      log,
      bars,
      status,
      collected,
      clock,
      signal: shutdown.signal,
      renderReport: options.renderReport,
      progress,
    });
  } finally {
    progress?.stop();
    shutdown.dispose();
  }
}

/** What {@linkcode openAndRun} needs besides the config and the flags. */
interface RunDeps {
  log: Logger;
  bars: BarsConfig;
  status: StatusLine | undefined;
  collected: Collected;
  /** When the run started, and what the progress line reads. */
  clock: { startedAt: number; totalBytes: number; trades: number };
  signal: AbortSignal;
  renderReport: (result: BacktestResult) => string;
  progress: { stop(): void } | undefined;
}

/** Opens the inputs and outputs, runs, writes the results; the exit status. */
async function openAndRun(
  config: Config,
  args: BacktestArgs,
  deps: RunDeps,
): Promise<number> {
  const { log, collected } = deps;
  const merger = await openMerger(args, log, collected);
  if (typeof merger === "number") return merger;
  deps.clock.totalBytes = merger.totalBytes;
  const twice = await givenTwice(merger.files);
  if (twice !== undefined) {
    await merger.close();
    log.error(twice);
    return 2;
  }
  const made = await makeDirectory(args.out);
  if (made !== undefined) {
    await merger.close();
    log.error(made);
    return 1;
  }
  // A killed run's staging dir goes; this run's goes at the end, whatever
  // the end (renamed into place, its files are no longer in it).
  const staging = join(args.out, STAGING);
  await Deno.remove(staging, { recursive: true }).catch(() => {});
  const madeStaging = await makeDirectory(staging);
  if (madeStaging !== undefined) {
    await merger.close();
    log.error(madeStaging);
    return 1;
  }
  try {
    return await runStaged(config, args, { ...deps, merger, staging });
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
}

/** Runs with the results written into `staging`, renamed into `args.out` at the end; the exit status. */
async function runStaged(
  config: Config,
  args: BacktestArgs,
  deps: RunDeps & { merger: TradeFileMerger; staging: string },
): Promise<number> {
  const { log, bars, status, collected, signal, merger, staging } = deps;
  const processing = await openProcessing(config, args, {
    bars,
    status,
    collected,
    staging,
  }).catch(async (error) => {
    await merger.close();
    if (error instanceof StrategyLoadError) {
      log.error(error.message);
      return 2;
    }
    if (error instanceof RecordFileError) {
      log.error(error.message);
      return 1;
    }
    throw error;
  });
  if (typeof processing === "number") return processing;
  const run = { merger, processing, collected, bars };
  const end = await feedAll(run, { signal, clock: deps.clock });
  deps.progress?.stop();
  const stopped = signal.aborted;
  if (end.feed.trades === 0 && !stopped && collected.failure === undefined) {
    log.error(
      `no trade matched ${
        describeFilters(args)
      }: check the symbols, the exchange and the range against the recordings`,
    );
    return 2;
  }
  await writeResults(run, {
    ...end,
    args,
    renderReport: deps.renderReport,
    log,
    stopped,
    staging,
  });
  return collected.failure !== undefined ? 1 : stopped ? INTERRUPTED : 0;
}

/** The merger of `args.data`, or exit status 1 after one line. */
async function openMerger(
  args: BacktestArgs,
  log: Logger,
  collected: Collected,
): Promise<TradeFileMerger | number> {
  try {
    return await TradeFileMerger.open(args.data, {
      from: args.from,
      to: args.to,
      symbols: args.symbols,
      exchanges: args.exchange === undefined ? undefined : [args.exchange],
      onError: args.onBadRow,
      onBadRow: (path, line, reason) => {
        if (args.onBadRow === "stop") return; // the error says it
        if (++collected.badRows <= BAD_ROWS_LOGGED) {
          log.warn(`skipped the bad row at ${path}:${line}: ${reason}`);
        }
      },
      onOutOfOrder: (path, line) =>
        log.warn(
          `${path}:${line}: trade time goes back in this file; it is merged at its current trade, so the merged stream is not sorted there`,
        ),
      onDuplicate: (path, first) =>
        log.warn(
          `${path}: trades also read from ${first} (the same trades under two names?); each is processed once, the repeats counted as duplicates`,
        ),
      onProgress: (read) => collected.bytesRead = read,
    });
  } catch (error) {
    if (
      !(error instanceof TradeFileReadError ||
        error instanceof TradeFileRowError || error instanceof TypeError ||
        error instanceof RangeError)
    ) throw error;
    log.error(
      error instanceof TradeFileReadError && isDenied(error)
        ? `Cannot read trade file ${
          JSON.stringify(error.path)
        }: deno task backtest reads recordings only under data/; put it there, or run trading_core/backtest/main.ts with --allow-read=config,strategies,data,common,${error.path}`
        : error.message,
    );
    return 1;
  }
}

/** Whether reading failed for want of --allow-read. */
function isDenied(error: Error): boolean {
  return error.cause instanceof Deno.errors.NotCapable ||
    /Requires read access/.test(error.message);
}

/**
 * The processing `live` uses, with the strategy, on the trade clock; fills
 * go to `fills.ndjson` and the report, bars of the coarsest interval to the
 * candles.
 *
 * @throws {StrategyLoadError} when the strategy cannot be loaded.
 */
async function openProcessing(
  config: Config,
  args: BacktestArgs,
  deps: {
    bars: BarsConfig;
    status: StatusLine | undefined;
    collected: Collected;
    /** Where fills.ndjson is written. */
    staging: string;
  },
): Promise<TradeProcessing> {
  const { collected, status } = deps;
  const processing = await TradeProcessing.open(
    {
      ...config.tradingCore,
      strategy: args.strategy,
      barsOut: undefined,
      fillsOut: join(deps.staging, "fills.ndjson"),
      bars: deps.bars,
    },
    {
      exchange: args.exchange ?? "*",
      symbols: args.symbols,
      strategyLog: createLogger("strategy", { ...config.log, status }),
      onStrategyError: (message) => collected.failure ??= oneLine(message),
      // Replaced: a run's results are its own.
      fillsFile: {
        onExisting: "overwrite",
        onError: (error) => collected.failure ??= error.message,
      },
      onFill: (fill) => {
        const { orderId, exchange, symbol, side, quantity, price, fee } = fill;
        const key = `${exchange}\n${symbol}`;
        let fills = collected.fills.get(key);
        if (fills === undefined) {
          fills = new Thinned(MAX_REPORT_FILLS);
          collected.fills.set(key, fills);
        }
        fills.push({
          orderId,
          exchange,
          symbol,
          side,
          quantity,
          price,
          fee,
          time: fill.time,
        });
      },
      onBar: (bar) => collected.candles.bar(bar),
      beforeTrade: (ms) => collected.sampler!.before(ms),
      log: createLogger("trading_core", { ...config.log, status }),
    },
  );
  return processing!; // a strategy is given: never undefined
}

/** An open run. */
interface Run {
  merger: TradeFileMerger;
  processing: TradeProcessing;
  collected: Collected;
  bars: BarsConfig;
}

/**
 * Starts the strategy and feeds it every merged trade until the end, a
 * signal or a failure, with the progress line; stops the strategy. Returns
 * what the results need of the run.
 */
async function feedAll(
  run: Run,
  options: {
    signal: AbortSignal;
    clock: { startedAt: number; trades: number };
  },
): Promise<{ feed: Feed; curve: EquityCurve; seconds: number }> {
  const { signal, clock } = options;
  const { merger, processing, collected } = run;
  const broker = processing.broker!;
  const curve = new EquityCurve(broker.startingBalance);
  const everyMs = sampleEveryMs(run.bars);
  const sampler = new EquitySampler(curve, broker, everyMs);
  collected.sampler = sampler;
  const feed = new Feed(merger, processing);
  const progress = setInterval(() => clock.trades = feed.trades, 100);
  try {
    if (!signal.aborted && await processing.start({ signal })) {
      await feed.run(signal, () => collected.failure !== undefined);
    }
  } catch (error) {
    if (
      !(error instanceof TradeFileRowError ||
        error instanceof TradeFileReadError)
    ) throw error;
    collected.failure ??= error.message;
  } finally {
    clearInterval(progress);
    await merger.close();
    await processing.stop();
  }
  sampler.finish();
  const seconds = (performance.now() - clock.startedAt) / 1000;
  return { feed, curve, seconds };
}

/**
 * Writes summary.json and report.html beside fills.ndjson in the staging
 * dir, renames the three into `--out`, then logs the final line (and the
 * failure first).
 */
async function writeResults(
  run: Run,
  end: {
    feed: Feed;
    curve: EquityCurve;
    seconds: number;
    args: BacktestArgs;
    renderReport: (result: BacktestResult) => string;
    log: Logger;
    /** A signal stopped the run. */
    stopped: boolean;
    /** Where the results are written before they are renamed into place. */
    staging: string;
  },
): Promise<void> {
  const { feed, curve, seconds, args, log } = end;
  const { collected } = run;
  const intervals = run.bars.intervals;
  const everyMs = sampleEveryMs(run.bars);
  const summary = buildSummary({
    streams: run.merger.streams,
    trades: feed.counts,
    gaps: feed.gapCounts,
    outliers: feed.counts.map((_, stream) => run.processing.outliers(stream)),
    from: feed.from,
    to: feed.to,
    badRows: collected.badRows,
    duplicates: run.merger.duplicates,
    broker: run.processing.broker!,
    sampleInterval: intervals.find((i) => parseBarInterval(i) === everyMs)!,
    equity: curve.figures(),
  });
  const result: BacktestResult = {
    summary,
    candles: collected.candles.series(),
    fills: reportFills(collected.fills),
    equity: curve.points(),
  };
  try {
    await Deno.writeTextFile(
      join(end.staging, "summary.json"),
      JSON.stringify(summary, null, 2) + "\n",
    );
    await Deno.writeTextFile(
      join(end.staging, "report.html"),
      end.renderReport(result),
    );
    for (const file of RESULT_FILES) {
      await Deno.rename(join(end.staging, file), join(args.out, file));
    }
  } catch (error) {
    collected.failure ??= `Cannot write the results to ${args.out}: ${
      error instanceof Error ? error.message : error
    }`;
  }
  if (collected.badRows > BAD_ROWS_LOGGED) {
    log.warn(
      `skipped ${collected.badRows} bad rows in all (the first ${BAD_ROWS_LOGGED} are above)`,
    );
  }
  const belowZero = belowZeroLine(summary);
  if (belowZero !== undefined) log.warn(belowZero);
  const partial = collected.failure !== undefined || end.stopped;
  if (collected.failure !== undefined) log.error(collected.failure);
  log.info(
    finalLine(summary, { seconds, out: args.out }) +
      (partial ? " (stopped early: partial results)" : ""),
  );
}

/** The sample interval of the equity curve: the smallest bar interval, ms. */
function sampleEveryMs(bars: BarsConfig): number {
  return Math.min(...bars.intervals.map(parseBarInterval));
}

/**
 * The report's fills: each symbol's thinned list (symbols in key order),
 * thinned again over all when they pass {@linkcode MAX_REPORT_FILLS_TOTAL},
 * in trade time order.
 */
function reportFills(lists: Map<string, Thinned<ReportFill>>): ReportFill[] {
  const all = [...lists.keys()].sort().flatMap((key) => lists.get(key)!.items);
  all.sort((a, b) => a.time - b.time); // stable: a symbol's fills keep their order
  if (all.length <= MAX_REPORT_FILLS_TOTAL) return all;
  const capped = new Thinned<ReportFill>(MAX_REPORT_FILLS_TOTAL);
  for (const fill of all) capped.push(fill);
  return [...capped.items];
}
