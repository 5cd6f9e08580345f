/**
 * The Binance live trade feed as a {@linkcode TradeSource}: each parsed
 * trade becomes a record at once (a live feed cannot wait for room).
 *
 * @module
 */

import { encodeTrade } from "../common/codec.ts";
import { formatCount } from "../common/format.ts";
import { readWallClock } from "../common/ipc/clock.ts";
import type { Logger } from "../common/log.ts";
import { TRADE_RECORD_SIZE } from "../common/trade.ts";
import { BinanceTradeStream } from "./binance/mod.ts";
import type { TradeSink, TradeSource } from "./source.ts";

/** Options of {@linkcode BinanceFeed}. */
export interface BinanceFeedOptions {
  /** Combined-stream base URL, e.g. `wss://stream.binance.com:9443`. */
  endpoint: string;
  /** Where reconnects, gaps and bad frames are logged. */
  log: Logger;
}

/** Live trades from Binance's combined `<symbol>@trade` streams. */
export class BinanceFeed implements TradeSource {
  /** Source kind. */
  readonly kind = "binance";
  /** Symbols, by index. */
  readonly symbols: readonly string[];
  #options: BinanceFeedOptions;
  #stream: BinanceTradeStream | undefined;

  /** A feed of `symbols` (Binance spelling, e.g. `BTCUSDT`). */
  constructor(symbols: readonly string[], options: BinanceFeedOptions) {
    this.symbols = symbols;
    this.#options = options;
  }

  /** Progress fragment: trades, reconnects, gaps, bad frames. */
  summary(): string {
    const stats = this.#stream?.stats;
    if (stats === undefined) return "binance (not started)";
    return `binance ${
      formatCount(stats.trades)
    } trades, ${stats.reconnects} reconnects, ${stats.gaps} gaps (${
      formatCount(Number(stats.missedTrades))
    } missed), ${stats.invalid} invalid, ${stats.duplicates} repeats, ${stats.openConnections} open`;
  }

  /** Streams trades into `sink` until `signal` aborts, reconnecting after every drop. */
  async run(sink: TradeSink, options: { signal: AbortSignal }): Promise<void> {
    const { log, endpoint } = this.#options;
    const record = new Uint8Array(TRADE_RECORD_SIZE);
    this.#stream = new BinanceTradeStream(this.symbols, {
      endpoint,
      log,
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
