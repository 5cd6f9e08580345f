/**
 * What trading_core does with each trade beyond counting it: builds bars,
 * writes closed bars to `--bars-out`, and runs the `--strategy` with its
 * paper broker, keeping trades, fills, gaps and bars in order per
 * (exchange, symbol) stream (a trade first fills the orders it reaches,
 * then closes the bars it ends, then reaches the strategy's `onTrade`; a
 * gap reaches it before the bars the next trade closes, which it marks
 * incomplete).
 *
 * Bars are built only when something uses them: a strategy or a bar file.
 * {@linkcode flaggedGaps} turns the flags of a trade (a feed reconnect, a gap
 * the source recorded) into the gaps it announces.
 *
 * @module
 */

import type { TradeOrigin } from "../common/wire/codec.ts";
import type { TradingCoreConfig } from "../common/config/mod.ts";
import { whenAborted } from "../common/runtime/delay.ts";
import type { Logger } from "../common/runtime/log.ts";
import type { TradeView } from "../common/wire/trade_view.ts";
import { TradeFlags } from "../common/wire/trade.ts";
import type { CaughtUp, TradeGap } from "../common/transport/feed.ts";
import type { Bar } from "./bar.ts";
import { BarWriter } from "./bar_writer.ts";
import { FillWriter } from "./fill_writer.ts";
import type { OutputFileOptions } from "./_line_file.ts";
import { BarBuilder, type BarCounts } from "./bars.ts";
import { TradeClock } from "./_trade_clock.ts";
import { type Fill, PaperBroker } from "./broker/mod.ts";
import { loadStrategy, StrategyRunner } from "./strategy.ts";

/** How often open bars are checked against the trade clock, ms. */
export const ADVANCE_EVERY_MS = 100;
/** How long {@linkcode TradeProcessing.stop} waits for the strategy's `onStop`, ms. */
export const STOP_TIMEOUT_MS = 5_000;

/** The trade flags that announce a gap before the trade ({@linkcode flaggedGaps}). */
export const GAP_FLAGS: number = TradeFlags.Reconnect | TradeFlags.Gap;

const TWO_32 = 2 ** 32;

/**
 * The gaps a trade's flags announce just before it, in order: `Reconnect`
 * (the feed reconnected upstream: how many were missed is unknown) gives
 * cause `"reconnect"` with null seqs and count; `Gap` (its seq skips exactly
 * the trades the source knows are missing) gives cause `"source"`, counted
 * from `options.lastSeq`, the stream's seq before it (undefined: unknown,
 * then only `lastSeq` is known). A `Gap` whose jump a gap delivered by the
 * transport already covered (no jump left) gives none. Cheap to skip:
 * call it only for a trade with {@linkcode GAP_FLAGS} set.
 */
export function flaggedGaps(
  trade: TradeView,
  options: {
    /** The trade's (exchange, symbol). */
    origin: TradeOrigin;
    /** Its stream index. */
    stream: number;
    /** The stream's last seq before this trade, undefined when unknown. */
    lastSeq: number | undefined;
  },
): TradeGap[] {
  const { origin, stream, lastSeq } = options;
  const flags = trade.flags;
  const gaps: TradeGap[] = [];
  const unknown = { firstSeq: null, lastSeq: null, count: null };
  const at = { exchange: origin.exchange, symbol: origin.symbol, stream };
  if ((flags & TradeFlags.Reconnect) !== 0) {
    gaps.push({ ...at, cause: "reconnect", ...unknown });
  }
  if ((flags & TradeFlags.Gap) === 0) return gaps;
  const before = (trade.seq - 1 + TWO_32) % TWO_32;
  if (lastSeq === undefined) {
    gaps.push({ ...at, cause: "source", ...unknown, lastSeq: before });
    return gaps;
  }
  const count = (before - lastSeq + TWO_32) % TWO_32;
  if (count > 0 && count < TWO_32 / 2) {
    gaps.push({
      ...at,
      cause: "source",
      firstSeq: (lastSeq + 1) % TWO_32,
      lastSeq: before,
      count,
    });
  }
  return gaps;
}

/**
 * A stream's last seq once `gap` is delivered, when it was `last`: none
 * after a `producer restart` (the next trade starts a new sequence), the
 * gap's last missing seq when it names one (the next trade continues from
 * it), else `last` (a reconnect: unknown). `live`'s stats and the backtest
 * feed both keep it so, for {@linkcode flaggedGaps}.
 */
export function seqAfterGap(
  gap: TradeGap,
  last: number | undefined,
): number | undefined {
  if (gap.cause === "producer restart") return undefined;
  return gap.lastSeq ?? last;
}

/** Options of {@linkcode TradeProcessing.open}. */
export interface TradeProcessingOptions {
  /** Exchange read, or `"*"` for every exchange (the strategy's context; bars name each trade's own). */
  exchange: string;
  /** Symbols subscribed, empty for every symbol (the strategy's context). */
  symbols: readonly string[];
  /** Logger of the strategy (component `strategy`). */
  strategyLog: Logger;
  /** Called when a strategy hook throws (the first throw of onTrade/onBar/onGap ends the strategy): the consumer should stop and exit 1. */
  onStrategyError: (message: string) => void;
  /** How the bar file reports a failed write and an append; `onExisting` defaults to the config's `on_existing_file`. */
  barsFile?: OutputFileOptions;
  /** Called with each closed bar, after the bar file and the strategy (e.g. the backtest's candles). */
  onBar?: (bar: Bar) => void;
  /** How the fill file (`--fills-out`) reports a failed write and an append; `onExisting` defaults to the config's `on_existing_file`. */
  fillsFile?: OutputFileOptions;
  /** Called with each fill of the strategy's orders, after its `onFill` and the fill file. */
  onFill?: (fill: Fill) => void;
  /** Called with each accepted (not outlier) trade's time, ms, before the trade is handled (the backtest's equity sampler). */
  beforeTrade?: (tsEventMs: number) => void;
  /** Where a stream's first clock outlier is reported (a warning, once per stream). */
  log?: Logger;
  /** Build bars even with neither a strategy nor a bar file (the live console's own, for `onBar`). */
  buildBars?: boolean;
}

/** {@linkcode BarCounts} with the stream's clock outliers (the same in each interval's row of a stream). */
export interface StreamCounts extends BarCounts {
  /** Trades of the stream kept out of bars and broker as clock outliers (`max_clock_jump`). */
  outliers: number;
}

/** Bars, the bar file, the strategy and its paper broker of one `live` run. */
export class TradeProcessing {
  /** The bar builder. */
  readonly bars: BarBuilder;
  /** The paper broker of the strategy (`[trading_core.broker]`); undefined without a strategy. */
  readonly broker: PaperBroker | undefined;
  #writer: BarWriter | undefined;
  #fills: FillWriter | undefined;
  #runner: StrategyRunner | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #onFailure: (hook: string, error: unknown) => void;
  readonly #clock: TradeClock;
  readonly #log: Logger | undefined;
  readonly #beforeTrade: ((tsEventMs: number) => void) | undefined;
  readonly #wallClock: boolean;

  private constructor(
    bars: BarBuilder,
    broker: PaperBroker | undefined,
    writers: { bars?: BarWriter; fills?: FillWriter },
    runner: StrategyRunner | undefined,
    onFailure: (hook: string, error: unknown) => void,
    clock: {
      maxJumpMs: number;
      log: Logger | undefined;
      beforeTrade: ((tsEventMs: number) => void) | undefined;
      /** The "wall" bar clock: a timer closes bars on time. */
      wall: boolean;
    },
  ) {
    this.#clock = new TradeClock(clock.maxJumpMs);
    this.#log = clock.log;
    this.#beforeTrade = clock.beforeTrade;
    this.#wallClock = clock.wall;
    this.bars = bars;
    this.broker = broker;
    this.#writer = writers.bars;
    this.#fills = writers.fills;
    this.#runner = runner;
    this.#onFailure = onFailure;
  }

  /**
   * Loads the strategy and opens the bar and fill files that `config`
   * names; undefined when it names neither a strategy nor a bar file (no
   * bars are built then) unless `options.buildBars`.
   *
   * @throws {StrategyLoadError} when the strategy cannot be loaded.
   * @throws {RecordFileError} when the bar or fill file cannot be opened.
   */
  static async open(
    config: TradingCoreConfig,
    options: TradeProcessingOptions,
  ): Promise<TradeProcessing | undefined> {
    const used = config.strategy !== undefined || config.barsOut !== undefined;
    if (!used && options.buildBars !== true) return undefined;
    const strategy = config.strategy === undefined
      ? undefined
      : await loadStrategy(config.strategy);
    const writer = config.barsOut === undefined
      ? undefined
      : await BarWriter.open(config.barsOut, {
        onExisting: config.onExistingFile,
        ...options.barsFile,
      });
    const fills = await openFills(config, options.fillsFile, writer);
    const onFailure = (hook: string, error: unknown) =>
      options.onStrategyError(strategyFailure(config.strategy!, hook, error));
    const { onFill } = options;
    // Set below, before the first fill can come (fills come with trades).
    let runner: StrategyRunner | undefined = undefined;
    // A fill goes to the strategy's onFill, then the fill file, then the caller.
    const broker = strategy && new PaperBroker({
      ...config.broker,
      onFill: (fill) => {
        runner?.fill(fill);
        fills?.write(fill);
        onFill?.(fill);
      },
    });
    runner = strategy && broker && new StrategyRunner(
      strategy,
      {
        exchange: options.exchange,
        symbols: options.symbols,
        intervals: config.bars.intervals,
        log: options.strategyLog,
        broker,
      },
      {
        onError: (error, hook) => onFailure(hook, error),
      },
    );
    const onBar = (bar: Bar) => {
      writer?.write(bar);
      runner?.bar(bar);
      options.onBar?.(bar);
    };
    // Its streams come with addStream, as the subscription announces them.
    const bars = new BarBuilder([], {
      intervals: config.bars.intervals,
      closeDelayMs: config.bars.closeDelayMs,
      clock: config.bars.clock,
      onBar,
    });
    return new TradeProcessing(
      bars,
      broker,
      { bars: writer, fills },
      runner,
      onFailure,
      {
        maxJumpMs: config.bars.maxClockJumpMs,
        log: options.log,
        beforeTrade: options.beforeTrade,
        wall: config.bars.clock === "wall",
      },
    );
  }

  /**
   * Calls the strategy's `onStart` and starts closing bars on time. A throw
   * from `onStart` goes to `onStrategyError`. Returns false when
   * `options.signal` aborted (a SIGINT) before `onStart` settled: the
   * consumer stops without waiting for it.
   */
  async start(
    options: {
      signal?: AbortSignal;
      /**
       * Trades not yet delivered per stream index (the feed's lag), asked
       * once per tick: a stream with some keeps its open bars until a trade
       * closes them, so a gap found on reading on still marks them.
       */
      pending?: () => ArrayLike<number>;
    } = {},
  ): Promise<boolean> {
    let started = true;
    try {
      started = await settledBefore(this.#runner?.start(), options.signal);
    } catch (error) {
      this.#onFailure("onStart", error);
    }
    const { pending } = options;
    // The trade clock closes nothing on time: no timer (nothing in a
    // backtest runs on wall time).
    if (!this.#wallClock) return started;
    this.#timer = setInterval(() => {
      const lags = pending?.();
      this.bars.advance(lags && ((stream) => lags[stream] > 0));
    }, ADVANCE_EVERY_MS);
    return started;
  }

  /**
   * One delivered trade of stream index `stream`: the broker first (filling
   * the orders placed before it that it reaches: `onFill`), then bars
   * (closing the ones it ends: `onBar`), then the strategy's `onTrade`.
   * Returns false for a clock outlier (its `ts_event` more than
   * `max_clock_jump` ahead of the stream's latest accepted trade, not
   * confirmed by the stream's next trade): it is counted, reported once per
   * stream, kept out of the broker and the bars, and still reaches
   * `onTrade`. Once the strategy has failed the broker fills nothing more:
   * its orders stay open (counted in the exit summary).
   */
  trade(trade: TradeView, origin: TradeOrigin, stream: number): boolean {
    const ms = trade.tsEventMs;
    const clock = this.#clock;
    if (!clock.accept(stream, ms, origin.exchange)) {
      if (clock.outliers(stream) === 1) {
        const whose = clock.clock(stream) === -Infinity
          ? `its exchange's clock (the stream's first trade)`
          : `the stream's clock`;
        this.#log?.warn(
          `clock outlier kept out of bars and broker: a trade of ${origin.exchange} ${origin.symbol} at ${
            isoTime(ms)
          } is more than trading_core.bars.max_clock_jump ahead of ${whose} ${
            isoTime(clock.reference(stream))
          } (reported once per stream; counted as outliers)`,
          { exchange: origin.exchange, symbol: origin.symbol, seq: trade.seq },
        );
      }
      this.#runner?.trade(trade, origin);
      return false;
    }
    this.#beforeTrade?.(ms);
    if (!this.failed) this.broker?.trade(trade, origin, stream);
    this.bars.add(trade, stream);
    this.#runner?.trade(trade, origin);
    return true;
  }

  /**
   * A snapshot (a trade marked `TradeFlags.Snapshot`, `--snapshot`): to the
   * strategy's `onTrade` only. It stands for a trade stored before the
   * subscription started, so no bar counts it.
   */
  snapshot(trade: TradeView, origin: TradeOrigin): void {
    this.#runner?.trade(trade, origin);
  }

  /**
   * Trades missing from stream index `stream`, delivered in order (before
   * its next trade): the bars mark it (the open bar, those the next trade
   * closes and the one holding it come out incomplete), then the strategy's
   * `onGap` gets it.
   */
  gap(stream: number, gap: TradeGap): void {
    this.bars.gap(stream);
    this.#runner?.gap(gap);
  }

  /** A stream reached live (`--catch-up`): the strategy's `onCaughtUp` gets it. */
  caughtUp(event: CaughtUp): void {
    this.#runner?.caughtUp(event);
  }

  /** Starts building bars of an (exchange, symbol) stream; returns its index (the next one, for a new stream). */
  addStream(stream: TradeOrigin): number {
    return this.bars.addSymbol(stream.symbol, stream.exchange);
  }

  /** Bars closed, late trades and skipped empty bars per stream and interval, with each stream's clock outliers. */
  counts(): StreamCounts[] {
    const clock = this.#clock;
    const rows = this.bars.counts();
    const streams = this.bars.streams.length;
    const intervals = streams === 0 ? 0 : rows.length / streams;
    return rows.map((row, at) => ({
      ...row,
      outliers: clock.outliers(Math.floor(at / intervals)),
    }));
  }

  /** Clock outliers of stream index `stream` so far. */
  outliers(stream: number): number {
    return this.#clock.outliers(stream);
  }

  /** Bars written to `--bars-out`, or undefined without one. */
  get barsWritten(): number | undefined {
    return this.#writer?.lines;
  }

  /** Fills written to `--fills-out`, or undefined without one. */
  get fillsWritten(): number | undefined {
    return this.#fills?.lines;
  }

  /** Whether a strategy hook threw (the trades since are not handled: a ring durable stops storing its positions). */
  get failed(): boolean {
    return (this.#runner?.errors ?? 0) > 0;
  }

  /** Trades, bars, gaps and fills handed to the strategy, and its errors. */
  get strategyCalls(): {
    trades: number;
    bars: number;
    gaps: number;
    fills: number;
    errors: number;
  } {
    const runner = this.#runner;
    return {
      trades: runner?.trades ?? 0,
      bars: runner?.bars ?? 0,
      gaps: runner?.gaps ?? 0,
      fills: runner?.fills ?? 0,
      errors: runner?.errors ?? 0,
    };
  }

  /**
   * Stops the bar timer, calls the strategy's `onStop` (a throw, or not
   * settling within `options.timeoutMs`, goes to `onStrategyError`) and
   * closes the bar file. Open (incomplete) bars are not emitted.
   */
  async stop(options: { timeoutMs?: number } = {}): Promise<void> {
    clearInterval(this.#timer);
    const timeoutMs = options.timeoutMs ?? STOP_TIMEOUT_MS;
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      if (!await settledBefore(this.#runner?.stop(), timeout)) {
        this.#onFailure(
          "onStop",
          `it did not finish within ${timeoutMs} ms; stopped without it`,
        );
      }
    } catch (error) {
      this.#onFailure("onStop", error);
    } finally {
      this.#writer?.close();
      this.#fills?.close();
    }
  }
}

/** Opens the `--fills-out` file, if any; closes `bars` when it cannot. */
async function openFills(
  config: TradingCoreConfig,
  options: OutputFileOptions | undefined,
  bars: BarWriter | undefined,
): Promise<FillWriter | undefined> {
  if (config.fillsOut === undefined) return undefined;
  try {
    return await FillWriter.open(config.fillsOut, {
      onExisting: config.onExistingFile,
      ...options,
    });
  } catch (error) {
    bars?.close();
    throw error;
  }
}

/**
 * Waits for `work` unless `signal` aborts first: true when it settled (a
 * rejection is thrown), false when the signal came first.
 */
async function settledBefore(
  work: Promise<void> | undefined,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  if (work === undefined || signal === undefined) {
    await work;
    return true;
  }
  if (signal.aborted) {
    work.catch(() => {}); // too late to matter
    return false;
  }
  return await Promise.race([
    work.then(() => true),
    whenAborted(signal).then(() => false),
  ]);
}

/** `ms` as an RFC 3339 time, or the number when out of Date's range. */
function isoTime(ms: number): string {
  return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms);
}

/** `strategy FILE failed in HOOK: <stack>`. */
function strategyFailure(path: string, hook: string, error: unknown): string {
  return `strategy ${path} failed in ${hook}: ${
    error instanceof Error ? error.stack ?? error.message : error
  }`;
}
