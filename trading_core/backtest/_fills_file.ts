/**
 * `fills.ndjson` of a backtest: its directory made, the file replaced, and
 * lines written through a buffer as the fills happen.
 *
 * @module
 */

import { dirname } from "node:path";

/** Buffered characters that trigger a write. */
const CHUNK_CHARS = 1 << 20;

/** An open `fills.ndjson`. */
export interface FillsFile {
  /** Appends one line (without its newline). */
  writeLine(line: string): void;
  /** Writes what is buffered and closes the file. */
  close(): void;
}

/**
 * Makes the directory of `path` and opens `path` for writing, emptied.
 *
 * @throws {Error} with a one-line message naming the file (and the
 * `--allow-write` it needs, when that is why).
 */
export async function openFillsFile(path: string): Promise<FillsFile> {
  let file: Deno.FsFile;
  try {
    await Deno.mkdir(dirname(path), { recursive: true });
    file = await Deno.open(path, { write: true, create: true, truncate: true });
  } catch (error) {
    const hint = error instanceof Deno.errors.NotCapable
      ? `: run with --allow-write=${
        dirname(path)
      } (deno task backtest writes only under data/)`
      : `: ${error instanceof Error ? error.message : error}`;
    throw new Error(`Cannot write the results to ${dirname(path)}${hint}`);
  }
  const encoder = new TextEncoder();
  let buffer = "";
  const flush = () => {
    const bytes = encoder.encode(buffer);
    buffer = "";
    let at = 0;
    while (at < bytes.length) at += file.writeSync(bytes.subarray(at));
  };
  return {
    writeLine(line) {
      buffer += line + "\n";
      if (buffer.length >= CHUNK_CHARS) flush();
    },
    close() {
      flush();
      file.close();
    },
  };
}
