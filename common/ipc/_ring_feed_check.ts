/**
 * What a {@linkcode RingFeed}'s periodic check of an attached ring reports:
 * losses (overwritten trades, lost to evictions, corrupt slots), a consumer
 * far behind its producer, and the producer's changes of state; and what an
 * eviction of a tethered reader does and reports.
 *
 * @module
 */

import type { Channel } from "./_ring_feed_channel.ts";
import type { ProducerStatus } from "./_producer_watch.ts";
import type { Eviction, RingReader } from "./ring_reader.ts";
import { EvictionCause, REGISTRY_SLOTS } from "./layout.ts";
import { STALE_AFTER_MS } from "./_registry.ts";
import { streamEvent } from "../transport/feed_events.ts";
import { formatCount } from "../runtime/format.ts";
import type { FeedEvent, LossCause } from "../transport/feed.ts";

/** Loss events per symbol at most this often, ms. */
const LOST_REPORT_MS = 1000;
/** A reader this far behind the writer (fraction of the ring) is reported. */
export const BEHIND_FRACTION = 0.5;
/** "Behind" events per symbol at most this often, ms. */
const BEHIND_REPORT_MS = 5000;

/** Reports the trades lost since the last report (overwritten, lost to evictions, in corrupt slots), at most once per {@linkcode LOST_REPORT_MS}. */
export function reportLosses(
  channel: Channel,
  reader: RingReader,
  now: number,
  emit: (event: FeedEvent) => void,
): void {
  const corrupt = channel.corruptBefore + reader.corrupt;
  const evicted = channel.evictedBefore + reader.evictedLoss;
  const overwritten = channel.lostBefore + reader.lost - corrupt - evicted;
  const losses: string[] = [];
  if (overwritten > channel.reportedLost) {
    losses.push(
      `consumer too slow: the producer overwrote ${
        overwritten - channel.reportedLost
      } trades before they were read (${overwritten} lost in total)`,
    );
  }
  if (evicted > channel.reportedEvicted) {
    losses.push(
      `lost ${
        evicted - channel.reportedEvicted
      } trades while the producer had evicted this tethered reader (${evicted} in total)`,
    );
  }
  if (corrupt > channel.reportedCorrupt) {
    losses.push(
      `skipped ${
        corrupt - channel.reportedCorrupt
      } trades whose ring slot could not be read (corrupt slot: did another process write ${channel.name}?) (${corrupt} in total)`,
    );
  }
  if (
    losses.length > 0 && now - channel.reportedLostAt >= LOST_REPORT_MS
  ) {
    const lostBy: Partial<Record<LossCause, number>> = {};
    const told = (cause: LossCause, count: number) => {
      if (count > 0) lostBy[cause] = count;
    };
    told("overwritten", overwritten - channel.reportedLost);
    told("evicted", evicted - channel.reportedEvicted);
    told("corrupt slot", corrupt - channel.reportedCorrupt);
    emit(streamEvent(channel, "lost", losses.join("; "), { lostBy }));
    channel.reportedLost = overwritten;
    channel.reportedEvicted = evicted;
    channel.reportedCorrupt = corrupt;
    channel.reportedLostAt = now;
  }
}

/** Reports a reader {@linkcode BEHIND_FRACTION} of its ring or more behind the producer, at most once per {@linkcode BEHIND_REPORT_MS}. */
export function reportBehind(
  channel: Channel,
  reader: RingReader,
  now: number,
  emit: (event: FeedEvent) => void,
): void {
  const lag = reader.lag();
  if (
    lag >= reader.capacity * BEHIND_FRACTION &&
    now - channel.reportedBehindAt >= BEHIND_REPORT_MS
  ) {
    emit(streamEvent(
      channel,
      "behind",
      `consumer is ${lag} trades (${
        Math.round(lag / reader.capacity * 100)
      }% of the ring) behind the producer: ${
        reader.delivery === "tethered" && reader.evicted() === undefined
          ? "it holds the producer once a whole ring behind, and is evicted after its tether timeout of that"
          : "trades are lost once it falls a whole ring behind"
      } (a slow strategy or recorder?)`,
    ));
    channel.reportedBehindAt = now;
  }
}

/** The event for the producer's change from `previous` to `status`, if it is one to report. */
export function statusEvent(
  channel: Channel,
  reader: RingReader,
  status: ProducerStatus,
  previous: Channel["state"],
  now: number,
): FeedEvent | undefined {
  const silent = (reader.silentFor(now) / 1000).toFixed(1);
  switch (status) {
    case "alive":
      return previous === "stalled"
        ? streamEvent(channel, "recovered", "producer heartbeat is back")
        : undefined;
    case "stalled":
      return streamEvent(
        channel,
        "stalled",
        `producer pid ${reader.producerPid} is alive but its heartbeat stopped ${silent}s ago`,
      );
    case "dead":
      return streamEvent(
        channel,
        "dead",
        `producer pid ${reader.producerPid} died (no heartbeat for ${silent}s); waiting for a new one`,
      );
    case "closed":
      return streamEvent(
        channel,
        "closed",
        `producer closed ${reader.name}; waiting for a new one`,
      );
  }
}

/**
 * The producer evicted the channel's tethered reader: tethers it again (or,
 * with no free slot, lets it go on lossy), counts the eviction and reports it.
 */
export function reportEviction(
  channel: Channel,
  reader: RingReader,
  eviction: Eviction,
  emit: (event: FeedEvent) => void,
): void {
  const skipped = reader.retether();
  channel.evictions++;
  const behind = `${formatCount(eviction.lag)} trades behind`;
  const why = eviction.cause === EvictionCause.Dead
    ? `evicted by the producer, which took this reader for dead (no heartbeat for over ${
      (STALE_AFTER_MS / 1000).toFixed(1)
    } s and pid ${Deno.pid} not found: another pid namespace?), ${behind}`
    : eviction.cause === EvictionCause.BacklogFull
    ? `evicted by the producer when its backlog filled up, ${behind}`
    : `evicted by the producer after holding it for its tether timeout (${
      (reader.tetherTimeoutMs / 1000).toFixed(1)
    } s asked, at most the producer's max_tether_timeout), ${behind}`;
  const next = reader.registered
    ? `re-tethering ${formatCount(skipped)} trades further on`
    : `all ${REGISTRY_SLOTS} reader slots of ${reader.name} are in use (deno task rings lists them): continuing lossy, ${
      formatCount(skipped)
    } trades further on`;
  emit(streamEvent(
    channel,
    "evicted",
    `${why}; ${next} (trades lost count as "evicted")`,
  ));
}

/** Reports, once per channel, a reader that runs unregistered: every registry slot of its ring was in use. */
export function reportUnregistered(
  channel: Channel,
  reader: RingReader,
  emit: (event: FeedEvent) => void,
): void {
  if (reader.registered || channel.unregisteredReported) return;
  channel.unregisteredReported = true;
  emit(streamEvent(
    channel,
    "refused",
    `all ${REGISTRY_SLOTS} reader slots of ${reader.name} are in use (deno task rings lists them): reading lossy without registering, unseen by the producer and deno task rings (reported once)`,
  ));
}
