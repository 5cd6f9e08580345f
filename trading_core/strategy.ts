/**
 * The strategy hook of trading_core: the {@linkcode Strategy} interface a
 * user module implements, {@linkcode loadStrategy} to import it from a file
 * (`deno task live --strategy ./my_strategy.ts`), and
 * {@linkcode StrategyRunner}, which feeds it decoded trades and closed bars
 * in order per (exchange, symbol). A strategy module exports an object like this one:
 *
 * ```ts
 * import type { Strategy } from "./strategy.ts";
 *
 * const strategy: Strategy = {
 *   onTrade() {},
 *   onBar(bar, context) {
 *     context.log.info(`${bar.symbol} ${bar.interval} close ${bar.close}`);
 *   },
 * };
 * ```
 *
 * @module
 */

import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { TradeOrigin } from "../common/wire/codec.ts";
import type { Logger } from "../common/runtime/log.ts";
import type { Trade } from "../common/wire/trade.ts";
import type { CaughtUp, TradeGap } from "../common/transport/feed.ts";
import type { TradeView } from "../common/wire/trade_view.ts";
import type { Bar } from "./bar.ts";
import { type Broker, brokerFacade, type Fill } from "./broker/mod.ts";
import {
  errorText,
  importError,
  quote,
  StrategyLoadError,
} from "./_strategy_load_error.ts";

export { StrategyLoadError };

/** What a strategy is told about the run; the same object for every call. */
export interface StrategyContext {
  /**
   * Exchange read, lower case, or `"*"` when every exchange is read (NATS).
   * Each trade and bar names its own exchange: key state per (exchange,
   * symbol), since the same symbol on two exchanges is two streams.
   */
  readonly exchange: string;
  /** Symbols followed, upper case; empty when every symbol is read. */
  readonly symbols: readonly string[];
  /** Bar intervals built, as configured (e.g. `"1s"`, `"1m"`). */
  readonly intervals: readonly string[];
  /** Logger of the strategy (component `strategy`). */
  readonly log: Logger;
  /**
   * The paper broker: `submit` orders, `cancel` them, read `position`,
   * `openOrders`, `balance` and `equity`. Orders fill against the trades
   * that follow, in trade time; `onFill` reports each fill. The same
   * broker model runs in `live` and in a backtest.
   */
  readonly broker: Broker;
}

/**
 * A trading strategy. `onTrade`, `onBar` and `onGap` run synchronously
 * inside the consumer's read loop: the ring reader must not be suspended per
 * trade, so a promise they return is not awaited (the runner warns once).
 * Queue async work yourself. `onStart` and `onStop` may be async and are
 * awaited.
 */
export interface Strategy {
  /** Called once before the first trade. */
  onStart?(context: StrategyContext): void | Promise<void>;
  /**
   * Called for every trade, in order per (exchange, symbol). With
   * `--snapshot`, a stream's first one may be the latest trade stored before
   * the run, `TradeFlags.Snapshot` set in its `flags` (no bar counts it).
   * With `--ring-durable`, after a kill: `TradeFlags.Redelivered` marks the
   * one trade it may have been given before the crash.
   */
  onTrade(trade: Trade, context: StrategyContext): void;
  /** Called for every closed bar, in order per (exchange, symbol) and interval. */
  onBar(bar: Bar, context: StrategyContext): void;
  /**
   * Called when trades of an (exchange, symbol) are missing, in order: after
   * its last trade before them, before the bars its next trade closes and
   * that trade (those bars, and the one open now, have `complete: false`).
   */
  onGap?(gap: TradeGap, context: StrategyContext): void;
  /**
   * With `--catch-up`: called once per (exchange, symbol) when it reached
   * live, in order: after its last replayed trade, before its first live one.
   */
  onCaughtUp?(event: CaughtUp, context: StrategyContext): void;
  /**
   * Called for each fill of an order the strategy submitted, in order: a
   * trade fills orders before its bars and its `onTrade` (the broker sees
   * each trade first), so the position `onTrade` reads includes them.
   */
  onFill?(fill: Fill, context: StrategyContext): void;
  /** Called once after the last trade, also after a failure. */
  onStop?(context: StrategyContext): void | Promise<void>;
}

/** Options of {@linkcode loadStrategy}. */
export interface LoadStrategyOptions {
  /**
   * Directory a relative `path` is resolved against.
   *
   * @default {Deno.cwd()}
   */
  cwd?: string;
}

const EXPECTED =
  "expected `export default { onTrade, onBar }`, `export const strategy = { onTrade, onBar }`, " +
  "or a default or `createStrategy` export that is a function or class returning one";

/**
 * Imports the strategy module at `path` (relative to the working directory)
 * and returns its strategy: `export default` or `export const strategy` of
 * an object with `onTrade` and `onBar`, or a default or `createStrategy`
 * export that is a function or class returning one (called with no
 * arguments; it may return a promise). A module is imported once per
 * process: loading it again returns the same default object.
 *
 * @throws {StrategyLoadError} when the file is missing or unreadable, does
 * not compile, throws while loading, or exports no valid strategy.
 *
 * @example
 * ```ts
 * import { loadStrategy, StrategyLoadError } from "@marketbus/marketbus";
 *
 * try {
 *   const strategy = await loadStrategy("strategies/ma_crossover.ts");
 *   console.log(typeof strategy.onBar); // "function"
 * } catch (error) {
 *   if (!(error instanceof StrategyLoadError)) throw error;
 *   console.error(error.message); // names the file and what is wrong
 * }
 * ```
 */
export async function loadStrategy(
  path: string,
  options: LoadStrategyOptions = {},
): Promise<Strategy> {
  const file = resolve(options.cwd ?? Deno.cwd(), path);
  const url = pathToFileURL(file).href;
  let module: Record<string, unknown>;
  try {
    module = await import(url);
  } catch (error) {
    throw importError(path, error, { file, url });
  }
  const [name, exported] = "default" in module
    ? ["default export", module.default]
    : "strategy" in module
    ? ["export `strategy`", module.strategy]
    : ["export `createStrategy`", module.createStrategy];
  if (exported === undefined) {
    const names = Object.keys(module);
    throw new StrategyLoadError(
      path,
      `Strategy ${quote(path)} exports no strategy (it exports ${
        names.length === 0 ? "nothing" : names.join(", ")
      }): ${EXPECTED}`,
    );
  }
  const strategy = typeof exported === "function"
    ? await construct(path, name, exported as () => unknown)
    : exported;
  return checkStrategy(path, name, strategy);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

function construct(
  path: string,
  name: string,
  factory: () => unknown,
): Promise<unknown> {
  const isClass = /^class\b/.test(Function.prototype.toString.call(factory));
  // Both a throw and a rejected promise become a load error.
  return Promise.resolve()
    .then(() => isClass ? Reflect.construct(factory, []) : factory())
    .catch((error) => {
      throw new StrategyLoadError(
        path,
        `Strategy ${quote(path)}: ${name} threw when called: ${
          errorText(error)
        }`,
        { cause: error },
      );
    });
}

const HOOKS = {
  onTrade: "onTrade(trade, context)",
  onBar: "onBar(bar, context)",
  onGap: "onGap(gap, context)",
  onCaughtUp: "onCaughtUp(event, context)",
  onFill: "onFill(fill, context)",
  onStart: "onStart(context)",
  onStop: "onStop(context)",
} as const;

/** The hooks a strategy may leave out. */
const OPTIONAL: ReadonlySet<string> = new Set([
  "onGap",
  "onCaughtUp",
  "onFill",
  "onStart",
  "onStop",
]);

/** The hooks called from the read loop, whose errors go to {@linkcode StrategyRunnerOptions.onError}. */
type ReadLoopHook = "onTrade" | "onBar" | "onGap" | "onCaughtUp" | "onFill";

function checkStrategy(path: string, name: string, value: unknown): Strategy {
  const what = `Strategy ${quote(path)}: ${name}`;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new StrategyLoadError(
      path,
      `${what} is ${describe(value)}, not a strategy: ${EXPECTED}`,
    );
  }
  const hooks = value as Record<string, unknown>;
  for (const [hook, signature] of Object.entries(HOOKS)) {
    const fn = hooks[hook];
    const optional = OPTIONAL.has(hook);
    if (typeof fn === "function" || (optional && fn === undefined)) continue;
    throw new StrategyLoadError(
      path,
      fn === undefined
        ? `${what} has no ${hook}: a strategy needs methods ${HOOKS.onTrade} and ${HOOKS.onBar}`
        : `${what} has ${hook} = ${
          describe(fn)
        }: expected a method ${signature}`,
    );
  }
  return value as Strategy;
}

/** Options of {@linkcode StrategyRunner}. */
export interface StrategyRunnerOptions {
  /**
   * Called once when `onTrade`, `onBar`, `onGap`, `onCaughtUp` or `onFill`
   * throws (or a promise it returned rejects); the runner ignores every
   * later trade, bar, gap and fill.
   */
  onError?: (
    error: unknown,
    hook: "onTrade" | "onBar" | "onGap" | "onCaughtUp" | "onFill",
  ) => void;
}

/**
 * Drives one strategy: `start()`, then `trade()`/`bar()`/`gap()`/`fill()`
 * from the read loop, then `stop()`. A throw from a read-loop hook is a
 * strategy bug, never skipped silently: the runner counts it, reports it to
 * `onError` and stops calling the strategy.
 *
 * @example The trades of one received message, then the end of the run
 * ```ts
 * import {
 *   type Logger,
 *   PaperBroker,
 *   type Strategy,
 *   StrategyRunner,
 *   TradeView,
 * } from "@marketbus/marketbus";
 *
 * const log: Logger = {
 *   debug() {},
 *   info: (message) => console.log(message),
 *   warn: (message) => console.warn(message),
 *   error: (message) => console.error(message),
 * };
 * const strategy: Strategy = {
 *   onTrade: (trade) => log.info(`${trade.symbol} ${trade.price}`),
 *   onBar() {},
 * };
 * const broker = new PaperBroker({ onFill: (fill) => runner.fill(fill) });
 * const runner = new StrategyRunner(
 *   strategy,
 *   { exchange: "binance", symbols: ["BTCUSDT"], intervals: ["1s"], log, broker },
 *   { onError: (error, hook) => log.error(`${hook} failed: ${error}`) },
 * );
 *
 * async function run(messages: Uint8Array[]): Promise<void> {
 *   await runner.start();
 *   const view = new TradeView();
 *   for (const message of messages) {
 *     const count = view.wrap(message);
 *     for (let i = 0; i < count; i++) {
 *       const origin = { exchange: "binance", symbol: "BTCUSDT" };
 *       broker.trade(view.select(i), origin, 0); // fills first
 *       runner.trade(view, origin);
 *     }
 *   }
 *   await runner.stop();
 * }
 * ```
 */
export class StrategyRunner {
  #strategy: Strategy;
  #context: StrategyContext;
  #onError?: (error: unknown, hook: ReadLoopHook) => void;
  #failed = false;
  #warned = false;
  #stopped = false;
  #trades = 0;
  #bars = 0;
  #gaps = 0;
  #fills = 0;
  #errors = 0;

  /**
   * A runner of `strategy` that passes `context` to every hook, its broker
   * behind a {@linkcode brokerFacade} (only the `Broker` methods).
   */
  constructor(
    strategy: Strategy,
    context: StrategyContext,
    options: StrategyRunnerOptions = {},
  ) {
    this.#strategy = strategy;
    this.#context = { ...context, broker: brokerFacade(context.broker) };
    this.#onError = options.onError;
  }

  /** Trades handed to `onTrade`. */
  get trades(): number {
    return this.#trades;
  }

  /** Bars handed to `onBar`. */
  get bars(): number {
    return this.#bars;
  }

  /** Gaps handed to `onGap` (none when the strategy has no `onGap`). */
  get gaps(): number {
    return this.#gaps;
  }

  /** Fills handed to `onFill` (none when the strategy has no `onFill`). */
  get fills(): number {
    return this.#fills;
  }

  /** Errors thrown by the strategy's hooks (after the first, the runner stops calling it). */
  get errors(): number {
    return this.#errors;
  }

  /** Calls `onStart`; rejects with what it throws. */
  async start(): Promise<void> {
    await this.#strategy.onStart?.(this.#context);
  }

  /** Decodes the selected record of `trade` and calls `onTrade`. */
  trade(trade: TradeView, origin: TradeOrigin): void {
    if (this.#failed) return;
    this.#trades++;
    try {
      this.#check(
        this.#strategy.onTrade(trade.toTrade(origin), this.#context),
        "onTrade",
      );
    } catch (error) {
      this.#fail(error, "onTrade");
    }
  }

  /** Calls `onBar` with a closed bar. */
  bar(bar: Bar): void {
    if (this.#failed) return;
    this.#bars++;
    try {
      this.#check(this.#strategy.onBar(bar, this.#context), "onBar");
    } catch (error) {
      this.#fail(error, "onBar");
    }
  }

  /** Calls `onGap`, if the strategy has one, with trades missing from a stream. */
  gap(gap: TradeGap): void {
    const onGap = this.#strategy.onGap;
    if (this.#failed || onGap === undefined) return;
    this.#gaps++;
    try {
      this.#check(onGap.call(this.#strategy, gap, this.#context), "onGap");
    } catch (error) {
      this.#fail(error, "onGap");
    }
  }

  /** Calls `onCaughtUp`, if the strategy has one, when a stream reached live. */
  caughtUp(event: CaughtUp): void {
    const hook = this.#strategy.onCaughtUp;
    if (this.#failed || hook === undefined) return;
    try {
      this.#check(
        hook.call(this.#strategy, event, this.#context),
        "onCaughtUp",
      );
    } catch (error) {
      this.#fail(error, "onCaughtUp");
    }
  }

  /** Calls `onFill`, if the strategy has one, with a fill of its order. */
  fill(fill: Fill): void {
    const onFill = this.#strategy.onFill;
    if (this.#failed || onFill === undefined) return;
    this.#fills++;
    try {
      this.#check(onFill.call(this.#strategy, fill, this.#context), "onFill");
    } catch (error) {
      this.#fail(error, "onFill");
    }
  }

  /**
   * Calls `onStop` the first time only, also after a failure; rejects with
   * what it throws.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#strategy.onStop?.(this.#context);
  }

  /** Handles what a sync hook returned: a promise is not awaited. */
  #check(result: unknown, hook: ReadLoopHook): void {
    if (result === undefined) return;
    const then = (result as PromiseLike<unknown>).then;
    if (typeof then !== "function") return;
    if (!this.#warned) {
      this.#warned = true;
      this.#context.log.warn(
        `${hook} returned a promise: it is not awaited (hooks run inside the read loop); ` +
          `make ${hook} synchronous and queue async work yourself`,
      );
    }
    then.call(result, undefined, (error: unknown) => this.#fail(error, hook));
  }

  #fail(error: unknown, hook: ReadLoopHook): void {
    this.#errors++;
    if (this.#failed) return;
    this.#failed = true;
    this.#onError?.(error, hook);
  }
}
