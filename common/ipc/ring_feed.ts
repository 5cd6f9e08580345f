/**
 * The shared-memory exchange: follows one ring per symbol, waits for rings
 * that do not exist yet, and follows producer restarts. Beside it: each
 * symbol's channel and its stats (`_ring_feed_channel.ts`), what the periodic
 * check reports (`_ring_feed_check.ts`), the gaps delivered with the trades
 * (`_ring_feed_gaps.ts`), one subscription's shared state
 * (`_ring_feed_run.ts`) and the search for rings not attached
 * (`_ring_search.ts`).
 *
 * @module
 */

import { WireFormatError } from "../wire/codec.ts";
import type { Delivery, ReaderStart } from "./ring_reader.ts";
import { registering } from "./_reader_registration.ts";
import { monotonicMs } from "./_registry.ts";
import { RingTruncatedError } from "./errors.ts";
import { RingWaiter, type WaitStrategy } from "./wait_strategy.ts";
import { LoopPace } from "./_loop_pace.ts";
import { SegmentWatch } from "./segment_watch.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import { TradeView } from "../wire/trade_view.ts";
import { streamEvent } from "../transport/feed_events.ts";
import { deliverTrades } from "../transport/deliver.ts";
import {
  active,
  closedAndDrained,
  ringBatch,
  type Run,
} from "./_ring_feed_run.ts";
import { probeRing, reportMiss, RingSearch } from "./_ring_search.ts";
import {
  type Channel,
  channelStats,
  detach,
  feedStatus,
  newChannels,
} from "./_ring_feed_channel.ts";
import {
  reportBehind,
  reportEviction,
  reportLosses,
  reportUnregistered,
  statusEvent,
} from "./_ring_feed_check.ts";
import { RING_FEED_LOSS_CAUSES, ringFeedFamilies } from "./feed_metrics.ts";
import type { Labels, MetricFamily } from "../metrics/exposition.ts";
import type {
  FeedStatus,
  LossCause,
  OnTick,
  StreamStats,
  SubscribeOptions,
  TradeFeed,
} from "../transport/feed.ts";

/** Options of {@linkcode RingFeed}. */
export interface RingFeedOptions {
  /** Exchange name (part of the segment names). */
  exchange: string;
  /** Segment name prefix, e.g. `/marketbus_`. */
  shmPathPrefix: string;
  /** How to wait when no ring has data (default `backoff`). */
  wait?: WaitStrategy;
  /** Where to start in a ring that is already running (default `newest`). */
  from?: "newest" | "oldest";
  /** `backoff`'s busy-poll time before sleeping, ms (default 0.02). */
  spinMs?: number;
  /** Heartbeat silence after which the producer is reported stalled or dead, ms (default 3000). */
  staleAfterMs?: number;
  /**
   * `backoff` sleeps block the thread for at most this long, ms (default 10;
   * 0 = sleep without blocking the event loop, at ~20 µs more CPU per
   * wake-up). Timers and signals of this process wait at most this long.
   * Sleeps on more than 128 rings never block (docs/ipc_ring.md).
   */
  blockingSleepMs?: number;
  /**
   * The uid that must own every ring (default: this process's own); rings
   * of another owner, or writable by group or others, are refused.
   */
  publisherUid?: number;
  /**
   * `lossy`: a reader a whole ring behind is lapped (its loss counted).
   * `tethered`: the producer waits for it, up to `tetherTimeoutMs`, then
   * evicts it (reported; the loss counted as `evicted`) and it re-tethers.
   *
   * @default {"lossy"}
   */
  delivery?: Delivery;
  /**
   * How long a tethered reader may hold the producer before being evicted,
   * ms (the producer caps it).
   *
   * @default {5000}
   */
  tetherTimeoutMs?: number;
}

/** Trades copied out of a ring per read. */
const BATCH = 256;
/** How often producers are checked, ms. */
const CHECK_EVERY_MS = 100;
/** How often the search for missing rings runs, ms (each name is looked at when due, see _ring_search.ts). */
const ATTACH_RETRY_MS = 5;
/** How often an idle consumer looks for a closed, drained ring to hand over, ms. */
const CLOSED_CHECK_MS = 1;

/** Reads trades from the shared-memory rings of one exchange. */
export class RingFeed implements TradeFeed {
  /** Exchange name. */
  readonly name = "ipc";
  /** Causes of loss counted, in the order of their samples. */
  readonly lossCauses: readonly LossCause[] = RING_FEED_LOSS_CAUSES;
  #options: Required<Omit<RingFeedOptions, "publisherUid">>;
  #publisherUid: number | undefined;
  #channels: Channel[] = [];
  #search: RingSearch<Channel> = new RingSearch(undefined);
  /** The running subscription, and the symbols added before it. */
  #run: Run | undefined;
  #added: string[] = [];

  /**
   * Creates the feed; nothing is opened until {@linkcode subscribeTrades}.
   *
   * @throws {RangeError} for an invalid delivery or tether timeout.
   */
  constructor(options: RingFeedOptions) {
    const { delivery, tetherTimeoutMs } = registering(options);
    this.#options = {
      wait: "backoff",
      from: "newest",
      spinMs: 0.02,
      staleAfterMs: 3000,
      blockingSleepMs: 10,
      ...options,
      delivery,
      tetherTimeoutMs,
    };
    this.#publisherUid = options.publisherUid;
  }

  /** Counters per subscribed symbol (one stream each, of the one exchange). */
  stats(): StreamStats[] {
    return this.#channels.map(channelStats);
  }

  /** `marketbus_ring_lag_trades`, `marketbus_ring_capacity_trades` and `marketbus_ring_evictions_total` of each stream, labelled `streams[index]`. */
  metrics(streams: readonly Labels[]): MetricFamily[] {
    return ringFeedFamilies(this.stats(), streams);
  }

  /**
   * Connected when every subscribed ring is attached to a live producer
   * (heartbeat moving); such a producer is flowing or idle by its own choice.
   */
  status(): FeedStatus {
    return feedStatus(this.#channels);
  }

  /**
   * Follows the rings of `symbols` and calls `onTick` for each trade, in ring
   * order per symbol, until the signal aborts or `limit` trades were
   * delivered. Rings that do not exist yet are waited for (and then read from
   * their first trade); running rings start at `from`. Trades lost (lapped,
   * evicted, corrupt slots) and producer restarts reach `onGap` just before
   * the stream's next trade (or at the end). Stream `i` is
   * `symbols[i]` on the configured exchange, announced to `onStream` at once.
   * A segment that is not a usable ring when the subscription starts makes
   * it fail; one that appears later is reported once and waited past.
   *
   * @throws {RingFormatError} when a segment is not a ring this version reads
   * (or, tethered, when every reader slot of a ring is in use).
   */
  async subscribeTrades(
    symbols: readonly string[],
    onTick: OnTick,
    options: SubscribeOptions = {},
  ): Promise<void> {
    const { signal } = options;
    const emit = options.onEvent ?? (() => {});
    const limit = options.limit && options.limit > 0 ? options.limit : Infinity;
    const { exchange, shmPathPrefix } = this.#options;
    const all = [...new Set([...symbols, ...this.#added])];
    this.#channels = newChannels(all, exchange, shmPathPrefix);
    const channels = this.#channels;
    for (const channel of channels) {
      options.onStream?.(channel.origin, channel.index);
    }
    const waiter = new RingWaiter(this.#options.wait, {
      spinMs: this.#options.spinMs,
      maxSleepMs: CHECK_EVERY_MS,
      blockingSleepMs: this.#options.blockingSleepMs,
    });
    // Watch /dev/shm before the first look, so that no ring appears unseen.
    const search = this.#search = new RingSearch(SegmentWatch.open());
    const run: Run = {
      channels,
      waiter,
      search,
      onTick,
      limit,
      signal,
      emit,
      onGap: options.onGap,
      onStream: options.onStream,
      onEpoch: options.onEpoch,
      skip: options.skip,
      batches: [],
      readers: [],
    };
    this.#run = run;
    const interrupt = () => {
      search.cancel();
      return waiter.interrupt(run.readers);
    };
    signal?.addEventListener("abort", interrupt, { once: true });
    try {
      for (const channel of channels) {
        this.#attach(channel, this.#options.from, run);
      }
      run.readers = active(channels);
      await this.#follow(run);
      // The gaps no trade followed.
      for (const channel of channels) {
        if (channel.reader) channel.gaps.note(channel.reader);
        channel.gaps.flush(channel, undefined, run.onGap);
      }
    } finally {
      this.#run = undefined;
      signal?.removeEventListener("abort", interrupt);
      await waiter.interrupt(run.readers);
      for (const channel of channels) detach(channel);
      waiter.close();
      await search.close();
    }
  }

  /**
   * More symbols (`live --symbols '*'`): before the subscription as if
   * subscribed; during it new streams, from the first trade (`atFrom`: `from`).
   */
  addSymbols(symbols: readonly string[], atFrom = false): void {
    const run = this.#run;
    if (!run) return void this.#added.push(...symbols);
    const known = new Set(this.#channels.map((channel) => channel.symbol));
    const fresh = symbols.filter((symbol) => !known.has(symbol));
    const { exchange, shmPathPrefix: prefix } = this.#options;
    for (const channel of newChannels(fresh, exchange, prefix)) {
      channel.index = this.#channels.length;
      this.#channels.push(channel); // run.channels: the loop reads it next
      run.onStream?.(channel.origin, channel.index);
      try {
        this.#attach(channel, atFrom ? this.#options.from : "first", run);
      } catch { // not a ring (yet): reported once and waited past
        this.#attach(channel, "first", run);
      }
    }
    run.readers = active(this.#channels);
  }

  /**
   * The subscription's loop: reads every attached ring in turn and delivers
   * what it got, checks the producers and looks for missing rings when due,
   * and waits when no ring has data, until the signal aborts or the limit
   * is reached. Keeps `run.readers` current. A busy loop lets the event loop
   * run between rings when due (`_loop_pace.ts`), and stops there when
   * aborted: a pass over hundreds of lapped rings takes seconds.
   */
  async #follow(run: Run): Promise<void> {
    const { channels, waiter, search, limit, signal, emit } = run;
    const buffer = new Uint8Array(BATCH * TRADE_RECORD_SIZE);
    const view = new TradeView();
    let readers = run.readers;
    let delivered = 0;
    let nextCheck = performance.now() + CHECK_EVERY_MS;
    let nextSearch = 0;
    const pace = new LoopPace();
    let nextClosedCheck = 0;
    while (!signal?.aborted && delivered < limit) {
      let got = 0;
      for (const channel of channels) {
        const reader = channel.reader;
        if (reader === undefined) continue;
        if (reader.delivery === "tethered") {
          const eviction = reader.evicted();
          if (eviction) reportEviction(channel, reader, eviction, emit);
        }
        const wanted = Math.min(BATCH, limit - delivered);
        const count = reader.readMany(buffer, wanted);
        // Losses stop a read: all those counted lie before its first trade.
        if (reader.lost !== channel.gaps.lost) channel.gaps.note(reader);
        if (count === 0) continue;
        got += count;
        delivered += this.#deliver(channel, buffer, count, view, run);
        if (delivered >= limit) break;
        // Between rings: a pass over hundreds of lapped ones takes seconds.
        const turn = pace.due(performance.now());
        if (turn) await turn;
        if (signal?.aborted) break;
      }
      const now = performance.now();
      if (now >= nextCheck) {
        const beatMs = monotonicMs();
        for (const channel of channels) {
          this.#check(channel, { now, beatMs }, run);
        }
        readers = run.readers = active(channels);
        nextCheck = now + CHECK_EVERY_MS;
      }
      if (search.size > 0 && now >= nextSearch) {
        nextSearch = now + ATTACH_RETRY_MS;
        for (const channel of search.due(now)) {
          if (channel.reader === undefined) {
            this.#attach(channel, "first", run);
          }
        }
        readers = run.readers = active(channels);
      }
      if (got > 0) {
        waiter.busy();
        const turn = pace.due(now);
        if (turn) await turn;
      } else if (readers.length === 0) {
        await search.idle(now, { retryMs: ATTACH_RETRY_MS, signal });
        nextSearch = 0;
      } else if (
        now >= nextClosedCheck &&
        (nextClosedCheck = now + CLOSED_CHECK_MS,
          readers.some(closedAndDrained))
      ) {
        // Let the check hand the ring over now rather than poll it until
        // the next periodic check. Rate-limited: the state word shares a
        // cache line with the write position, which the producer writes on
        // every commit, and an idle spinning poll would pull that line away.
        nextCheck = now;
      } else {
        const sleeping = waiter.idle(readers);
        if (sleeping) {
          await sleeping;
          pace.ran(performance.now());
        }
      }
    }
  }

  /**
   * Hands `count` records to the callback, skipping (and counting) invalid
   * ones, after the gaps before them.
   */
  #deliver(
    channel: Channel,
    buffer: Uint8Array,
    count: number,
    view: TradeView,
    run: Run,
  ): number {
    const { onGap } = run;
    const gaps = channel.gaps;
    try {
      view.wrap(buffer.subarray(0, count * TRADE_RECORD_SIZE));
      if (gaps.pending) gaps.flush(channel, view.select(0).seq, onGap);
      const skipped = deliverTrades(view, count, ringBatch(channel, run));
      gaps.delivered(view.select(count - 1).seq);
      channel.skipped += skipped;
      channel.received += count - skipped;
      return count - skipped;
    } catch (error) {
      if (!(error instanceof WireFormatError)) throw error;
    }
    // Rare path: deliver the valid records one by one.
    let delivered = 0;
    for (let i = 0; i < count; i++) {
      const record = buffer.subarray(
        i * TRADE_RECORD_SIZE,
        (i + 1) * TRADE_RECORD_SIZE,
      );
      try {
        view.wrap(record);
      } catch (error) {
        if (!(error instanceof WireFormatError)) throw error;
        channel.invalid++;
        continue;
      }
      if (gaps.pending) gaps.flush(channel, view.seq, onGap);
      const skipped = deliverTrades(view, 1, ringBatch(channel, run));
      gaps.delivered(view.seq);
      channel.skipped += skipped;
      delivered += 1 - skipped;
    }
    channel.received += delivered;
    return delivered;
  }

  /**
   * Opens the channel's ring if it exists and is a new incarnation. Returns
   * whether it is now attached; if not, the search looks again later. A
   * segment that is not a usable ring fails the start (`from` is not
   * `first`); later, while waiting for a producer, it is reported once.
   */
  #attach(
    channel: Channel,
    from: ReaderStart,
    run: Pick<Run, "emit" | "onEpoch">,
  ): boolean {
    const emit = run.emit;
    const { reader, miss, refused } = probeRing(channel.name, {
      epoch: channel.epoch,
      from,
      publisherUid: this.#publisherUid,
      delivery: this.#options.delivery,
      tetherTimeoutMs: this.#options.tetherTimeoutMs,
    });
    if (reader === undefined) {
      if (refused && from !== "first") throw refused;
      this.#search.missed(channel, miss, performance.now());
      reportMiss(channel, refused, emit);
      return false;
    }
    this.#search.found(channel);
    channel.refusedReported = false;
    const restarted = channel.epoch !== undefined;
    if (restarted) {
      channel.restarts++;
      channel.gaps.restarted();
    }
    channel.reader = reader;
    channel.epoch = reader.epoch;
    channel.state = "alive";
    emit(streamEvent(
      channel,
      restarted ? "restarted" : "attached",
      `${restarted ? "producer restarted: " : ""}attached to ${reader.name} ` +
        `(pid ${reader.producerPid}, epoch ${
          reader.epoch.toString(16)
        }) at position ${reader.startPosition}`,
    ));
    reportUnregistered(channel, reader, emit);
    run.onEpoch?.(channel.index, reader.epoch);
    return true;
  }

  /**
   * Periodic check of an attached ring: shows the reader lives (its
   * heartbeat, `beatMs`, and position in the reader table), producer
   * health, losses, a producer that closed or died.
   */
  #check(
    channel: Channel,
    { now, beatMs }: { now: number; beatMs: number },
    run: Pick<Run, "emit" | "onEpoch">,
  ): void {
    const emit = run.emit;
    const reader = channel.reader;
    if (reader === undefined) return; // the search looks for it
    try {
      reader.checkSize(); // before anything touches a truncated ring
    } catch (error) {
      if (error instanceof RingTruncatedError) detach(channel);
      throw error;
    }
    reader.publishPosition();
    reader.beat(beatMs);
    reader.skipUnreadable(now);
    reportLosses(channel, reader, now, emit);
    reportBehind(channel, reader, now, emit);
    const status = reader.producerStatus(now, this.#options.staleAfterMs);
    const previous = channel.state;
    if (status === previous) {
      if (status === "closed" || status === "dead") this.#leave(channel, run);
      return;
    }
    channel.state = status;
    const event = statusEvent(channel, reader, status, previous, now);
    if (event !== undefined) emit(event);
    if (status === "dead" || status === "closed") this.#leave(channel, run);
  }

  /** Once a closed or dead ring is drained, lets it go and looks for its successor. */
  #leave(channel: Channel, run: Pick<Run, "emit" | "onEpoch">): void {
    if (channel.reader?.hasData()) return; // drain first
    // The producer will not finish a slot it left unreadable: skip it now.
    if (channel.reader?.skipUnreadable(performance.now(), 0)) return;
    const state = channel.state;
    detach(channel);
    channel.state = state;
    this.#attach(channel, "first", run);
  }
}
