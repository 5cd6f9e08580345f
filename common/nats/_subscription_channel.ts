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
import { NO_EPOCH } from "../wire/run_epoch.ts";

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
  /** The run epoch of its last delivered message (-1: none yet). */
  epoch: number;
  /** The epochs its messages had before {@linkcode epoch} (runs taken over or restarted): fenced. */
  superseded: number[];
  /** Trades dropped: their message was of a superseded epoch ({@linkcode noteEpoch}). */
  fenced: number;
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
    superseded: [],
    fenced: 0,
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

/** Superseded epochs kept per channel. */
const SUPERSEDED_KEPT = 16;

/** What {@linkcode noteEpoch} returns for a message of a superseded epoch. */
export const FENCED = -1;

/**
 * The run epoch of `message` (of `channel`), told to `onEpoch` when it
 * differs from the last one's; {@linkcode FENCED} when it is an epoch the
 * channel's messages had before a later one: a publisher taken over (its
 * frames delayed in the network landed after the new owner's) or a run
 * restarted (a late publish of the old run). Its trades are duplicates of
 * what the new owner published, or older than trades delivered already (the
 * restart's gap covers them): dropped, not delivered out of order.
 * Messages without an epoch ({@linkcode NO_EPOCH}) are never fenced.
 */
export function noteEpoch(
  channel: Channel,
  message: JsMsg,
  onEpoch?: OnEpoch,
): number {
  const epoch = messageEpoch(message);
  if (epoch === channel.epoch) return epoch;
  if (epoch !== NO_EPOCH && channel.superseded.includes(epoch)) return FENCED;
  if (channel.epoch > NO_EPOCH) {
    // The last few runs: a run's late frames come within a takeover's time.
    if (channel.superseded.push(channel.epoch) > SUPERSEDED_KEPT) {
      channel.superseded.shift();
    }
  }
  channel.epoch = epoch;
  onEpoch?.(channel.index, epoch);
  return epoch;
}
