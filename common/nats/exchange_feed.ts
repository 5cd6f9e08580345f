/**
 * The feed of `stream_per_exchange`: one {@linkcode NatsFeed} per exchange
 * stream (`{stream}_{EXCHANGE}`), merged by arrival. Order holds per
 * (exchange, symbol), which lives in one stream; each part keeps its own
 * consumer, acknowledgements, loss watch and redelivery hold, its durable
 * named `{durable}_{EXCHANGE}`.
 *
 * @module
 */

import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConsumerConfig } from "../config/mod.ts";
import type { Labels, MetricFamily } from "../metrics/exposition.ts";
import { delay } from "../runtime/delay.ts";
import type { Logger } from "../runtime/log.ts";
import type {
  FeedStatus,
  LossCause,
  OnTick,
  StreamStats,
  SubscribeOptions,
  TradeFeed,
} from "../transport/feed.ts";
import { exchangeStreamName } from "../wire/subjects.ts";
import { connectNats, natsPermissionError } from "./connection.ts";
import { partConsumers } from "./_exchange_start.ts";
import {
  type ExchangeStream,
  exchangeStream,
  ExchangeStreamFinder,
} from "./_exchange_streams.ts";
import { checkFeedOptions, NatsFeed, type NatsFeedOptions } from "./feed.ts";
import { NATS_FEED_LOSS_CAUSES, natsFeedFamilies } from "./feed_metrics.ts";
import { mergedReadings, Part } from "./_exchange_part.ts";

const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** How often a feed of every exchange looks for exchange streams created since. */
export const EXCHANGE_STREAMS_POLL_MS = 2000;

/**
 * Reads trades from the per-exchange streams of `options.streamName`: the
 * configured exchange's, or, for every exchange, each one the server has
 * (looked for again every {@linkcode EXCHANGE_STREAMS_POLL_MS} while it
 * runs). A stream found after the start is read from its first message
 * (it holds only what came after the start). Stream indexes are the
 * merged ones, in order of announcement over all the parts.
 */
export class ExchangeStreamsFeed implements TradeFeed {
  /** Transport name. */
  readonly name = "nats";
  /** The causes of loss this feed counts. */
  readonly lossCauses: readonly LossCause[] = NATS_FEED_LOSS_CAUSES;
  #options: NatsFeedOptions;
  #log: Logger;
  #parts: Part[] = [];
  #indexes: { part: Part; local: number }[] = [];
  #subscribed = false;

  /**
   * Checks the options like {@linkcode NatsFeed}; nothing is opened until
   * {@linkcode subscribeTrades}.
   */
  constructor(options: NatsFeedOptions) {
    checkFeedOptions(options);
    this.#options = options;
    this.#log = options.log ?? SILENT;
  }

  /** The NATS consumer families, summed over the parts. */
  metrics(_streams?: readonly Labels[]): MetricFamily[] {
    return natsFeedFamilies(mergedReadings(this.#parts.map((p) => p.feed)));
  }

  /** Rows by merged stream index, then each part's `"*"` row of invalid messages. */
  stats(): StreamStats[] {
    const rows = this.#parts.map((part) => part.feed.stats());
    const merged = this.#indexes.map(({ part, local }) =>
      rows[this.#parts.indexOf(part)][local]
    );
    rows.forEach((own, p) => merged.push(...own.slice(this.#parts[p].count)));
    return merged;
  }

  /** Connected when every part is; idle when every part is. */
  status(): FeedStatus {
    const all = this.#parts.map((part) => ({ part, s: part.feed.status() }));
    return {
      connected: all.length > 0 && all.every(({ s }) => s.connected),
      idle: all.length > 0 && all.every(({ s }) => s.idle),
      detail: all.length === 0
        ? "no exchange stream yet"
        : all.map(({ part, s }) => `${part.stream}: ${s.detail}`).join("; "),
    };
  }

  /**
   * Like {@linkcode NatsFeed.subscribeTrades}, one consumer per exchange
   * stream, until the signal aborts, a part fails (the others are stopped
   * and the error is thrown) or `limit` trades went through in all. Once per
   * feed.
   */
  async subscribeTrades(
    symbols: readonly string[],
    onTick: OnTick,
    options: SubscribeOptions = {},
  ): Promise<void> {
    // Its parts and indexes are this subscription's: a second one would
    // take the streams already found as read.
    if (this.#subscribed) {
      throw new Error(
        "ExchangeStreamsFeed.subscribeTrades was called twice: one subscription per feed; create another feed",
      );
    }
    this.#subscribed = true;
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.signal?.aborted) stop.abort();
    const limit = options.limit && options.limit > 0 ? options.limit : 0;
    let delivered = 0;
    const counted: OnTick = (trade, origin, stream) => {
      onTick(trade, origin, stream);
      if (limit > 0 && ++delivered >= limit) stop.abort();
    };
    const start = (found: ExchangeStream, consumer: NatsConsumerConfig) =>
      this.#start(found, { symbols, onTick: counted, options, stop, consumer });
    try {
      const { consumer } = this.#options;
      if (consumer.exchange !== undefined) {
        start(
          exchangeStream(this.#options.streamName, consumer.exchange),
          consumer,
        );
      } else await this.#follow(start, stop.signal);
      await Promise.all(this.#parts.map((part) => part.done));
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
      stop.abort();
      await Promise.allSettled(this.#parts.map((part) => part.done));
    }
  }

  /** Starts a part for each exchange stream on the server, now and every poll until stopped. */
  async #follow(
    start: (found: ExchangeStream, consumer: NatsConsumerConfig) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const { connection, streamName } = this.#options;
    const nc = await connectNats(connection, {
      log: this.#log,
      role: "consumer",
      signal,
    }).catch((error) => {
      if (signal.aborted) return undefined;
      throw error;
    });
    if (nc === undefined) return;
    // A stop ends a listing in flight at once, as it does the wait.
    const close = () => void nc.close();
    signal.addEventListener("abort", close, { once: true });
    try {
      const jsm = await jetstreamManager(nc, { checkAPI: false });
      const finder = new ExchangeStreamFinder(jsm, {
        base: streamName,
        prefix: this.#options.subjectPrefix,
        log: this.#log,
      });
      let first = true;
      while (!signal.aborted) {
        // A failed look (a reconnect under way) is retried at the next poll;
        // a refused one (a permission) fails the feed.
        const started = await this.#startNew(jsm, {
          finder,
          start,
          late: !first,
        })
          .catch((error) => {
            const refused = natsPermissionError(error);
            if (refused !== undefined) throw refused;
            if (!signal.aborted) {
              this.#log.warn(
                `looking for streams ${streamName}_{EXCHANGE} failed (${
                  error instanceof Error ? error.message : String(error)
                }): again in ${EXCHANGE_STREAMS_POLL_MS} ms`,
              );
            }
            return undefined;
          });
        if (started === 0 && first) {
          this.#log.info(
            `no stream ${streamName}_{EXCHANGE} yet (stream_per_exchange): waiting for one`,
          );
        }
        if (started !== undefined) first = false;
        // A part that fails aborts `signal`: the wait ends at once.
        await delay(EXCHANGE_STREAMS_POLL_MS, signal);
      }
    } finally {
      signal.removeEventListener("abort", close);
      await nc.close();
    }
  }

  /**
   * Starts a part for each exchange stream on the server without one, each
   * from its start (see `_exchange_start.ts`); how many streams there are.
   */
  async #startNew(
    jsm: JetStreamManager,
    how: {
      finder: ExchangeStreamFinder;
      start: (found: ExchangeStream, consumer: NatsConsumerConfig) => void;
      late: boolean;
    },
  ): Promise<number> {
    const found = await how.finder.look();
    const known = new Set(this.#parts.map((part) => part.stream));
    const fresh = found.filter((each) => !known.has(each.stream));
    const consumers = await partConsumers(jsm, fresh, {
      consumer: this.#options.consumer,
      late: how.late,
      log: this.#log,
    });
    fresh.forEach((each, i) => how.start(each, consumers[i]));
    return found.length;
  }

  /** A part reading `found`'s stream, its indexes mapped to merged ones. */
  #start(
    found: ExchangeStream,
    run: {
      symbols: readonly string[];
      onTick: OnTick;
      options: SubscribeOptions;
      stop: AbortController;
      consumer: NatsConsumerConfig;
    },
  ): void {
    const { consumer } = run;
    const feed = new NatsFeed({
      ...this.#options,
      streamName: found.stream,
      resumeRuleStart: true,
      consumer: {
        ...consumer,
        exchange: found.exchange,
        durableName: consumer.durableName === undefined
          ? undefined
          : exchangeStreamName(consumer.durableName, found.exchange),
      },
    });
    const part = new Part(found.stream, feed);
    this.#parts.push(part);
    part.run(run.symbols, run.onTick, {
      options: run.options,
      stop: run.stop,
      announce: (local) => {
        this.#indexes.push({ part, local });
        return this.#indexes.length - 1;
      },
    });
  }
}
