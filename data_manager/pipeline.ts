/**
 * The publishing pipeline: stamps each symbol's sequence on the records a
 * source delivers, flags the first record after a gap the source reported,
 * and hands every record to every transport at once. Only the pacing
 * transports' room holds the source back.
 *
 * @module
 */

import { RecordOffset, TradeFlags } from "../common/wire/mod.ts";
import type { TradeSink, TradeSource } from "./source.ts";
import type { TradePublisher } from "../common/transport/publisher.ts";

/** Options of {@linkcode publishTrades}. */
export interface PublishOptions {
  /** Stops publishing when aborted. */
  signal?: AbortSignal;
  /**
   * The transports whose room paces the sources that can wait (a file, a
   * generator): serve passes the ring (whose room is pending while a
   * tethered reader holds it), and NATS only without the ring. Every
   * transport is still sent every trade at once. Absent: none.
   */
  pacing?: readonly TradePublisher[];
  /** Stop after this many trades (0 or absent = no limit); later trades are not published. */
  limit?: number;
  /** Publish only while it holds (the registry lease), asked before each trade; see {@linkcode Pipeline}. */
  lease?: PublishLease;
}

/** Whether publishing may go on (`holds`), and what to do once it may not (`ended`, called once). */
export interface PublishLease {
  /** May this process still publish? */
  holds(): boolean;
  /** It may not: called once, at the first trade refused. */
  ended(): void;
}

/** What the pipeline published. */
export interface PublishCounters {
  /** Trades taken from the source and handed to the transports. */
  trades: number;
  /** Per symbol, in the source's symbol order. */
  perSymbol: number[];
}

/** Stamps sequences and fans records out to the transports. */
export class Pipeline implements TradeSink {
  /** Counters, updated as trades go out. */
  readonly counters: PublishCounters;
  #transports: readonly TradePublisher[];
  /** The transports that defer work until flushed. */
  #flushing: readonly TradePublisher[];
  #sequences: Uint32Array;
  /** Per symbol: 1 when the next record follows a gap the source reported. */
  #gaps: Uint8Array;
  #pacing: readonly TradePublisher[];
  #limit: number;
  #reached = new AbortController();
  #lease: PublishLease | undefined;
  #leaseEnded = false;
  /** Aborts at the limit or with the caller's signal: no room is waited for then. */
  #stop: AbortSignal;

  /** A pipeline for `symbols` into `transports`. */
  constructor(
    symbols: readonly string[],
    transports: readonly TradePublisher[],
    options: {
      pacing?: readonly TradePublisher[];
      counters?: PublishCounters;
      limit?: number;
      signal?: AbortSignal;
      /** Per symbol, the seq already published (a standby taking over resumes after its owner's); absent: 0, the first trade gets seq 1. */
      lastSeqs?: readonly number[];
      /** Publish only while it holds. */
      lease?: PublishLease;
    } = {},
  ) {
    this.#lease = options.lease;
    this.#limit = options.limit && options.limit > 0 ? options.limit : Infinity;
    this.#transports = transports;
    this.#flushing = transports.filter((t) => t.flush !== undefined);
    this.#sequences = new Uint32Array(symbols.length);
    options.lastSeqs?.forEach((seq, i) => this.#sequences[i] = seq);
    this.#gaps = new Uint8Array(symbols.length);
    this.#pacing = options.pacing ?? [];
    this.#stop = options.signal
      ? AbortSignal.any([this.#reached.signal, options.signal])
      : this.#reached.signal;
    this.counters = options.counters ??
      { trades: 0, perSymbol: new Array(symbols.length).fill(0) };
  }

  /**
   * Stamps the symbol's next seq (from 1, wrapping at 2^32), flags the
   * record {@linkcode TradeFlags.Gap} when a gap came before it, and sends
   * it to every transport.
   */
  publish(symbol: number, record: Uint8Array): void {
    if (this.counters.trades >= this.#limit) return;
    if (this.#lease !== undefined && !this.#lease.holds()) {
      // Not published: whoever owns the symbols now publishes them.
      if (!this.#leaseEnded) this.#lease.ended();
      this.#leaseEnded = true;
      return;
    }
    const seq = this.#sequences[symbol] + 1;
    this.#sequences[symbol] = seq;
    // Little-endian u32 by bytes: no view to allocate per trade.
    const at = RecordOffset.Seq;
    record[at] = seq & 0xff;
    record[at + 1] = (seq >>> 8) & 0xff;
    record[at + 2] = (seq >>> 16) & 0xff;
    record[at + 3] = seq >>> 24;
    if (this.#gaps[symbol] !== 0) {
      // Gap is bit 3: the low byte of the little-endian u16 flags.
      record[RecordOffset.Flags] |= TradeFlags.Gap;
      this.#gaps[symbol] = 0;
    }
    const transports = this.#transports;
    for (let t = 0; t < transports.length; t++) {
      transports[t].send(symbol, record);
    }
    this.counters.perSymbol[symbol]++;
    if (++this.counters.trades === this.#limit) this.#reached.abort();
  }

  /**
   * The source handed over what it has for now: transports that defer work
   * per batch (the ring's commit, NATS's frames) do it now, so a paced
   * source that blocks the thread until its next trade adds no latency.
   * Returns a promise when a transport needs the event loop to finish (a
   * socket write): await it before blocking.
   */
  flush(): Promise<void> | undefined {
    const flushing = this.#flushing;
    let pending: Promise<void> | undefined;
    for (let t = 0; t < flushing.length; t++) {
      const sent = flushing[t].flush!();
      if (sent !== undefined) {
        pending = pending === undefined ? sent : pending.then(() => sent);
      }
    }
    return pending;
  }

  /** Aborts once the limit is reached. */
  get limitReached(): AbortSignal {
    return this.#reached.signal;
  }

  /**
   * `count` trades of `symbol` are missing here: its seq skips them
   * (wrapping at 2^32) and its next record carries
   * {@linkcode TradeFlags.Gap}, so consumers see the gap exactly.
   *
   * @throws {RangeError} when `count` is not an integer from 1 to 2^53 - 1.
   */
  gap(symbol: number, count: number): void {
    if (!Number.isSafeInteger(count) || count < 1) {
      throw new RangeError(
        `Invalid gap of ${count} trades: expected an integer, 1 or more`,
      );
    }
    // Modulo 2^32 first: the sum stays exact whatever the count.
    this.#sequences[symbol] = this.#sequences[symbol] + count % 0x1_0000_0000;
    this.#gaps[symbol] = 1;
  }

  /**
   * The first pending room among the pacing transports, which also resolves
   * once publishing stops (so a held source sees the abort at once);
   * undefined when all have room.
   */
  room(): Promise<void> | undefined {
    for (const transport of this.#pacing) {
      const room = transport.room?.();
      if (room) return untilStopped(room, this.#stop);
    }
    return undefined;
  }
}

/** `room`, or sooner once `stop` aborts. */
function untilStopped(
  room: Promise<void>,
  stop: AbortSignal,
): Promise<void> {
  if (stop.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const stopped = () => resolve();
    stop.addEventListener("abort", stopped, { once: true });
    room.then(() => {
      stop.removeEventListener("abort", stopped);
      resolve();
    }, (error) => {
      stop.removeEventListener("abort", stopped);
      reject(error);
    });
  });
}

/**
 * Runs `source` into every transport until it is exhausted or `signal`
 * aborts, starting it once the pacing transports have room (rings waiting
 * for their readers hold even a live source, which never waits itself).
 * `counters` is updated live, so progress lines can read it.
 */
export async function publishTrades(
  source: TradeSource,
  transports: readonly TradePublisher[],
  options: PublishOptions & { counters?: PublishCounters } = {},
): Promise<PublishCounters> {
  const pipeline = new Pipeline(source.symbols, transports, options);
  const signals = [pipeline.limitReached];
  if (options.signal) signals.push(options.signal);
  await pipeline.room();
  await source.run(pipeline, { signal: AbortSignal.any(signals) });
  return pipeline.counters;
}
