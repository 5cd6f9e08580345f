/**
 * A file that lines are appended to synchronously through a buffer: what
 * `live --record` and `live --bars-out` write with.
 *
 * - An existing file that is not empty is refused unless
 *   {@linkcode OutputFileOptions.onExisting} says to overwrite or append to it
 *   (`trading_core.on_existing_file`, `--overwrite`, `--append`). Appending
 *   checks the file's first line (the CSV header, or an NDJSON record of the
 *   same kind) and drops an incomplete last line first (_open_output.ts).
 * - A write that fails (a full disk) ends the file at its last whole line,
 *   reports one {@linkcode RecordFileError} to
 *   {@linkcode OutputFileOptions.onError}, and counts every later line in
 *   {@linkcode LineFile.dropped} instead of throwing at the caller.
 *
 * @module
 */

import type { OnExistingFile } from "../common/config/mod.ts";
import { formatCount } from "../common/runtime/format.ts";
import {
  messageOf,
  type Opened,
  openOutput,
  type OpenOutputOptions,
  RecordFileError,
} from "./_open_output.ts";

export {
  ndjsonWithFields,
  RecordFileError,
  RecordFileExistsError,
} from "./_open_output.ts";

/** How an output file treats an existing file and a failed write: what `live` passes for both of its files. */
export interface OutputFileOptions {
  /**
   * What to do when the file exists and is not empty (`trading_core.on_existing_file`).
   * @default {"refuse"}
   */
  onExisting?: OnExistingFile;
  /**
   * Called once, synchronously, when a write fails. The file then ends with
   * its last whole line and takes no more lines. Without it, the error is
   * only kept in {@linkcode LineFile.error}.
   */
  onError?: (error: RecordFileError) => void;
  /**
   * Called with what the user should be warned of that is not a failure:
   * what appending changed in the existing file (an incomplete last line
   * dropped), what a recording cannot hold (a `csv` recording's first gap).
   */
  onNotice?: (message: string) => void;
}

/** An output file's options and its buffering: what {@linkcode LineWriter}s (`--record`, `--bars-out`) take. */
export interface LineWriterOptions extends OutputFileOptions {
  /** Buffered characters that trigger a write (default 1 MiB). */
  chunkChars?: number;
  /** Longest time a line waits in the buffer, ms (default 1000; 0 = only by size and at close). */
  flushIntervalMs?: number;
}

/** Options of {@linkcode LineFile.open}. */
export interface LineFileOptions extends LineWriterOptions, OpenOutputOptions {}

const DEFAULT_CHUNK_CHARS = 1 << 20;
const NEWLINE = 0x0a;

/**
 * Appends lines to a file without an `await` per line.
 *
 * Lines are buffered as one string and written in chunks of about
 * {@linkcode LineFileOptions.chunkChars} with `writeSync`. Why synchronous:
 * lines come from the exchange's callback, which cannot await. An async
 * write would have to keep its chunk (and every chunk after it) in memory
 * until the disk catches up, so memory would grow without bound whenever the
 * feed outruns the disk. `writeSync` of a 1 MiB chunk lands in the page
 * cache in well under a millisecond, once per several thousand lines, and
 * when the disk really is slower it holds the consumer back (the ring then
 * reports lag, or laps it) instead of dropping lines or exhausting memory.
 * Nothing is dropped unless a write fails; memory stays at about one chunk.
 * A timer (which never keeps the process alive) flushes what waits longer
 * than {@linkcode LineFileOptions.flushIntervalMs}.
 */
export class LineFile implements Disposable {
  /** The file written. */
  readonly path: string;
  readonly #flag: string;
  #file: Deno.FsFile | undefined;
  readonly #regular: boolean;
  #closed = false;
  /** File length up to the end of the last whole line written. */
  #size: number;
  #bytes: number;
  #pending = "";
  #lines = 0;
  #dropped = 0;
  #error: RecordFileError | undefined;
  readonly #onError: ((error: RecordFileError) => void) | undefined;
  readonly #chunkChars: number;
  readonly #timer: ReturnType<typeof setInterval> | undefined;
  readonly #encoder = new TextEncoder();

  private constructor(
    path: string,
    opened: Opened,
    options: LineFileOptions,
    chunkChars: number,
  ) {
    this.path = path;
    this.#flag = options.flag;
    this.#file = opened.file;
    this.#regular = opened.regular;
    this.#size = opened.size;
    this.#bytes = opened.written ?? 0;
    this.#onError = options.onError;
    this.#chunkChars = chunkChars;
    const flushIntervalMs = options.flushIntervalMs ?? 1000;
    if (flushIntervalMs > 0) {
      const timer = setInterval(() => this.flush(), flushIntervalMs);
      // Never keeps the process alive by itself.
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  /**
   * Opens `path` for writing: creates it, or takes an existing file as
   * {@linkcode OutputFileOptions.onExisting} says, and writes the header to
   * an empty one.
   *
   * @throws {RangeError} for a bad `chunkChars`.
   * @throws {RecordFileExistsError} when the file exists and is not empty,
   * unless it is to be overwritten or appended to; or when it is to be
   * appended to but its first line is not the header (or of another kind),
   * or it holds no whole line.
   * @throws {RecordFileError} when the file cannot be opened or the header
   * written (the message names the flag, and the `--allow-write` or
   * `--allow-read` that is missing).
   */
  static async open(path: string, options: LineFileOptions): Promise<LineFile> {
    const chunkChars = options.chunkChars ?? DEFAULT_CHUNK_CHARS;
    if (!(Number.isInteger(chunkChars) && chunkChars > 0)) {
      throw new RangeError(
        `Invalid chunkChars ${chunkChars}: expected a positive integer`,
      );
    }
    const opened = await openOutput(path, options);
    return new LineFile(path, opened, options, chunkChars);
  }

  /** Lines taken (buffered or written) and not lost to a failed write; after {@linkcode close}, the lines this run wrote. */
  get lines(): number {
    return this.#lines;
  }

  /** Lines that are not in the file because a write failed: those of the failed chunk after its last whole line, and every later one. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Bytes this run wrote to the file (the header included, a cut last line not). */
  get bytes(): number {
    return this.#bytes;
  }

  /** The failed write, once one failed (then the file takes no more lines). */
  get error(): RecordFileError | undefined {
    return this.#error;
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Appends `line` (without its newline). Never awaits; writes synchronously
   * once the buffer holds a chunk. After a failed write, only counts it in
   * {@linkcode dropped}.
   *
   * @throws {Error} when called after {@linkcode close}.
   */
  writeLine(line: string): void {
    if (this.#closed) {
      throw new Error(`${this.#flag} file ${this.path} is closed`);
    }
    if (this.#error !== undefined) {
      this.#dropped++;
      return;
    }
    this.#pending += `${line}\n`;
    this.#lines++;
    if (this.#pending.length >= this.#chunkChars) this.flush();
  }

  /** Writes whatever is buffered (synchronously); a failure goes to `onError`, never to the caller. */
  flush(): void {
    const file = this.#file;
    if (file === undefined || this.#pending === "") return;
    const bytes = this.#encoder.encode(this.#pending);
    this.#pending = "";
    let at = 0;
    try {
      while (at < bytes.length) at += file.writeSync(bytes.subarray(at));
    } catch (error) {
      this.#fail(file, bytes, at, error);
      return;
    }
    this.#size += bytes.length;
    this.#bytes += bytes.length;
  }

  /** Ends the file at its last whole line after a write of `bytes` failed with `at` of them written. */
  #fail(file: Deno.FsFile, bytes: Uint8Array, at: number, error: unknown) {
    // Every chunk is whole lines, so the file is whole up to the last
    // newline written.
    const keep = bytes.subarray(0, at).lastIndexOf(NEWLINE) + 1;
    let cut: string | undefined;
    if (keep < at) {
      try {
        if (!this.#regular) throw new Error("not a regular file");
        file.truncateSync(this.#size + keep);
      } catch (truncate) {
        cut = messageOf(truncate);
      }
    }
    this.#size += keep;
    this.#bytes += keep;
    const lost = count(bytes.subarray(keep), NEWLINE);
    this.#lines -= lost;
    this.#dropped += lost;
    this.#file = undefined;
    clearInterval(this.#timer);
    try {
      file.close();
    } catch {
      // the write failure is the one to report
    }
    const lines = `${formatCount(this.#lines)} lines from this run`;
    const end = cut === undefined
      ? `the file ends with its last whole line (${lines}, ${
        formatCount(this.#size)
      } bytes in all)`
      : `its last line is cut short after ${lines} (removing it failed: ${cut})`;
    this.#error = new RecordFileError(
      this.path,
      `${this.#flag} stopped: cannot write ${this.path}: ${
        messageOf(error)
      }; ${end}`,
      { cause: error },
    );
    this.#onError?.(this.#error);
  }

  /** Flushes and closes the file; later calls do nothing. A failed flush goes to `onError`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.flush();
    const file = this.#file;
    this.#file = undefined;
    file?.close();
  }

  /** Same as {@linkcode close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** How many times `byte` occurs in `bytes`. */
function count(bytes: Uint8Array, byte: number): number {
  let n = 0;
  for (
    let at = bytes.indexOf(byte);
    at >= 0;
    at = bytes.indexOf(byte, at + 1)
  ) {
    n++;
  }
  return n;
}

/**
 * What a writer of one kind of line (trades, bars) shares: its file's path,
 * counts and error, and closing it. The subclass formats its lines and
 * writes them to the same {@linkcode LineFile}, which it keeps itself.
 */
export abstract class LineWriter implements Disposable {
  /** The file written. */
  readonly path: string;
  readonly #file: LineFile;

  /** A writer of `file`. */
  protected constructor(file: LineFile) {
    this.path = file.path;
    this.#file = file;
  }

  /** Lines written (buffered or on disk), not counting those a failed write lost; after {@linkcode close}, the lines this run put in the file. */
  get lines(): number {
    return this.#file.lines;
  }

  /** The failed write that stopped the file, if one did. */
  get error(): RecordFileError | undefined {
    return this.#file.error;
  }

  /** Bytes written to the file so far. */
  get bytes(): number {
    return this.#file.bytes;
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#file.closed;
  }

  /** Flushes and closes the file; later calls do nothing. A failed flush goes to `onError`. */
  close(): void {
    this.#file.close();
  }

  /** Same as {@linkcode close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * A {@linkcode LineWriter} of one kind of record, one NDJSON line each
 * (`--bars-out`, `--fills-out`): the subclass opens its file (its flag and
 * first-line check) and names the formatter.
 */
export abstract class NdjsonWriter<T> extends LineWriter {
  readonly #file: LineFile;
  readonly #format: (record: T) => string;

  /** A writer of `file` that writes a record as the line `format` makes. */
  protected constructor(file: LineFile, format: (record: T) => string) {
    super(file);
    this.#file = file;
    this.#format = format;
  }

  /** Records not in the file because a write failed (see {@linkcode error}). */
  get dropped(): number {
    return this.#file.dropped;
  }

  /**
   * Appends `record` as one line. Never awaits; writes synchronously once
   * the buffer holds a chunk. After a failed write it only counts the
   * record in {@linkcode dropped}.
   *
   * @throws {Error} when called after {@linkcode close}.
   */
  write(record: T): void {
    this.#file.writeLine(this.#format(record));
  }
}
