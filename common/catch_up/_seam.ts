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
 * A history going from one run to another (with no `Marketbus-Epoch`: a
 * `seq` not past the last delivered one; no redelivery comes: a durable
 * consumer drops them by stream sequence, a time start's ordered consumer is
 * recreated past its last delivered message) tells a `producer restart` gap before the new run's first
 * trade, as a ring reader does; before it, the
 * trades of the old run the live feed held before it went on to the new
 * run (a producer killed: its ring's last trades JetStream never stored)
 * are delivered past the history's last one of that run. A kept run the
 * history skips (it goes from an earlier run to a later one) was never
 * stored: it goes out whole (a time start: from the start on), then a
 * restart gap. A kept run before the history's first one goes out with a
 * time start; a durable start cannot tell which of its trades earlier runs
 * acknowledged, so they are counted and told (`SeamOutput.unsure`). At a
 * durable start with nothing delivered, the latest stored trade cuts: the
 * kept runs before its run are so told, its run goes out past it, later
 * runs whole.
 *
 * @module
 */

import type { TradeView } from "../wire/trade_view.ts";
import type { TradeGap } from "../transport/feed.ts";
import { NO_EPOCH } from "../wire/run_epoch.ts";
import { RecordQueue } from "./_record_queue.ts";
import { ahead, KeptRuns, type StoredCut } from "./_kept_runs.ts";
import type {
  HistoryCompleteOptions,
  SeamGap,
  SeamOptions,
  SeamOutput,
} from "./_seam_output.ts";

export type { StoredCut };
export type { HistoryCompleteOptions, SeamGap, SeamOptions, SeamOutput };

/** No epoch known yet, or no trade delivered yet. */
const NONE = -1;

/** A new run: how many of the old one's trades are missing is unknown. */
const RESTART: SeamGap = {
  cause: "producer restart",
  firstSeq: null,
  lastSeq: null,
  count: null,
};

/** Whether `seq` is in `range` (u32, wrapping). */
function inRange(seq: number, range: { first: number; last: number }): boolean {
  return ahead(seq, range.first) >= 0 && ahead(range.last, seq) >= 0;
}

/** One stream's seam; see the module documentation. */
export class Seam {
  #queue: RecordQueue;
  readonly #hold: number;
  /** Held trades of runs the live feed went past before the switch, by epoch. */
  readonly #left = new KeptRuns();
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
  readonly #continuing: boolean;
  /** The run an earlier process delivered last (`continuing`), until the first delivery. */
  #continueFrom = NONE;
  #evicted = 0;
  /** The `seq` range of each kept run dropped (more than 4), by epoch: given up on unless the history brings it. */
  readonly #dropped = new Map<number, { first: number; last: number }>();
  #unsure = 0;
  #waitsForRing = false;
  /**
   * The `seq` ranges the history skipped in its run (a forward jump no
   * history gap told; at most 64, the newest): a trade of that run filling
   * one later was stored after later ones (a publish retried), not a repeat.
   */
  #holes: { first: number; last: number }[] = [];
  #gapTold = false;

  /** A seam delivering to `out`, holding up to `hold` live trades (a power of two). */
  constructor(out: SeamOutput, hold: number, options: SeamOptions = {}) {
    this.#out = out;
    this.#since = options.since;
    this.#continuing = options.continuing ?? false;
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

  /** Live trades dropped from the held ones because they were too many (the history delivers them, or the switch counts them in a gap); 0 after the switch. */
  get droppedHeld(): number {
    return this.#queue.dropped;
  }

  /** Held trades of old runs given up on: more than 4 kept before the switch. */
  get evicted(): number {
    return this.#evicted;
  }

  /** Held trades of kept old runs given up on at a durable start (see `SeamOutput.unsure`). */
  get unsure(): number {
    return this.#unsure;
  }

  /**
   * Whether the last {@linkcode historyComplete} did not switch because the
   * held trades of the live run are older (`ts_recv`) than the history's
   * last of another run: a replaced ring not attached yet, or a clock
   * stepped back (see {@linkcode HistoryCompleteOptions.runSettled}).
   */
  get waitsForRing(): boolean {
    return this.#waitsForRing;
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
    this.#waitsForRing = false;
    if (this.#live) {
      this.#last = NONE;
    } else if (this.#queue.size > 0) {
      const dropped = this.#left.keep(this.#liveEpoch, this.#queue);
      if (dropped !== undefined && dropped.held.size > 0) {
        const first = dropped.held.headSeq; // held trades are contiguous
        const last = (first + dropped.held.size - 1) >>> 0;
        this.#dropped.set(dropped.epoch, { first, last });
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
      const step = ahead(seq, this.#last);
      if (this.#lastEpoch !== this.#historyEpoch) {
        this.#holes = [];
        this.#leaveRun(); // the history went on to another run
        // The kept runs it skipped (before that run) were never stored.
        if (this.#left.has(epoch) || epoch === this.#liveEpoch) {
          this.#deliverKept(epoch, null);
        }
      } else if (step <= 0) {
        // No known run: the history feed brings no redelivery (a durable
        // one drops them by stream sequence; an ordered one is recreated
        // past its last delivered message), so this is a producer restart.
        if (epoch !== NO_EPOCH) {
          // A trade the history skipped, stored late: lost (out of order);
          // else stored twice (delivered already).
          if (this.#holes.some((h) => inRange(seq, h))) this.#out.late?.(seq);
          return;
        }
        this.#out.gap(RESTART);
      } else if (step > 1 && epoch !== NO_EPOCH && !this.#gapTold) {
        this.#holes.push({ first: (this.#last + 1) >>> 0, last: seq - 1 });
        if (this.#holes.length > 64) this.#holes.shift();
      }
    }
    this.#gapTold = false;
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
    if (this.#live) return;
    this.#gapTold = true; // its trades are counted: not a hole
    forward(gap);
  }

  /**
   * The history has nothing more of this stream for now: switches at the
   * oldest held live trade, if any (see the module documentation), unless
   * the live feed reads another run whose oldest held trade is older than
   * the history's last (a replaced ring not attached yet: the only place
   * where times compare), for as long as `options.runSettled` is not set.
   * With nothing delivered, the held trades received before
   * `SeamOptions.since`, or at or before `options.stored` (a durable start:
   * the stream's latest stored trade, acknowledged in an earlier run) are
   * left out. Returns whether it switched.
   */
  historyComplete(options: HistoryCompleteOptions = {}): boolean {
    const { stored, runSettled = false } = options;
    this.#waitsForRing = false;
    if (this.#live || !this.#out.mayGoLive()) return false;
    const last = this.#last;
    if (
      last === NONE && this.#continuing && stored != null &&
      stored.epoch !== NO_EPOCH
    ) this.#continueFrom = stored.epoch;
    if (last === NONE && this.#liveEpoch !== NONE) {
      // Nothing delivered: the held trades before the start (a time, or
      // what a durable consumer acknowledged in earlier runs) are not asked
      // for; none left, live goes on from the next trade.
      if (this.#dropBeforeStart(stored)) {
        this.#deliverKept(NONE, stored);
        this.#switch(null);
        return true;
      }
    }
    if (this.#queue.size === 0) return false;
    if (last !== NONE && this.#lastEpoch === NO_EPOCH) {
      if (!this.#afterUnknownRun(last)) return false;
    } else if (last !== NONE) {
      if (this.#lastEpoch !== this.#liveEpoch) {
        // Never a held trade received before the start (a stale ring).
        if (this.#since !== undefined) this.#queue.shiftBefore(this.#since);
        if (this.#queue.size === 0) return false;
        // Held trades older than the history's last: the live feed still
        // reads a run the history went past (a replaced ring), unless that
        // run was read long enough for a replaced ring to be attached (a
        // clock stepped back: a newer run whose trades JetStream lacks).
        if (this.#queue.headTsRecv < this.#lastTsRecv && !runSettled) {
          this.#waitsForRing = true;
          return false;
        }
        this.#leaveRun();
        // The live run numbers from its own start; the kept runs left, the
        // history never entered: never stored.
        this.#deliverKept(NONE, null);
      } else {
        this.#gapTo(this.#queue.headSeq);
      }
    } else {
      this.#deliverKept(NONE, stored);
    }
    this.#switch(last === NONE ? null : last);
    return true;
  }

  /**
   * Drops the held trades before the history's start: received before
   * `since`, or at or before `stored` in its run (then an exact gap when
   * the ring no longer holds the trades just past it). Returns whether
   * none is left.
   */
  #dropBeforeStart(stored: StoredCut | null | undefined): boolean {
    const queue = this.#queue;
    const since = this.#since;
    if (since !== undefined) queue.shiftBefore(since);
    if (stored?.epoch === NO_EPOCH) {
      // Stored with no known run (an old serve): `ts_recv` is the only cut.
      queue.shiftThrough(stored.seq, stored.tsRecv);
    } else if (stored != null && stored.epoch === this.#liveEpoch) {
      queue.shiftThrough(stored.seq);
      if (queue.size > 0) {
        this.#last = stored.seq;
        this.#gapTo(queue.headSeq);
        this.#last = NONE;
      }
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
    queue.shiftThrough(last, this.#lastTsRecv);
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
    this.#giveUpDropped(run, this.#last);
    const held = this.#left.take(run);
    if (held !== undefined && held.size > 0) {
      this.#gapTo(held.headSeq);
      held.drain((trade) => this.#deliverLive(trade, run));
    }
    this.#out.gap(RESTART);
  }

  /**
   * Delivers the held trades of the kept runs before run `epoch` the
   * history never brings (`KeptRuns.takeBefore`, by the start: `since` or
   * the durable `start`), each run followed by a `producer restart` gap;
   * those a durable start cannot tell are counted and told
   * (`SeamOutput.unsure`). No trade is delivered last after it.
   */
  #deliverKept(epoch: number, start?: StoredCut | null): void {
    const taken = this.#left.takeBefore(epoch, {
      since: this.#since,
      start,
      liveEpoch: this.#liveEpoch,
    });
    for (const { epoch: run, held, after, unsure } of taken) {
      if (unsure) {
        this.#unsure += held.size;
        this.#out.unsure?.(run, held.size);
        continue;
      }
      this.#last = after ?? NONE;
      if (after !== null) this.#gapTo(held.headSeq);
      held.drain((trade) => this.#deliverLive(trade, run));
      this.#out.gap(RESTART);
    }
    this.#last = NONE;
  }

  /**
   * Counts and tells (`SeamOutput.evicted`) the `seq`s of the dropped kept
   * run `epoch`, if any, the history did not bring: past `through`, its
   * last trade of that run (null: none, all of them).
   */
  #giveUpDropped(epoch: number, through: number | null): void {
    const run = this.#dropped.get(epoch);
    if (run === undefined) return;
    this.#dropped.delete(epoch);
    const count = ahead(run.last, run.first) + 1;
    const lost = through === null
      ? count
      : Math.min(count, Math.max(0, ahead(run.last, through)));
    if (lost === 0) return;
    this.#evicted += lost;
    this.#out.evicted?.(epoch, lost);
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
    for (const epoch of this.#dropped.keys()) this.#giveUpDropped(epoch, null);
    this.#live = true;
    this.#left.clear();
    this.#out.caughtUp(
      this.#replayed,
      lastSeq,
      this.#liveEpoch,
      lastSeq === null ? null : this.#lastEpoch,
    );
    this.#queue.drain((trade) => this.#deliverLive(trade, this.#liveEpoch));
    this.#queue = new RecordQueue(1); // its buffer released: never used again
  }

  /** Delivers a live trade of run `epoch` past the last delivered one (the only duplicate check). */
  #deliverLive(trade: TradeView, epoch: number): void {
    const seq = trade.seq;
    if (this.#last !== NONE && ahead(seq, this.#last) <= 0) return;
    if (this.#continueFrom !== NONE && this.#continueFrom !== epoch) {
      this.#out.gap(RESTART); // another run than the one delivered last
    }
    this.#continueFrom = NONE;
    this.#last = seq;
    this.#out.tick(trade, epoch);
  }
}
