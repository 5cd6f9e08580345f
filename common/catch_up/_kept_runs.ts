/**
 * The held live trades of old runs a seam keeps aside before its switch
 * (a producer restarted while the stream catches up: a killed producer's
 * last trades may be in its ring only), by run epoch, oldest first, and
 * which of them a seam delivers when the history never brings them.
 *
 * @module
 */

import type { RecordQueue } from "./_record_queue.ts";
import { NO_EPOCH } from "../wire/run_epoch.ts";

/** The latest trade JetStream stores of a stream: its run epoch, `seq` and `ts_recv`. */
export interface StoredCut {
  /** Its run epoch (`NO_EPOCH`: stored without `Marketbus-Epoch`, cut by `tsRecv`). */
  epoch: number;
  /** Its `seq`. */
  seq: number;
  /** Its `ts_recv`, ns. */
  tsRecv: bigint;
}

/** Old runs whose held trades are kept at most (the oldest go first). */
const MAX_KEPT_RUNS = 4;

/** `a - b` for u32 sequence numbers (wrapping), as a signed 32-bit difference. */
export function ahead(a: number, b: number): number {
  return (a - b) | 0;
}

/** A kept run taken out: its held trades to deliver (past `after`, when set), or given up on (`unsure`). */
export interface TakenRun {
  /** Its run epoch. */
  epoch: number;
  /** Its held trades left (none when `unsure`). */
  held: RecordQueue;
  /** The `seq` delivered last before them (a stored cut), or null. */
  after: number | null;
  /** Given up on: a durable start cannot tell which were stored. */
  unsure: boolean;
}

/** Options of {@linkcode KeptRuns.takeBefore}. */
export interface TakeBeforeOptions {
  /** A time start, `ts_recv` ns: the held trades before it are left out. */
  since: bigint | undefined;
  /** A durable start's latest stored trade (null: none; undefined: not known). */
  start: StoredCut | null | undefined;
  /** The live feed's run epoch. */
  liveEpoch: number;
}

/** The kept runs of one seam; see the module documentation. */
export class KeptRuns {
  readonly #runs = new Map<number, RecordQueue>();

  /** Whether run `epoch` is kept. */
  has(epoch: number): boolean {
    return this.#runs.has(epoch);
  }

  /**
   * Keeps `held`, run `epoch`'s held trades; returns the oldest kept run
   * dropped (its epoch, its held trades) when more than 4 are kept.
   */
  keep(
    epoch: number,
    held: RecordQueue,
  ): { epoch: number; held: RecordQueue } | undefined {
    this.#runs.delete(epoch);
    this.#runs.set(epoch, held);
    if (this.#runs.size <= MAX_KEPT_RUNS) return undefined;
    const [oldest, queue] = this.#runs.entries().next().value!;
    this.#runs.delete(oldest);
    return { epoch: oldest, held: queue };
  }

  /** Takes run `epoch`'s held trades out, if kept. */
  take(epoch: number): RecordQueue | undefined {
    const held = this.#runs.get(epoch);
    this.#runs.delete(epoch);
    return held;
  }

  /** Forgets every kept run (the switch). */
  clear(): void {
    this.#runs.clear();
  }

  /**
   * Takes out the kept runs before run `epoch` (all of them when it is not
   * kept), oldest first: the history never brings them. A time start: each
   * from `since` on. A durable start, by `start`: the runs before its run
   * had trades stored and acknowledged in an earlier run, and nothing tells
   * which held ones were not (`unsure`; all runs when `start` is undefined
   * or of the live run); its run past its `seq`; later runs (all of them
   * when none is stored, or its run is not kept: older) whole, never stored.
   */
  takeBefore(epoch: number, options: TakeBeforeOptions): TakenRun[] {
    const { since, start } = options;
    let unsure = since === undefined && start !== null &&
      (start === undefined || start.epoch === options.liveEpoch ||
        this.#runs.has(start.epoch));
    const taken: TakenRun[] = [];
    for (const [run, held] of this.#runs) {
      if (run === epoch) break;
      this.#runs.delete(run);
      let after: number | null = null;
      if (since !== undefined) {
        held.shiftBefore(since);
      } else if (start?.epoch === NO_EPOCH) {
        held.shiftThrough(start.seq, start.tsRecv); // no known run: by time
      } else if (start != null && run === start.epoch) {
        unsure = false; // the later runs: never stored
        held.shiftThrough(start.seq);
        after = start.seq;
      }
      if (held.size > 0) taken.push({ epoch: run, held, after, unsure });
    }
    return taken;
  }
}
