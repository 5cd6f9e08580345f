/**
 * The publishing pipeline: takes paced trades from the source, stamps each
 * symbol's sequence and the receive time, and hands every record to every
 * transport.
 *
 * @module
 */

import { delay } from "../common/delay.ts";
import { readWallClock } from "../common/ipc/clock.ts";
import { yieldToEventLoop } from "../common/ipc/wait_strategy.ts";
import { RecordOffset } from "../common/_record.ts";
import { TRADE_RECORD_SIZE } from "../common/trade.ts";
import type { SyntheticSource } from "./synthetic_source.ts";
import type { Transport } from "./transport.ts";

/** Options of {@linkcode publishTrades}. */
export interface PublishOptions {
  /** Stops publishing when aborted. */
  signal?: AbortSignal;
  /**
   * Wait for the transports' {@linkcode Transport.room} before each chunk
   * instead of letting them drop (for a publisher whose every transport can
   * wait, e.g. NATS only; never when the ring is one of them).
   */
  backpressure?: boolean;
}

/** What the pipeline published. */
export interface PublishCounters {
  /** Trades taken from the source and handed to the transports. */
  trades: number;
  /** Per symbol, in the source's symbol order. */
  perSymbol: number[];
}

/** The longest the pipeline sleeps between pacing checks, ms. */
const MAX_PAUSE_MS = 50;
/** With backpressure, the transports' room is checked at least every this many trades. */
const BACKPRESSURE_CHUNK = 64;
/** The wall clock is read for the first trade of a chunk and then every this many trades. */
const CLOCK_EVERY = 16;

/**
 * Publishes trades from `source` into every transport until the source is
 * exhausted or `signal` aborts. Sequences start at 1 per symbol and wrap at
 * 2^32. Between chunks it lets the event loop run (timers, signals).
 * `counters` is updated live, so progress lines can read it.
 */
export async function publishTrades(
  source: SyntheticSource,
  transports: readonly Transport[],
  options: PublishOptions & { counters?: PublishCounters } = {},
): Promise<PublishCounters> {
  const { signal } = options;
  const symbols = source.symbols.length;
  const counters = options.counters ??
    { trades: 0, perSymbol: new Array(symbols).fill(0) };
  const sequences = new Uint32Array(symbols);
  const record = new Uint8Array(TRADE_RECORD_SIZE);
  const view = new DataView(record.buffer);
  const clock = { seconds: 0, nanos: 0 };
  while (!signal?.aborted && !source.done) {
    const now = performance.now();
    const due = source.due(now);
    if (due === 0) {
      await delay(Math.min(MAX_PAUSE_MS, source.nextDueInMs(now)), signal);
      continue;
    }
    let chunk = due;
    if (options.backpressure) {
      for (const transport of transports) {
        const room = transport.room?.();
        if (room) await room;
      }
      if (signal?.aborted) break;
      // Look for room again soon: a source that fell behind (e.g. during an
      // outage) owes many trades at once.
      chunk = Math.min(due, BACKPRESSURE_CHUNK);
    }
    for (let i = 0; i < chunk; i++) {
      if (i % CLOCK_EVERY === 0) readWallClock(clock);
      const symbol = source.next(view, 0, clock.seconds, clock.nanos);
      if (symbol < 0) break;
      const seq = sequences[symbol] + 1;
      sequences[symbol] = seq;
      view.setUint32(RecordOffset.Seq, seq, true);
      for (let t = 0; t < transports.length; t++) {
        transports[t].send(symbol, record);
      }
      counters.perSymbol[symbol]++;
      counters.trades++;
    }
    await yieldToEventLoop();
  }
  return counters;
}
