/**
 * The NATS JetStream feed: reads trade messages from a stream through a
 * durable pull consumer (one per trading_core instance, resumed exactly where
 * it acknowledged) or, without a durable name, an ordered ephemeral one.
 *
 * Its parts: the subscription's state (`_subscription.ts`), the consume loop
 * (`_consume_loop.ts`, the ordered consumer) and the durable consumer
 * (`_durable_consumer.ts`), the consumer's status (`_status_watch.ts`), the
 * consumer configuration reconciled with the server's
 * (`_consumer_config.ts`) and the loss accounting (`_feed_loss.ts`).
 *
 * @module
 */

import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import type {
  NatsConnectionConfig,
  NatsConsumerConfig,
} from "../config/mod.ts";
import type { Logger } from "../runtime/log.ts";
import {
  checkPrefix,
  normalizeExchange,
  tradeFilters,
} from "../wire/subjects.ts";
import type {
  FeedStatus,
  LossCause,
  OnTick,
  StreamStats,
  SubscribeOptions,
  TradeFeed,
} from "../transport/feed.ts";
import {
  connectNats,
  type NatsConnectionCounters,
  newConnectionCounters,
} from "./connection.ts";
import { STREAM_LOSS } from "./_feed_loss.ts";
import { describeStart } from "./_consumer_config.ts";
import { watchConnection } from "./_status_watch.ts";
import { Subscription } from "./_subscription.ts";
import { type ConsumerRun, runOrdered } from "./_consume_loop.ts";
import { runDurable } from "./_durable_consumer.ts";
import type { MetricFamily } from "../metrics/exposition.ts";
import { NATS_FEED_LOSS_CAUSES, natsFeedFamilies } from "./feed_metrics.ts";

export { ConsumerConflictError } from "./_consumer_config.ts";
/** The durable consumer's metadata key holding its saved stream positions. */
export { POSITIONS_KEY } from "./_feed_loss.ts";

/** Options of {@linkcode NatsFeed}. */
export interface NatsFeedOptions {
  /** How to reach the servers. */
  connection: NatsConnectionConfig;
  /** The consumer: durable or ordered, exchange filter, start, acknowledgement limits. */
  consumer: NatsConsumerConfig;
  /** The stream to read. */
  streamName: string;
  /** First token(s) of the trade subjects. */
  subjectPrefix: string;
  /** Where the connection logs its state changes (default: nowhere). */
  log?: Logger;
  /**
   * The durable is one exchange stream's (`stream_per_exchange`): an existing
   * one at `all` or `by_start_time` while `new`, `last` or `last_per_subject`
   * is configured was started there by the per-exchange rule and is
   * resumed, not refused.
   *
   * @default false
   */
  resumeRuleStart?: boolean;
}

const SILENT: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/**
 * Checks `options` as {@linkcode NatsFeed} does.
 *
 * @throws {RangeError} when the prefix or exchange is not a valid subject
 * token, or the start time or sequence its deliver policy needs is missing.
 */
export function checkFeedOptions(options: NatsFeedOptions): void {
  const { consumer } = options;
  checkPrefix(options.subjectPrefix);
  if (consumer.exchange !== undefined) normalizeExchange(consumer.exchange);
  const { startTime, startSequence } = consumer;
  if (
    consumer.deliver === "by_start_time" &&
    !(startTime instanceof Date && !Number.isNaN(startTime.getTime()))
  ) {
    throw new RangeError(
      `Invalid start time ${
        String(startTime)
      }: deliver "by_start_time" needs a valid Date`,
    );
  }
  if (
    consumer.deliver === "by_start_sequence" &&
    !(Number.isSafeInteger(startSequence) && startSequence! >= 1)
  ) {
    throw new RangeError(
      `Invalid start sequence ${
        String(startSequence)
      }: deliver "by_start_sequence" needs an integer >= 1`,
    );
  }
}

/**
 * Reads trades from a JetStream stream. Each subscription opens its own
 * connection ({@linkcode connectNats}: waits for a server, reconnects
 * forever) and closes it when it ends.
 *
 * With a durable name, the pull consumer is created at start-up, or updated
 * (filter, `max_ack_pending`, `ack_wait`) when it exists; settings the server
 * cannot update raise a {@linkcode ConsumerConflictError}. It acknowledges
 * with AckAll, batched: see {@linkcode NatsFeed.subscribeTrades}.
 * Without one, an ordered consumer (no acknowledgements, recreated by nats.js
 * after a gap, and here when it is gone from the server) reads from the
 * configured start. A stream deleted and created again is read from its start
 * (the configured one), its old messages not delivered counted lost.
 */
export class NatsFeed implements TradeFeed {
  /** Exchange name. */
  readonly name = "nats";
  #options: NatsFeedOptions;
  #log: Logger;
  #subscription: Subscription | undefined;
  #connection = newConnectionCounters();
  #recreated = 0;

  /**
   * Checks the options; nothing is opened until {@linkcode subscribeTrades}.
   *
   * @throws {RangeError} when the prefix or exchange is not a valid subject
   * token, or the start time or sequence its deliver policy needs is missing.
   */
  constructor(options: NatsFeedOptions) {
    checkFeedOptions(options);
    this.#options = options;
    this.#log = options.log ?? SILENT;
  }

  /** The causes of loss this feed counts, in the order of their samples. */
  readonly lossCauses: readonly LossCause[] = NATS_FEED_LOSS_CAUSES;

  /** The NATS consumer families for `/metrics`. */
  metrics(): MetricFamily[] {
    return natsFeedFamilies(this);
  }

  /**
   * Counters per (exchange, symbol) stream, by stream index: the subscribed
   * symbols on the configured exchange in order (none when every exchange is
   * read), then every other stream a wildcard subscription delivered, in
   * order of arrival, then, if any, a `"*"` row counting invalid messages of
   * no such stream. `lag` is the consumer's pending message count (messages,
   * not trades, over all streams: the same figure on every row, `lagOf`
   * naming the consumer and saying whether it is current), refreshed
   * every second; `lost` counts the trades the stream no longer held when
   * the consumer got there (cause `"stream limit or deleted"`, see
   * `_feed_loss.ts`); `restarts` stays 0 (the summary counts gaps by seq).
   */
  stats(): StreamStats[] {
    const subscription = this.#subscription;
    if (subscription === undefined) return [];
    const { channels, unroutable, status } = subscription;
    const lagOf = {
      ...this.#options.consumer.durableName !== undefined &&
        { durable: this.#options.consumer.durableName },
      stream: this.#options.streamName,
      current: status.state === "connected",
    };
    const rows = unroutable.invalid > 0 ? [...channels, unroutable] : channels;
    return rows.map((channel) => ({
      exchange: channel.exchange,
      symbol: channel.symbol,
      received: channel.received,
      skipped: channel.skipped,
      lost: channel.lost,
      lostBy: channel.lost > 0 ? { [STREAM_LOSS]: channel.lost } : {},
      invalid: channel.invalid,
      lag: status.lag,
      lagOf,
      restarts: 0,
      state: status.state,
    }));
  }

  /**
   * Connected when the connection is up and the consumer is attached; idle
   * when the consumer has nothing pending.
   */
  status(): FeedStatus {
    const status = this.#subscription?.status;
    const connected = this.#connection.connected &&
      status?.state === "connected";
    return {
      connected,
      idle: connected && status.lag === 0,
      acknowledged: status?.ackFloor ?? 0,
      detail: status === undefined
        ? "not subscribed"
        : !this.#connection.connected
        ? "NATS connection down"
        : `consumer ${status.state}, ${status.lag} messages pending, ${status.ackPending} unacknowledged`,
    };
  }

  /**
   * The consumer's backlog, from its info (refreshed every second):
   * messages not yet delivered, and delivered but not acknowledged.
   */
  backlog(): { pending: number; ackPending: number } {
    return {
      pending: this.#subscription?.status.lag ?? 0,
      ackPending: this.#subscription?.status.ackPending ?? 0,
    };
  }

  /** The connection's state and reconnect counts. */
  get connection(): Readonly<NatsConnectionCounters> {
    return this.#connection;
  }

  /** Times the durable consumer was found deleted and created again. */
  get consumerRecreated(): number {
    return this.#recreated;
  }

  /**
   * Calls `onTick` for every record of every message on the subjects of
   * `symbols` (all symbols when empty) on the configured exchange (every
   * exchange when it is undefined), in stream order, until the signal aborts
   * or at least `limit` trades were delivered: the message that reaches the
   * limit is delivered whole (up to a message of trades past `limit`), as a
   * message is acknowledged whole. Each (exchange, symbol) is a stream of its
   * own, announced to `onStream` (see {@linkcode stats} for the order).
   *
   * A durable consumer acknowledges with AckAll: one ack of the last message
   * whose records all went through `onTick` covers every message before it,
   * so acks go out once per batch of received messages (a queued microtask
   * after each read from the socket), never waited for, and never cover a
   * message `onTick` has not seen: delivery sequences are checked, and a
   * jump (messages the server sent that never arrived, e.g. across a
   * connection loss) rewinds the consumer to its acknowledged position
   * before anything else is delivered. Messages delivered before (their ack
   * was lost) are skipped by stream sequence. A run that finds messages
   * left unacknowledged by the one before (prefetched, never delivered)
   * rewinds the same way: with the consumer reset API (server 2.14+),
   * or, for `last_per_subject` (whose reset skips messages) and older
   * servers, by waiting ack_wait for their redelivery, which comes in no
   * particular order: it is held and delivered in stream order.
   *
   * A message on a subject that is not a canonical trade subject, or whose
   * payload is not a whole number of valid records, is skipped, counted in
   * `invalid` (its records), terminated (`term`, so it is not redelivered)
   * and reported once per kind as an `invalid` event. Trades the stream no
   * longer held when the consumer got there (see {@linkcode stats}) go to
   * `onGap` (cause `"stream limit or deleted"`, their exact seqs and count)
   * just before the next trade of their stream. Connection and
   * consumer problems are `stalled` or `dead` events (exchange and symbol
   * `"*"`), and
   * `recovered` when they clear; the consumer resumes by itself.
   *
   * @throws {ConsumerConflictError} when the durable consumer exists with
   * settings the server cannot change.
   * @throws {NatsAuthError} when the servers reject the credentials.
   */
  async subscribeTrades(
    symbols: readonly string[],
    onTick: OnTick,
    options: SubscribeOptions = {},
  ): Promise<void> {
    const { signal } = options;
    const { consumer, subjectPrefix } = this.#options;
    const filters = tradeFilters(symbols, {
      exchange: consumer.exchange,
      prefix: subjectPrefix,
    });
    const subscription = new Subscription(symbols, onTick, {
      exchange: consumer.exchange,
      onStream: options.onStream ?? (() => {}),
      onGap: options.onGap,
      onEpoch: options.onEpoch,
      skip: options.skip,
      prefix: subjectPrefix,
      limit: options.limit && options.limit > 0 ? options.limit : Infinity,
      acks: consumer.durableName !== undefined,
      emit: options.onEvent ?? (() => {}),
      stream: this.#options.streamName,
      restart: consumer.durableName === undefined
        ? undefined
        : describeStart(consumer),
    });
    this.#subscription = subscription;
    let nc: NatsConnection;
    try {
      nc = await connectNats(this.#options.connection, {
        log: this.#log,
        role: "consumer",
        counters: this.#connection,
        signal,
      });
    } catch (error) {
      if (signal?.aborted) return;
      throw error;
    }
    // While setting up, closing the connection interrupts the requests in
    // flight; while consuming, the subscription ends and acknowledges first.
    const onAbort = () => {
      if (!subscription.finish()) nc.close();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    watchConnection(nc, subscription.status);
    try {
      await this.#run(nc, subscription, filters, signal);
    } catch (error) {
      if (!signal?.aborted) throw error;
    } finally {
      signal?.removeEventListener("abort", onAbort);
      subscription.status.state = "stopped";
      subscription.reportLosses(true);
      await nc.close();
    }
  }

  /** Reads through the configured consumer, durable or ordered, until the subscription ends. */
  async #run(
    nc: NatsConnection,
    subscription: Subscription,
    filters: string[],
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    const { consumer, streamName } = this.#options;
    const describe = `on stream ${JSON.stringify(streamName)}: deliver ${
      describeStart(consumer)
    }, replay ${consumer.replay}, filter ${filters.join(", ")}`;
    const run: ConsumerRun = {
      nc,
      jsm,
      subscription,
      stream: streamName,
      prefix: this.#options.subjectPrefix,
      consumer,
      filters,
      resumeRuleStart: this.#options.resumeRuleStart,
      signal,
      describe,
      log: this.#log,
      onRecreated: () => {
        this.#recreated++;
      },
    };
    if (consumer.durableName === undefined) {
      await runOrdered(run);
      return;
    }
    await runDurable(run, consumer.durableName);
  }
}
