/**
 * One subscribed symbol of a {@linkcode RingFeed}: its ring, its reader and
 * its counters, and how they read as stream stats and feed status.
 *
 * @module
 */

import type { ProducerStatus } from "./_producer_watch.ts";
import type { RingReader } from "./ring_reader.ts";
import { segmentName } from "../wire/mod.ts";
import type { FeedStatus, StreamStats } from "../transport/feed.ts";
import { GapTrack } from "./_ring_feed_gaps.ts";

/** One subscribed symbol's ring and counters (its stream index is its place in the list). */
export interface Channel {
  /** Stream index. */
  index: number;
  /** Exchange, lower case. */
  exchange: string;
  /** Symbol, upper case. */
  symbol: string;
  /** The (exchange, symbol) handed to the callback with each trade. */
  origin: { exchange: string; symbol: string };
  /** The ring's segment name. */
  name: string;
  /** The attached reader, or undefined while waiting for the ring. */
  reader: RingReader | undefined;
  /** Epoch of the last ring followed (to tell a restart from the same dead ring). */
  epoch: number | undefined;
  /** The producer's status, or `"waiting"` before the ring exists. */
  state: ProducerStatus | "waiting";
  /** The wait was reported (once per wait). */
  waitReported: boolean;
  /** A segment under the name was refused since the last attach (reported once). */
  refusedReported: boolean;
  /** Trades delivered. */
  received: number;
  /** Trades skipped (`SubscribeOptions.skip`). */
  skipped: number;
  /** Losses of readers already closed. */
  lostBefore: number;
  /** The part of lostBefore in corrupt slots. */
  corruptBefore: number;
  /** The part of lostBefore lost to evictions. */
  evictedBefore: number;
  /** Corrupt-slot losses already reported. */
  reportedCorrupt: number;
  /** Losses to evictions already reported. */
  reportedEvicted: number;
  /** Times the producer evicted this stream's tethered reader. */
  evictions: number;
  /** A reader that found no free registry slot was reported (once). */
  unregisteredReported: boolean;
  /** Gaps not delivered yet. */
  gaps: GapTrack;
  /** Records that failed validation. */
  invalid: number;
  /** Producer restarts seen. */
  restarts: number;
  /** Losses already reported. */
  reportedLost: number;
  /** When losses were last reported (performance.now() ms). */
  reportedLostAt: number;
  /** When the consumer was last reported far behind (performance.now() ms). */
  reportedBehindAt: number;
}

/** The channels of `symbols` on `exchange`, waiting, their rings named with `shmPathPrefix`. */
export function newChannels(
  symbols: readonly string[],
  exchange: string,
  shmPathPrefix: string,
): Channel[] {
  return symbols.map((symbol, index) => ({
    index,
    exchange,
    symbol,
    origin: { exchange, symbol },
    name: segmentName(shmPathPrefix, exchange, symbol),
    reader: undefined,
    epoch: undefined,
    state: "waiting",
    waitReported: false,
    refusedReported: false,
    received: 0,
    skipped: 0,
    lostBefore: 0,
    corruptBefore: 0,
    evictedBefore: 0,
    reportedCorrupt: 0,
    reportedEvicted: 0,
    evictions: 0,
    unregisteredReported: false,
    gaps: new GapTrack(),
    invalid: 0,
    restarts: 0,
    reportedLost: 0,
    reportedLostAt: -Infinity, // the first loss is reported at once
    reportedBehindAt: -Infinity,
  }));
}

/** Closes the channel's reader, if any, keeping its losses (and their gaps). */
export function detach(channel: Channel): void {
  const reader = channel.reader;
  if (reader === undefined) return;
  channel.lostBefore += reader.lost;
  channel.corruptBefore += reader.corrupt;
  channel.evictedBefore += reader.evictedLoss;
  channel.gaps.note(reader);
  channel.gaps.detached();
  channel.reader = undefined;
  reader.close();
}

/** The counters of one channel's stream. */
export function channelStats(channel: Channel): StreamStats {
  const lost = channel.lostBefore + (channel.reader?.lost ?? 0);
  const corrupt = channel.corruptBefore + (channel.reader?.corrupt ?? 0);
  const evicted = channel.evictedBefore + (channel.reader?.evictedLoss ?? 0);
  return {
    exchange: channel.exchange,
    symbol: channel.symbol,
    received: channel.received,
    skipped: channel.skipped,
    lost,
    lostBy: {
      overwritten: lost - corrupt - evicted,
      "corrupt slot": corrupt,
      ...(evicted > 0 ? { evicted } : {}),
    },
    invalid: channel.invalid,
    lag: channel.reader?.lag() ?? 0,
    capacity: channel.reader?.capacity,
    restarts: channel.restarts,
    evictions: channel.evictions,
    state: channel.state,
  };
}

/**
 * Connected when every subscribed ring is attached to a live producer
 * (heartbeat moving); such a producer is flowing or idle by its own choice.
 */
export function feedStatus(channels: readonly Channel[]): FeedStatus {
  const down = channels.filter((channel) => channel.state !== "alive");
  const lag = channels.reduce(
    (total, channel) => total + (channel.reader?.lag() ?? 0),
    0,
  );
  return {
    connected: channels.length > 0 && down.length === 0,
    idle: down.length === 0 && lag === 0,
    detail: channels.length === 0
      ? "not subscribed"
      : down.length === 0
      ? `${channels.length} ring(s) attached to live producers`
      : down.map((channel) => `${channel.symbol} ${channel.state}`).join(
        ", ",
      ),
  };
}
