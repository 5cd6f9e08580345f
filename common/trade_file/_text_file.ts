/**
 * Opening a trade file as decoded text, plain, gzipped or the one file of a
 * zip archive (_zip.ts), with every failure to open or read it (missing, a
 * directory, a corrupt or truncated gzip stream or zip archive) as one
 * {@linkcode TradeFileReadError} naming the file.
 *
 * @module
 */

import {
  hasZipMagic,
  readZipEntry,
  unzipEntry,
  type ZipEntry,
  ZipProblem,
} from "./_zip.ts";

/** A trade file that cannot be opened or read to its end. */
export class TradeFileReadError extends Error {
  /** The file. */
  readonly path: string;
  /** The last line read before the failure (0: none), if reading had begun. */
  readonly line: number | undefined;

  /** Creates the error for `path`, saying why in `reason` (and after which line). */
  constructor(
    path: string,
    reason: string,
    options: ErrorOptions & { line?: number } = {},
  ) {
    const after = options.line === undefined
      ? ""
      : ` after line ${options.line}`;
    super(
      `Cannot read trade file ${JSON.stringify(path)}${after}: ${reason}`,
      options,
    );
    this.name = "TradeFileReadError";
    this.path = path;
    this.line = options.line;
  }
}

/** Options of opening a trade file ({@linkcode verifyGzip} takes `gzip`). */
export interface OpenTextFileOptions {
  /** Whether the file is gzipped (default: a `.gz` name or the gzip magic bytes). */
  gzip?: boolean;
  /** Told how many bytes of the file (compressed, if gzipped) were read so far. */
  onBytesRead?: (bytes: number) => void;
}

/** Why an open or a read failed, in a few words (Deno's messages repeat the path). */
function reasonOf(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file";
  if (error instanceof Deno.errors.IsADirectory) return "it is a directory";
  return error instanceof Error ? error.message : String(error);
}

/** Whether `head`, a file's first bytes, starts with the gzip magic bytes. */
function hasGzipMagic(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/**
 * The bytes of `file` as a stream, and its first two bytes (fewer at the
 * end), read without seeking so that a FIFO or a terminal works too.
 */
async function peekedBytes(
  file: Deno.FsFile,
): Promise<{ head: Uint8Array; bytes: ReadableStream<Uint8Array> }> {
  const reader = file.readable.getReader();
  let head = new Uint8Array(0);
  while (head.length < 2) {
    const { done, value } = await reader.read();
    if (done) break;
    const joined = new Uint8Array(head.length + value.length);
    joined.set(head);
    joined.set(value, head.length);
    head = joined;
  }
  let pending: Uint8Array | undefined = head.length > 0 ? head : undefined;
  const bytes = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (pending !== undefined) {
        controller.enqueue(pending);
        pending = undefined;
        return;
      }
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
  return { head, bytes };
}

/** The content of a file chunk by chunk: decoded text, or bytes. */
export interface FileChunks<T extends string | Uint8Array> {
  /** The name of the file inside the zip archive read, if it is one (a Binance CSV's symbol may be in it). */
  readonly entry: string | undefined;
  /**
   * The next chunk, or undefined at the end of the file.
   *
   * @throws {TradeFileReadError} naming `line`, the last line read (if
   * given; a function is asked at the failure, so that a read started
   * ahead names the line reached then), when the file cannot be read or
   * decompressed further.
   */
  read(line?: number | (() => number)): Promise<T | undefined>;
  /** Stops reading and closes the file. */
  cancel(): Promise<void>;
}

/**
 * Opens `path` as text (gunzipped when it is gzipped; the file inside, when
 * it is a zip archive: a `.zip` name or the "PK" magic bytes).
 *
 * @throws {TradeFileReadError} when it cannot be opened, is a directory, its
 * first bytes cannot be read, or it is a zip archive that cannot be read
 * (not a regular file, truncated, zip64, or not one plain or deflated file).
 */
export function openTextFile(
  path: string,
  options: OpenTextFileOptions = {},
): Promise<FileChunks<string>> {
  return openChunks(
    path,
    options,
    (bytes) => bytes.pipeThrough(new TextDecoderStream()),
  );
}

/**
 * Opens `path` as {@linkcode openTextFile} does, for its decompressed bytes
 * (UTF-8, a byte order mark left in).
 *
 * @throws {TradeFileReadError} as {@linkcode openTextFile} says.
 */
export function openByteFile(
  path: string,
  options: OpenTextFileOptions = {},
): Promise<FileChunks<Uint8Array>> {
  return openChunks(path, options, (bytes) => bytes);
}

/** Opens `path`, its decompressed bytes made chunks of `T` by `decode`. */
async function openChunks<T extends string | Uint8Array>(
  path: string,
  options: OpenTextFileOptions,
  decode: (bytes: ReadableStream<Uint8Array>) => ReadableStream<T>,
): Promise<FileChunks<T>> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (error) {
    throw new TradeFileReadError(path, reasonOf(error), { cause: error });
  }
  let reader: ReadableStreamDefaultReader<T>;
  let entry: ZipEntry | undefined;
  try {
    const info = await file.stat();
    if (info.isDirectory) throw new Deno.errors.IsADirectory();
    const peeked = await peekedBytes(file);
    const gzip = options.gzip ??
      (path.endsWith(".gz") || hasGzipMagic(peeked.head));
    if (!gzip && (path.endsWith(".zip") || hasZipMagic(peeked.head))) {
      entry = await zipEntryOf(path, info);
    }
    let bytes = peeked.bytes;
    const onBytesRead = options.onBytesRead;
    if (onBytesRead) {
      let read = 0;
      bytes = bytes.pipeThrough(
        new TransformStream({
          transform(chunk, controller) {
            read += chunk.byteLength;
            onBytesRead(read);
            controller.enqueue(chunk);
          },
        }),
      );
    }
    if (entry !== undefined) bytes = bytes.pipeThrough(unzipEntry(entry));
    else if (gzip) {
      bytes = bytes.pipeThrough(
        new DecompressionStream("gzip") as TransformStream<
          Uint8Array,
          Uint8Array
        >,
      );
    }
    reader = decode(bytes).getReader();
  } catch (error) {
    try {
      file.close();
    } catch {
      // already closed by its stream reaching its end (an empty zip)
    }
    throw new TradeFileReadError(path, reasonOf(error), { cause: error });
  }
  return {
    entry: entry?.name,
    async read(line) {
      try {
        const result = await reader.read();
        return result.done ? undefined : result.value;
      } catch (error) {
        throw new TradeFileReadError(path, reasonOf(error), {
          cause: error,
          line: typeof line === "function" ? line() : line,
        });
      }
    },
    cancel: () => reader.cancel().catch(() => {}),
  };
}

/**
 * The one file entry of zip archive `path`, from its central directory (a
 * second handle: the first streams from the start).
 *
 * @throws {ZipProblem} or a Deno error when it cannot be read as one.
 */
async function zipEntryOf(
  path: string,
  info: Deno.FileInfo,
): Promise<ZipEntry> {
  if (!info.isFile) {
    throw new ZipProblem(
      "a zip archive is read from its central directory at its end: expected a regular file, not a pipe or device",
    );
  }
  const file = await Deno.open(path);
  try {
    return await readZipEntry(file, info.size);
  } finally {
    file.close();
  }
}

/**
 * Decompresses a gzipped regular file, or the file of a zip archive, to its
 * end without keeping the text, so that a corrupt or truncated stream (the
 * checksum and length are only at the end) is found before any of its rows
 * is used. A plain file, or one that is not a regular file (a FIFO can be
 * read only once), is not read.
 *
 * @throws {TradeFileReadError} naming the file and the lines decompressed
 * before the failure, when it cannot be opened or decompressed to its end.
 */
export async function verifyGzip(
  path: string,
  options: Pick<OpenTextFileOptions, "gzip"> = {},
): Promise<void> {
  let file: Deno.FsFile;
  let info: Deno.FileInfo;
  try {
    // Not even opened otherwise: opening and closing a FIFO's read end
    // would discard what its writer has sent.
    info = await Deno.stat(path);
    if (info.isDirectory) throw new Deno.errors.IsADirectory();
    if (!info.isFile) return;
    file = await Deno.open(path);
  } catch (error) {
    throw new TradeFileReadError(path, reasonOf(error), { cause: error });
  }
  let lines = 0;
  try {
    const { head, bytes } = await peekedBytes(file);
    const gzip = options.gzip ?? (path.endsWith(".gz") || hasGzipMagic(head));
    const zip = !gzip && (path.endsWith(".zip") || hasZipMagic(head));
    if (!gzip && !zip) {
      await bytes.cancel();
      return;
    }
    const text = bytes.pipeThrough(
      zip
        ? unzipEntry(await zipEntryOf(path, info))
        : new DecompressionStream("gzip") as TransformStream<
          Uint8Array,
          Uint8Array
        >,
    );
    for await (const chunk of text) {
      for (
        let i = chunk.indexOf(0x0a);
        i >= 0;
        i = chunk.indexOf(0x0a, i + 1)
      ) {
        lines++;
      }
    }
  } catch (error) {
    throw new TradeFileReadError(path, reasonOf(error), {
      cause: error,
      line: lines,
    });
  } finally {
    try {
      file.close();
    } catch {
      // already closed by the stream reaching its end
    }
  }
}
