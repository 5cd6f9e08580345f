/**
 * `live --console-port PORT`: the live web console wired into a run. It
 * charts the bars `live` builds (a strategy or `--bars-out`: their
 * intervals, through `onBar`), else builds its own at
 * `trading_core.console.intervals` (no bar file, no strategy: nothing but
 * the chart sees them); each delivered trade reaches its tape (one array
 * read for a stream nobody watches). Once `live`'s state exists it listens,
 * logging `console on http://HOST:PORT/`, or says in one line why it
 * cannot (the port in use, a missing permission).
 *
 * @module
 */

import type { Config } from "../common/config/mod.ts";
import type { MetricFamily } from "../common/metrics/mod.ts";
import type { Logger } from "../common/runtime/log.ts";
import { urlHost } from "../common/runtime/http_listen.ts";
import { RateLimitedLog } from "../common/runtime/rate_limited_log.ts";
import type { TradeGap } from "../common/transport/feed.ts";
import type { TradeOrigin } from "../common/wire/codec.ts";
import type { TradeView } from "../common/wire/trade_view.ts";
import type { Bar } from "./bar.ts";
import { HttpListenError, LiveConsole } from "./console/mod.ts";
import type { LiveState } from "./metrics.ts";
import { TradeProcessing } from "./processing.ts";

/** What an error of the console's events says, with its stack (a bug to report). */
/**
 * What live logs once the console listens on `hostname`:`port`: the URL to
 * open (a wildcard address as its loopback, which a browser can open), and
 * a warning when the page is reachable beyond this machine (it has no
 * authentication).
 */
export function consoleLines(
  hostname: string,
  port: number,
): { info: string; warn?: string } {
  const wildcard = hostname === "0.0.0.0" || hostname === "::";
  const shown = hostname === "0.0.0.0"
    ? "127.0.0.1"
    : hostname === "::"
    ? "::1"
    : hostname;
  const info = `console on http://${urlHost(shown)}:${port}/`;
  const loopback = hostname === "localhost" || hostname === "::1" ||
    /^127\./.test(hostname);
  if (loopback) return { info };
  const where = wildcard ? "every interface" : hostname;
  return {
    info,
    warn:
      `The console has no authentication and is reachable from other machines on ${where} (port ${port}, trading_core.console.host = "${hostname}"); prefer 127.0.0.1 and an SSH tunnel`,
  };
}

function consoleError(error: unknown): string {
  const text = error instanceof Error ? error.stack ?? error.message : error;
  return `console: building the events failed, its pages reconnect; live goes on: ${text}`;
}

/** The console of one `live` run. */
export class ConsoleRun {
  readonly #config: Config;
  readonly #console: LiveConsole;
  /** The console's own bars, when `live` builds none. */
  #own: TradeProcessing | undefined;
  readonly #buildsOwn: boolean;

  /** The console `config` asks for (`trading_core.console.port` set), else undefined. */
  static for(config: Config): ConsoleRun | undefined {
    return config.tradingCore.console.port === undefined
      ? undefined
      : new ConsoleRun(config);
  }

  private constructor(config: Config) {
    const { tradingCore } = config;
    this.#config = config;
    this.#buildsOwn = tradingCore.strategy === undefined &&
      tradingCore.barsOut === undefined;
    this.#console = new LiveConsole({
      intervals: this.#buildsOwn
        ? tradingCore.console.intervals
        : tradingCore.bars.intervals,
      bars: this.#buildsOwn ? "console" : "live",
    });
  }

  /** The `onBar` of `live`'s own bars (undefined when it builds none: the console builds its own). */
  get onBar(): ((bar: Bar) => void) | undefined {
    return this.#buildsOwn ? undefined : this.#console.bar;
  }

  /** A stream announced by the feed, in order (`onStream`). */
  addStream(origin: TradeOrigin): void {
    this.#console.addStream(origin);
    this.#own?.addStream(origin);
  }

  /** A delivered trade (not a snapshot), after `live`'s own handling. */
  trade(trade: TradeView, origin: TradeOrigin, stream: number): void {
    this.#own?.trade(trade, origin, stream);
    this.#console.trade(trade, stream);
  }

  /** A gap delivered in order with the trades: the console's own bars mark it. */
  gap(gap: TradeGap): void {
    this.#own?.gap(gap.stream, gap);
  }

  /**
   * Starts the console's own bars if any and listens, reading `state`;
   * logs where, or why it cannot (false: the caller stops with exit
   * status 1).
   */
  async listen(state: LiveState, log: Logger): Promise<boolean> {
    const { tradingCore, dataSource } = this.#config;
    if (this.#buildsOwn) {
      this.#own = await TradeProcessing.open({
        ...tradingCore,
        strategy: undefined,
        barsOut: undefined,
        fillsOut: undefined,
        bars: { ...tradingCore.bars, intervals: tradingCore.console.intervals },
      }, {
        exchange: "*",
        symbols: [],
        strategyLog: log,
        onStrategyError: () => {}, // no strategy
        buildBars: true,
        onBar: this.#console.bar,
        log,
      });
    }
    const builder = (this.#own ?? state.processing)!.bars;
    // A console bug must not stop live: said, at most once a minute.
    const errors = new RateLimitedLog(log.error, 60_000);
    const rings = dataSource.type === "ipc" || state.catchUp !== undefined;
    try {
      const { hostname, port } = this.#console.listen(tradingCore.console, {
        feed: state.feed,
        stats: state.stats,
        catchUp: state.catchUp,
        builder,
        transport: {
          shmPathPrefix: rings ? dataSource.ipc.shmPathPrefix : undefined,
          publisherUid: dataSource.ipc.publisherUid,
          nats: dataSource.type === "nats" || state.catchUp !== undefined,
        },
        onError: (error) => errors.log("console", consoleError(error)),
      });
      const lines = consoleLines(hostname, port);
      log.info(lines.info);
      if (lines.warn) log.warn(lines.warn);
    } catch (error) {
      if (!(error instanceof HttpListenError)) throw error;
      log.error(error.message);
      await this.close();
      return false;
    }
    const pending = () => state.feed.stats().map((stream) => stream.lag);
    await this.#own?.start({ pending });
    return true;
  }

  /** The console's metric families (pages connected, pages dropped); none before it listens. */
  families(): MetricFamily[] {
    return this.#console.families();
  }

  /** Ends every event stream, stops serving and stops the console's own bars. */
  async close(): Promise<void> {
    await this.#console.close();
    await this.#own?.stop();
    this.#own = undefined;
  }
}
