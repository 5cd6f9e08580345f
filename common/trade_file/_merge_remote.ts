/**
 * A parallel merge's files: each parsed in a worker (_merge_worker.ts) whose
 * blocks of records are transferred here as the merge consumes them, two
 * blocks ahead at most per file, so that parsing runs on another core.
 *
 * @module
 */

import type { TradeOrigin } from "../wire/codec.ts";
import type { CursorOptions } from "./_merge_cursor.ts";
import {
  deserializeError,
  type FromWorker,
  type ToWorker,
} from "./_merge_protocol.ts";
import { type MergeSource, RecordBlock } from "./_record_block.ts";
import { TradeFileReadError } from "./_text_file.ts";

/** Blocks requested ahead per file. */
const AHEAD = 2;

/** A message about a file, taken in the order the worker sent it. */
type FileMessage = Exclude<FromWorker, { type: "closed" }>;

/** One file parsed in a worker, as the merge reads it. */
class RemoteCursor implements MergeSource {
  readonly index: number;
  readonly path: string;
  readonly block: RecordBlock = new RecordBlock(1);
  readonly origins: TradeOrigin[] = [];
  readonly merged: number[] = [];
  bytesRead = 0;
  readonly #id: number;
  readonly #worker: Worker;
  readonly #options: CursorOptions;
  readonly #inbox: FileMessage[] = [];
  #waiting: ((message: FileMessage) => void) | undefined;
  #ended = false;

  constructor(
    worker: Worker,
    id: number,
    path: string,
    index: number,
    options: CursorOptions,
  ) {
    this.#worker = worker;
    this.#id = id;
    this.path = path;
    this.index = index;
    this.#options = options;
    const { onBadRow: _, onOutOfOrder: __, ...remote } = options;
    this.#post({ type: "open", id, path, index, options: remote });
    for (let i = 0; i < AHEAD; i++) this.#post({ type: "more", id });
  }

  get ready(): boolean {
    return this.block.next < this.block.count;
  }

  /**
   * Takes a message of the worker about this file. Bad rows and a step back
   * in time are told when {@linkcode fill} reaches them, before the block
   * after them: in merge order, as in this thread, whatever the timing.
   */
  deliver(message: FromWorker): void {
    if (message.type === "closed") return;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting !== undefined) waiting(message);
    else this.#inbox.push(message);
  }

  async fill(): Promise<void> {
    const block = this.block;
    block.reset();
    while (!this.#ended) {
      const message = this.#inbox.shift() ??
        await new Promise<FileMessage>((resolve) => this.#waiting = resolve);
      if (message.type === "bad") {
        this.#options.onBadRow?.(message.line, message.reason);
        continue;
      }
      if (message.type === "out of order") {
        this.#options.onOutOfOrder?.(message.line);
        continue;
      }
      if (message.type === "error") {
        this.#ended = true;
        throw deserializeError(message.error);
      }
      this.bytesRead = message.bytesRead;
      for (const origin of message.origins) {
        this.origins.push(origin);
        this.merged.push(-1);
      }
      block.adopt(message.bytes, message.streams, message.count, message.gaps);
      if (message.final) {
        this.#ended = true;
        return;
      }
      this.#post({ type: "more", id: this.#id });
      if (message.count > 0) return;
    }
  }

  close(): Promise<void> {
    if (!this.#ended) {
      this.#ended = true;
      this.#post({ type: "close", id: this.#id });
    }
    return Promise.resolve();
  }

  /** Fails a fill waiting or to come: the worker parsing this file died saying `reason`. */
  fail(reason: string): void {
    const error = new TradeFileReadError(
      this.path,
      `the merge worker parsing it failed: ${reason}`,
    );
    this.deliver({
      type: "error",
      id: this.#id,
      error: {
        kind: "read",
        path: this.path,
        line: undefined,
        message: error.message,
      },
    });
  }

  #post(message: ToWorker): void {
    this.#worker.postMessage(message);
  }
}

/** The module a worker runs. */
const WORKER_MODULE = new URL("./_merge_worker.ts", import.meta.url);

/** The workers of a parallel merge and the files they parse. */
export class MergeWorkers {
  /** Whether this process may start one: read access to the module's folder (it and its imports are read). */
  static permitted(): boolean {
    if (WORKER_MODULE.protocol !== "file:") return true;
    const folder = new URL("../", WORKER_MODULE);
    return Deno.permissions.querySync({ name: "read", path: folder })
      .state === "granted";
  }

  readonly #workers: Worker[] = [];
  readonly #cursors = new Map<number, RemoteCursor>();

  /** Starts `count` workers. */
  constructor(count: number) {
    for (let i = 0; i < count; i++) {
      const worker = new Worker(WORKER_MODULE, { type: "module" });
      worker.onmessage = (event: MessageEvent<FromWorker>) =>
        this.#cursors.get(event.data.id)?.deliver(event.data);
      worker.onerror = (event) => {
        event.preventDefault();
        // The files it held (see open) fail, each a TradeFileReadError.
        for (const [index, cursor] of this.#cursors) {
          if (this.#slot(index) === i) cursor.fail(event.message);
        }
      };
      this.#workers.push(worker);
    }
  }

  /**
   * File `path`, number `index` of the merge, parsed by one of the workers;
   * undefined when it is this thread's to parse. The files are dealt out
   * in turn to the workers and this thread, which takes one share: it is
   * idle two thirds of the time otherwise (with one worker for 3 files,
   * the worker's parsing is the merge's pace; measured in
   * docs/benchmarks.md).
   */
  open(
    path: string,
    index: number,
    options: CursorOptions,
  ): MergeSource | undefined {
    const slot = this.#slot(index);
    if (slot < 0) return undefined;
    const cursor = new RemoteCursor(
      this.#workers[slot],
      index,
      path,
      index,
      options,
    );
    this.#cursors.set(index, cursor);
    return cursor;
  }

  /** The worker that parses file `index`, or -1 for this thread. */
  #slot(index: number): number {
    const count = this.#workers.length;
    const slot = index % (count + 1);
    return slot === count ? -1 : slot;
  }

  /** Stops the workers (their files are closed with them). */
  terminate(): void {
    for (const worker of this.#workers) worker.terminate();
  }
}
