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
 * Nothing is skipped (the held trades start at or before the next `seq`)
 * and nothing repeats (only `seq`s past the last delivered one go out, and
 * after the switch the history is ignored).
 *
 * @module
 */

import type { TradeView } from "../wire/trade_view.ts";
import type { TradeGap } from "../transport/feed.ts";
import { RecordQueue } from "./_record_queue.ts";

/** No epoch known yet, or no trade delivered yet. */
const NONE = -1;

/** What a seam delivers to, and tells about the switch. */
export interface SeamOutput {
  /** Delivers one trade of the stream. */
  tick(trade: TradeView): void;
  /** Tells the switch: `replayed` history trades came before it, `lastSeq` the last (or null). */
  caughtUp(replayed: number, lastSeq: number | null, epoch: number): void;
}

/** `a - b` for u32 sequence numbers (wrapping), as a signed 32-bit difference. */
function ahead(a: number, b: number): number {
  return (a - b) | 0;
}

/** One stream's seam; see the module documentation. */
export class Seam {
  /** Delivering live trades. */
  live = false;
  /** History trades delivered before the switch. */
  replayed = 0;
  readonly #queue: RecordQueue;
  readonly #out: SeamOutput;
  /** `seq` of the last trade delivered, and its epoch (NONE: none yet). */
  #last = NONE;
  #lastEpoch = NONE;
  /** The epoch of the history's current trades, and of the live feed's. */
  #historyEpoch = NONE;
  #liveEpoch = NONE;

  /** A seam delivering to `out`, holding up to `hold` live trades (a power of two). */
  constructor(out: SeamOutput, hold: number) {
    this.#out = out;
    this.#queue = new RecordQueue(hold);
  }

  /** Live trades dropped from the held ones because they were too many. */
  get droppedHeld(): number {
    return this.#queue.dropped;
  }

  /** Live trades held now. */
  get held(): number {
    return this.#queue.size;
  }

  /** The history's next trades are of run `epoch`. */
  historyEpoch(epoch: number): void {
    this.#historyEpoch = epoch;
  }

  /**
   * The live feed's next trades are of run `epoch` (a ring attached or
   * replaced). Before the switch the held trades are dropped (another run's
   * numbering); after it, the duplicate check stops (the new run numbers
   * from its own start).
   */
  liveEpoch(epoch: number): void {
    if (epoch === this.#liveEpoch) return;
    this.#liveEpoch = epoch;
    if (this.live) {
      this.#last = NONE;
    } else {
      this.#queue.clear();
    }
  }

  /** A history trade: delivered before the switch, ignored after it. */
  history(trade: TradeView): void {
    if (this.live) return;
    const seq = trade.seq;
    if (
      this.#last !== NONE && this.#lastEpoch === this.#historyEpoch &&
      ahead(seq, this.#last) <= 0
    ) return; // delivered already (a redelivery)
    this.#out.tick(trade);
    this.#last = seq;
    this.#lastEpoch = this.#historyEpoch;
    this.replayed++;
    if (this.#queue.size > 0) this.#trySwitch();
  }

  /**
   * A live trade: held before the switch (and the switch tried), delivered
   * after it unless it is one delivered already.
   */
  liveTrade(trade: TradeView): void {
    const seq = trade.seq;
    if (this.live) {
      if (this.#last !== NONE && ahead(seq, this.#last) <= 0) return;
      this.#last = seq;
      this.#out.tick(trade);
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
    if (!this.live) {
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
    if (!this.live) forward(gap);
  }

  /** Switches if the held trades continue the delivered ones in the same epoch. */
  #trySwitch(): void {
    if (this.#last === NONE || this.#lastEpoch !== this.#liveEpoch) return;
    const last = this.#last;
    if (ahead(this.#queue.headSeq, last) > 1) return; // history not there yet
    this.live = true;
    this.#out.caughtUp(this.replayed, last, this.#liveEpoch);
    this.#queue.drain((trade) => {
      if (ahead(trade.seq, this.#last) <= 0) return;
      this.#last = trade.seq;
      this.#out.tick(trade);
    });
  }
}
