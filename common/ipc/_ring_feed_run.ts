/**
 * One subscription of a `RingFeed`: what its loop, its abort
 * handler and its clean-up share, and where each channel's trades go.
 *
 * @module
 */

import type { RingReader } from "./ring_reader.ts";
import { RingState } from "./layout.ts";
import type { RingWaiter } from "./wait_strategy.ts";
import type { DeliverTo } from "../transport/deliver.ts";
import type { RingSearch } from "./_ring_search.ts";
import type { Channel } from "./_ring_feed_channel.ts";
import type {
  FeedEvent,
  OnEpoch,
  OnGap,
  OnTick,
  SkipTrade,
  SubscribeOptions,
} from "../transport/feed.ts";
import { NO_EPOCH } from "../wire/run_epoch.ts";

/** Where `channel`'s trades of `run` go (made once per channel and run). */
export function ringBatch(channel: Channel, run: Run): DeliverTo {
  const batch = run.batches[channel.index] ??= {
    onTick: run.onTick,
    skip: run.skip,
    origin: channel.origin,
    stream: channel.index,
    place: { streamSeq: 0, epoch: NO_EPOCH }, // not from JetStream
  };
  // The epoch of the ring it reads now (a replaced ring has another).
  batch.place.epoch = channel.epoch ?? NO_EPOCH;
  return batch;
}

/** One subscription's loop and what its abort handler and clean-up need. */
export interface Run {
  readonly channels: readonly Channel[];
  readonly waiter: RingWaiter;
  readonly search: RingSearch<Channel>;
  readonly onTick: OnTick;
  /** Trades to deliver before the subscription ends (Infinity: no limit). */
  readonly limit: number;
  readonly signal: AbortSignal | undefined;
  readonly emit: (event: FeedEvent) => void;
  readonly onGap: OnGap | undefined;
  readonly onStream: SubscribeOptions["onStream"];
  readonly onEpoch: OnEpoch | undefined;
  readonly skip: SkipTrade | undefined;
  /** What each channel's batches are handed to `deliverTrades` with, by stream index. */
  readonly batches: DeliverTo[];
  /** The attached readers, as of their last change. */
  readers: RingReader[];
}

/** The ring was closed and its reader has read everything. */
export function closedAndDrained(reader: RingReader): boolean {
  return reader.state() === RingState.Closed && !reader.hasData();
}

/** The attached readers of `channels`. */
export function active(channels: readonly Channel[]): RingReader[] {
  return channels.flatMap((channel) => channel.reader ? [channel.reader] : []);
}
