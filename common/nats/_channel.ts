/**
 * A subscription's per-stream state: its counters and the run epoch of its
 * last message.
 *
 * @module
 */

import type { JsMsg } from "@nats-io/jetstream";
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
  /** Records that failed validation. */
  invalid: number;
  /** The run epoch of its last message (-1: none yet), when epochs are read. */
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
    invalid: 0,
    epoch: -1,
    lost: 0,
    unreported: 0,
    reportedAt: -Infinity,
  };
}

/** Tells `onEpoch` the epoch of `message` (of `channel`) when it differs from the last one's. */
export function noteEpoch(
  channel: Channel,
  message: JsMsg,
  onEpoch: OnEpoch,
): void {
  const epoch = messageEpoch(message);
  if (epoch === channel.epoch) return;
  channel.epoch = epoch;
  onEpoch(channel.index, epoch);
}
