/**
 * What a feed (the consuming end of a transport) offers trading_core:
 * subscribe to symbols and get each trade, in order per (exchange, symbol)
 * stream, until the signal aborts.
 *
 * A stream is the trades of one symbol on one exchange: its publisher
 * numbers them with their own `seq`. The same symbol on two exchanges is two
 * streams. Everything trading_core counts is per stream, by a stream index.
 *
 * @module
 */

import type { Labels, MetricFamily } from "../metrics/exposition.ts";
import type { TradeOrigin } from "../wire/codec.ts";
import type { TradeView } from "../wire/trade_view.ts";

/**
 * Receives each trade. `trade` is a reused view, valid only during the call:
 * read its fields or `trade.toTrade(origin)` to keep a copy. `origin` is the
 * trade's (exchange, symbol) and `stream` its stream index, announced first
 * through {@linkcode SubscribeOptions.onStream}; `epoch` its run epoch when
 * the feed tells it per trade (the catch-up feed; the others leave it out).
 */
export type OnTick = (
  trade: TradeView,
  origin: TradeOrigin,
  stream: number,
  epoch?: number,
) => void;

/**
 * Announces a stream: `index` is the next stream index (0, 1, 2, … in
 * order), `origin` its exchange and symbol. The streams a subscription names
 * come first, when it starts; a wildcard subscription (every exchange, or
 * every symbol) announces each other stream just before its first trade.
 */
export type OnStream = (origin: TradeOrigin, index: number) => void;

/** Something about a subscription worth telling the user. */
export interface FeedEvent {
  /** What happened. */
  kind:
    | "waiting"
    | "attached"
    | "restarted"
    | "closed"
    | "dead"
    | "stalled"
    | "recovered"
    | "lost"
    | "behind"
    | "invalid"
    | "refused"
    | "evicted";
  /** The exchange concerned, or `"*"` for an event about the whole subscription. */
  exchange: string;
  /** The symbol concerned, or `"*"` for an event about the whole subscription. */
  symbol: string;
  /** The stream index concerned, or -1 for an event about no one stream. */
  stream: number;
  /** A one-line description. */
  message: string;
  /**
   * With `"lost"`: the trades this event tells lost (not told before), by
   * cause; absent when it cannot say (a loss of the whole consumer).
   */
  lostBy?: Partial<Record<LossCause, number>>;
}

/** Options of {@linkcode TradeFeed.subscribeTrades}. */
export interface SubscribeOptions {
  /** Ends the subscription when aborted. */
  signal?: AbortSignal;
  /**
   * Stop once this many trades were delivered (0 or absent = no limit). A
   * transport that delivers whole multi-trade messages (NATS) may deliver up
   * to one message more, rather than leave part of a message unacknowledged.
   */
  limit?: number;
  /** Receives events (producer restarts, losses, …). */
  onEvent?: (event: FeedEvent) => void;
  /** Told about each stream before its first trade (see {@linkcode OnStream}). */
  onStream?: OnStream;
  /**
   * Told about trades missing from a stream, in order: just before the next
   * trade of that stream that `onTick` receives (or when the subscription
   * ends, if none follows).
   */
  onGap?: OnGap;
  /**
   * Told the run epoch of a stream's next trades whenever it changes, just
   * before the first of them: a ring's header epoch when it is attached, a
   * NATS message's `Marketbus-Epoch` header (0 when it has none). Trades of
   * one epoch number their `seq` alike on both transports.
   */
  onEpoch?: OnEpoch;
  /**
   * Told, in order with its trades, when a stream reached live: a feed that
   * replays history first (the catch-up feed) calls it between the last
   * replayed trade and the first live one. Other feeds never call it.
   */
  onCaughtUp?: OnCaughtUp;
  /**
   * Trades to skip rather than deliver (`live --snapshot`: those its
   * snapshot stands for): a skipped trade does not reach `onTick`, counts in
   * {@linkcode StreamStats.skipped}, not in `received`, and not toward
   * `limit`.
   */
  skip?: SkipTrade;
}

/** Receives a stream's run epoch (see {@linkcode SubscribeOptions.onEpoch}). */
export type OnEpoch = (stream: number, epoch: number) => void;

/** A stream that reached live after replaying its history. */
export interface CaughtUp {
  /** The stream's exchange. */
  exchange: string;
  /** The stream's symbol. */
  symbol: string;
  /** The stream index. */
  stream: number;
  /** Trades delivered from the history before reaching live. */
  replayed: number;
  /** Time from the subscription's start to reaching live, ms. */
  ms: number;
  /** The `seq` of the last trade delivered before the switch, or null when none was. */
  lastSeq: number | null;
  /** The run epoch of that last trade (0: of no known run), null when none was; another than `epoch` when the switch crossed a producer restart. */
  lastEpoch: number | null;
  /** The run epoch of the live trades. */
  epoch: number;
}

/** Receives each {@linkcode CaughtUp}, in order with the trades of its stream. */
export type OnCaughtUp = (event: CaughtUp) => void;

/** Where a trade was read, beside its own fields: what a {@linkcode SkipTrade} rule may use. */
export interface TradePlace {
  /** The JetStream stream sequence of the message that holds it; 0 when it was not read from JetStream (the ring). */
  streamSeq: number;
  /**
   * The run epoch of the ring or the message that holds it (see
   * {@linkcode SubscribeOptions.onEpoch}); 0 for a message without the
   * `Marketbus-Epoch` header, or when the feed was given no `skip`.
   */
  epoch: number;
  /**
   * How many times the JetStream stream was found deleted and created again
   * since the subscription started: stream sequences of two generations
   * are not comparable (a new stream numbers from 1 again).
   *
   * @default {0}
   */
  generation?: number;
}

/**
 * Whether to skip `trade` of stream index `stream`, read at `place`
 * (see {@linkcode SubscribeOptions.skip}); `trade` is valid only during the
 * call.
 */
export type SkipTrade = (
  trade: TradeView,
  stream: number,
  place: TradePlace,
) => boolean;

/**
 * Why trades are missing from a stream: overwritten in the ring before they
 * were read (a lapped lossy reader), lost while the producer had evicted this
 * tethered reader, ring slots that could not be read, a producer restart (a
 * new ring: how many were missed is unknown), trades a NATS stream discarded
 * or deleted, a feed reconnect flagged by the source, or a gap the source
 * itself recorded (e.g. in a replayed file).
 */
export type GapCause =
  | LossCause
  | "producer restart"
  | "reconnect"
  | "source";

/** Trades missing from one stream, delivered in order with its trades. */
export interface TradeGap {
  /** The stream's exchange. */
  exchange: string;
  /** The stream's symbol. */
  symbol: string;
  /** The stream index. */
  stream: number;
  /** Why they are missing. */
  cause: GapCause;
  /** The `seq` of the first missing trade, or null when unknown. */
  firstSeq: number | null;
  /** The `seq` of the last missing trade, or null when unknown. */
  lastSeq: number | null;
  /** How many are missing, or null when unknown (e.g. a producer restart). */
  count: number | null;
}

/** Receives each {@linkcode TradeGap}, in order with the trades of its stream. */
export type OnGap = (gap: TradeGap) => void;

/**
 * Why trades were lost: overwritten in the ring before they were read (by a
 * lossy reader, or by a tethered one while the producer had evicted it), a ring
 * slot that could not be read consistently within a bound, trades a NATS
 * stream discarded (limits) or that were deleted before delivery, or held ring
 * trades a catch-up gave up on before its switch (logged with the reason).
 */
export type LossCause =
  | "overwritten"
  | "evicted"
  | "corrupt slot"
  | "stream limit or deleted"
  | "given up";

/** The consumer a {@linkcode StreamStats.lag} belongs to (NATS). */
export interface ConsumerLag {
  /** The durable consumer's name; undefined for an ordered consumer. */
  durable?: string;
  /** The JetStream stream it reads. */
  stream: string;
  /** Whether the figure is current: false while the consumer is not connected (the last one polled). */
  current: boolean;
}

/** Counters of one (exchange, symbol) stream of a subscription. */
export interface StreamStats {
  /** The exchange, or `"*"` on a row counting what named no known stream. */
  exchange: string;
  /** The symbol, or `"*"` on a row counting what named no known stream. */
  symbol: string;
  /** Trades delivered to the callback. */
  received: number;
  /**
   * Trades skipped, not delivered, by {@linkcode SubscribeOptions.skip}
   * (covered by a `--snapshot`); absent: none. Received, skipped and lost
   * sum to what was published.
   */
  skipped?: number;
  /** Trades published but never delivered (overwritten, or lost on the way). */
  lost: number;
  /** {@linkcode StreamStats.lost} by cause, summing to it (causes with no loss may be absent). */
  lostBy: Partial<Record<LossCause, number>>;
  /** Records that failed validation and were skipped. */
  invalid: number;
  /** Trades published but not yet read (with {@linkcode StreamStats.lagOf}: its consumer's messages). */
  lag: number;
  /** Slots of the ring being read (ring feeds only; absent while no ring is attached). */
  capacity?: number;
  /**
   * Whose `lag` it is when it is not this stream's own: the consumer's that
   * reads it, the same figure on each row it reads (NATS: pending messages,
   * not trades). Absent: the stream's own reader (a ring), in trades.
   */
  lagOf?: ConsumerLag;
  /** Producer restarts seen. */
  restarts: number;
  /** Times a producer evicted this stream's tethered ring reader (ring feeds only). */
  evictions?: number;
  /** Connection state, e.g. `"alive"`, `"waiting"`. */
  state: string;
}

/** Whether a subscription is connected to its source, for `/healthz`. */
export interface FeedStatus {
  /** Connected: rings attached to live producers; NATS connected with its consumer. */
  connected: boolean;
  /**
   * Nothing to deliver by the source's choice: a live producer publishing
   * nothing, an empty NATS backlog. Data not flowing is then not a problem.
   */
  idle: boolean;
  /**
   * The stream sequence through which the source has acknowledged every
   * message (a JetStream consumer's ack floor, polled); absent: not tracked.
   */
  acknowledged?: number;
  /** One line saying what the state is, e.g. `"BTCUSDT waiting"`. */
  detail: string;
}

/** The consuming end of a transport: the trades trading_core reads. */
export interface TradeFeed {
  /** Short name, e.g. `"ipc"`. */
  readonly name: string;
  /**
   * Delivers the trades of `symbols` to `onTick` until `options.signal`
   * aborts or `options.limit` trades were delivered.
   */
  subscribeTrades(
    symbols: readonly string[],
    onTick: OnTick,
    options?: SubscribeOptions,
  ): Promise<void>;
  /** Counters per stream, by stream index (then, maybe, a `"*"` row). */
  stats(): StreamStats[];
  /** Connection state, for `/healthz`. */
  status(): FeedStatus;
  /**
   * The causes of loss the feed counts in {@linkcode StreamStats.lostBy}, in
   * the order of their samples in `/metrics`.
   */
  readonly lossCauses: readonly LossCause[];
  /**
   * The feed's own metric families, after the ones every feed has;
   * `streams` holds the labels (`transport`, `exchange`, `symbol`) of each
   * stream index.
   */
  metrics(streams: readonly Labels[]): MetricFamily[];
}
