/**
 * A subscription's streams (channels): their counters and the run epoch of
 * their last message, and the routes of its subjects to them.
 *
 * @module
 */

import type { JsMsg } from "@nats-io/jetstream";
import type { TradeOrigin } from "../wire/codec.ts";
import type { OnEpoch } from "../transport/feed.ts";
import type { LossCounts } from "./_feed_loss.ts";
import { messageEpoch } from "./_message_epoch.ts";

/** One subscribed (or met) (exchange, symbol) stream's counters. */
export interface Channel extends LossCounts {
  /** Stream index. */
  index: number;
  /** Exchange, lower case. */
  exchange: string;
  /** Symbol, upper case. */
  symbol: string;
  /** Trades delivered. */
  received: number;
  /** Trades skipped (`SubscribeOptions.skip`). */
  skipped: number;
  /** Records that failed validation. */
  invalid: number;
  /** The run epoch of its last message (-1: none yet), when epochs are read (`onEpoch` or `skip` given). */
  epoch: number;
}

/** A channel's counters, all zero. */
export function newChannel(
  index: number,
  exchange: string,
  symbol: string,
): Channel {
  return {
    index,
    exchange,
    symbol,
    received: 0,
    skipped: 0,
    invalid: 0,
    epoch: -1,
    lost: 0,
    unreported: 0,
    reportedAt: -Infinity,
  };
}

/** What a subject's messages are: their origin (undefined: not a trade subject) and channel. */
export interface Route {
  origin: TradeOrigin | undefined;
  /** The exchange the subject names (its raw token when it is not a trade subject). */
  exchange: string;
  /** The symbol the subject names (its raw token when it is not a trade subject). */
  symbol: string;
  /** {@linkcode streamKey} of exchange and symbol. */
  key: string;
  /** Set once the symbol has one (subscribed, or a trade of it delivered). */
  channel: Channel | undefined;
  /** Why it is not a trade subject. */
  problem: string;
}

/** The key of an (exchange, symbol) stream in a map: looked up once per subject (and per invalid message), never per trade. */
export function streamKey(exchange: string, symbol: string): string {
  return `${exchange}.${symbol}`;
}

/** The run epoch of `message` (of `channel`), told to `onEpoch` when it differs from the last one's. */
export function noteEpoch(
  channel: Channel,
  message: JsMsg,
  onEpoch?: OnEpoch,
): number {
  const epoch = messageEpoch(message);
  if (epoch !== channel.epoch) {
    channel.epoch = epoch;
    onEpoch?.(channel.index, epoch);
  }
  return epoch;
}
