/**
 * A Binance live trade feed over combined-stream WebSockets: subscribes to
 * `<symbol>@trade` for every symbol (split over several connections when
 * there are more streams than one connection allows), reconnects with
 * jittered, capped exponential backoff, flags each symbol's first trade
 * after a reconnect, and detects trade-id gaps per symbol. A watchdog
 * reconnects a connection that stays open but goes silent (see
 * {@linkcode BinanceTradeStreamOptions.silenceTimeoutMs}).
 *
 * ```ts
 * const controller = new AbortController();
 * const stream = new BinanceTradeStream(["BTCUSDT", "ETHUSDT"], {
 *   onTrade: (trade, symbolIndex) => console.log(symbolIndex, trade.priceFixed),
 * });
 * const done = stream.run(controller.signal);
 * // ... later
 * controller.abort();
 * await done;
 * ```
 *
 * @module
 */

import { delay } from "../../common/runtime/delay.ts";
import type { Logger } from "../../common/runtime/log.ts";
import { TradeFlags } from "../../common/wire/trade.ts";
import {
  type ConnectionEvents,
  FeedConnection,
  type ReconnectCause,
} from "./_connection.ts";
import { RateLimitedLog } from "../../common/runtime/rate_limited_log.ts";
import { SymbolActivity } from "./_silence_watch.ts";
import { invalidArgument } from "../../common/errors/mod.ts";
import {
  checkSettings,
  indexSymbols,
  planConnections,
} from "./_stream_plan.ts";
import {
  type BinanceTimeUnit,
  type InvalidCode,
  type ParsedTrade,
  parseTradeFrame,
  type SecondsNanos,
} from "./trade_event.ts";

export {
  DEFAULT_BINANCE_ENDPOINT,
  DEFAULT_SILENCE_TIMEOUT_MS,
} from "../../common/config/binance_endpoint.ts";
export { BINANCE_MAX_STREAMS_PER_CONNECTION } from "./_stream_plan.ts";
export type { ReconnectCause };

/** A trade-id gap seen on one symbol. */
export interface TradeGap {
  /** The symbol, as given to the constructor. */
  symbol: string;
  /** Its index in the constructor's symbols. */
  symbolIndex: number;
  /** The last trade id seen before the gap. */
  lastTradeId: bigint;
  /** The trade id that arrived. */
  tradeId: bigint;
  /** Trades missing between the two (`tradeId − lastTradeId − 1`). */
  missing: bigint;
  /** Whether the gap spans a reconnect. */
  afterReconnect: boolean;
}

/** Counters of a {@linkcode BinanceTradeStream}. */
export interface BinanceStreamStats {
  /** Text and binary frames received. */
  frames: number;
  /** Trades delivered to `onTrade`. */
  trades: number;
  /** Frames that carried no trade (subscription replies, other events, server error messages). */
  ignored: number;
  /** Frames that could not be parsed into a trade. */
  invalid: number;
  /** Invalid frames by reason. */
  invalidByReason: Record<InvalidCode, number>;
  /** Trades dropped because their id was not above the symbol's last id (repeats after a reconnect). */
  duplicates: number;
  /** Connections opened again after a drop or a watchdog close. */
  reconnects: number;
  /** Those reconnects by why the connection ended. */
  reconnectsByCause: Record<ReconnectCause, number>;
  /** Probes sent to connections that were quiet for half the silence timeout. */
  probes: number;
  /** Trade-id gaps seen. */
  gaps: number;
  /** Trades missing in those gaps. */
  missedTrades: bigint;
  /** Connections currently open. */
  openConnections: number;
  /** Connections the symbols are split over. */
  connections: number;
}

/** Options of {@linkcode BinanceTradeStream}. */
export interface BinanceTradeStreamOptions {
  /** Base URL, `ws://` or `wss://` (default {@linkcode DEFAULT_BINANCE_ENDPOINT}); `/stream?streams=...` is appended. */
  endpoint?: string;
  /** Most streams per connection (default {@linkcode BINANCE_MAX_STREAMS_PER_CONNECTION}). */
  maxStreamsPerConnection?: number;
  /** First reconnect delay before jitter, ms (default 500). */
  initialBackoffMs?: number;
  /** Longest reconnect delay, ms (default 30000). */
  maxBackoffMs?: number;
  /** Unit of trade times; `"microsecond"` adds `timeUnit=MICROSECOND` to the URL (default `"millisecond"`). */
  timeUnit?: BinanceTimeUnit;
  /** Called with each trade (seq 0, for the publisher to stamp) and its symbol's index. */
  onTrade?: (trade: ParsedTrade, symbolIndex: number) => void;
  /** Called for each trade-id gap. */
  onGap?: (gap: TradeGap) => void;
  /** Where events are logged (default: nowhere). */
  log?: Logger;
  /** At most one log line per reason per this many ms for invalid frames (default 10000). */
  logIntervalMs?: number;
  /** Reads the wall clock into its argument (default: `performance.timeOrigin + performance.now()`). */
  clock?: (into: SecondsNanos) => SecondsNanos;
  /** A random number in [0, 1) for backoff jitter (default `Math.random`). */
  random?: () => number;
  /**
   * Silence watchdog, ms; 0 = off (default
   * {@linkcode DEFAULT_SILENCE_TIMEOUT_MS}). A connection quiet for half of
   * it is sent a `LIST_SUBSCRIPTIONS` request; one that then sends nothing
   * for all of it (not even the reply), or on which a symbol that traded
   * steadily sends nothing for all of it, is closed and opened again.
   */
  silenceTimeoutMs?: number;
}

const SILENT: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** Reads the wall clock from `performance` (sub-ms, but not ns-exact). */
function performanceClock(into: SecondsNanos): SecondsNanos {
  const ms = performance.timeOrigin + performance.now();
  const seconds = Math.floor(ms / 1000);
  into.seconds = seconds;
  into.nanos = Math.min(999_999_999, Math.round((ms - seconds * 1000) * 1e6));
  return into;
}

/**
 * A Binance trade feed for a fixed set of symbols over one or more
 * combined-stream connections. The first trade of each symbol after its
 * connection dropped carries {@linkcode TradeFlags.Reconnect}; trade ids are
 * checked per symbol across reconnects.
 */
export class BinanceTradeStream {
  readonly #symbols: readonly string[];
  readonly #indexBySymbol: ReadonlyMap<string, number>;
  readonly #connections: readonly FeedConnection[];
  readonly #onTrade: (trade: ParsedTrade, symbolIndex: number) => void;
  readonly #onGap: (gap: TradeGap) => void;
  readonly #log: Logger;
  readonly #invalidLog: RateLimitedLog;
  readonly #clock: (into: SecondsNanos) => SecondsNanos;
  readonly #random: () => number;
  readonly #initialBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #timeUnit: BinanceTimeUnit;
  readonly #activity: SymbolActivity | undefined;
  // Per symbol: last trade id (−1n: none yet) and reconnect-pending flag.
  readonly #lastIds: bigint[];
  readonly #reconnected: Uint8Array;
  readonly #receivedAt: SecondsNanos = { seconds: 0, nanos: 0 };
  readonly #stats: BinanceStreamStats;
  #running = false;

  /**
   * Creates a feed for `symbols` (distinct, case-insensitively, non-empty
   * names such as `"BTCUSDT"`). Nothing connects until {@linkcode run}.
   *
   * @throws {TypeError} when an argument has the wrong type.
   * @throws {RangeError} naming the option or symbol that is out of range.
   */
  constructor(
    symbols: readonly string[],
    options: BinanceTradeStreamOptions = {},
  ) {
    this.#indexBySymbol = indexSymbols(symbols);
    this.#symbols = Object.freeze([...symbols]);
    const settings = checkSettings(options);
    this.#initialBackoffMs = settings.initialBackoffMs;
    this.#maxBackoffMs = settings.maxBackoffMs;
    this.#timeUnit = settings.timeUnit;
    const { silenceTimeoutMs } = settings;
    if (silenceTimeoutMs !== 0) {
      this.#activity = new SymbolActivity(symbols.length, silenceTimeoutMs);
    }
    this.#onTrade = options.onTrade ?? (() => {});
    this.#onGap = options.onGap ?? (() => {});
    this.#log = options.log ?? SILENT;
    this.#invalidLog = new RateLimitedLog(
      (message) => this.#log.warn(message),
      settings.logIntervalMs,
    );
    this.#clock = options.clock ?? performanceClock;
    this.#random = options.random ?? Math.random;
    this.#lastIds = symbols.map(() => -1n);
    this.#reconnected = new Uint8Array(symbols.length);
    const events = this.#connectionEvents();
    const connections = planConnections(symbols, settings).map((plan, number) =>
      new FeedConnection({
        number,
        url: plan.url,
        symbolIndexes: plan.symbolIndexes,
        symbols: this.#symbols,
        activity: this.#activity,
        silenceTimeoutMs,
        log: this.#log,
        events,
      })
    );
    this.#connections = connections;
    this.#stats = {
      frames: 0,
      trades: 0,
      ignored: 0,
      invalid: 0,
      invalidByReason: {
        json: 0,
        shape: 0,
        field: 0,
        range: 0,
        stream: 0,
        binary: 0,
      },
      duplicates: 0,
      reconnects: 0,
      reconnectsByCause: { dropped: 0, silent: 0, stalled: 0 },
      probes: 0,
      gaps: 0,
      missedTrades: 0n,
      openConnections: 0,
      connections: connections.length,
    };
  }

  /** The symbols, in the order of the indexes passed to `onTrade`. */
  get symbols(): readonly string[] {
    return this.#symbols;
  }

  /** The URL of each connection. */
  get urls(): readonly string[] {
    return this.#connections.map((connection) => connection.url);
  }

  /** A snapshot of the counters. */
  get stats(): BinanceStreamStats {
    return {
      ...this.#stats,
      invalidByReason: { ...this.#stats.invalidByReason },
      reconnectsByCause: { ...this.#stats.reconnectsByCause },
    };
  }

  /**
   * Connects and delivers trades until `signal` aborts, reconnecting after
   * every drop; resolves once every connection is closed.
   *
   * @throws {Error} when the stream is already running.
   */
  async run(signal: AbortSignal): Promise<void> {
    if (this.#running) {
      throw new Error("Cannot run a BinanceTradeStream twice at once");
    }
    this.#running = true;
    try {
      await Promise.all(
        this.#connections.map((connection) => this.#keep(connection, signal)),
      );
    } finally {
      this.#running = false;
    }
  }

  /** Keeps one connection open until `signal` aborts. */
  async #keep(connection: FeedConnection, signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      const { frames, failure } = await connection.connectOnce(signal);
      if (signal.aborted) break;
      // A connection that delivered frames resets the backoff.
      if (frames > 0) failures = 0;
      const cap = Math.min(
        this.#maxBackoffMs,
        this.#initialBackoffMs * 2 ** Math.min(failures, 30),
      );
      failures++;
      // Equal jitter: half fixed, half random, so clients do not reconnect in step.
      const wait = cap / 2 + this.#random() * cap / 2;
      const retry = `reconnecting in ${Math.round(wait)} ms`;
      // A connection that never opened says why, at most once per backoff.
      if (failure === undefined) {
        this.#log.info(`connection ${connection.number} closed; ${retry}`);
      } else {
        this.#log.warn(
          `connection ${connection.number} to ${
            connection.url.split("?")[0]
          } failed (${failure}); ${retry}`,
        );
      }
      await delay(wait, signal);
    }
  }

  /** How the connections report to this stream. */
  #connectionEvents(): ConnectionEvents {
    const stats = () => this.#stats;
    return {
      opened: (cause) => {
        stats().openConnections++;
        if (cause === undefined) return;
        stats().reconnects++;
        stats().reconnectsByCause[cause]++;
      },
      frame: (data, now) => this.#frame(data, now),
      closed: (symbolIndexes) => {
        stats().openConnections--;
        for (const index of symbolIndexes) {
          this.#reconnected[index] = 1;
          this.#activity?.forget(index);
        }
      },
      probed: () => {
        stats().probes++;
      },
    };
  }

  /** Parses and delivers one frame. */
  #frame(data: unknown, now: number): void {
    const stats = this.#stats;
    stats.frames++;
    const parsed = parseTradeFrame(data as string, {
      receivedAt: this.#clock(this.#receivedAt),
      timeUnit: this.#timeUnit,
    });
    if (parsed.kind === "ignored") {
      stats.ignored++;
      if (parsed.code === "error") this.#log.warn(parsed.reason);
      else this.#log.debug(parsed.reason);
      return;
    }
    if (parsed.kind === "invalid") {
      this.#rejectFrame(parsed.code, parsed.reason);
      return;
    }
    const index = this.#indexBySymbol.get(parsed.symbol.toUpperCase());
    if (index === undefined) {
      this.#rejectFrame(
        "stream",
        invalidArgument(
          "stream",
          parsed.stream,
          "one of the subscribed symbols",
        ),
      );
      return;
    }
    const last = this.#lastIds[index];
    const afterReconnect = this.#reconnected[index] === 1;
    if (last >= 0n && parsed.tradeId <= last) {
      stats.duplicates++;
      this.#log.debug(
        `${
          this.#symbols[index]
        }: dropped trade id ${parsed.tradeId}, not after ${last}`,
      );
      return;
    }
    if (last >= 0n && parsed.tradeId > last + 1n) {
      const gap: TradeGap = {
        symbol: this.#symbols[index],
        symbolIndex: index,
        lastTradeId: last,
        tradeId: parsed.tradeId,
        missing: parsed.tradeId - last - 1n,
        afterReconnect,
      };
      stats.gaps++;
      stats.missedTrades += gap.missing;
      this.#log.warn(
        `${gap.symbol}: ${gap.missing} trades missing between ids ${last} and ${parsed.tradeId}${
          afterReconnect ? " (across a reconnect)" : ""
        }`,
      );
      this.#call(() => this.#onGap(gap));
    }
    this.#lastIds[index] = parsed.tradeId;
    if (afterReconnect) {
      this.#reconnected[index] = 0;
      parsed.flags |= TradeFlags.Reconnect;
    }
    stats.trades++;
    this.#activity?.trade(index, now);
    this.#call(() => this.#onTrade(parsed, index));
  }

  #rejectFrame(code: InvalidCode, reason: string): void {
    this.#stats.invalid++;
    this.#stats.invalidByReason[code]++;
    this.#invalidLog.log(code, `invalid frame: ${reason}`);
  }

  /** Runs a callback, logging what it throws (a callback must not stop the feed). */
  #call(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.#log.error(`callback failed: ${(error as Error)?.message ?? error}`);
    }
  }
}
