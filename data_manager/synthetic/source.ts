/**
 * The synthetic source as a {@linkcode TradeSource}: paces a
 * {@linkcode SyntheticGenerator} and stamps the receive time.
 *
 * @module
 */

import { delay } from "../../common/runtime/delay.ts";
import { readWallClock } from "../../common/runtime/clock.ts";
import { yieldToEventLoop } from "../../common/runtime/delay.ts";
import { TRADE_RECORD_SIZE } from "../../common/wire/trade.ts";
import type { TradeSink, TradeSource } from "../source.ts";
import {
  SyntheticGenerator,
  type SyntheticGeneratorOptions,
} from "./generator.ts";

/** The longest the feed sleeps between pacing checks, ms. */
const MAX_PAUSE_MS = 50;
/** The sink's room is checked at least every this many trades. */
const ROOM_EVERY = 64;
/** The wall clock is read for the first trade of a chunk and then every this many trades. */
const CLOCK_EVERY = 16;

/** Deterministic random-walk trades at a configured rate. */
export class SyntheticSource implements TradeSource {
  /** Source kind. */
  readonly kind = "synthetic";
  #source: SyntheticGenerator;
  #seed: number;

  /** A feed of `symbols` (options as for {@linkcode SyntheticGenerator}). */
  constructor(
    symbols: readonly string[],
    options: SyntheticGeneratorOptions = {},
  ) {
    this.#source = new SyntheticGenerator(symbols, options);
    this.#seed = options.seed ?? 1;
  }

  /** Symbols, by index. */
  get symbols(): readonly string[] {
    return this.#source.symbols;
  }

  /** Trades produced so far. */
  get produced(): number {
    return this.#source.produced;
  }

  /** Progress fragment. */
  summary(): string {
    return `synthetic seed ${this.#seed}${this.#source.done ? " (done)" : ""}`;
  }

  /** Publishes paced trades into `sink` until done (max trades) or aborted. */
  async run(sink: TradeSink, options: { signal: AbortSignal }): Promise<void> {
    const { signal } = options;
    const source = this.#source;
    const record = new Uint8Array(TRADE_RECORD_SIZE);
    const view = new DataView(record.buffer);
    const clock = { seconds: 0, nanos: 0 };
    while (!signal.aborted && !source.done) {
      const now = performance.now();
      const due = source.due(now);
      if (due === 0) {
        await delay(Math.min(MAX_PAUSE_MS, source.nextDueInMs(now)), signal);
        continue;
      }
      for (let i = 0; i < due; i++) {
        if (i % ROOM_EVERY === 0) {
          const room = sink.room();
          if (room) {
            await room;
            if (signal.aborted) return;
          }
        }
        if (i % CLOCK_EVERY === 0) readWallClock(clock);
        const symbol = source.next(view, 0, clock.seconds, clock.nanos);
        if (symbol < 0) break;
        sink.publish(symbol, record);
      }
      await yieldToEventLoop();
    }
  }
}
