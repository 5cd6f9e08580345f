/**
 * The Binance live trade stream as a {@linkcode TradeSource}: each parsed
 * trade becomes a record at once (a live feed cannot wait for room).
 *
 * @module
 */

import { encodeTrade } from "../../common/wire/codec.ts";
import { formatCount } from "../../common/runtime/format.ts";
import { readWallClock } from "../../common/runtime/clock.ts";
import type { Logger } from "../../common/runtime/log.ts";
import type { MetricFamily } from "../../common/metrics/mod.ts";
import { TRADE_RECORD_SIZE } from "../../common/wire/trade.ts";
import {
  type BinanceStreamStats,
  BinanceTradeStream,
  DEFAULT_SILENCE_TIMEOUT_MS,
} from "./stream_client.ts";
import type { TradeSink, TradeSource } from "../source.ts";
import { binanceSourceFamilies } from "./metrics.ts";

/** Options of {@linkcode BinanceSource}. */
export interface BinanceSourceOptions {
  /** Combined-stream base URL, e.g. `wss://stream.binance.com:9443`. */
  endpoint: string;
  /** Where reconnects, gaps and bad frames are logged. */
  log: Logger;
  /** Silence watchdog, ms; 0 = off (`data_manager.binance.silence_timeout`). @default {30000} */
  silenceTimeoutMs?: number;
}

/** Live trades from Binance's combined `<symbol>@trade` streams. */
export class BinanceSource implements TradeSource {
  /** Source kind. */
  readonly kind = "binance";
  /** Symbols, by index. */
  readonly symbols: readonly string[];
  #options: BinanceSourceOptions;
  #stream: BinanceTradeStream | undefined;

  /** A source of `symbols` (Binance spelling, e.g. `BTCUSDT`). */
  constructor(symbols: readonly string[], options: BinanceSourceOptions) {
    this.symbols = symbols;
    this.#options = options;
  }

  /** The stream's counters, once running. */
  get stats(): BinanceStreamStats | undefined {
    return this.#stream?.stats;
  }

  /** `marketbus_source_reconnects_total`, by why the connection ended. */
  metrics(): MetricFamily[] {
    return binanceSourceFamilies(this.kind, this.stats);
  }

  /** Progress fragment: trades, reconnects (those for silence), gaps, bad frames. */
  summary(): string {
    const stats = this.#stream?.stats;
    if (stats === undefined) return "binance (not started)";
    const { silent, stalled } = stats.reconnectsByCause;
    const why = [
      silent > 0 ? `${silent} silent` : "",
      stalled > 0 ? `${stalled} stalled` : "",
    ].filter((part) => part !== "").join(", ");
    return `binance ${
      formatCount(stats.trades)
    } trades, ${stats.reconnects} reconnects${
      why === "" ? "" : ` (${why})`
    }, ${stats.gaps} gaps (${
      formatCount(Number(stats.missedTrades))
    } missed), ${stats.invalid} invalid, ${stats.duplicates} repeats, ${stats.openConnections} open`;
  }

  /** Streams trades into `sink` until `signal` aborts, reconnecting after every drop. */
  async run(sink: TradeSink, options: { signal: AbortSignal }): Promise<void> {
    const {
      log,
      endpoint,
      silenceTimeoutMs = DEFAULT_SILENCE_TIMEOUT_MS,
    } = this.#options;
    const record = new Uint8Array(TRADE_RECORD_SIZE);
    this.#stream = new BinanceTradeStream(this.symbols, {
      endpoint,
      log,
      silenceTimeoutMs,
      clock: readWallClock,
      // Gaps are logged by the stream itself and counted in summary().
      onTrade: (trade, symbol) => {
        encodeTrade(trade, record);
        sink.publish(symbol, record);
      },
    });
    await this.#stream.run(options.signal);
  }
}
