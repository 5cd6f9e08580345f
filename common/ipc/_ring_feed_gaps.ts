/**
 * Gaps as data for a {@linkcode RingFeed} stream: the losses its readers
 * counted (overwritten, lost to an eviction, corrupt slots) and producer
 * restarts, turned into {@linkcode TradeGap}s delivered just before the
 * stream's next trade. `RingReader.readMany` stops at a loss, so every loss
 * a reader counted by the end of a read lies before the first trade it read.
 *
 * @module
 */

import type { EventSubject } from "../transport/feed_events.ts";
import type { GapCause, OnGap, TradeGap } from "../transport/feed.ts";

/** Missing trades not delivered as a gap yet: a count of one cause, or a producer restart (count null). */
interface GapPart {
  cause: GapCause;
  /** The `seq` of its first trade, when known. */
  firstSeq: number | null;
  count: number | null;
}

/** What a reader counts of its losses, by cause. */
export interface LossCounts {
  /** Every trade skipped. */
  readonly lost: number;
  /** The part in corrupt slots. */
  readonly corrupt: number;
  /** The part lost to evictions. */
  readonly evictedLoss: number;
}

/** One stream's gaps not delivered yet, and what they are counted from. */
export class GapTrack {
  /** The current reader's `lost` already turned into gaps (compare after each read). */
  lost = 0;
  #corrupt = 0;
  #evicted = 0;
  /** The `seq` the next trade of this epoch should have, or -1 before the first trade. */
  #nextSeq = -1;
  #parts: GapPart[] = [];

  /** Are gaps waiting for the next trade? */
  get pending(): boolean {
    return this.#parts.length > 0;
  }

  /** Turns what `reader` lost since the last call into gaps. */
  note(reader: LossCounts): void {
    const corrupt = reader.corrupt - this.#corrupt;
    const evicted = reader.evictedLoss - this.#evicted;
    this.#add("overwritten", reader.lost - this.lost - corrupt - evicted);
    this.#add("evicted", evicted);
    this.#add("corrupt slot", corrupt);
    this.lost = reader.lost;
    this.#corrupt = reader.corrupt;
    this.#evicted = reader.evictedLoss;
  }

  /** The reader was closed: the next one counts from 0. (Call {@linkcode note} first.) */
  detached(): void {
    this.lost = this.#corrupt = this.#evicted = 0;
  }

  /** A new producer: how many trades were missed is unknown, and seqs start again. */
  restarted(): void {
    const last = this.#parts.at(-1);
    if (last?.cause !== "producer restart") {
      this.#parts.push({
        cause: "producer restart",
        firstSeq: null,
        count: null,
      });
    }
    this.#nextSeq = -1;
  }

  /** Trades were delivered, the last with `seq`. */
  delivered(seq: number): void {
    this.#nextSeq = (seq + 1) >>> 0;
  }

  /**
   * Delivers the pending gaps of `stream` to `onGap`, the next trade having
   * `nextSeq` (undefined: none follows, the subscription ends).
   */
  flush(
    stream: EventSubject,
    nextSeq: number | undefined,
    onGap: OnGap | undefined,
  ): void {
    const parts = this.#parts;
    this.#parts = [];
    for (let i = 0; i < parts.length; i++) {
      const { cause, firstSeq, count } = parts[i];
      let lastSeq: number | null = null;
      if (count !== null) {
        if (i === parts.length - 1 && nextSeq !== undefined) {
          lastSeq = (nextSeq - 1) >>> 0;
        } else if (firstSeq !== null) lastSeq = (firstSeq + count - 1) >>> 0;
      }
      const gap: TradeGap = {
        exchange: stream.exchange,
        symbol: stream.symbol,
        stream: stream.index,
        cause,
        firstSeq,
        lastSeq,
        count,
      };
      onGap?.(gap);
    }
  }

  #add(cause: GapCause, count: number): void {
    if (count <= 0) return;
    const known = this.#nextSeq >= 0;
    const last = this.#parts.at(-1);
    if (last?.cause === cause && last.count !== null) last.count += count;
    else {
      this.#parts.push({
        cause,
        firstSeq: known ? this.#nextSeq : null,
        count,
      });
    }
    if (known) this.#nextSeq = (this.#nextSeq + count) >>> 0;
  }
}
