/**
 * The shared-memory exchange: follows one ring per symbol, waits for rings
 * that do not exist yet, and follows producer restarts.
 *
 * @module
 */

import { WireFormatError } from "../common/codec.ts";
import { delay } from "../common/delay.ts";
import {
  type ProducerStatus,
  type ReaderStart,
  ringEpoch,
  RingNotFoundError,
  RingReader,
  RingState,
  RingWaiter,
  segmentName,
  type WaitStrategy,
  yieldToEventLoop,
} from "../common/ipc/mod.ts";
import { TRADE_RECORD_SIZE } from "../common/trade.ts";
import { TradeView } from "../common/trade_view.ts";
import { streamEvent } from "./_exchange_events.ts";
import type {
  Exchange,
  ExchangeEvent,
  ExchangeStatus,
  OnTick,
  StreamStats,
  SubscribeOptions,
} from "./exchange.ts";

/** Options of {@linkcode IpcExchange}. */
export interface IpcExchangeOptions {
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
   */
  blockingSleepMs?: number;
}

/** One subscribed symbol's ring and counters (its stream index is its place in the list). */
interface Channel {
  index: number;
  exchange: string;
  symbol: string;
  origin: { exchange: string; symbol: string };
  name: string;
  reader: RingReader | undefined;
  /** Epoch of the last ring followed (to tell a restart from the same dead ring). */
  epoch: number | undefined;
  state: ProducerStatus | "waiting";
  waitReported: boolean;
  received: number;
  /** Losses of readers already closed. */
  lostBefore: number;
  invalid: number;
  restarts: number;
  reportedLost: number;
  reportedLostAt: number;
  /** When the consumer was last reported far behind (performance.now() ms). */
  reportedBehindAt: number;
}

/** Trades copied out of a ring per read. */
const BATCH = 256;
/** How often producers are checked, ms. */
const CHECK_EVERY_MS = 100;
/** How often a missing ring is looked for, ms (a fast producer fills a ring in milliseconds). */
const ATTACH_RETRY_MS = 5;
/** A busy consumer lets the event loop run at least this often, ms. */
const YIELD_EVERY_MS = 2;
/** How often an idle consumer looks for a closed, drained ring to hand over, ms. */
const CLOSED_CHECK_MS = 1;
/** Loss events per symbol at most this often, ms. */
const LOST_REPORT_MS = 1000;
/** A reader this far behind the writer (fraction of the ring) is reported. */
export const BEHIND_FRACTION = 0.5;
/** "Behind" events per symbol at most this often, ms. */
const BEHIND_REPORT_MS = 5000;

/** Reads trades from the shared-memory rings of one exchange. */
export class IpcExchange implements Exchange {
  /** Exchange name. */
  readonly name = "ipc";
  #options: Required<IpcExchangeOptions>;
  #channels: Channel[] = [];

  /** Creates the exchange; nothing is opened until {@linkcode subscribeTrades}. */
  constructor(options: IpcExchangeOptions) {
    this.#options = {
      wait: "backoff",
      from: "newest",
      spinMs: 0.02,
      staleAfterMs: 3000,
      blockingSleepMs: 10,
      ...options,
    };
  }

  /** Counters per subscribed symbol (one stream each, of the one exchange). */
  stats(): StreamStats[] {
    return this.#channels.map((channel) => ({
      exchange: channel.exchange,
      symbol: channel.symbol,
      received: channel.received,
      lost: channel.lostBefore + (channel.reader?.lost ?? 0),
      invalid: channel.invalid,
      lag: channel.reader?.lag() ?? 0,
      restarts: channel.restarts,
      state: channel.state,
    }));
  }

  /**
   * Connected when every subscribed ring is attached to a live producer
   * (heartbeat moving); such a producer is flowing or idle by its own choice.
   */
  status(): ExchangeStatus {
    const down = this.#channels.filter((channel) => channel.state !== "alive");
    const lag = this.#channels.reduce(
      (total, channel) => total + (channel.reader?.lag() ?? 0),
      0,
    );
    return {
      connected: this.#channels.length > 0 && down.length === 0,
      idle: down.length === 0 && lag === 0,
      detail: this.#channels.length === 0
        ? "not subscribed"
        : down.length === 0
        ? `${this.#channels.length} ring(s) attached to live producers`
        : down.map((channel) => `${channel.symbol} ${channel.state}`).join(
          ", ",
        ),
    };
  }

  /**
   * Follows the rings of `symbols` and calls `onTick` for each trade, in ring
   * order per symbol, until the signal aborts or `limit` trades were
   * delivered. Rings that do not exist yet are waited for (and then read from
   * their first trade); running rings start at `from`. Stream `i` is
   * `symbols[i]` on the configured exchange, announced to `onStream` at once.
   *
   * @throws {RingFormatError} when a segment is not a ring this version reads.
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
    this.#channels = symbols.map((symbol, index) => ({
      index,
      exchange,
      symbol,
      origin: { exchange, symbol },
      name: segmentName(shmPathPrefix, exchange, symbol),
      reader: undefined,
      epoch: undefined,
      state: "waiting",
      waitReported: false,
      received: 0,
      lostBefore: 0,
      invalid: 0,
      restarts: 0,
      reportedLost: 0,
      reportedLostAt: -Infinity, // the first loss is reported at once
      reportedBehindAt: -Infinity,
    }));
    const channels = this.#channels;
    for (const channel of channels) {
      options.onStream?.(channel.origin, channel.index);
    }
    const waiter = new RingWaiter(this.#options.wait, {
      spinMs: this.#options.spinMs,
      maxSleepMs: CHECK_EVERY_MS,
      blockingSleepMs: this.#options.blockingSleepMs,
    });
    let readers: RingReader[] = [];
    const interrupt = () => waiter.interrupt(readers);
    signal?.addEventListener("abort", interrupt, { once: true });
    const buffer = new Uint8Array(BATCH * TRADE_RECORD_SIZE);
    const view = new TradeView();
    let delivered = 0;
    try {
      for (const channel of channels) {
        this.#attach(channel, this.#options.from, emit);
      }
      readers = active(channels);
      let nextCheck = performance.now() + CHECK_EVERY_MS;
      let lastYield = performance.now();
      let nextClosedCheck = 0;
      while (!signal?.aborted && delivered < limit) {
        let got = 0;
        for (const channel of channels) {
          const reader = channel.reader;
          if (reader === undefined) continue;
          const wanted = Math.min(BATCH, limit - delivered);
          const count = reader.readMany(buffer, wanted);
          if (count === 0) continue;
          got += count;
          delivered += this.#deliver(channel, buffer, count, view, onTick);
          if (delivered >= limit) break;
        }
        const now = performance.now();
        if (now >= nextCheck) {
          for (const channel of channels) this.#check(channel, now, emit);
          readers = active(channels);
          nextCheck = now +
            (readers.length < channels.length
              ? ATTACH_RETRY_MS
              : CHECK_EVERY_MS);
        }
        if (got > 0) {
          waiter.busy();
          if (now - lastYield >= YIELD_EVERY_MS) {
            lastYield = now;
            await yieldToEventLoop();
          }
        } else if (readers.length === 0) {
          await delay(ATTACH_RETRY_MS, signal);
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
            lastYield = performance.now();
          }
        }
      }
    } finally {
      signal?.removeEventListener("abort", interrupt);
      await waiter.interrupt(readers);
      for (const channel of channels) this.#detach(channel);
    }
  }

  /** Hands `count` records to the callback, skipping (and counting) invalid ones. */
  #deliver(
    channel: Channel,
    buffer: Uint8Array,
    count: number,
    view: TradeView,
    onTick: OnTick,
  ): number {
    try {
      view.wrap(buffer.subarray(0, count * TRADE_RECORD_SIZE));
      for (let i = 0; i < count; i++) {
        onTick(view.select(i), channel.origin, channel.index);
      }
      channel.received += count;
      return count;
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
      onTick(view, channel.origin, channel.index);
      delivered++;
    }
    channel.received += delivered;
    return delivered;
  }

  /**
   * Opens the channel's ring if it exists and is a new incarnation. Returns
   * whether it is now attached.
   */
  #attach(
    channel: Channel,
    from: ReaderStart,
    emit: (event: ExchangeEvent) => void,
  ): boolean {
    let reader: RingReader;
    try {
      // The header alone tells the ring already followed (e.g. a dead
      // producer's) from a new one, without mapping all of it.
      if (ringEpoch(channel.name) === channel.epoch) return false;
      reader = RingReader.open(channel.name, { from });
    } catch (error) {
      if (!(error instanceof RingNotFoundError)) throw error;
      if (channel.state === "waiting" && !channel.waitReported) {
        emit(
          streamEvent(channel, "waiting", `waiting for ring ${channel.name}`),
        );
        channel.waitReported = true;
      }
      return false;
    }
    if (reader.epoch === channel.epoch) {
      reader.close(); // replaced back in between: still the old one
      return false;
    }
    const restarted = channel.epoch !== undefined;
    if (restarted) channel.restarts++;
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
    return true;
  }

  #detach(channel: Channel): void {
    const reader = channel.reader;
    if (reader === undefined) return;
    channel.lostBefore += reader.lost;
    channel.reader = undefined;
    reader.close();
  }

  /** Periodic check: producer health, losses, rings that appeared or were replaced. */
  #check(
    channel: Channel,
    now: number,
    emit: (event: ExchangeEvent) => void,
  ): void {
    const reader = channel.reader;
    if (reader === undefined) {
      this.#attach(channel, "first", emit);
      return;
    }
    const lost = channel.lostBefore + reader.lost;
    if (
      lost > channel.reportedLost &&
      now - channel.reportedLostAt >= LOST_REPORT_MS
    ) {
      emit(streamEvent(
        channel,
        "lapped",
        `consumer too slow: the producer overwrote ${
          lost - channel.reportedLost
        } trades before they were read (${lost} lost in total)`,
      ));
      channel.reportedLost = lost;
      channel.reportedLostAt = now;
    }
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
        }% of the ring) behind the producer: trades are lost once it falls a whole ring behind (a slow strategy or recorder?)`,
      ));
      channel.reportedBehindAt = now;
    }
    const status = reader.producerStatus(now, this.#options.staleAfterMs);
    const previous = channel.state;
    if (status === previous) {
      if (status === "closed" || status === "dead") this.#leave(channel, emit);
      return;
    }
    channel.state = status;
    const silent = (reader.silentFor(now) / 1000).toFixed(1);
    switch (status) {
      case "alive":
        if (previous === "stalled") {
          emit(streamEvent(channel, "recovered", "producer heartbeat is back"));
        }
        break;
      case "stalled":
        emit(streamEvent(
          channel,
          "stalled",
          `producer pid ${reader.producerPid} is alive but its heartbeat stopped ${silent}s ago`,
        ));
        break;
      case "dead":
        emit(streamEvent(
          channel,
          "dead",
          `producer pid ${reader.producerPid} died (no heartbeat for ${silent}s); waiting for a new one`,
        ));
        this.#leave(channel, emit);
        break;
      case "closed":
        emit(streamEvent(
          channel,
          "closed",
          `producer closed ${reader.name}; waiting for a new one`,
        ));
        this.#leave(channel, emit);
        break;
    }
  }

  /** Once a closed or dead ring is drained, lets it go and looks for its successor. */
  #leave(channel: Channel, emit: (event: ExchangeEvent) => void): void {
    if (channel.reader?.hasData()) return; // drain first
    const state = channel.state;
    this.#detach(channel);
    channel.state = state;
    this.#attach(channel, "first", emit);
  }
}

function closedAndDrained(reader: RingReader): boolean {
  return reader.state() === RingState.Closed && !reader.hasData();
}

function active(channels: readonly Channel[]): RingReader[] {
  return channels.flatMap((channel) => channel.reader ? [channel.reader] : []);
}
