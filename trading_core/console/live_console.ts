/**
 * One live console: what it keeps as `live` reads (closed bars, the tape of
 * the watched streams), and, once listening, its table, transport view,
 * events and HTTP server. Created before consuming starts (its
 * {@linkcode LiveConsole.bar} is the bar builder's `onBar`), listening once
 * `live`'s state exists.
 *
 * @module
 */

import type { ConsoleConfig } from "../../common/config/mod.ts";
import type { TradeOrigin } from "../../common/wire/codec.ts";
import type { TradeView } from "../../common/wire/trade_view.ts";
import type { TradeFeed } from "../../common/transport/feed.ts";
import type { Bar } from "../bar.ts";
import type { BarBuilder } from "../bars.ts";
import type { CatchUpProgress } from "../metrics.ts";
import type { TradeStats } from "../trade_stats.ts";
import { counter, gauge, type MetricFamily } from "../../common/metrics/mod.ts";
import { Broadcaster } from "./broadcaster.ts";
import { CandleStore } from "./candles.ts";
import { ConsoleEvents } from "./events.ts";
import { type ConsoleServer, serveConsole } from "./server.ts";
import { ConsoleTable } from "./table.ts";
import { TradeTape } from "./tape.ts";
import { TransportWatch, type TransportWatchOptions } from "./transport.ts";

/** Options of {@linkcode LiveConsole}. */
export interface LiveConsoleOptions {
  /** The intervals charted: those of the bar builder feeding {@linkcode LiveConsole.bar}. */
  intervals: readonly string[];
  /** Whose bars: `live`'s own (a strategy or a bar file), or the console's. */
  bars: "live" | "console";
}

/** What the console reads once `live` reads. */
export interface ConsoleSources {
  /** The transport read. */
  feed: TradeFeed;
  /** Per-stream counts and latency. */
  stats: TradeStats;
  /** With `--catch-up`: the catch-up's progress. */
  catchUp?: CatchUpProgress;
  /** The bar builder whose open bars are charted. */
  builder: Pick<BarBuilder, "openBar" | "streams">;
  /** What the transport view shows. */
  transport: Omit<TransportWatchOptions, "budgetMs">;
  /** Told of an error building the events (a bug in the console: its pages reconnect, `live` goes on). */
  onError: (error: unknown) => void;
}

/** The live console of one `live` run. */
export class LiveConsole {
  /** The closed bars kept for the charts. */
  readonly candles: CandleStore;
  /** The tape of the watched streams. */
  readonly tape: TradeTape = new TradeTape();
  readonly #bars: "live" | "console";
  #server: ConsoleServer | undefined;
  #broadcaster: Broadcaster | undefined;

  /** A console charting `options.intervals`; it listens with {@linkcode listen}. */
  constructor(options: LiveConsoleOptions) {
    this.candles = new CandleStore(options.intervals);
    this.#bars = options.bars;
  }

  /** A closed bar (the bar builder's `onBar`). */
  readonly bar = (bar: Bar): void => this.candles.bar(bar);

  /** Announces the next stream, in `live`'s order (its `onStream`). */
  addStream(origin: TradeOrigin): void {
    this.candles.addStream(origin);
  }

  /** A delivered trade of stream index `stream`: on the tape when someone watches the stream (otherwise one array read). */
  trade(trade: TradeView, stream: number): void {
    this.tape.record(trade, stream);
  }

  /**
   * Starts serving as `config` says, reading `sources`; returns the bound
   * address.
   *
   * @throws {HttpListenError} when the address cannot be bound.
   */
  listen(
    config: ConsoleConfig,
    sources: ConsoleSources,
  ): { hostname: string; port: number } {
    this.candles.builder = sources.builder;
    const { stats } = sources;
    const table = new ConsoleTable(sources);
    const { catchUp } = sources;
    const transport = new TransportWatch(
      sources.feed,
      () => stats.streams,
      {
        ...sources.transport,
        historyDone: () => {
          const done = catchUp?.caughtUp() ?? [];
          return done.length > 0 && done.every((d) => d);
        },
      },
    );
    const events = new ConsoleEvents(
      { table, candles: this.candles, tape: this.tape, transport },
      { updatesPerSecond: config.updatesPerSecond, bars: this.#bars },
    );
    const broadcaster = new Broadcaster(events, {
      updatesPerSecond: config.updatesPerSecond,
      maxClients: config.maxClients,
      onError: sources.onError,
    });
    this.#broadcaster = broadcaster;
    this.#server = serveConsole(broadcaster, {
      port: config.port ?? 0,
      hostname: config.host,
      intervals: this.candles.intervals,
      known: (exchange, symbol) =>
        this.candles.find(exchange, symbol) !== undefined,
    });
    return { hostname: this.#server.hostname, port: this.#server.port };
  }

  /**
   * The console's metric families once it listens (none before):
   * `marketbus_console_clients` (pages connected now) and
   * `marketbus_console_clients_dropped_total` (pages ended for not reading).
   */
  families(): MetricFamily[] {
    const broadcaster = this.#broadcaster;
    if (broadcaster === undefined) return [];
    return [
      gauge({
        name: "marketbus_console_clients",
        help: "Console pages (/events streams) connected now.",
      }, broadcaster.clients),
      counter({
        name: "marketbus_console_clients_dropped_total",
        help:
          "Console pages whose stream was ended for not reading (unsent bytes past the bound).",
      }, broadcaster.dropped),
    ];
  }

  /** Ends every event stream and stops serving (bounded: see `ConsoleServer.close`). */
  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    await server?.close();
  }
}
