/**
 * Catch-up then live: a {@linkcode TradeFeed} made of two, a history feed
 * (a JetStream replay from a start) and a live one (the rings, read from
 * the oldest trade they hold), that delivers each stream's history and then
 * its live trades with no gap and no duplicate at the seam (`_seam.ts`),
 * telling `onCaughtUp` when a stream switched. A stream the history has
 * nothing of (a quiet symbol, another run's history) switches once the
 * history has had nothing pending for `settleMs`. Once every stream is live
 * the history subscription ends. The timeline and the limits are in
 * docs/nats.md, "Catch-up then live".
 *
 * @module
 */

import type { Labels, MetricFamily } from "../metrics/exposition.ts";
import type { TradeOrigin } from "../wire/codec.ts";
import type {
  FeedStatus,
  LossCause,
  OnTick,
  StreamStats,
  SubscribeOptions,
  TradeFeed,
  TradeGap,
} from "../transport/feed.ts";
import type { LoadSnapshot } from "../transport/snapshot_feed.ts";
import { Seam } from "./_seam.ts";
import {
  type Delivery,
  evictionReport,
  lateReport,
  lossReport,
  type Stream,
} from "./_stream.ts";
import { StoredCutReader } from "./_stored_cut.ts";
import { settle as settleTick } from "./_settle.ts";

/** Options of {@linkcode CatchUpFeed}. */
export interface CatchUpFeedOptions {
  /** The history: trades from the catch-up start on, with their run epochs (a `NatsFeed`). */
  history: TradeFeed;
  /** The live feed, with its run epochs, reading from the oldest trade it holds (a `RingFeed` `from: "oldest"`). */
  live: TradeFeed;
  /**
   * Live trades held per stream while its history is replayed (a power of
   * two; 48 bytes each, per run: up to 4 old runs are kept too); beyond it
   * the oldest held go, and the history must reach further before the switch.
   * Released at the stream's switch.
   *
   * @default {262144}
   */
  hold?: number;
  /**
   * The history's start time (absent: a durable consumer's acknowledged
   * point): a stream switched with no history trade leaves out the held
   * live trades received before it.
   *
   * @default {undefined}
   */
  since?: Date;
  /**
   * For a durable start: reads the latest stored trade of each stream (a
   * `natsSnapshot`), once its history is known complete with nothing of it
   * delivered; once the consumer's ack floor passes it, the held live
   * trades at or before it, acknowledged in an earlier run, are left out.
   *
   * @default {undefined}
   */
  stored?: LoadSnapshot;
  /**
   * `stored` holds the last trades an earlier process delivered (a ring
   * durable): a stream's first trade of another run is a `producer restart` gap.
   *
   * @default {false}
   */
  continuing?: boolean;
  /**
   * How long, ms, the history must have had nothing pending, and brought
   * nothing of a stream, before that stream is switched at its oldest held
   * live trade (a quiet symbol, a history of another run; see `_seam.ts`).
   *
   * @default {1000}
   */
  settleMs?: number;
  /**
   * How long, ms, after the live feed last reported a stream's reader
   * `behind` (the ring's reader half a ring or more behind its writer,
   * reported at most every 5 s) the stream may not switch: lapped after
   * the switch it would lose trades the history still had.
   *
   * @default {6000}
   */
  behindQuietMs?: number;
}

/**
 * How long, ms at least (else 5 × settleMs), held trades of the live run
 * older than the history's last of another run hold the switch (a replaced
 * ring not attached yet); then the run is taken as the ring's own, newer
 * (a clock stepped back between the runs).
 */
const RUN_SETTLE_MIN_MS = 1000;

/** Default of {@linkcode CatchUpFeedOptions.hold}. */
export const DEFAULT_HOLD = 262_144;

/** Default of {@linkcode CatchUpFeedOptions.settleMs}. */
export const DEFAULT_SETTLE_MS = 1000;

/** Default of {@linkcode CatchUpFeedOptions.behindQuietMs}. */
export const DEFAULT_BEHIND_QUIET_MS = 6000;

/** `ms`, checked: a finite number of ms, 0 or more (a RangeError naming option `name` otherwise). */
function validMs(name: string, ms: number): number {
  if (!(ms >= 0 && Number.isFinite(ms))) {
    throw new RangeError(
      `Invalid ${name} ${ms}: expected a finite number of ms, 0 or more`,
    );
  }
  return ms;
}

/** The cause of held trades given up on before a switch. */
const GIVEN_UP: LossCause = "given up";

/**
 * Counts `count` held trades of `stream` given up on in its losses (the
 * summary's `lost`: the role exits 1); its report says why, not a gap.
 */
function giveUp(stream: Stream, count: number): void {
  stream.lost += count;
  stream.reportedLost += count;
  for (const by of [stream.lostBy, stream.reportedLostBy]) {
    by[GIVEN_UP] = (by[GIVEN_UP] ?? 0) + count;
  }
}

/** Whether a live feed's event `kind` tells its ring's producer gone. */
function gone(kind: string): boolean {
  return kind === "dead" || kind === "closed";
}

/** Catch-up then live; see the module documentation. */
export class CatchUpFeed implements TradeFeed {
  /** Short name (the `transport` label). */
  readonly name = "catch_up";
  /** The causes of loss of both feeds. */
  readonly lossCauses: readonly LossCause[];
  readonly #history: TradeFeed;
  readonly #live: TradeFeed;
  readonly #hold: number;
  readonly #since: bigint | undefined;
  readonly #stored: StoredCutReader | undefined;
  readonly #continuing: boolean;
  readonly #settleMs: number;
  /** How long, ms, held trades older than the history's last of another run hold a switch. */
  readonly #runSettleMs: number;
  readonly #behindQuietMs: number;
  #streams: Stream[] = [];
  #byKey = new Map<string, Stream>();
  #historyDone = false; // every stream live: the history's connection closed

  /**
   * Composes `options.history` and `options.live`; nothing is read until
   * {@linkcode subscribeTrades}.
   *
   * @throws {RangeError} when `options.settleMs` or `options.behindQuietMs`
   * is negative or not finite.
   */
  constructor(options: CatchUpFeedOptions) {
    this.#history = options.history;
    this.#live = options.live;
    this.#hold = options.hold ?? DEFAULT_HOLD;
    this.#since = options.since === undefined
      ? undefined
      : BigInt(options.since.getTime()) * 1_000_000n;
    this.#stored = options.stored && new StoredCutReader(options.stored);
    this.#continuing = options.continuing ?? false;
    this.#settleMs = validMs("settleMs", options.settleMs ?? DEFAULT_SETTLE_MS);
    this.#runSettleMs = Math.max(RUN_SETTLE_MIN_MS, 5 * this.#settleMs);
    this.#behindQuietMs = validMs(
      "behindQuietMs",
      options.behindQuietMs ?? DEFAULT_BEHIND_QUIET_MS,
    );
    this.lossCauses = [
      ...new Set([
        ...options.live.lossCauses,
        ...options.history.lossCauses,
        GIVEN_UP,
      ]),
    ];
  }

  /**
   * Subscribes both feeds to `symbols` (the live one first: its streams
   * give the indexes) and delivers each stream's history, then its live
   * trades, until the signal aborts (aborted already: at once, nothing
   * read) or exactly `limit` trades were delivered (the held trades of a
   * switch included). Gaps
   * of the history before the switch and of the live feed after it go to
   * `onGap` (their exact counts); the live feed's gaps before the switch
   * only drop the held trades (the history covers them). It skips no
   * trade: the seam needs every one.
   *
   * @throws {TypeError} when given `options.skip` (`live --snapshot` wraps
   * it as a preview, `SnapshotFeedOptions.preview`).
   */
  async subscribeTrades(
    symbols: readonly string[],
    onTick: OnTick,
    options: SubscribeOptions = {},
  ): Promise<void> {
    if (options.skip !== undefined) {
      throw new TypeError(
        "Invalid option skip for the catch-up feed: expected none (the catch-up delivers every trade from its start; a snapshot over it is a preview)",
      );
    }
    // Aborted already, nothing is read: the first SIGINT ends it at once.
    if (options.signal?.aborted) return;
    const history = new AbortController();
    const live = new AbortController();
    const stop = () => {
      history.abort();
      live.abort();
    };
    options.signal?.addEventListener("abort", stop, { once: true });
    const run: Delivery = {
      onTick,
      options,
      start: performance.now(),
      limit: options.limit && options.limit > 0 ? options.limit : Infinity,
      stop,
      stopHistory: () => {
        this.#historyDone = true;
        history.abort();
        clearInterval(settle); // every stream live: nothing to settle
      },
      historySignal: history.signal,
      delivered: 0,
      caughtUp: 0,
      lost: (stream, gap) => {
        const count = gap.count ?? 0;
        stream.lost += count;
        const cause = gap.cause as LossCause;
        if (this.lossCauses.includes(cause)) {
          stream.lostBy[cause] = (stream.lostBy[cause] ?? 0) + count;
        }
        options.onGap?.({ ...gap, stream: stream.index });
      },
    };
    const settle = setInterval(
      () =>
        settleTick(run, {
          streams: this.#streams,
          history: this.#history,
          stored: this.#stored,
          settleMs: this.#settleMs,
          runSettleMs: this.#runSettleMs,
        }),
      Math.max(10, Math.min(250, this.#settleMs)),
    );
    const liveRun = this.#read(this.#live, symbols, run, live.signal);
    const historyRun = this.#read(
      this.#history,
      symbols,
      run,
      history.signal,
    );
    // Either failing ends the other.
    const settled = await Promise.allSettled([
      liveRun.catch((error: unknown) => {
        stop();
        throw error;
      }),
      historyRun.catch((error: unknown) => {
        stop();
        throw error;
      }),
    ]);
    clearInterval(settle);
    options.signal?.removeEventListener("abort", stop);
    for (const result of settled) {
      if (result.status === "rejected") throw result.reason;
    }
  }

  /**
   * Subscribes `feed` (the live one or the history) to `symbols`, handing
   * its trades, epochs and gaps to the seams of its streams until `signal`.
   */
  #read(
    feed: TradeFeed,
    symbols: readonly string[],
    run: Delivery,
    signal: AbortSignal,
  ): Promise<void> {
    const isLive = feed === this.#live;
    const streams: Stream[] = [];
    const emit = run.options.onEvent ?? (() => {});
    const lost = (stream: Stream) => (gap: TradeGap) => run.lost(stream, gap);
    return feed.subscribeTrades(
      symbols,
      isLive
        ? (trade, _origin, index) => streams[index].seam.liveTrade(trade)
        : (trade, _origin, index) => streams[index].seam.history(trade),
      {
        signal,
        onStream: (origin, index) => {
          const stream = streams[index] = this.#open(origin, run);
          if (isLive) stream.liveIndex = index;
          else stream.historyIndex = index;
        },
        onEpoch: isLive
          ? (index, epoch) => {
            streams[index].producerGone = false; // a ring attached
            streams[index].seam.liveEpoch(epoch);
          }
          : (index, epoch) => streams[index].seam.historyEpoch(epoch),
        onGap: (gap) => {
          const stream = streams[gap.stream];
          if (isLive) stream.seam.liveGap(gap, lost(stream));
          else stream.seam.historyGap(gap, lost(stream));
        },
        onEvent: (event) => {
          const stream = event.stream >= 0 ? streams[event.stream] : undefined;
          if (stream !== undefined && event.kind === "lost") {
            // Either feed's loss report may count trades the stream did not
            // lose (the ring's absorbed by the seam before the switch, the
            // history's after it) or lost already told: the stream's own
            // counters say, once the gap that follows the report is in.
            queueMicrotask(() => {
              const lost = lossReport(stream);
              if (lost !== undefined) emit(lost);
            });
            return;
          }
          // A ring reader behind before its stream's switch loses nothing
          // (the history delivers those trades), but delays the switch.
          const covered = isLive && stream !== undefined &&
            !stream.seam.live && event.kind === "behind";
          if (covered) stream.behindAt = performance.now();
          if (isLive && stream !== undefined && gone(event.kind)) {
            stream.producerGone = true;
          }
          if (!covered) emit({ ...event, stream: stream?.index ?? -1 });
        },
      },
    );
  }

  /** The stream of `origin`, created and announced at its first mention. */
  #open(origin: TradeOrigin, run: Delivery): Stream {
    const key = `${origin.exchange}.${origin.symbol}`;
    const known = this.#byKey.get(key);
    if (known !== undefined) return known;
    const index = this.#streams.length;
    const stream: Stream = {
      index,
      origin: { exchange: origin.exchange, symbol: origin.symbol },
      seam: new Seam(
        {
          tick: (trade, epoch) => {
            // At the limit nothing more goes out (the held trades included).
            if (run.delivered >= run.limit) return;
            stream.received++;
            run.onTick(trade, stream.origin, index, epoch);
            if (++run.delivered >= run.limit) run.stop();
          },
          evicted: (epoch, count) => {
            giveUp(stream, count);
            run.options.onEvent?.(evictionReport(stream, { epoch, count }));
          },
          late: () => {
            giveUp(stream, 1);
            // One report for the trades of one message (delivered at once).
            if ((stream.late = (stream.late ?? 0) + 1) > 1) return;
            queueMicrotask(() => {
              run.options.onEvent?.(lateReport(stream, stream.late!));
              stream.late = 0;
            });
          },
          unsure: (epoch, count) => {
            giveUp(stream, count);
            run.options.onEvent?.(
              evictionReport(stream, { epoch, count, unsure: true }),
            );
          },
          mayGoLive: () =>
            performance.now() - stream.behindAt >= this.#behindQuietMs,
          gap: (gap) =>
            run.lost(stream, { ...gap, ...stream.origin, stream: index }),
          caughtUp: (replayed, lastSeq, epoch, lastEpoch) => {
            run.options.onCaughtUp?.({
              exchange: origin.exchange,
              symbol: origin.symbol,
              stream: index,
              replayed,
              ms: performance.now() - run.start,
              lastSeq,
              lastEpoch,
              epoch,
            });
            // Every stream live: the history is no longer read.
            if (++run.caughtUp === this.#streams.length) run.stopHistory();
          },
        },
        this.#hold,
        { since: this.#since, continuing: this.#continuing },
      ),
      received: 0,
      lost: 0,
      lostBy: {},
      reportedLost: 0,
      reportedLostBy: {},
      historyAt: -Infinity,
      replayedSeen: 0,
      behindAt: -Infinity,
      historyIndex: -1,
      liveIndex: -1,
    };
    this.#streams.push(stream);
    this.#byKey.set(key, stream);
    run.options.onStream?.(stream.origin, index);
    return stream;
  }

  /** Whether each stream (by index) reached live. */
  caughtUp(): boolean[] {
    return this.#streams.map((stream) => stream.seam.live);
  }

  /** Whether each stream (by index), not live yet, holds live trades it has not delivered. */
  holding(): boolean[] {
    return this.#streams.map(({ seam }) => !seam.live && seam.held > 0);
  }

  /** Whether the history still has trades to replay (or cannot tell: not connected). */
  replaying(): boolean {
    return !this.#history.status().idle;
  }

  /**
   * Counters per stream: what this feed delivered and the losses it passed
   * on; lag, invalid records, restarts and state from the feed the stream
   * reads now (the history until its switch, then the live feed).
   */
  stats(): StreamStats[] {
    const live = this.#live.stats();
    const history = this.#history.stats();
    return this.#streams.map((stream) => {
      const now = stream.seam.live
        ? live[stream.liveIndex]
        : history[stream.historyIndex];
      return {
        exchange: stream.origin.exchange,
        symbol: stream.origin.symbol,
        received: stream.received,
        lost: stream.lost,
        lostBy: stream.lostBy,
        invalid: (live[stream.liveIndex]?.invalid ?? 0) +
          (history[stream.historyIndex]?.invalid ?? 0),
        lag: now?.lag ?? 0,
        ...now?.lagOf !== undefined && { lagOf: now.lagOf },
        restarts: live[stream.liveIndex]?.restarts ?? 0,
        state: stream.seam.live
          ? now?.state ?? "live"
          : `catching up (${stream.seam.held} live trades held, ${stream.seam.droppedHeld} dropped)`,
      };
    });
  }

  /**
   * The live feed's status once every stream is live; before, connected
   * when both feeds are, idle when both are, and the detail says how many streams
   * are still catching up.
   */
  status(): FeedStatus {
    const live = this.#live.status();
    const behind = this.#streams.filter((stream) => !stream.seam.live);
    if (this.#streams.length > 0 && behind.length === 0) return live;
    const history = this.#history.status();
    const names = behind.map((stream) => stream.origin.symbol).join(", ");
    return {
      connected: live.connected && history.connected,
      // Nothing pending on either: nothing to deliver until trades come.
      idle: live.idle && history.idle,
      detail: `catching up: ${
        names || "not subscribed"
      }; history: ${history.detail}; live: ${live.detail}`,
    };
  }

  /** Both feeds' metric families, the live one's first; once all are live, its only (the history's connection closed on purpose would read as lost). */
  metrics(streams: readonly Labels[]): MetricFamily[] {
    const live = this.#live.metrics(streams);
    return this.#historyDone
      ? live
      : [...live, ...this.#history.metrics(streams)];
  }
}
