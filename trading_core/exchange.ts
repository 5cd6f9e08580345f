/**
 * What a trade source offers trading_core: subscribe to symbols and get each
 * trade, in order per symbol, until the signal aborts.
 *
 * @module
 */

import type { TradeOrigin } from "../common/codec.ts";
import type { TradeView } from "../common/trade_view.ts";

/**
 * Receives each trade. `trade` is a reused view, valid only during the call:
 * read its fields or `trade.toTrade(origin)` to keep a copy. `symbol` is the
 * index of the trade's symbol in the subscribed list.
 */
export type OnTick = (
  trade: TradeView,
  origin: TradeOrigin,
  symbol: number,
) => void;

/** Something about a subscription worth telling the user. */
export interface ExchangeEvent {
  /** What happened. */
  kind:
    | "waiting"
    | "attached"
    | "restarted"
    | "closed"
    | "dead"
    | "stalled"
    | "recovered"
    | "lapped"
    | "behind"
    | "invalid";
  /** The symbol concerned. */
  symbol: string;
  /** A one-line description. */
  message: string;
}

/** Options of {@linkcode Exchange.subscribeTrades}. */
export interface SubscribeOptions {
  /** Ends the subscription when aborted. */
  signal?: AbortSignal;
  /**
   * Stop once this many trades were delivered (0 or absent = no limit). A
   * transport that delivers whole multi-trade messages (NATS) may deliver up
   * to one message more, rather than leave part of a message unacknowledged.
   */
  limit?: number;
  /** Receives events (producer restarts, losses, …). */
  onEvent?: (event: ExchangeEvent) => void;
}

/** Per-symbol counters of a subscription. */
export interface SymbolStats {
  /** The symbol. */
  symbol: string;
  /** Trades delivered to the callback. */
  received: number;
  /** Trades published but never delivered (overwritten, or lost on the way). */
  lost: number;
  /** Records that failed validation and were skipped. */
  invalid: number;
  /** Trades published but not yet read. */
  lag: number;
  /** Producer restarts seen. */
  restarts: number;
  /** Connection state, e.g. `"alive"`, `"waiting"`. */
  state: string;
}

/** Whether a subscription is connected to its source, for `/healthz`. */
export interface ExchangeStatus {
  /** Connected: rings attached to live producers; NATS connected with its consumer. */
  connected: boolean;
  /**
   * Nothing to deliver by the source's choice: a live producer publishing
   * nothing, an empty NATS backlog. Data not flowing is then not a problem.
   */
  idle: boolean;
  /** One line saying what the state is, e.g. `"BTCUSDT waiting"`. */
  detail: string;
}

/** A source of trades for trading_core. */
export interface Exchange {
  /** Short name, e.g. `"ipc"`. */
  readonly name: string;
  /**
   * Delivers the trades of `symbols` to `onTick` until `options.signal`
   * aborts or `options.limit` trades were delivered.
   */
  subscribeTrades(
    symbols: readonly string[],
    onTick: OnTick,
    options?: SubscribeOptions,
  ): Promise<void>;
  /** Counters per subscribed symbol. */
  stats(): SymbolStats[];
  /** Connection state, for `/healthz`. */
  status(): ExchangeStatus;
}
