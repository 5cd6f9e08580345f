/**
 * A k-way merge of trade files into one stream ordered by time across files,
 * symbols and exchanges, in bounded memory: what a backtest reads.
 *
 * Each file is read by its own cursor (_merge_cursor.ts) a chunk at a time:
 * every format the readers take (the project's NDJSON, Binance trades CSV,
 * gzip, a Binance .zip), each line made a 48-byte record straight from its
 * bytes when it has the plain form (_fast_row.ts), else by the readers' own
 * line parser, with the same checks and errors; a binary heap over the
 * files' current records picks the next. The files are parsed in worker
 * threads by default (see {@linkcode MergeTradeFilesOptions.workers}), a few
 * blocks of records ahead per file; in this thread, a chunk ahead. The order
 * is (ts_event, then ts_recv, then the file's position in the expanded
 * list); within one file rows keep their file order, so seq — written in
 * order by a recording — never reorders them. A gzip's checksum or a zip's
 * CRC-32 is checked at its end: a corrupt file fails the merge there, after
 * its rows before.
 *
 * Rows are checked for plausibility by default, as `serve --source replay`
 * reads them ({@linkcode MergeTradeFilesOptions.plausibility}): a trade
 * before its symbol's previous one is then a bad row. Without that check, a
 * file that goes back in time is still merged by its current trade (a
 * trade earlier than one already delivered comes out as soon as its file
 * reaches it): the merged stream is then not sorted, and
 * {@linkcode MergeTradeFilesOptions.onOutOfOrder} is told once per file, at
 * its first such line. The check is per (exchange, symbol): a recording of
 * several symbols has them interleaved in arrival order (a few ms back
 * across symbols), and is merged as written there.
 *
 * ```ts ignore
 * const merger = await TradeFileMerger.open(["data/2024-01"], { symbols: ["BTCUSDT"] });
 * try {
 *   for await (const batch of merger) {
 *     // batch.records: count × 48-byte records; batch.streams[i]: merger.streams index
 *   }
 * } finally {
 *   await merger.close();
 * }
 * ```
 *
 * @module
 */

import type { TradeOrigin } from "../wire/codec.ts";
import { BatchBuilder, type MergedBatch, StreamIndex } from "./_merge_batch.ts";
import { type CursorOptions, MergeCursor } from "./_merge_cursor.ts";
import { type MergeSource, RECORD_WORDS } from "./_record_block.ts";
import { MergeWorkers } from "./_merge_remote.ts";
import { MinHeap } from "./_merge_heap.ts";
import { describe } from "./_row.ts";
import type { OnBadRow } from "./trade_file.ts";
import { expandTradeFiles } from "./_merge_files.ts";

export { TRADE_FILE_EXTENSIONS } from "./_merge_files.ts";
export type { MergedBatch, MergedGap } from "./_merge_batch.ts";

/** Options of {@linkcode TradeFileMerger.open}. */
export interface MergeTradeFilesOptions {
  /** First ts_event kept, ns since the epoch (inclusive); absent: from the start. */
  from?: bigint;
  /**
   * ts_event where the range ends, ns since the epoch (exclusive); absent:
   * to the end. A Binance CSV read with {@linkcode plausibility} is sorted
   * (a trade before the previous is a bad row), so it is read only up to its
   * first trade at or after `to` (bad rows after it are not seen); any other
   * file (an NDJSON recording mixes symbols) is read whole.
   */
  to?: bigint;
  /** Symbols kept, upper case; absent or empty: all. */
  symbols?: readonly string[];
  /** Exchanges kept, lower case; absent or empty: all. */
  exchanges?: readonly string[];
  /** `"stop"` throws a {@linkcode TradeFileRowError} at the first bad row, `"skip"` counts it and goes on. @default "stop" */
  onError?: OnBadRow;
  /**
   * Flag implausible rows as bad rows (see _plausibility.ts: a time before
   * 2000 or a day ahead, before the symbol's previous row, a trade id not
   * above it, a price more than ×1.5 away from it), and take a CSV's time
   * unit from its first plausible time: exactly as `serve --source replay`
   * reads a file, so that a backtest keeps the rows replay keeps.
   * @default true
   */
  plausibility?: boolean;
  /** Told each bad row (file, 1-based line, reason) before it is skipped or stops the merge. */
  onBadRow?: (path: string, line: number, reason: string) => void;
  /** Told once per file, at the first trade whose ts_event is below the previous trade's of its (exchange, symbol) in that file (symbols of a recording interleave in arrival order: not told). */
  onOutOfOrder?: (path: string, line: number) => void;
  /**
   * Told once per pair of files at the first trade of `path` left out as a
   * duplicate of `first`'s: a trade of the same (exchange, symbol) at the
   * same ts_event and ts_recv with the same trade id (0: unknown, then not
   * compared) as one from another file just before it in merge order (the
   * same trades under two names: a recording and its gzip, a copy, files
   * that overlap). Duplicates are left out and counted in
   * {@linkcode TradeFileMerger.duplicates}; rows repeated within one file
   * are kept.
   */
  onDuplicate?: (path: string, first: string) => void;
  /** Records per yielded batch at most. @default 4096 */
  batchSize?: number;
  /**
   * Worker threads that parse the files while this one merges (the files
   * dealt out in turn to the workers and this thread, which takes one
   * share); 0 parses them in this thread. The merged stream is the
   * same. A worker loads its modules from the source tree, so it needs read
   * access to common/. @default one less than the cores
   * (`navigator.hardwareConcurrency`), at most one per file, for two files
   * or more; 0 for one file, or without read access to common/
   */
  workers?: number;
  /** Told after each batch the bytes read so far (compressed, if so) of the total, for an ETA. */
  onProgress?: (bytesRead: number, totalBytes: number) => void;
}

/** The default of {@linkcode MergeTradeFilesOptions.batchSize}. */
export const DEFAULT_MERGE_BATCH_SIZE = 4096;

/** The merge order of the cursors' heads: a before b (ts_event, ts_recv, file order). */
function before(a: MergeSource, b: MergeSource): boolean {
  const x = a.block.words;
  const y = b.block.words;
  const i = a.block.next * RECORD_WORDS;
  const j = b.block.next * RECORD_WORDS;
  // u32 halves, high first: ts_event at words 3, 2; ts_recv at 5, 4.
  for (let k = 3; k <= 5; k += 2) {
    if (x[i + k] !== y[j + k]) return x[i + k] < y[j + k];
    if (x[i + k - 1] !== y[j + k - 1]) return x[i + k - 1] < y[j + k - 1];
  }
  return a.index < b.index;
}

/**
 * Workers by default for `files` files: one less than the cores, for two
 * files or more, when this process may load the worker's module (it needs
 * read access to the source, common/, which a task granting only its data
 * does not give: then 0). One file is parsed here: measured with one NDJSON
 * recording, a worker only moved the parsing (the merge's cost) and added
 * the hand-over (docs/benchmarks.md).
 */
function defaultWorkers(files: number): number {
  const cores = navigator.hardwareConcurrency ?? 1;
  if (files < 2 || cores < 2 || !MergeWorkers.permitted()) return 0;
  return cores - 1;
}

/** A set of `values`, undefined when absent or empty (all kept). */
function setOf(values: readonly string[] | undefined): Set<string> | undefined {
  return values === undefined || values.length === 0
    ? undefined
    : new Set(values);
}

/** Checks the options, with one-line TypeError/RangeError messages. */
function checkOptions(options: MergeTradeFilesOptions): void {
  const { from, to, onError = "stop", batchSize } = options;
  for (const [name, value] of [["from", from], ["to", to]] as const) {
    if (value !== undefined && typeof value !== "bigint") {
      throw new TypeError(
        `Invalid ${name} ${
          describe(value)
        }: expected ns since the epoch as a bigint`,
      );
    }
  }
  if (from !== undefined && to !== undefined && to <= from) {
    throw new RangeError(
      `Invalid range from ${from} to ${to}: expected to after from`,
    );
  }
  if (onError !== "stop" && onError !== "skip") {
    throw new TypeError(
      `Invalid onError ${describe(onError)}: expected "skip" or "stop"`,
    );
  }
  if (
    batchSize !== undefined &&
    (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1 << 20)
  ) {
    throw new RangeError(
      `Invalid batchSize ${
        describe(batchSize)
      }: expected an integer from 1 to 1048576`,
    );
  }
  const { workers, plausibility } = options;
  if (plausibility !== undefined && typeof plausibility !== "boolean") {
    throw new TypeError(
      `Invalid plausibility ${describe(plausibility)}: expected a boolean`,
    );
  }
  if (
    workers !== undefined &&
    (!Number.isInteger(workers) || workers < 0 || workers > 64)
  ) {
    throw new RangeError(
      `Invalid workers ${describe(workers)}: expected an integer from 0 to 64`,
    );
  }
}

/**
 * Merges trade files into batches of wire records ordered by (ts_event,
 * ts_recv, file order), reading each file as a stream (see the module doc).
 * Iterate it once; {@linkcode close} it when done (also after an error).
 */
export class TradeFileMerger implements AsyncIterable<MergedBatch> {
  /** The (exchange, symbol) of each stream index, in order of first appearance in the merged stream. */
  readonly streams: readonly TradeOrigin[];
  /** The files merged, directories expanded, in merge order. */
  readonly files: readonly string[];
  /** Their total size in bytes (compressed, if so). */
  readonly totalBytes: number;
  readonly #streamIndex = new StreamIndex();
  readonly #cursors: MergeSource[];
  readonly #workers: MergeWorkers | undefined;
  readonly #options: MergeTradeFilesOptions;
  #out: BatchBuilder | undefined;
  #iterated = false;

  private constructor(
    files: { files: string[]; totalBytes: number },
    cursors: MergeSource[],
    workers: MergeWorkers | undefined,
    options: MergeTradeFilesOptions,
  ) {
    this.streams = this.#streamIndex.origins;
    this.files = files.files;
    this.totalBytes = files.totalBytes;
    this.#cursors = cursors;
    this.#workers = workers;
    this.#options = options;
  }

  /**
   * Opens `paths` (files, and directories expanded to their trade files in
   * name order) and reads each up to its first trade.
   *
   * @throws {TradeFileReadError} naming a file that cannot be opened or read,
   * or a directory holding no trade file.
   * @throws {TradeFileRowError} at a bad row before a file's first trade under `onError: "stop"`.
   * @throws {TypeError} or {@linkcode RangeError} for bad options or no path.
   */
  static async open(
    paths: readonly string[],
    options: MergeTradeFilesOptions = {},
  ): Promise<TradeFileMerger> {
    checkOptions(options);
    if (paths.length === 0) {
      throw new TypeError(
        "Invalid paths []: expected at least one trade file or directory",
      );
    }
    const expanded = await expandTradeFiles(paths);
    const { files } = expanded;
    const { onBadRow, onOutOfOrder } = options;
    const count = Math.min(
      files.length,
      options.workers ?? defaultWorkers(files.length),
    );
    const workers = count > 0 ? new MergeWorkers(count) : undefined;
    const cursors = files.map((path, index) => {
      const cursorOptions: CursorOptions = {
        from: options.from,
        to: options.to,
        symbols: setOf(options.symbols),
        exchanges: setOf(options.exchanges),
        onError: options.onError ?? "stop",
        plausibility: options.plausibility ?? true,
        onBadRow: onBadRow && ((line, reason) => onBadRow(path, line, reason)),
        onOutOfOrder: onOutOfOrder && ((line) => onOutOfOrder(path, line)),
      };
      return workers?.open(path, index, cursorOptions) ??
        new MergeCursor(path, index, cursorOptions);
    });
    const merger = new TradeFileMerger(expanded, cursors, workers, options);
    try {
      for (const cursor of cursors) await cursor.fill();
    } catch (error) {
      await merger.close();
      throw error;
    }
    return merger;
  }

  /** Trades left out so far as duplicates of another file's (see {@linkcode MergeTradeFilesOptions.onDuplicate}). */
  get duplicates(): number {
    return this.#out?.duplicates ?? 0;
  }

  /** The bytes read so far of all files. */
  #bytesRead(): number {
    let bytes = 0;
    for (const cursor of this.#cursors) bytes += cursor.bytesRead;
    return bytes;
  }

  /**
   * The merged stream, batch by batch (each valid until the next is asked for).
   *
   * @throws {TradeFileRowError} at a bad row under `onError: "stop"`, after
   * the batch of what was merged before it.
   * @throws {TradeFileReadError} when a file cannot be read further, likewise.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<
    MergedBatch,
    void,
    undefined
  > {
    if (this.#iterated) {
      throw new TypeError(
        "Invalid use of TradeFileMerger: it can be iterated only once",
      );
    }
    this.#iterated = true;
    const { batchSize = DEFAULT_MERGE_BATCH_SIZE, onProgress, onDuplicate } =
      this.#options;
    const out = this.#out = new BatchBuilder(
      batchSize,
      this.#streamIndex,
      onDuplicate,
    );
    const take = (): MergedBatch => {
      onProgress?.(this.#bytesRead(), this.totalBytes);
      return out.take();
    };
    const heap = new MinHeap<MergeSource>(before);
    for (const cursor of this.#cursors) {
      if (cursor.ready) heap.push(cursor);
      else out.addGaps(cursor.block.takeGaps()); // a file of gap lines only
    }
    try {
      while (heap.size > 0) {
        const cursor = heap.top!;
        out.add(cursor);
        if (!cursor.ready) {
          try {
            await cursor.fill();
          } catch (error) {
            if (!out.empty) yield take();
            throw error;
          }
        }
        if (!cursor.ready) {
          out.addGaps(cursor.block.takeGaps()); // after the file's last trade
          heap.pop();
        } else if (heap.size > 1) heap.topChanged();
        if (out.full) yield take();
      }
      if (!out.empty) yield take();
    } finally {
      // At the end, an error or a consumer's break: files and workers go.
      await this.close();
    }
  }

  /** Stops reading every file and closes them (and stops the workers). */
  async close(): Promise<void> {
    await Promise.all(this.#cursors.map((cursor) => cursor.close()));
    this.#workers?.terminate();
  }
}
