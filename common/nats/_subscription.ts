/**
 * One subscription of a feed: routes each message's subject to its
 * (exchange, symbol) stream, decodes its records and hands them to
 * `onTick`, checks delivery order, batches acknowledgements (AckAll), and
 * counts what was received, invalid or lost per stream, handing each loss to
 * `onGap` just before the trades that follow it.
 *
 * @module
 */

import type { JsMsg } from "@nats-io/jetstream";
import { type TradeOrigin, WireFormatError } from "../wire/codec.ts";
import {
  normalizeExchange,
  normalizeSymbol,
  parseTradeSubject,
} from "../wire/subjects.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import { TradeView } from "../wire/trade_view.ts";
import { streamEvent } from "../transport/feed_events.ts";
import type {
  FeedEvent,
  OnEpoch,
  OnGap,
  OnStream,
  OnTick,
  SkipTrade,
  TradePlace,
} from "../transport/feed.ts";
import { type DeliverTo, deliverTrades } from "../transport/deliver.ts";
import { NO_EPOCH } from "../wire/run_epoch.ts";
import {
  addLoss,
  isNewStream,
  LossWatch,
  pendingLossEvent,
  STREAM_LOSS,
  type StreamMark,
} from "./_feed_loss.ts";
import { ALL, ConsumerStatus } from "./_status_watch.ts";
import { ackReply, readAckReply } from "./_ack_reply.ts";
import {
  type Channel,
  newChannel,
  noteEpoch,
  type Route,
  streamKey,
} from "./_subscription_channel.ts";
import type { RedeliveryHold } from "./_redelivery_hold.ts";

const TWO_32 = 2 ** 32;

/** A pass of `consume()`; resolves how it ended. */
export type Round = Promise<"done" | "gap" | "missing">;

/** The state of one subscription: routing, delivery, acknowledgements, events, counters. */
export class Subscription {
  /** The streams, by stream index. */
  readonly channels: Channel[] = [];
  /** The consumer's state, backlog and problem. */
  readonly status: ConsumerStatus;
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
  #onStream: OnStream;
  #onGap: OnGap | undefined;
  #onEpoch: OnEpoch | undefined;
  /** What {@linkcode deliverTrades} is handed, reused for every message. */
  readonly #batch: DeliverTo & { place: Required<TradePlace> };
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
  #stream: string;
  /** Armed by {@linkcode Subscription.holdRedeliveries} for the next pass. */
  #hold: RedeliveryHold | undefined;

  /** Routes `symbols` (none: every symbol) of the feed's stream to `onTick`. */
  constructor(
    symbols: readonly string[],
    onTick: OnTick,
    options: {
      /** The configured exchange; undefined: every exchange. */
      exchange: string | undefined;
      onStream: OnStream;
      /** Told about each loss, in order (see `SubscribeOptions.onGap`). */
      onGap?: OnGap;
      /** Told each stream's run epoch when it changes (read only when given). */
      onEpoch?: OnEpoch;
      /** Trades not to deliver (see `SubscribeOptions.skip`). */
      skip?: SkipTrade;
      prefix: string;
      limit: number;
      acks: boolean;
      emit: (event: FeedEvent) => void;
      stream: string;
      restart: string | undefined;
    },
  ) {
    this.status = new ConsumerStatus(options);
    this.#onStream = options.onStream;
    this.#onGap = options.onGap;
    this.#onEpoch = options.onEpoch;
    this.#batch = {
      onTick,
      skip: options.skip,
      origin: { exchange: "", symbol: "" },
      stream: 0,
      place: { streamSeq: 0, epoch: NO_EPOCH, generation: 0 },
    };
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
      // Dropped, not refused as checkSymbolList does: config refused repeats already; here, as in tradeFilters, the list is a set of subjects.
      if (!this.#byStream.has(key)) this.#add(key, { exchange, symbol });
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
    this.#batch.place.generation++;
    this.loss.newStream();
    this.status.warn(
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

  /** Makes the next pass deliver through `hold` (see `_redelivery_hold.ts`). */
  holdRedeliveries(hold: RedeliveryHold): void {
    this.#hold = hold;
  }

  /** Starts a pass that expects delivery sequence `nextDelivery` first (0: not checked). */
  begin(nextDelivery: number): Round {
    this.#nextDelivery = nextDelivery;
    this.#round = Promise.withResolvers();
    if (this.#finished) {
      this.#end("done");
    } else {
      const round = this.#round.promise;
      this.#hold?.start(() => {
        if (this.#round?.promise !== round) return;
        try {
          this.#release();
        } catch (error) {
          this.fail(round, error); // onTick or onEvent threw
        }
      });
    }
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
    // What a pass held and did not deliver stays unacknowledged: it comes again.
    this.#hold?.stop();
    this.#hold = undefined;
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
    const status = this.status;
    if (status.troubled) status.recovered("messages flow again");
    // nats.js 3.4's messages have `reply`, though its JsMsg type omits it.
    const reply = (message as JsMsg & { readonly reply?: string }).reply;
    const info = readAckReply(reply) ? ackReply : message.info;
    const streamSeq = info.streamSequence;
    if (this.#acks) {
      const delivery = info.deliverySequence;
      if (delivery !== this.#nextDelivery) {
        status.problem(
          "rewinding",
          "stalled",
          `delivery sequence ${delivery} follows ${
            this.#nextDelivery - 1
          }: messages sent by the server never arrived; rewinding the consumer to its acknowledged position`,
        );
        this.#end("gap");
        return;
      }
      this.#nextDelivery++;
      const hold = this.#hold;
      if (hold !== undefined) {
        if (hold.add({ message, streamSeq })) this.#release();
        return;
      }
      if (streamSeq <= this.#lastStreamSeq) {
        message.ack(); // delivered before; its acknowledgement was lost
        return;
      }
    }
    this.#deliver(message, streamSeq);
  }

  /**
   * Delivers, in stream order, all that the hold held (see
   * `_redelivery_hold.ts`), then acknowledges the last one received.
   */
  #release(): void {
    const hold = this.#hold;
    if (hold === undefined) return;
    this.#hold = undefined;
    const { messages, last } = hold.take();
    try {
      for (const { message, streamSeq } of messages) {
        if (streamSeq > this.#lastStreamSeq) this.#deliver(message, streamSeq);
      }
    } catch (error) {
      this.#unacked = undefined; // AckAll would acknowledge those not delivered
      throw error;
    }
    if (last !== undefined) this.#queueAck(last);
  }

  /** Delivers one message's records (new in this run: after the last delivered). */
  #deliver(message: JsMsg, streamSeq: number): void {
    if (this.#acks) this.#lastStreamSeq = streamSeq;
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
    // Read only for those who use it: a scan of the header block.
    const epoch = this.#onEpoch === undefined && this.#batch.skip === undefined
      ? NO_EPOCH
      : noteEpoch(channel, message, this.#onEpoch);
    const firstSeq = view.seq;
    const lost = this.loss.trades(
      route.key,
      streamSeq,
      firstSeq,
      view.select(count - 1).seq,
    );
    if (lost > 0) this.#lost(channel, lost, { streamSeq, firstSeq });
    const batch = this.#batch;
    batch.origin = origin;
    batch.stream = channel.index;
    batch.place.streamSeq = streamSeq;
    batch.place.epoch = epoch;
    const skipped = deliverTrades(view, count, batch);
    channel.skipped += skipped;
    channel.received += count - skipped;
    this.#delivered += count - skipped;
    if (this.#acks) this.#queueAck(message);
    // Whole messages only: one cut by the limit could be neither
    // acknowledged (the next run would repeat its first trades) nor left
    // unacknowledged (the next run would skip the rest).
    if (this.#delivered >= this.#limit) this.#end("done");
  }

  /**
   * Counts `lost` trades of `channel` missing before the message at
   * `streamSeq`, whose first trade has seq `firstSeq`: warns (at most so
   * often) and hands the gap, seqs `firstSeq - lost` to `firstSeq - 1`, to
   * `onGap`.
   */
  #lost(
    channel: Channel,
    lost: number,
    at: { streamSeq: number; firstSeq: number },
  ): void {
    const event = addLoss(channel, lost, {
      streamSeq: at.streamSeq,
      now: performance.now(),
    });
    if (event !== undefined) this.#emit(event);
    this.#onGap?.({
      exchange: channel.exchange,
      symbol: channel.symbol,
      stream: channel.index,
      cause: STREAM_LOSS,
      firstSeq: (at.firstSeq - lost + TWO_32) % TWO_32,
      lastSeq: (at.firstSeq - 1 + TWO_32) % TWO_32,
      count: lost,
    });
  }

  /** Acknowledges (AckAll) `message`, and every one delivered before it, soon. */
  #queueAck(message: JsMsg): void {
    this.#unacked = message;
    if (this.#ackQueued) return;
    this.#ackQueued = true;
    queueMicrotask(this.flushAcks);
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
    const channel = this.#byStream.get(route.key) ??
      this.#add(route.key, route.origin!);
    route.channel = channel;
    return channel;
  }

  /** A new channel of `origin` (keyed `key`), announced: the next index. */
  #add(key: string, origin: TradeOrigin): Channel {
    const channel = newChannel(
      this.channels.length,
      origin.exchange,
      origin.symbol,
    );
    this.channels.push(channel);
    this.#byStream.set(key, channel);
    this.#onStream(origin, channel.index);
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

  /**
   * Reports the consumer gone from the server (deleted, or its stream) and
   * ends the pass (pass `round` only, when given), to create it again.
   */
  gone(message: string, round?: Round): void {
    if (round !== undefined && this.#round?.promise !== round) return;
    this.status.problem("missing", "dead", message);
    this.#end("missing");
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
}
