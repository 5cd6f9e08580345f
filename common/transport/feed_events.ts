/**
 * The event helper both feeds share.
 *
 * @module
 */

import type { FeedEvent, LossCause } from "./feed.ts";

/** What an event is about: one stream, or (index -1) no one stream. */
export interface EventSubject {
  /** The stream index, or -1. */
  readonly index: number;
  /** The exchange, or `"*"`. */
  readonly exchange: string;
  /** The symbol, or `"*"`. */
  readonly symbol: string;
}

/** A stream as every log line names it: `binance BTCUSDT` (`*` for no one stream). */
export function streamName(
  origin: { readonly exchange: string; readonly symbol: string },
): string {
  const { exchange, symbol } = origin;
  return exchange === "*" && symbol === "*" ? "*" : `${exchange} ${symbol}`;
}

/** An event about `channel`'s stream, its message prefixed with its {@linkcode streamName}. */
export function streamEvent(
  channel: EventSubject,
  kind: FeedEvent["kind"],
  message: string,
  options: {
    /** The trades a `"lost"` event tells lost, by cause ({@linkcode FeedEvent.lostBy}). */
    lostBy?: Partial<Record<LossCause, number>>;
  } = {},
): FeedEvent {
  return {
    kind,
    exchange: channel.exchange,
    symbol: channel.symbol,
    stream: channel.index,
    message: `${streamName(channel)}: ${message}`,
    ...options.lostBy && { lostBy: options.lostBy },
  };
}
