/**
 * What the in-process tests of the shared-memory feed share: a
 * subscription that records deliveries and events, publishing numbered
 * trades, waiting for a condition, and forging a foreign segment.
 *
 * @module
 */

import assert from "node:assert/strict";
import { encodeTrade } from "../common/wire/codec.ts";
import {
  createSegment,
  type RingWriter,
  segmentSize,
  unmapSegment,
} from "../common/ipc/mod.ts";
import { TRADE_RECORD_SIZE } from "../common/wire/trade.ts";
import { LIVENESS_MS, type ShmScope } from "./_ipc_roles.ts";
import { numberedTrade } from "./_ring_helpers.ts";
import { until as waitUntil } from "./_until.ts";
import type {
  FeedEvent,
  SkipTrade,
  TradeGap,
} from "../common/transport/feed.ts";
import { RingFeed, type RingFeedOptions } from "../common/ipc/ring_feed.ts";

/** A delivered trade, copied out of the callback. */
export interface Delivered {
  symbol: number;
  exchange: string;
  name: string;
  seq: number;
}

const record = new Uint8Array(TRADE_RECORD_SIZE);

/** Publishes trades with seqs `from`..`to` (inclusive) into `writer`. */
export function publish(writer: RingWriter, from: number, to: number): void {
  const now = BigInt(Date.now()) * 1_000_000n;
  for (let seq = from; seq <= to; seq++) {
    encodeTrade(numberedTrade(seq, now), record);
    writer.write(record);
  }
}

/** `first`, `first + 1`, …, `last`. */
export function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

/** Waits until `condition` holds, for at most LIVENESS_MS of the wall clock (one test freezes performance.now). */
export function until(condition: () => boolean, what: string): Promise<void> {
  return waitUntil(condition, what, { timeoutMs: LIVENESS_MS, pollMs: 1 });
}

/** A running subscription: what it delivered and reported, and how to stop it. */
export interface Subscription {
  feed: RingFeed;
  delivered: Delivered[];
  events: FeedEvent[];
  /** The streams announced (`onStream`), by index, as `exchange symbol`. */
  streams: string[];
  /** The gaps delivered (`onGap`). */
  gaps: TradeGap[];
  /** Trades and gaps in the order delivered. */
  timeline: (Delivered | TradeGap)[];
  /** Resolves (or rejects) when subscribeTrades does. */
  done: Promise<void>;
  /** Waits for it to end by itself (its limit); after LIVENESS_MS, stops it and throws. */
  ended(): Promise<void>;
  /** Aborts it and waits for it to end. */
  stop(): Promise<void>;
  /** The seqs delivered for symbol index `symbol`. */
  seqs(symbol?: number): number[];
  /** Has an event of `kind` (for `symbol`, if given) been reported? */
  saw(kind: FeedEvent["kind"], symbol?: string): boolean;
}

export function subscribe(
  shm: ShmScope,
  symbols: string[],
  options: Partial<RingFeedOptions> & { limit?: number; skip?: SkipTrade } = {},
): Subscription {
  const { limit, skip, ...feedOptions } = options;
  const feed = new RingFeed({
    exchange: "binance",
    shmPathPrefix: shm.prefix,
    ...feedOptions,
  });
  const controller = new AbortController();
  const delivered: Delivered[] = [];
  const events: FeedEvent[] = [];
  const streams: string[] = [];
  const gaps: TradeGap[] = [];
  const timeline: (Delivered | TradeGap)[] = [];
  const done = feed.subscribeTrades(
    symbols,
    (trade, origin, symbol) => {
      const entry = {
        symbol,
        exchange: origin.exchange,
        name: origin.symbol,
        seq: trade.seq,
      };
      delivered.push(entry);
      timeline.push(entry);
    },
    {
      signal: controller.signal,
      limit,
      skip,
      onEvent: (e) => events.push(e),
      onGap: (gap) => {
        gaps.push(gap);
        timeline.push(gap);
      },
      onStream: (origin, index) => {
        assert.equal(index, streams.length, "streams announced in order");
        streams.push(`${origin.exchange} ${origin.symbol}`);
      },
    },
  );
  return {
    feed,
    delivered,
    events,
    streams,
    gaps,
    timeline,
    done,
    async stop() {
      controller.abort();
      await done;
    },
    async ended() {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), LIVENESS_MS);
      });
      try {
        if (await Promise.race([done, late]) !== "late") return;
      } finally {
        clearTimeout(timer);
      }
      controller.abort();
      await done;
      throw new Error(
        `the subscription did not end by itself; delivered ${
          JSON.stringify(delivered.map((d) => d.seq))
        }`,
      );
    },
    seqs: (symbol = 0) =>
      delivered.filter((d) => d.symbol === symbol).map((d) => d.seq),
    saw: (kind, symbol) =>
      events.some((e) =>
        e.kind === kind && (symbol === undefined || e.symbol === symbol)
      ),
  };
}

/** Creates segment `name` sized like a 64-slot ring, with a foreign magic. */
export function forgeSegment(name: string): void {
  const segment = createSegment(name, segmentSize(64));
  new DataView(segment.buffer).setUint32(0, 0xdeadbeef, true);
  unmapSegment(segment);
}
