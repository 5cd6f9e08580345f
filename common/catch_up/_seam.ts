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
 * before the new run's first trade, as a ring reader does.
 *
 * @module
 */

import type { TradeView } from "../wire/trade_view.ts";
import type { TradeGap } from "../transport/feed.ts";
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

/** What a seam delivers to, and tells about the switch. */
export interface SeamOutput {
  /** Delivers one trade of the stream. */
  tick(trade: TradeView): void;
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
}

/** `a - b` for u32 sequence numbers (wrapping), as a signed 32-bit difference. */
function ahead(a: number, b: number): number {
  return (a - b) | 0;
}

/** One stream's seam; see the module documentation. */
export class Seam {
  readonly #queue: RecordQueue;
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

  /** A seam delivering to `out`, holding up to `hold` live trades (a power of two). */
  constructor(out: SeamOutput, hold: number) {
    this.#out = out;
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

  /** The history's next trades are of run `epoch`. */
  historyEpoch(epoch: number): void {
    this.#historyEpoch = epoch;
  }

  /**
   * The live feed's next trades are of run `epoch` (a ring attached or
   * replaced). Before the switch the held trades are dropped (another run's
   * numbering: the history delivers them, or the switch tells a `producer
   * restart`); after it, the duplicate check stops (the new run numbers
   * from its own start, and the live feed tells its restart).
   */
  liveEpoch(epoch: number): void {
    if (epoch === this.#liveEpoch) return;
    this.#liveEpoch = epoch;
    if (this.#live) {
      this.#last = NONE;
    } else {
      this.#queue.clear();
    }
  }

  /** A history trade: delivered before the switch, ignored after it. */
  history(trade: TradeView): void {
    if (this.#live) return;
    const seq = trade.seq;
    if (this.#last !== NONE) {
      if (this.#lastEpoch !== this.#historyEpoch) {
        this.#out.gap(RESTART); // the history went on to another run
      } else if (ahead(seq, this.#last) <= 0) {
        return; // delivered already (a redelivery)
      }
    }
    this.#out.tick(trade);
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
      this.#deliverLive(trade);
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
   * where times compare). Returns whether it switched.
   */
  historyComplete(): boolean {
    if (this.#live || this.#queue.size === 0 || !this.#out.mayGoLive()) {
      return false;
    }
    const last = this.#last;
    if (last !== NONE) {
      if (this.#lastEpoch !== this.#liveEpoch) {
        // Held trades older than the history's last: the live feed still
        // reads a run the history went past (a replaced ring).
        if (this.#queue.headTsRecv < this.#lastTsRecv) return false;
        this.#out.gap(RESTART);
        this.#last = NONE; // the live run numbers from its own start
      } else {
        const missing = ahead(this.#queue.headSeq, last) - 1;
        if (missing > 0) {
          this.#out.gap({
            cause: "overwritten",
            firstSeq: (last + 1) >>> 0,
            lastSeq: (this.#queue.headSeq - 1) >>> 0,
            count: missing,
          });
        }
      }
    }
    this.#switch(last === NONE ? null : last);
    return true;
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
    this.#out.caughtUp(this.#replayed, lastSeq, this.#liveEpoch);
    this.#queue.drain((trade) => this.#deliverLive(trade));
  }

  /** Delivers a live trade past the last delivered one (the only duplicate check). */
  #deliverLive(trade: TradeView): void {
    const seq = trade.seq;
    if (this.#last !== NONE && ahead(seq, this.#last) <= 0) return;
    this.#last = seq;
    this.#out.tick(trade);
  }
}
