/**
 * A durable catch-up's start for the streams its history brought nothing
 * of: the latest trade JetStream stores of each (acknowledged in an earlier
 * run once the consumer has nothing pending), read with a snapshot loader,
 * one read at a time, a failure told once and tried again later.
 *
 * @module
 */

import type { TradeOrigin } from "../wire/codec.ts";
import { RecordOffset } from "../wire/record.ts";
import type { LoadSnapshot } from "../transport/snapshot_feed.ts";
import { delay } from "../runtime/delay.ts";
import type { StoredCut } from "./_kept_runs.ts";

/** A stream's latest stored trade, with its JetStream stream sequence. */
export interface StoredTrade extends StoredCut {
  /** Its stream sequence. */
  streamSeq: number;
}

/** How long after a failed read of the latest stored trades the next one goes, ms. */
export const STORED_RETRY_MS = 5000;

/**
 * The latest stored trade of each of `origins` (undefined: none stored),
 * in their order, read with `options.load`.
 */
export async function readStoredCuts(
  origins: readonly TradeOrigin[],
  options: { load: LoadSnapshot; signal?: AbortSignal },
): Promise<(StoredTrade | undefined)[]> {
  const symbols = origins.map((origin) => origin.symbol);
  const stored = await options.load(symbols, options.signal);
  return origins.map((origin) => {
    const found = stored.find((trade) =>
      trade.origin.exchange === origin.exchange &&
      trade.origin.symbol === origin.symbol
    );
    if (found === undefined) return undefined;
    const { record } = found;
    const words = new DataView(record.buffer, record.byteOffset);
    return {
      epoch: found.epoch,
      seq: words.getUint32(RecordOffset.Seq, true),
      tsRecv: words.getBigInt64(RecordOffset.TsRecv, true),
      streamSeq: found.streamSeq,
    };
  });
}

/** Options of {@linkcode StoredCutReader.read}. */
export interface StoredReadOptions {
  /** Ends the read and its retry wait. */
  signal: AbortSignal;
  /** Gets the cuts read, in the order of the origins (null: none stored). */
  done: (cuts: (StoredTrade | null)[]) => void;
  /** Tells a failed read (once per message: a retry failing alike is not told again). */
  failed: (message: string) => void;
}

/** Reads the latest stored trades, one read at a time; see the module documentation. */
export class StoredCutReader {
  readonly #load: LoadSnapshot;
  #reading = false;
  #told = "";

  /** A reader with `load` (a `natsSnapshot`). */
  constructor(load: LoadSnapshot) {
    this.#load = load;
  }

  /**
   * Reads the latest stored trades of `origins` into `options.done`, unless
   * a read (or its retry wait, STORED_RETRY_MS after a failure) is under way.
   */
  read(origins: readonly TradeOrigin[], options: StoredReadOptions): void {
    if (this.#reading) return;
    this.#reading = true;
    const { signal } = options;
    readStoredCuts(origins, { load: this.#load, signal })
      .then(
        (cuts) => options.done(cuts.map((cut) => cut ?? null)),
        async (error: unknown) => {
          const message =
            `catch-up: the latest stored trades could not be read (${
              error instanceof Error ? error.message : String(error)
            }); the quiet streams holding ring trades wait (not caught up) and try again every ${
              STORED_RETRY_MS / 1000
            } s`;
          if (message !== this.#told) options.failed(message);
          this.#told = message;
          await delay(STORED_RETRY_MS, signal);
        },
      )
      .finally(() => this.#reading = false);
  }
}
