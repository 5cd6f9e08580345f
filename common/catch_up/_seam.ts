/**
 * The seam of one stream: where its delivery passes from the history (a
 * JetStream replay) to the live feed (the ring). See docs/nats.md, "Catch-up
 * then live", for the timeline.
 *
 * Before the switch, history trades are delivered and the live trades are
 * held, contiguous, in a {@linkcode RecordQueue}. The switch happens as soon
 * as the last delivered trade and the held ones are of the same run epoch
 * and the oldest held `seq` is at most one past the last delivered one: the
 * held trades past it are delivered, in order, then live ones as they come.
 * (Not while the live reader is far behind its writer: `mayGoLive`.)
 * Nothing is skipped (the held trades start at or before the next `seq`)
 * and nothing repeats (only `seq`s past the last delivered one go out, and
 * after the switch the history is ignored).
 *
 * When the history is known complete for the stream (its consumer has
 * nothing pending and brought nothing of the stream for a while:
 * {@linkcode Seam.historyComplete}) and live trades are held, the stream
 * switches at the oldest held one, in the live epoch: with no gap when the
 * history delivered nothing (a quiet symbol), a `producer restart` gap of
 * unknown count when the history ended in another run, and an exact gap
 * when the history, in the same run, stopped short of the held trades.
 * A history going from one run to another tells a `producer restart` gap
 * before the new run's first trade, as a ring reader does; before it, the
 * trades of the old run the live feed held before it went on to the new
 * run (a producer killed: its ring's last trades JetStream never stored)
 * are delivered past the history's last one of that run. With a time
 * start, a kept run the history never enters (its first trade of a later
 * run, or none) goes out first, from the start on, then a restart gap.
 *
 * @module
 */

import type { TradeView } from "../wire/trade_view.ts";
import type { TradeGap } from "../transport/feed.ts";
import { NO_EPOCH } from "../wire/run_epoch.ts";
import { RecordQueue } from "./_record_queue.ts";

/** No epoch known yet, or no trade delivered yet. */
const NONE = -1;

/** A gap the seam finds itself (its stream's fields are the feed's to add). */
export type SeamGap = Pick<
  TradeGap,
  "cause" | "firstSeq" | "lastSeq" | "count"
>;

/** A new run: how many of the old one's trades are missing is unknown. */
const RESTART: SeamGap = {
  cause: "producer restart",
  firstSeq: null,
  lastSeq: null,
  count: null,
};

/** Options of {@linkcode Seam}. */
export interface SeamOptions {
  /**
   * The history's start, `ts_recv` ns: a stream switched with no history
   * trade delivered leaves out the held trades received before it.
   *
   * @default {undefined} (a durable consumer's start: every held trade)
   */
  since?: bigint;
}

/** The latest trade JetStream stores of a stream: its run epoch and `seq`. */
export interface StoredCut {
  /** Its run epoch. */
  epoch: number;
  /** Its `seq`. */
  seq: number;
}

/** Old runs whose held trades are kept at most (the oldest go first). */
const MAX_LEFT_RUNS = 4;

/** What a seam delivers to, and tells about the switch. */
export interface SeamOutput {
  /** Delivers one trade of the stream, of run `epoch`. */
  tick(trade: TradeView, epoch: number): void;
  /** Tells trades missing just before the next trade `tick` gets. */
  gap(gap: SeamGap): void;
  /**
   * Whether the live feed may be switched to now: not while its reader is
   * far behind its writer (lapped after the switch, it would lose trades
   * the history still had).
   */
  mayGoLive(): boolean;
  /** Tells the switch: `replayed` history trades came before it, `lastSeq` the last (or null). */
  caughtUp(replayed: number, lastSeq: number | null, epoch: number): void;
  /**
   * Tells the `count` held trades of the oldest kept run, `epoch`, given up
   * on (more than 4 old runs before the switch): lost unless the history
   * brings them.
   */
  evicted?(epoch: number, count: number): void;
}

/** `a - b` for u32 sequence numbers (wrapping), as a signed 32-bit difference. */
function ahead(a: number, b: number): number {
  return (a - b) | 0;
}

/** One stream's seam; see the module documentation. */
export class Seam {
  #queue: RecordQueue;
  readonly #hold: number;
  /** Held trades of runs the live feed went past before the switch, by epoch. */
  readonly #left = new Map<number, RecordQueue>();
  readonly #out: SeamOutput;
  #live = false;
  #replayed = 0;
  /** `seq` of the last trade delivered, and its epoch (NONE: none yet). */
  #last = NONE;
  #lastEpoch = NONE;
  /** The epoch of the history's current trades, and of the live feed's. */
  #historyEpoch = NONE;
  #liveEpoch = NONE;
  /** The `ts_recv` of the last history trade delivered. */
  #lastTsRecv = 0n;

  readonly #since: bigint | undefined;
  #evicted = 0;

  /** A seam delivering to `out`, holding up to `hold` live trades (a power of two). */
  constructor(out: SeamOutput, hold: number, options: SeamOptions = {}) {
    this.#out = out;
    this.#since = options.since;
    this.#hold = hold;
    this.#queue = new RecordQueue(hold);
  }

  /** Whether the stream switched: it delivers live trades. */
  get live(): boolean {
    return this.#live;
  }

  /** History trades delivered before the switch. */
  get replayed(): number {
    return this.#replayed;
  }

  /** Live trades held now. */
  get held(): number {
    return this.#queue.size;
  }

  /** Live trades dropped from the held ones because they were too many (the history delivers them, or the switch counts them in a gap). */
  get droppedHeld(): number {
    return this.#queue.dropped;
  }

  /** Held trades of old runs given up on: more than 4 kept before the switch. */
  get evicted(): number {
    return this.#evicted;
  }

  /** The history's next trades are of run `epoch`. */
  historyEpoch(epoch: number): void {
    this.#historyEpoch = epoch;
  }

  /**
   * The live feed's next trades are of run `epoch` (a ring attached or
   * replaced). Before the switch the held trades are kept aside until the
   * history leaves their run (it then gets those past its last trade of
   * that run: a killed producer's last trades may be in its ring only);
   * after it, the duplicate check stops (the new run numbers from its own
   * start, and the live feed tells its restart).
   */
  liveEpoch(epoch: number): void {
    if (epoch === this.#liveEpoch) return;
    if (this.#live) {
      this.#last = NONE;
    } else if (this.#queue.size > 0) {
      this.#left.delete(this.#liveEpoch);
      this.#left.set(this.#liveEpoch, this.#queue);
      if (this.#left.size > MAX_LEFT_RUNS) {
        const [epoch, held] = this.#left.entries().next().value!;
        this.#left.delete(epoch);
        this.#evicted += held.size;
        this.#out.evicted?.(epoch, held.size);
      }
      this.#queue = new RecordQueue(this.#hold);
    }
    this.#liveEpoch = epoch;
  }

  /** A history trade: delivered before the switch, ignored after it. */
  history(trade: TradeView): void {
    if (this.#live) return;
    const seq = trade.seq;
    const epoch = this.#historyEpoch;
    if (
      this.#last === NONE &&
      (this.#left.has(epoch) || epoch === this.#liveEpoch)
    ) {
      this.#deliverKept(epoch); // runs the history starts past
    }
    if (this.#last !== NONE) {
      if (this.#lastEpoch !== this.#historyEpoch) {
        this.#leaveRun(); // the history went on to another run
      } else if (ahead(seq, this.#last) <= 0) {
        return; // delivered already (a redelivery)
      }
    }
    this.#out.tick(trade, this.#historyEpoch);
    this.#last = seq;
    this.#lastEpoch = this.#historyEpoch;
    this.#lastTsRecv = trade.tsRecv;
    this.#replayed++;
    if (this.#queue.size > 0) this.#trySwitch();
  }

  /**
   * A live trade: held before the switch (and the switch tried), delivered
   * after it unless it is one delivered already.
   */
  liveTrade(trade: TradeView): void {
    if (this.#live) {
      this.#deliverLive(trade, this.#liveEpoch);
      return;
    }
    this.#queue.push(trade);
    this.#trySwitch();
  }

  /**
   * A gap of the live feed: passed on after the switch, less the `seq`s
   * delivered already (the reader may still be behind the history's last
   * trade); before it, the held trades are no longer contiguous, so they
   * are dropped (the history will deliver what they held).
   */
  liveGap(gap: TradeGap, forward: (gap: TradeGap) => void): void {
    if (!this.#live) {
      this.#queue.clear();
      return;
    }
    const last = this.#last;
    const { firstSeq, lastSeq } = gap;
    if (last === NONE || firstSeq === null || lastSeq === null) {
      forward(gap);
      return;
    }
    if (ahead(lastSeq, last) <= 0) return; // all delivered
    if (ahead(firstSeq, last) > 0) {
      forward(gap);
    } else {
      const first = (last + 1) >>> 0;
      forward({ ...gap, firstSeq: first, count: ahead(lastSeq, first) + 1 });
    }
    this.#last = lastSeq;
  }

  /** A gap of the history: passed on before the switch (trades lost for good), ignored after. */
  historyGap(gap: TradeGap, forward: (gap: TradeGap) => void): void {
    if (!this.#live) forward(gap);
  }

  /**
   * The history has nothing more of this stream for now: switches at the
   * oldest held live trade, if any (see the module documentation), unless
   * the live feed reads another run whose oldest held trade is older than
   * the history's last (a replaced ring not attached yet: the only place
   * where times compare). With nothing delivered, the held trades received
   * before `SeamOptions.since`, or at or before `stored` (a durable start:
   * the stream's latest stored trade, acknowledged in an earlier run) are
   * left out. Returns whether it switched.
   */
  historyComplete(stored?: StoredCut): boolean {
    if (this.#live || !this.#out.mayGoLive()) return false;
    const last = this.#last;
    if (last === NONE && this.#liveEpoch !== NONE) {
      // Nothing delivered: the held trades before the start (a time, or
      // what a durable consumer acknowledged in earlier runs) are not asked
      // for; none left, live goes on from the next trade.
      if (this.#dropBeforeStart(stored)) {
        this.#deliverKept(NONE);
        this.#switch(null);
        return true;
      }
    }
    if (this.#queue.size === 0) return false;
    if (last !== NONE && this.#lastEpoch === NO_EPOCH) {
      if (!this.#afterUnknownRun(last)) return false;
    } else if (last !== NONE) {
      if (this.#lastEpoch !== this.#liveEpoch) {
        // Held trades older than the history's last: the live feed still
        // reads a run the history went past (a replaced ring).
        if (this.#queue.headTsRecv < this.#lastTsRecv) return false;
        this.#leaveRun();
        this.#deliverKept(NONE); // the live run numbers from its own start
      } else {
        this.#gapTo(this.#queue.headSeq);
      }
    } else {
      this.#deliverKept(NONE);
    }
    this.#switch(last === NONE ? null : last);
    return true;
  }

  /**
   * Drops the held trades before the history's start: received before
   * `since`, or at or before `stored` in its run (then an exact gap when
   * the ring no longer holds the trades just past it; a `producer restart`
   * gap when the ring reads another run). Returns whether
   * none is left.
   */
  #dropBeforeStart(stored: StoredCut | undefined): boolean {
    const queue = this.#queue;
    const since = this.#since;
    if (since !== undefined) {
      while (queue.size > 0 && queue.headTsRecv < since) queue.shift();
    }
    if (stored !== undefined && stored.epoch === this.#liveEpoch) {
      while (queue.size > 0 && ahead(queue.headSeq, stored.seq) <= 0) {
        queue.shift();
      }
      if (queue.size > 0) {
        this.#last = stored.seq;
        this.#gapTo(queue.headSeq);
        this.#last = NONE;
      }
    } else if (stored !== undefined && queue.size > 0) {
      this.#out.gap(RESTART); // the ring reads a later run: the stored one's tail is unknown
    }
    return queue.size === 0 && (since !== undefined || stored !== undefined);
  }

  /**
   * The history's last trade, `last`, is of no known run (no
   * `Marketbus-Epoch`): `ts_recv` is the only cut. The held trades received
   * before it (or with it, at or before its `seq`) were replayed and go;
   * the rest follow with no gap when they continue its `seq`, else behind
   * a `producer restart` gap. Returns whether held trades are left.
   */
  #afterUnknownRun(last: number): boolean {
    const queue = this.#queue;
    const at = this.#lastTsRecv;
    while (
      queue.size > 0 &&
      (queue.headTsRecv < at ||
        (queue.headTsRecv === at && ahead(queue.headSeq, last) <= 0))
    ) queue.shift();
    if (queue.size === 0) return false;
    if (ahead(queue.headSeq, last) !== 1) {
      this.#out.gap(RESTART);
      this.#last = NONE;
    }
    return true;
  }

  /**
   * The history leaves the run of its last trade: the live trades held of
   * that run past that trade go out (an exact gap before them when the ring
   * lost some), then a `producer restart` gap.
   */
  #leaveRun(): void {
    const run = this.#lastEpoch;
    const held = this.#left.get(run);
    if (held !== undefined && held.size > 0) {
      this.#left.delete(run);
      this.#gapTo(held.headSeq);
      held.drain((trade) => this.#deliverLive(trade, run));
    }
    this.#out.gap(RESTART);
  }

  /**
   * A time start: delivers the held trades of the kept runs before run
   * `epoch` (all of them when it is not kept), oldest run first: the history
   * never brings them. Each from `since` on, followed by a `producer
   * restart` gap; no trade is delivered last after it. (A durable start
   * cannot tell a kept run's acknowledged trades: left as before.)
   */
  #deliverKept(epoch: number): void {
    const since = this.#since;
    this.#last = NONE;
    if (since === undefined) return; // a durable start: they may be acknowledged
    for (const [run, held] of this.#left) {
      if (run === epoch) break;
      this.#left.delete(run);
      while (held.size > 0 && held.headTsRecv < since) held.shift();
      if (held.size === 0) continue;
      this.#last = NONE;
      held.drain((trade) => this.#deliverLive(trade, run));
      this.#out.gap(RESTART);
    }
    this.#last = NONE;
  }

  /** Tells an exact gap from past the last delivered trade to just before `seq`, if any. */
  #gapTo(seq: number): void {
    const last = this.#last;
    const missing = ahead(seq, last) - 1;
    if (missing > 0) {
      this.#out.gap({
        cause: "overwritten",
        firstSeq: (last + 1) >>> 0,
        lastSeq: (seq - 1) >>> 0,
        count: missing,
      });
    }
  }

  /** Switches if the held trades continue the delivered ones in the same epoch. */
  #trySwitch(): void {
    if (this.#last === NONE || this.#lastEpoch !== this.#liveEpoch) return;
    if (ahead(this.#queue.headSeq, this.#last) > 1) return; // history not there yet
    if (!this.#out.mayGoLive()) return; // the next trade tries again
    this.#switch(this.#last);
  }

  /** Tells the switch (`lastSeq` delivered last), then delivers the held trades not delivered yet. */
  #switch(lastSeq: number | null): void {
    this.#live = true;
    this.#left.clear();
    this.#out.caughtUp(this.#replayed, lastSeq, this.#liveEpoch);
    this.#queue.drain((trade) => this.#deliverLive(trade, this.#liveEpoch));
  }

  /** Delivers a live trade of run `epoch` past the last delivered one (the only duplicate check). */
  #deliverLive(trade: TradeView, epoch: number): void {
    const seq = trade.seq;
    if (this.#last !== NONE && ahead(seq, this.#last) <= 0) return;
    this.#last = seq;
    this.#out.tick(trade, epoch);
  }
}
