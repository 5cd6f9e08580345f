/**
 * The NATS JetStream exchange: reads trade messages from a stream through a
 * durable pull consumer (one per trading_core instance, resumed exactly where
 * it acknowledged) or, without a durable name, an ordered ephemeral one.
 *
 * @module
 */

import {
  deadline,
  errors,
  millis,
  nanos,
  type NatsConnection,
} from "@nats-io/nats-core";
import {
  AckPolicy,
  type Consumer,
  type ConsumerConfig,
  type ConsumerInfo,
  type ConsumerMessages,
  type ConsumerUpdateConfig,
  JetStreamApiCodes,
  JetStreamApiError,
  JetStreamError,
  type JetStreamManager,
  jetstreamManager,
  type JsMsg,
  type OrderedConsumerOptions,
} from "@nats-io/jetstream";
import { type TradeOrigin, WireFormatError } from "../wire/codec.ts";
import type {
  NatsConnectionConfig,
  NatsConsumerConfig,
} from "../config/mod.ts";
import { delay } from "../runtime/delay.ts";
import type { Logger } from "../runtime/log.ts";
import {
  connectNats,
  type NatsConnectionCounters,
  newConnectionCounters,
} from "./connection.ts";
import {
  checkPrefix,
  normalizeExchange,
  normalizeSymbol,
  parseTradeSubject,
  tradeFilters,
} from "../wire/subjects.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import { TradeView } from "../wire/trade_view.ts";
import { streamEvent } from "../transport/feed_events.ts";
import {
  addLoss,
  isNewStream,
  type LossCounts,
  LossWatch,
  pendingLossEvent,
  POSITIONS_KEY,
  savePositions,
  seedPositions,
  STREAM_LOSS,
  type StreamMark,
} from "./_loss.ts";
import type {
  FeedEvent,
  FeedStatus,
  OnStream,
  OnTick,
  StreamStats,
  SubscribeOptions,
  TradeFeed,
} from "../transport/feed.ts";

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
}

/**
 * The durable consumer exists with settings the server cannot change into the
 * configured ones (deliver or replay policy, start, ack policy, push mode).
 */
export class ConsumerConflictError extends Error {
  /** The stream. */
  readonly stream: string;
  /** The durable consumer's name. */
  readonly consumer: string;

  /** Creates the error; `options.differences` describe each setting at odds. */
  constructor(
    stream: string,
    consumer: string,
    options: ErrorOptions & { differences: readonly string[] },
  ) {
    super(
      `Durable consumer ${JSON.stringify(consumer)} on stream ${
        JSON.stringify(stream)
      } exists with ${
        options.differences.join("; ")
      }: the server cannot change that; delete it (nats consumer rm ${stream} ${consumer}) or configure another durable_name`,
      { cause: options.cause },
    );
    this.name = "ConsumerConflictError";
    this.stream = stream;
    this.consumer = consumer;
  }
}

/** Messages requested per pull (fewer when `max_ack_pending` or the limit is lower). */
const PULL_BATCH = 512;
/**
 * Lifetime of a pull request, ms; nats.js asks the server for a heartbeat
 * every half of it. A pull request dies unanswered with the server of the
 * consumer's leader (a crash sends nothing): nats.js notices only after two
 * missed heartbeats, then checks the consumer, and while that fails (no
 * leader elected yet) retries once per expiry. With the default 30 s a
 * durable consumer stalled 30 s or more after its leader's server was
 * killed; 3 s resumes it within seconds of the new leader. It also bounds a
 * stall of nats.js 3.4 after it recreates an ordered consumer (after a
 * gap): it pulls too little until the pull request expires (it keeps the old
 * request's pending count).
 */
const PULL_EXPIRES_MS = 3000;
/** How often the consumer's pending count is asked for, ms. */
const LAG_POLL_MS = 1000;
/** Wait between attempts while the stream is missing or JetStream does not answer, ms. */
const SETUP_RETRY_MS = 1000;
/** How long the end of a subscription waits for the server to confirm the last acknowledgement, ms. */
const FINAL_ACK_MS = 50;
/** Added to ack_wait when waiting for the server to redeliver, ms. */
const REDELIVERY_MARGIN_MS = 250;
/** The exchange and symbol of events about the whole consumer, and of the row of messages of no known stream. */
const ALL = "*";
/** The first server version with the consumer reset API (ADR-60). */
const RESET_VERSION = [2, 14] as const;

const SILENT: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

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
    this.#options = options;
    this.#log = options.log ?? SILENT;
  }

  /**
   * Counters per (exchange, symbol) stream, by stream index: the subscribed
   * symbols on the configured exchange in order (none when every exchange is
   * read), then every other stream a wildcard subscription delivered, in
   * order of arrival, then, if any, a `"*"` row counting invalid messages of
   * no such stream. `lag` is the consumer's pending message count (messages,
   * not trades, over all streams: the same figure on every row), refreshed
   * every second; `lost` counts the trades the stream no longer held when
   * the consumer got there (cause `"stream limit or deleted"`, see
   * `_nats_loss.ts`); `restarts` stays 0 (the summary counts gaps by seq).
   */
  stats(): StreamStats[] {
    const subscription = this.#subscription;
    if (subscription === undefined) return [];
    const { channels, unroutable } = subscription;
    const rows = unroutable.invalid > 0 ? [...channels, unroutable] : channels;
    return rows.map((channel) => ({
      exchange: channel.exchange,
      symbol: channel.symbol,
      received: channel.received,
      lost: channel.lost,
      lostBy: channel.lost > 0 ? { [STREAM_LOSS]: channel.lost } : {},
      invalid: channel.invalid,
      lag: subscription.lag,
      restarts: 0,
      state: subscription.state,
    }));
  }

  /**
   * Connected when the connection is up and the consumer is attached; idle
   * when the consumer has nothing pending.
   */
  status(): FeedStatus {
    const subscription = this.#subscription;
    const connected = this.#connection.connected &&
      subscription?.state === "connected";
    return {
      connected,
      idle: connected && subscription.lag === 0,
      detail: subscription === undefined
        ? "not subscribed"
        : !this.#connection.connected
        ? "NATS connection down"
        : `consumer ${subscription.state}, ${subscription.lag} messages pending, ${subscription.ackPending} unacknowledged`,
    };
  }

  /**
   * The consumer's backlog, from its info (refreshed every second):
   * messages not yet delivered, and delivered but not acknowledged.
   */
  backlog(): { pending: number; ackPending: number } {
    return {
      pending: this.#subscription?.lag ?? 0,
      ackPending: this.#subscription?.ackPending ?? 0,
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
   * servers, by waiting ack_wait for their redelivery.
   *
   * A message on a subject that is not a canonical trade subject, or whose
   * payload is not a whole number of valid records, is skipped, counted in
   * `invalid` (its records), terminated (`term`, so it is not redelivered)
   * and reported once per kind as an `invalid` event. Connection and
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
    watchConnection(nc, subscription);
    try {
      await this.#run(nc, subscription, filters, signal);
    } catch (error) {
      if (!signal?.aborted) throw error;
    } finally {
      signal?.removeEventListener("abort", onAbort);
      subscription.state = "stopped";
      subscription.reportLosses(true);
      await nc.close();
    }
  }

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
    if (consumer.durableName === undefined) {
      await this.#runOrdered(jsm, subscription, { filters, signal, describe });
      return;
    }
    const name = consumer.durableName;
    // Creates (or finds) the durable once its stream is there, noting a new
    // stream first (see #reading).
    const create = () =>
      retrying(subscription, streamName, signal, async () => {
        await this.#reading(jsm, subscription);
        return await this.#durable(jsm, name, filters);
      });
    const durable = await create();
    if (durable === undefined) return;
    subscription.consumerName = name;
    let info = await this.#attach(nc, jsm, durable, {
      subscription,
      filters,
      signal,
      describe,
    });
    if (info === undefined) return;
    const js = jsm.jetstream();
    try {
      for (;;) {
        const end = await this.#consume(
          jsm,
          js.consumers.getConsumerFromInfo(info),
          subscription,
          info.delivered.consumer_seq + 1,
        );
        if (end === "done") return;
        subscription.flushAcks();
        if (end === "missing") {
          // Deleted, or its stream was: create it again, with its start
          // (on a new stream, delivery starts over: see #reading).
          const again = await create();
          if (again === undefined) return;
          if (again.change === "created") this.#recreated++;
          info = await this.#attach(nc, jsm, again, {
            subscription,
            filters,
            signal,
            describe,
            again: true,
          });
          if (info === undefined) return;
          continue;
        }
        // A gap: settle what was delivered, then rewind to the ack floor.
        await nc.flush();
        info = await jsm.consumers.info(streamName, info.name);
        const again = await this.#rewind(nc, jsm, info, subscription, signal);
        if (again === undefined) return;
        info = again.info;
      }
    } finally {
      await this.#confirmAcks(nc, subscription);
      if (subscription.state === "connected" && !nc.isClosed()) {
        const problem = await savePositions(jsm, subscription.loss, {
          stream: streamName,
          name,
          metadata: info?.config.metadata,
        });
        if (problem !== undefined) {
          this.#log.warn(
            `the position of consumer ${
              JSON.stringify(name)
            } could not be saved (${problem}): if the stream discards messages before the next run reads them, that run cannot count every trade lost`,
          );
        }
      }
    }
  }

  /**
   * Reads through an ordered consumer. nats.js recreates it after a gap;
   * when it is gone from the server (deleted, its stream deleted, lost in a
   * server restart) it is created again here: after the last message
   * delivered, or, on a new stream or before the first message, at the
   * configured start (nats.js would skip a new stream's messages up to the
   * last stream sequence seen).
   */
  async #runOrdered(
    jsm: JetStreamManager,
    subscription: Subscription,
    options: {
      filters: string[];
      signal: AbortSignal | undefined;
      describe: string;
    },
  ): Promise<void> {
    const { filters, signal } = options;
    const { consumer, streamName } = this.#options;
    const base: Partial<OrderedConsumerOptions> = {
      filter_subjects: filters,
      replay_policy: consumer.replay,
    };
    /** The configured start on the stream read, resolved once. */
    let start: Partial<OrderedConsumerOptions> | undefined;
    for (let again = false;; again = true) {
      const ordered = await retrying(
        subscription,
        streamName,
        signal,
        async () => {
          if (await this.#reading(jsm, subscription)) start = undefined;
          const last = subscription.loss.lastDelivered;
          start ??= await this.#orderedStart(jsm, base);
          // A copy each time: nats.js adds its name prefix to the options.
          return await jsm.jetstream().consumers.get(
            streamName,
            last > 0 ? { ...base, opt_start_seq: last + 1 } : { ...start },
          );
        },
      );
      if (ordered === undefined) return;
      const info = await ordered.info(true);
      subscription.consumerName = info.name;
      subscription.attached(
        `ordered consumer${
          again ? " (recreated)" : ""
        } ${options.describe}; ${info.num_pending} message(s) pending`,
        info.num_pending,
      );
      if (await this.#consume(jsm, ordered, subscription, 0) !== "missing") {
        return;
      }
    }
  }

  /**
   * Rewinds the durable consumer if it must (see {@linkcode #rewind}),
   * seeds the loss watch (see `_nats_loss.ts`) and reports the consumer
   * attached; its info, or undefined when aborted.
   */
  async #attach(
    nc: NatsConnection,
    jsm: JetStreamManager,
    durable: { info: ConsumerInfo; change: string },
    options: {
      subscription: Subscription;
      filters: string[];
      signal: AbortSignal | undefined;
      describe: string;
      /** Attached before: the consumer went missing. */
      again?: boolean;
    },
  ): Promise<ConsumerInfo | undefined> {
    const { subscription, filters, signal } = options;
    const { streamName, subjectPrefix } = this.#options;
    const rewound = await this.#rewind(
      nc,
      jsm,
      durable.info,
      subscription,
      signal,
    );
    if (rewound === undefined) return undefined;
    const { info } = rewound;
    // Acknowledged before, maybe by an earlier run: never delivered again
    // (a consumer created again with deliver all replays the stream).
    subscription.deliveredThrough(info.ack_floor.stream_seq);
    const created = durable.change === "created";
    // An existing consumer continues after its acknowledged position; one
    // created again after the last message this run delivered (none yet: it
    // starts where its deliver policy says).
    const discarded = await seedPositions(jsm, subscription.loss, {
      stream: streamName,
      prefix: subjectPrefix,
      filters,
      keyOf: streamKey,
      floor: created
        ? subscription.loss.lastDelivered
        : info.ack_floor.stream_seq,
      resumed: !created,
      saved: created ? undefined : info.config.metadata?.[POSITIONS_KEY],
    });
    const change = created && options.again ? "recreated" : durable.change;
    subscription.attached(
      `durable consumer ${
        JSON.stringify(info.name)
      } (${change}) ${options.describe}; ${info.num_pending} message(s) pending${rewound.note}`,
      info.num_pending,
    );
    if (discarded !== undefined) {
      subscription.warn(
        `consumer ${
          JSON.stringify(info.name)
        } continues at stream sequence ${discarded.first} after its acknowledged position ${discarded.floor}: the stream no longer holds the messages in between (stream limits or deleted), and its last run did not save its position (it did not end cleanly): their trades are counted lost only for the symbols whose last message before them is still stored`,
      );
    }
    return info;
  }

  /** One pass of `consume()`, until the limit, the abort, a gap or an error. */
  async #consume(
    jsm: JetStreamManager,
    consumer: Consumer,
    subscription: Subscription,
    nextDelivery: number,
  ): Promise<"done" | "gap" | "missing"> {
    const { consumer: config } = this.#options;
    const batch = config.durableName === undefined
      ? PULL_BATCH
      : Math.min(PULL_BATCH, config.maxAckPending);
    const round = subscription.begin(nextDelivery);
    const messages = await consumer.consume({
      max_messages: Math.min(batch, subscription.remaining),
      expires: PULL_EXPIRES_MS,
      callback: subscription.receive,
      // An ordered consumer gone from the server is created again by #run.
      abort_on_missing_resource: config.durableName === undefined,
    });
    messages.closed().then((error) => {
      if (isGone(error)) {
        subscription.gone(
          `consumer ${
            JSON.stringify(subscription.consumerName)
          } is gone from the server (${error.message}); recreating it`,
          round,
        );
      } else {
        subscription.fail(
          round,
          error ??
            new Error("The NATS consumer stopped: its connection closed"),
        );
      }
    });
    watchConsumer(messages, subscription);
    const poll = setInterval(() => {
      subscription.pollLag(jsm);
      subscription.reportLosses();
    }, LAG_POLL_MS);
    try {
      return await round;
    } finally {
      clearInterval(poll);
      await messages.close();
    }
  }

  /**
   * Notes which stream is read (see {@linkcode Subscription.reading}); true
   * when it is a new one. Throws when the stream is missing (to be waited
   * for); any other failure to ask leaves the question open.
   */
  async #reading(
    jsm: JetStreamManager,
    subscription: Subscription,
  ): Promise<boolean> {
    let mark: StreamMark;
    try {
      const info = await jsm.streams.info(this.#options.streamName);
      mark = { created: info.created, lastSeq: info.state.last_seq };
    } catch (error) {
      if (isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
      return false; // not allowed to ask, or no answer: asked again next time
    }
    return subscription.reading(mark);
  }

  /** Creates the durable consumer, or checks and updates the existing one. */
  async #durable(
    jsm: JetStreamManager,
    name: string,
    filters: string[],
  ): Promise<{ info: ConsumerInfo; change: string }> {
    const { consumer, streamName } = this.#options;
    const wanted = durableConfig(name, consumer, filters);
    let info: ConsumerInfo;
    try {
      info = await jsm.consumers.info(streamName, name);
    } catch (error) {
      if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw error;
      return {
        info: await jsm.consumers.add(streamName, wanted),
        change: "created",
      };
    }
    const conflicts = fixedDifferences(info.config, wanted);
    if (conflicts.length > 0) {
      throw new ConsumerConflictError(streamName, name, {
        differences: conflicts,
      });
    }
    const update = updates(info.config, wanted);
    if (update === undefined) return { info, change: "existing" };
    try {
      info = await jsm.consumers.update(streamName, name, update.config);
    } catch (error) {
      if (!(error instanceof JetStreamApiError)) throw error;
      throw new ConsumerConflictError(streamName, name, {
        differences: [
          `an update of ${update.description} refused (${error.message})`,
        ],
        cause: error,
      });
    }
    return { info, change: `updated ${update.description}` };
  }

  /**
   * Makes the durable consumer deliver next the first message after its ack
   * floor, when messages were delivered but not acknowledged (a run that
   * ended without acknowledging its prefetched messages, or messages lost in
   * transit). Returns the consumer's info and a note for the attach event,
   * or undefined when aborted.
   */
  async #rewind(
    nc: NatsConnection,
    jsm: JetStreamManager,
    info: ConsumerInfo,
    subscription: Subscription,
    signal: AbortSignal | undefined,
  ): Promise<{ info: ConsumerInfo; note: string } | undefined> {
    const pending = info.num_ack_pending;
    if (pending === 0) return { info, note: "" };
    const stream = this.#options.streamName;
    const policy = info.config.deliver_policy;
    const version = nc.info?.version;
    const unacknowledged =
      `${pending} message(s) delivered before were not acknowledged`;
    if (policy !== "last_per_subject" && supportsReset(version)) {
      const reset = await jsm.consumers.reset(stream, info.name);
      return {
        info: reset,
        note:
          `; rewound to stream sequence ${reset.reset_seq}: ${unacknowledged}`,
      };
    }
    const waitMs = this.#options.consumer.ackWaitMs + REDELIVERY_MARGIN_MS;
    subscription.problem(
      "waiting",
      "waiting",
      `${unacknowledged}, and a ${policy} consumer cannot be rewound on server ${version}: waiting ${
        (waitMs / 1000).toFixed(1)
      } s (ack_wait) for their redelivery, to keep the order`,
    );
    await delay(waitMs, signal);
    if (signal?.aborted) return undefined;
    return {
      info: await jsm.consumers.info(stream, info.name),
      note: `; waited for the redelivery of ${unacknowledged}`,
    };
  }

  /**
   * The ordered consumer's options (`base` and its configured start). nats.js
   * recreates it from the last stream sequence seen, or its configured start
   * before the first message, which for `new`, `last` and `by_start_time`
   * would replay the stream (or fail): those starts are resolved to a stream
   * sequence first.
   */
  async #orderedStart(
    jsm: JetStreamManager,
    base: Partial<OrderedConsumerOptions>,
  ): Promise<Partial<OrderedConsumerOptions>> {
    const { consumer, streamName } = this.#options;
    const options = { ...base };
    switch (consumer.deliver) {
      case "all":
        break;
      case "by_start_sequence":
        options.opt_start_seq = consumer.startSequence;
        break;
      case "last_per_subject":
        options.deliver_policy = consumer.deliver;
        break;
      default:
        options.opt_start_seq = await startSequence(
          jsm,
          streamName,
          consumer,
          base.filter_subjects as string[],
        );
    }
    return options;
  }

  /** Acknowledges what was delivered and waits briefly for the server to have it. */
  async #confirmAcks(
    nc: NatsConnection,
    subscription: Subscription,
  ): Promise<void> {
    subscription.flushAcks();
    if (!subscription.unconfirmed) return;
    if (subscription.state === "connected" && !nc.isClosed()) {
      try {
        await deadline(nc.flush(), FINAL_ACK_MS);
        return;
      } catch (error) {
        if (!(error instanceof errors.TimeoutError)) throw error;
      }
    }
    this.#log.warn(
      `the last acknowledgement of consumer ${
        JSON.stringify(this.#options.consumer.durableName)
      } may not have reached the server: the next run may receive the last trades again`,
    );
  }
}

/** One subscribed (or met) (exchange, symbol) stream's counters. */
interface Channel extends LossCounts {
  index: number;
  exchange: string;
  symbol: string;
  received: number;
  invalid: number;
}

/** A channel's counters, all zero. */
function newChannel(index: number, exchange: string, symbol: string): Channel {
  return {
    index,
    exchange,
    symbol,
    received: 0,
    invalid: 0,
    lost: 0,
    unreported: 0,
    reportedAt: -Infinity,
  };
}

/** What a subject's messages are: their origin (undefined: not a trade subject) and channel. */
interface Route {
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

/** A pass of `consume()`; resolves how it ended. */
type Round = Promise<"done" | "gap" | "missing">;

/** The state of one subscription: routing, delivery, acknowledgements, events, counters. */
class Subscription {
  readonly channels: Channel[] = [];
  state = "connecting";
  lag = 0;
  /** Messages delivered but not acknowledged yet, from the consumer's info. */
  ackPending = 0;
  consumerName = "";
  /** Counts invalid messages of streams without a channel (the `"*"` row). */
  readonly unroutable: Channel = newChannel(-1, ALL, ALL);
  /** Finds the trades the stream no longer held. */
  readonly loss = new LossWatch();
  /** Acknowledgements were sent (fire and forget) since the subscription started. */
  unconfirmed = false;
  /** Channels by {@linkcode streamKey}. */
  #byStream = new Map<string, Channel>();
  #routes = new Map<string, Route>();
  #view = new TradeView();
  #onTick: OnTick;
  #onStream: OnStream;
  #emit: (event: FeedEvent) => void;
  #prefix: string;
  #limit: number;
  #acks: boolean;
  #delivered = 0;
  #round: PromiseWithResolvers<"done" | "gap" | "missing"> | undefined;
  #finished = false;
  #nextDelivery = 0;
  #lastStreamSeq = 0;
  /** The stream read; undefined: not known yet. */
  #mark: StreamMark | undefined;
  #unacked: JsMsg | undefined;
  #ackQueued = false;
  #reported = new Set<string>();
  #problem: string | undefined;
  #polling = false;
  #stream: string;
  /** A durable consumer's start (e.g. `all`), to create it again; undefined: ordered. */
  readonly restart: string | undefined;

  constructor(
    symbols: readonly string[],
    onTick: OnTick,
    options: {
      /** The configured exchange; undefined: every exchange. */
      exchange: string | undefined;
      onStream: OnStream;
      prefix: string;
      limit: number;
      acks: boolean;
      emit: (event: FeedEvent) => void;
      stream: string;
      restart: string | undefined;
    },
  ) {
    this.restart = options.restart;
    this.#onTick = onTick;
    this.#onStream = options.onStream;
    this.#stream = options.stream;
    this.#prefix = options.prefix;
    this.#limit = options.limit;
    this.#acks = options.acks;
    this.#emit = options.emit;
    // Every exchange: the streams are not known before their trades come.
    if (options.exchange === undefined) return;
    const exchange = normalizeExchange(options.exchange);
    for (const raw of symbols) {
      const symbol = normalizeSymbol(raw);
      const key = streamKey(exchange, symbol);
      if (this.#byStream.has(key)) continue;
      const channel = newChannel(this.channels.length, exchange, symbol);
      this.channels.push(channel);
      this.#byStream.set(key, channel);
      this.#onStream({ exchange, symbol }, channel.index);
    }
  }

  /**
   * Notes which stream is read (`mark`); true when it is a new one of the
   * same name (the one read so far deleted): delivery starts over on it,
   * nothing of it delivered yet, and the trades the old one held undelivered
   * are gone, counted lost per symbol at its next message (warned once).
   */
  reading(mark: StreamMark): boolean {
    const before = this.#mark;
    this.#mark = mark;
    if (!isNewStream(before, mark, this.loss.lastDelivered)) return false;
    this.#lastStreamSeq = 0;
    this.loss.newStream();
    this.warn(
      `stream ${
        JSON.stringify(this.#stream)
      } is a new one: the one this consumer read was deleted, and what it held that was not delivered is gone; those trades are counted lost per symbol at its next message (those of a symbol with none cannot be counted)`,
    );
    return true;
  }

  /** Notes that the messages up to stream sequence `seq` were delivered: skipped if they come again. */
  deliveredThrough(seq: number): void {
    if (seq > this.#lastStreamSeq) this.#lastStreamSeq = seq;
  }

  /** Trades still to deliver to reach the limit. */
  get remaining(): number {
    return this.#limit - this.#delivered;
  }

  /** Starts a pass that expects delivery sequence `nextDelivery` first (0: not checked). */
  begin(nextDelivery: number): Round {
    this.#nextDelivery = nextDelivery;
    this.#round = Promise.withResolvers();
    if (this.#finished) this.#end("done");
    return this.#round.promise;
  }

  /** Ends the subscription (abort); false when no pass is running yet. */
  finish(): boolean {
    this.#finished = true;
    if (this.#round === undefined) return false;
    this.#end("done");
    return true;
  }

  /** Fails pass `round` (if still running) with `error`. */
  fail(round: Round, error: unknown): void {
    if (this.#round?.promise !== round) return;
    this.#round.reject(error);
    this.#round = undefined;
  }

  #end(how: "done" | "gap" | "missing"): void {
    this.#round?.resolve(how);
    this.#round = undefined;
  }

  /** The consume callback: delivers one message's records. */
  readonly receive = (message: JsMsg): void => {
    const round = this.#round;
    if (round === undefined) return; // the pass ended: left unacknowledged
    try {
      this.#receive(message);
    } catch (error) {
      this.fail(round.promise, error); // onTick or onEvent threw
    }
  };

  #receive(message: JsMsg): void {
    if (this.#problem !== undefined) this.recovered("messages flow again");
    if (this.#acks) {
      const info = message.info;
      if (info.deliverySequence !== this.#nextDelivery) {
        this.problem(
          "rewinding",
          "stalled",
          `delivery sequence ${info.deliverySequence} follows ${
            this.#nextDelivery - 1
          }: messages sent by the server never arrived; rewinding the consumer to its acknowledged position`,
        );
        this.#end("gap");
        return;
      }
      this.#nextDelivery++;
      if (info.streamSequence <= this.#lastStreamSeq) {
        message.ack(); // delivered before; its acknowledgement was lost
        return;
      }
      this.#lastStreamSeq = info.streamSequence;
    }
    const streamSeq = message.seq;
    this.loss.delivered(streamSeq);
    const route = this.#routes.get(message.subject) ??
      this.#route(message.subject);
    const origin = route.origin;
    if (origin === undefined) {
      this.#reject(message, route, "subject", route.problem, 1);
      return;
    }
    const view = this.#view;
    let count: number;
    try {
      count = view.wrap(message.data);
    } catch (error) {
      if (!(error instanceof WireFormatError)) throw error;
      const records = Math.floor(message.data.byteLength / TRADE_RECORD_SIZE);
      this.#reject(message, route, "payload", error.message, records || 1);
      return;
    }
    const channel = route.channel ?? this.#open(route);
    const lost = this.loss.trades(
      route.key,
      streamSeq,
      view.seq,
      view.select(count - 1).seq,
    );
    if (lost > 0) {
      const event = addLoss(channel, lost, {
        streamSeq,
        now: performance.now(),
      });
      if (event !== undefined) this.#emit(event);
    }
    const onTick = this.#onTick;
    const index = channel.index;
    for (let i = 0; i < count; i++) onTick(view.select(i), origin, index);
    channel.received += count;
    this.#delivered += count;
    if (this.#acks) {
      this.#unacked = message;
      if (!this.#ackQueued) {
        this.#ackQueued = true;
        queueMicrotask(this.flushAcks);
      }
    }
    // Whole messages only: one cut by the limit could be neither
    // acknowledged (the next run would repeat its first trades) nor left
    // unacknowledged (the next run would skip the rest).
    if (this.#delivered >= this.#limit) this.#end("done");
  }

  /** Acknowledges (AckAll) every message delivered so far. */
  readonly flushAcks = (): void => {
    this.#ackQueued = false;
    if (this.#unacked === undefined) return;
    this.#unacked.ack();
    this.#unacked = undefined;
    this.unconfirmed = true;
  };

  #route(subject: string): Route {
    let route: Route;
    try {
      const origin = parseTradeSubject(subject, { prefix: this.#prefix });
      route = {
        origin,
        exchange: origin.exchange,
        symbol: origin.symbol,
        key: streamKey(origin.exchange, origin.symbol),
        channel: undefined,
        problem: "",
      };
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      // The filters admit only `{prefix}.{exchange}.{symbol}.trades`.
      const [exchange, symbol] = subject.slice(this.#prefix.length + 1)
        .split(".");
      route = {
        origin: undefined,
        exchange,
        symbol,
        key: streamKey(exchange, symbol),
        channel: undefined,
        problem: error.message,
      };
    }
    route.channel = this.#byStream.get(route.key);
    this.#routes.set(subject, route);
    return route;
  }

  /**
   * The channel of a stream a wildcard subscription meets, created (and
   * announced) with its first trade delivered: indexes in order, 0, 1, 2, ….
   */
  #open(route: Route): Channel {
    let channel = this.#byStream.get(route.key);
    if (channel === undefined) {
      channel = newChannel(this.channels.length, route.exchange, route.symbol);
      this.channels.push(channel);
      this.#byStream.set(route.key, channel);
      this.#onStream(route.origin!, channel.index);
    }
    route.channel = channel;
    return channel;
  }

  /**
   * Skips, counts and terminates an invalid message. Its records count on
   * its stream, or on the `"*"` row while that stream has no channel.
   */
  #reject(
    message: JsMsg,
    route: Route,
    kind: "subject" | "payload",
    problem: string,
    records: number,
  ): void {
    const channel = route.channel ?? this.#byStream.get(route.key) ??
      this.unroutable;
    channel.invalid += records;
    if (this.#acks) message.term(`invalid ${kind}`);
    if (this.#reported.has(kind)) return;
    this.#reported.add(kind);
    this.#emit(streamEvent(
      channel,
      "invalid",
      `message ${message.seq} on ${message.subject} skipped and terminated (${message.data.byteLength} bytes): ${problem}; further invalid ${kind}s are only counted`,
    ));
  }

  /** Reports the consumer ready. */
  attached(message: string, pending: number): void {
    this.state = "connected";
    this.lag = pending;
    this.#problem = undefined;
    this.#emit(wholeConsumer("attached", message));
  }

  /** Reports a connection or consumer problem once, until it clears. */
  problem(
    state: string,
    kind: "waiting" | "stalled" | "dead",
    message: string,
  ): void {
    this.state = state;
    if (this.#problem === message) return;
    this.#problem = message;
    this.#emit(wholeConsumer(kind, message));
  }

  /**
   * Reports the consumer gone from the server (deleted, or its stream) and
   * ends the pass (pass `round` only, when given), to create it again.
   */
  gone(message: string, round?: Round): void {
    if (round !== undefined && this.#round?.promise !== round) return;
    this.problem("missing", "dead", message);
    this.#end("missing");
  }

  /** A warning about the whole consumer. */
  warn(message: string): void {
    this.#emit(wholeConsumer("lost", message));
  }

  /**
   * Reports the losses of each stream not reported yet, at most once per
   * stream per `LOSS_REPORT_MS`, or all of them with `force` (at the end).
   */
  reportLosses(force = false): void {
    const now = performance.now();
    for (const channel of this.channels) {
      const event = pendingLossEvent(channel, now, force);
      if (event !== undefined) this.#emit(event);
    }
  }

  /** Clears the current problem, if any, with a `recovered` event. */
  recovered(message: string): void {
    if (this.state === "connecting" || this.state === "stopped") return;
    this.state = "connected";
    if (this.#problem === undefined) return;
    this.#problem = undefined;
    this.#emit(wholeConsumer("recovered", message));
  }

  /** Refreshes `lag` from the consumer's info (one request at a time). */
  pollLag(jsm: JetStreamManager): void {
    if (this.#polling || this.state !== "connected") return;
    this.#polling = true;
    jsm.consumers.info(this.#stream, this.consumerName).then(
      (info) => {
        this.lag = info.num_pending;
        this.ackPending = info.num_ack_pending;
      },
      () => {}, // the next poll tries again; the watchers report problems
    ).finally(() => {
      this.#polling = false;
    });
  }
}

/** The key of an (exchange, symbol) stream in a map: looked up once per subject (and per invalid message), never per trade. */
function streamKey(exchange: string, symbol: string): string {
  return `${exchange}.${symbol}`;
}

/** An event about the whole consumer (exchange and symbol `"*"`), its message as is. */
function wholeConsumer(
  kind: FeedEvent["kind"],
  message: string,
): FeedEvent {
  return { kind, exchange: ALL, symbol: ALL, stream: -1, message };
}

/**
 * Runs `attempt` until it succeeds, reporting and waiting out a missing
 * stream or a JetStream that does not answer (yet); undefined when aborted.
 */
async function retrying<T>(
  subscription: Subscription,
  stream: string,
  signal: AbortSignal | undefined,
  attempt: () => Promise<T>,
): Promise<T | undefined> {
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (isApiError(error, JetStreamApiCodes.StreamNotFound)) {
        subscription.problem(
          "waiting",
          "waiting",
          `stream ${
            JSON.stringify(stream)
          } not found; waiting for the publisher to create it`,
        );
      } else if (
        error instanceof errors.TimeoutError ||
        (error instanceof Error && error.name === "JetStreamNotEnabled")
      ) {
        subscription.problem(
          "waiting",
          "stalled",
          `JetStream does not answer (${error.message}); retrying`,
        );
      } else {
        throw error;
      }
    }
    await delay(SETUP_RETRY_MS, signal);
    if (signal?.aborted) return undefined;
  }
}

/** Turns the connection's state changes into events, until it closes. */
async function watchConnection(
  nc: NatsConnection,
  subscription: Subscription,
): Promise<void> {
  for await (const status of nc.status()) {
    if (status.type === "disconnect") {
      subscription.problem(
        "reconnecting",
        "stalled",
        `connection to ${status.server} lost; reconnecting`,
      );
    } else if (status.type === "reconnect") {
      subscription.recovered(`reconnected to ${status.server}`);
    }
  }
}

/** Turns the consumer's notifications into events, until it stops. */
async function watchConsumer(
  messages: ConsumerMessages,
  subscription: Subscription,
): Promise<void> {
  for await (const status of messages.status()) {
    switch (status.type) {
      case "heartbeat":
        subscription.recovered("the consumer is alive again");
        break;
      case "heartbeats_missed":
        // Told every interval, the count growing: once per stall.
        if (subscription.state === "stalled") break;
        subscription.problem(
          "stalled",
          "stalled",
          `no message or heartbeat from consumer ${
            JSON.stringify(subscription.consumerName)
          } for ${status.count} heartbeat intervals; asking again`,
        );
        break;
      case "consumer_deleted":
      case "consumer_not_found": {
        const name = JSON.stringify(subscription.consumerName);
        const how = status.type === "consumer_deleted"
          ? "deleted"
          : "not found";
        subscription.gone(
          subscription.restart === undefined
            ? `consumer ${name} is gone from the server (${how}); recreating it`
            : `consumer ${name} is gone from the server (${how}); recreating it with deliver ${subscription.restart}`,
        );
        break;
      }
      case "stream_not_found":
        subscription.gone(
          `stream ${JSON.stringify(status.name)} is gone from the server; ${
            subscription.restart === undefined
              ? "waiting for it, then recreating the ordered consumer"
              : `waiting for it, then recreating consumer ${
                JSON.stringify(subscription.consumerName)
              } with deliver ${subscription.restart}`
          }`,
        );
        break;
      case "no_responders":
        subscription.problem(
          "stalled",
          "stalled",
          "JetStream does not answer; retrying",
        );
        break;
      case "exceeded_limits":
        subscription.problem(
          "stalled",
          "stalled",
          `the server refused a pull request: ${status.description}`,
        );
        break;
      case "ordered_consumer_recreated":
        subscription.consumerName = status.name;
        break;
    }
  }
}

/** The configured start, e.g. `all`, `by_start_sequence 42`. */
function describeStart(consumer: NatsConsumerConfig): string {
  switch (consumer.deliver) {
    case "by_start_time":
      return `by_start_time ${consumer.startTime!.toISOString()}`;
    case "by_start_sequence":
      return `by_start_sequence ${consumer.startSequence}`;
    default:
      return consumer.deliver;
  }
}

/** The durable consumer's configuration. */
function durableConfig(
  name: string,
  consumer: NatsConsumerConfig,
  filters: string[],
): Partial<ConsumerConfig> {
  const config: Partial<ConsumerConfig> = {
    durable_name: name,
    ack_policy: AckPolicy.All,
    deliver_policy: consumer.deliver,
    replay_policy: consumer.replay,
    filter_subjects: filters,
    max_ack_pending: consumer.maxAckPending,
    ack_wait: nanos(consumer.ackWaitMs),
  };
  if (consumer.deliver === "by_start_sequence") {
    config.opt_start_seq = consumer.startSequence;
  } else if (consumer.deliver === "by_start_time") {
    config.opt_start_time = consumer.startTime!.toISOString();
  }
  return config;
}

function show(value: unknown): string {
  return value === undefined ? "unset" : JSON.stringify(value);
}

function showNanos(nanoseconds: number | undefined): string {
  return nanoseconds === undefined ? "unset" : `${millis(nanoseconds)} ms`;
}

/** The settings of `existing` that differ from `wanted` and cannot be updated. */
function fixedDifferences(
  existing: ConsumerConfig,
  wanted: Partial<ConsumerConfig>,
): string[] {
  const differences: string[] = [];
  if (existing.deliver_subject !== undefined) {
    differences.push(
      `deliver_subject ${
        show(existing.deliver_subject)
      } (a push consumer), expected a pull consumer`,
    );
  }
  const keys = [
    "ack_policy",
    "deliver_policy",
    "opt_start_seq",
    "replay_policy",
  ] as const;
  for (const key of keys) {
    if (existing[key] !== wanted[key]) {
      differences.push(
        `${key} ${show(existing[key])}, configured ${show(wanted[key])}`,
      );
    }
  }
  const time = (iso: string | undefined) =>
    iso === undefined ? undefined : Date.parse(iso);
  if (time(existing.opt_start_time) !== time(wanted.opt_start_time)) {
    differences.push(
      `opt_start_time ${show(existing.opt_start_time)}, configured ${
        show(wanted.opt_start_time)
      }`,
    );
  }
  return differences;
}

/** The update that turns `existing` into `wanted`, with its description; undefined when there is none. */
function updates(
  existing: ConsumerConfig,
  wanted: Partial<ConsumerConfig>,
): { config: Partial<ConsumerUpdateConfig>; description: string } | undefined {
  const config: Partial<ConsumerUpdateConfig> = {};
  const changes: string[] = [];
  const filters = existing.filter_subjects ??
    (existing.filter_subject ? [existing.filter_subject] : []);
  if (show(filters) !== show(wanted.filter_subjects)) {
    config.filter_subjects = wanted.filter_subjects;
    config.filter_subject = undefined; // exclusive with filter_subjects
    changes.push(
      `filter_subjects ${show(filters)} to ${show(wanted.filter_subjects)}`,
    );
  }
  if (existing.max_ack_pending !== wanted.max_ack_pending) {
    config.max_ack_pending = wanted.max_ack_pending;
    changes.push(
      `max_ack_pending ${existing.max_ack_pending} to ${wanted.max_ack_pending}`,
    );
  }
  if (existing.ack_wait !== wanted.ack_wait) {
    config.ack_wait = wanted.ack_wait;
    changes.push(
      `ack_wait ${showNanos(existing.ack_wait)} to ${
        showNanos(wanted.ack_wait)
      }`,
    );
  }
  return changes.length === 0
    ? undefined
    : { config, description: changes.join(", ") };
}

function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}

/** Whether a consumer stopped with `error` because it or its stream is gone from the server. */
function isGone(error: unknown): error is Error {
  return isApiError(error, JetStreamApiCodes.ConsumerNotFound) ||
    isApiError(error, JetStreamApiCodes.StreamNotFound) ||
    (error instanceof JetStreamError && "code" in error &&
      error.code === 409 && error.message === "consumer deleted");
}

/** Whether a server of `version` has the consumer reset API. */
function supportsReset(version: string | undefined): boolean {
  const [major = 0, minor = 0] = (version ?? "").split(".").map(Number);
  return major > RESET_VERSION[0] ||
    (major === RESET_VERSION[0] && minor >= RESET_VERSION[1]);
}

/**
 * The stream sequence a `new`, `last` or `by_start_time` consumer starts
 * at, read from a short-lived consumer with that start.
 */
async function startSequence(
  jsm: JetStreamManager,
  stream: string,
  consumer: NatsConsumerConfig,
  filters: string[],
): Promise<number> {
  const probe = await jsm.consumers.add(stream, {
    deliver_policy: consumer.deliver,
    opt_start_time: consumer.startTime?.toISOString(),
    filter_subjects: filters,
    ack_policy: AckPolicy.None,
    mem_storage: true,
    inactive_threshold: nanos(10_000),
  });
  await jsm.consumers.delete(stream, probe.name);
  return probe.delivered.stream_seq + 1;
}
