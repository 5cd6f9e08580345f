/**
 * Opening a trade file as decoded text, plain or gzipped, with every failure
 * to open or read it (missing, a directory, a corrupt or truncated gzip
 * stream) as one {@linkcode TradeFileReadError} naming the file.
 *
 * @module
 */

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

/** Options of {@linkcode openTextFile}. */
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

async function isGzipped(file: Deno.FsFile): Promise<boolean> {
  const magic = new Uint8Array(2);
  let read = 0;
  while (read < 2) {
    const count = await file.read(magic.subarray(read));
    if (count === null) break;
    read += count;
  }
  await file.seek(0, Deno.SeekMode.Start);
  return read === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
}

/** The decoded text of a file, chunk by chunk. */
export interface TextChunks {
  /**
   * The next chunk, or undefined at the end of the file.
   *
   * @throws {TradeFileReadError} naming `line`, the last line read (if
   * given), when the file cannot be read or decompressed further.
   */
  read(line?: number): Promise<string | undefined>;
  /** Stops reading and closes the file. */
  cancel(): Promise<void>;
}

/**
 * Opens `path` as text (gunzipped when it is gzipped).
 *
 * @throws {TradeFileReadError} when it cannot be opened, is a directory, or
 * its first bytes cannot be read.
 */
export async function openTextFile(
  path: string,
  options: OpenTextFileOptions = {},
): Promise<TextChunks> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (error) {
    throw new TradeFileReadError(path, reasonOf(error), { cause: error });
  }
  let reader: ReadableStreamDefaultReader<string>;
  try {
    if ((await file.stat()).isDirectory) {
      throw new Deno.errors.IsADirectory();
    }
    const gzip = options.gzip ??
      (path.endsWith(".gz") || await isGzipped(file));
    let bytes: ReadableStream<Uint8Array<ArrayBuffer>> = file.readable;
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
    if (gzip) bytes = bytes.pipeThrough(new DecompressionStream("gzip"));
    reader = bytes.pipeThrough(new TextDecoderStream()).getReader();
  } catch (error) {
    file.close();
    throw new TradeFileReadError(path, reasonOf(error), { cause: error });
  }
  return {
    async read(line) {
      try {
        const result = await reader.read();
        return result.done ? undefined : result.value;
      } catch (error) {
        throw new TradeFileReadError(path, reasonOf(error), {
          cause: error,
          line,
        });
      }
    },
    cancel: () => reader.cancel().catch(() => {}),
  };
}
