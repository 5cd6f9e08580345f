/**
 * A file that lines are appended to synchronously through a buffer: what
 * `live --record` and `live --bars-out` write with.
 *
 * @module
 */

/** An output file (`--record`, `--bars-out`) cannot be written: no permission, or the OS refused. */
export class RecordFileError extends Error {
  /** The file. */
  readonly path: string;

  /** Creates the error for `path`. */
  constructor(path: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RecordFileError";
    this.path = path;
  }
}

/** Options of {@linkcode LineFile.open}. */
export interface LineFileOptions {
  /** The command-line flag that named the file, for error messages (e.g. `"--record"`). */
  flag: string;
  /** Buffered characters that trigger a write (default 1 MiB). */
  chunkChars?: number;
  /** Longest time a line waits in the buffer, ms (default 1000; 0 = only by size and at close). */
  flushIntervalMs?: number;
}

const DEFAULT_CHUNK_CHARS = 1 << 20;

/**
 * Appends text to a file without an `await` per line.
 *
 * Text is buffered as one string and written in chunks of about
 * {@linkcode LineFileOptions.chunkChars} with `writeSync`. Why synchronous:
 * lines come from the exchange's callback, which cannot await. An async
 * write would have to keep its chunk (and every chunk after it) in memory
 * until the disk catches up, so memory would grow without bound whenever the
 * feed outruns the disk. `writeSync` of a 1 MiB chunk lands in the page
 * cache in well under a millisecond, once per several thousand lines, and
 * when the disk really is slower it holds the consumer back (the ring then
 * reports lag, or laps it) instead of dropping lines or exhausting memory.
 * Nothing is ever dropped; memory stays at about one chunk. A timer (which
 * never keeps the process alive) flushes what waits longer than
 * {@linkcode LineFileOptions.flushIntervalMs}.
 */
export class LineFile implements Disposable {
  /** The file written. */
  readonly path: string;
  readonly #flag: string;
  #file: Deno.FsFile | undefined;
  #pending = "";
  #bytes = 0;
  readonly #chunkChars: number;
  readonly #timer: ReturnType<typeof setInterval> | undefined;
  readonly #encoder = new TextEncoder();

  private constructor(
    path: string,
    file: Deno.FsFile,
    options: LineFileOptions,
    chunkChars: number,
  ) {
    this.path = path;
    this.#flag = options.flag;
    this.#file = file;
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
   * Creates (or truncates) `path` for writing.
   *
   * @throws {RangeError} for a bad `chunkChars`.
   * @throws {RecordFileError} when the file cannot be opened for writing
   * (the message names the flag and which `--allow-write` is missing).
   */
  static async open(path: string, options: LineFileOptions): Promise<LineFile> {
    const { flag } = options;
    const chunkChars = options.chunkChars ?? DEFAULT_CHUNK_CHARS;
    if (!(Number.isInteger(chunkChars) && chunkChars > 0)) {
      throw new RangeError(
        `Invalid chunkChars ${chunkChars}: expected a positive integer`,
      );
    }
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, {
        write: true,
        create: true,
        truncate: true,
      });
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) {
        throw new RecordFileError(
          path,
          `${flag} needs write permission for ${path}: run with --allow-write=${path}`,
          { cause: error },
        );
      }
      throw new RecordFileError(
        path,
        `${flag} cannot open ${path} for writing: ${
          error instanceof Error ? error.message : error
        }`,
        { cause: error },
      );
    }
    return new LineFile(path, file, options, chunkChars);
  }

  /** Bytes written to the file so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#file === undefined;
  }

  /**
   * Appends `text` (whole lines, with their newlines). Never awaits; writes
   * synchronously once the buffer holds a chunk.
   *
   * @throws {Error} when called after {@linkcode close}, or when the write fails.
   */
  append(text: string): void {
    if (this.#file === undefined) {
      throw new Error(`${this.#flag} file ${this.path} is closed`);
    }
    this.#pending += text;
    if (this.#pending.length >= this.#chunkChars) this.flush();
  }

  /** Writes whatever is buffered (synchronously). */
  flush(): void {
    const file = this.#file;
    if (file === undefined || this.#pending === "") return;
    const bytes = this.#encoder.encode(this.#pending);
    this.#pending = "";
    let at = 0;
    while (at < bytes.length) at += file.writeSync(bytes.subarray(at));
    this.#bytes += bytes.length;
  }

  /** Flushes and closes the file; later calls do nothing. */
  close(): void {
    const file = this.#file;
    if (file === undefined) return;
    clearInterval(this.#timer);
    try {
      this.flush();
    } finally {
      this.#file = undefined;
      file.close();
    }
  }

  /** Same as {@linkcode close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
