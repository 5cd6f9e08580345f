/**
 * The event helper both feeds share.
 *
 * @module
 */

import type { FeedEvent } from "./feed.ts";

/** What an event is about: one stream, or (index -1) no one stream. */
export interface EventSubject {
  /** The stream index, or -1. */
  readonly index: number;
  /** The exchange, or `"*"`. */
  readonly exchange: string;
  /** The symbol, or `"*"`. */
  readonly symbol: string;
}

/** An event about `channel`'s stream, its message prefixed with the symbol. */
export function streamEvent(
  channel: EventSubject,
  kind: FeedEvent["kind"],
  message: string,
): FeedEvent {
  return {
    kind,
    exchange: channel.exchange,
    symbol: channel.symbol,
    stream: channel.index,
    message: `${channel.symbol}: ${message}`,
  };
}
