/**
 * Opening an output file of `live` (`--record`, `--bars-out`): creates it,
 * or takes an existing file as `trading_core.on_existing_file` says (refuse,
 * overwrite, or append after checking its first line and dropping an
 * incomplete last one), and writes the header to an empty one.
 *
 * @module
 */

import type { OnExistingFile } from "../common/config/mod.ts";
import { formatCount } from "../common/runtime/format.ts";

/** An output file (`--record`, `--bars-out`) cannot be opened or written: no permission, or the OS refused (e.g. a full disk). */
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

/**
 * The output file exists and is not empty, and was neither to be overwritten
 * nor appended to, or cannot be appended to (its lines are of another kind):
 * a usage error.
 */
export class RecordFileExistsError extends RecordFileError {
  /** Creates the error for `path`. */
  constructor(path: string, message: string, options?: ErrorOptions) {
    super(path, message, options);
    this.name = "RecordFileExistsError";
  }
}

/** Options of {@linkcode openOutput}. */
export interface OpenOutputOptions {
  /** The command-line flag that named the file, for messages (e.g. `"--record"`). */
  flag: string;
  /**
   * What to do when the file exists and is not empty.
   * @default {"refuse"}
   */
  onExisting?: OnExistingFile;
  /** Called with what appending changed in the existing file (an incomplete last line dropped). */
  onNotice?: (message: string) => void;
  /** First line of an empty file (a CSV header); a file appended to must start with it. */
  header?: string;
  /** Why the first line of a file to append to (without a header) is not of this kind, or undefined when it is. */
  checkFirstLine?: (line: string) => string | undefined;
}

/** An open output file and where its last whole line ends. */
export interface Opened {
  /** The file, open for writing at its end. */
  file: Deno.FsFile;
  /** Bytes up to the end of the last whole line. */
  size: number;
  /** A regular file, which can be truncated (not a FIFO or a device). */
  regular: boolean;
  /** Bytes written while opening (the header). */
  written?: number;
}

/**
 * A {@linkcode OpenOutputOptions.checkFirstLine} for NDJSON files: the first
 * line must be a JSON object with every one of `fields`; `what` names such a
 * line in the reason (e.g. `"a bar"`).
 */
export function ndjsonWithFields(
  what: string,
  fields: readonly string[],
): (line: string) => string | undefined {
  return (line) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      value = undefined;
    }
    if (
      typeof value === "object" && value !== null &&
      fields.every((field) => field in value)
    ) return undefined;
    return `its first line is not ${what} (an NDJSON object with ${
      fields.join(", ")
    }): ${quote(line)}`;
  };
}

const NEWLINE = 0x0a;
/** Bytes read at a time when looking for line ends, and the longest first line checked. */
const BLOCK = 1 << 16;

/**
 * Creates `path`, or opens the existing file as `options.onExisting` says,
 * and writes the header to an empty one.
 *
 * @throws {RecordFileExistsError} when the file exists and is not empty,
 * unless it is to be overwritten or appended to; or when it is to be
 * appended to but its first line is not the header (or of another kind),
 * or it holds no whole line.
 * @throws {RecordFileError} when the file cannot be opened or the header
 * written (the message names the flag, and the `--allow-write` or
 * `--allow-read` that is missing).
 */
export async function openOutput(
  path: string,
  options: OpenOutputOptions,
): Promise<Opened> {
  const opened = await openFile(path, options);
  if (options.header === undefined || opened.size > 0) return opened;
  const header = new TextEncoder().encode(`${options.header}\n`);
  try {
    writeAll(opened.file, header);
  } catch (error) {
    try {
      if (opened.regular) opened.file.truncateSync(0);
    } catch {
      // the write failure is the one to report
    }
    opened.file.close();
    throw new RecordFileError(
      path,
      `${options.flag} cannot write ${path}: ${messageOf(error)}`,
      { cause: error },
    );
  }
  opened.size = opened.written = header.length;
  return opened;
}

/** Creates `path`, or opens the existing file as `options.onExisting` says. */
async function openFile(
  path: string,
  options: OpenOutputOptions,
): Promise<Opened> {
  const { flag } = options;
  try {
    const file = await Deno.open(path, { write: true, createNew: true });
    return { file, size: 0, regular: true };
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) {
      throw openError(flag, path, error, "write");
    }
  }
  const policy = options.onExisting ?? "refuse";
  const append = policy === "append";
  let file: Deno.FsFile;
  try {
    // Never truncating: a refused file stays as it was.
    file = await Deno.open(path, { read: append, write: true });
  } catch (error) {
    throw openError(flag, path, error, append ? "read" : "write");
  }
  try {
    const info = file.statSync();
    // A FIFO or a device (/dev/stdout) is written as it is.
    if (!info.isFile) return { file, size: 0, regular: false };
    if (info.size > 0 && policy === "refuse") {
      throw new RecordFileExistsError(
        path,
        `${flag} ${path} exists (${
          formatCount(info.size)
        } bytes): pass --overwrite to replace it or --append to add to it (trading_core.on_existing_file)`,
      );
    }
    if (info.size > 0 && policy === "overwrite") file.truncateSync(0);
    const size = info.size > 0 && append
      ? prepareAppend(file, info.size, path, options)
      : 0;
    return { file, size, regular: true };
  } catch (error) {
    file.close();
    if (error instanceof RecordFileError) throw error;
    throw new RecordFileError(
      path,
      `${flag} cannot open ${path}: ${messageOf(error)}`,
      { cause: error },
    );
  }
}

/**
 * Checks the first line of a file to append to, drops an incomplete last
 * line, and moves to the end; returns the new size.
 */
function prepareAppend(
  file: Deno.FsFile,
  size: number,
  path: string,
  options: OpenOutputOptions,
): number {
  const { flag, header } = options;
  const end = lastLineEnd(file, size);
  const refuse = (why: string) =>
    new RecordFileExistsError(
      path,
      `${flag} cannot append to ${path}: ${why}; pass --overwrite to replace it, or name another file`,
    );
  if (end === 0) {
    throw refuse(`it holds no whole line (${formatCount(size)} bytes)`);
  }
  const first = firstLine(file, end);
  const why = first === undefined
    ? `its first line is longer than ${formatCount(BLOCK)} bytes`
    : header === undefined
    ? options.checkFirstLine?.(first)
    : first === header
    ? undefined
    : `its first line is ${quote(first)}, not the header ${quote(header)}`;
  if (why !== undefined) throw refuse(why);
  if (end < size) {
    file.truncateSync(end);
    options.onNotice?.(
      `${flag} ${path}: dropped its incomplete last line (${
        formatCount(size - end)
      } bytes) before appending`,
    );
  }
  file.seekSync(0, Deno.SeekMode.End);
  return end;
}

/** The offset just after the last newline in the first `size` bytes, 0 without one. */
function lastLineEnd(file: Deno.FsFile, size: number): number {
  const block = new Uint8Array(BLOCK);
  for (let end = size; end > 0;) {
    const start = Math.max(0, end - BLOCK);
    const read = block.subarray(0, end - start);
    readAt(file, start, read);
    const at = read.lastIndexOf(NEWLINE);
    if (at >= 0) return start + at + 1;
    end = start;
  }
  return 0;
}

/** The first line (of the first `end` bytes, which end with a newline), undefined when longer than a block. */
function firstLine(file: Deno.FsFile, end: number): string | undefined {
  const head = new Uint8Array(Math.min(end, BLOCK));
  readAt(file, 0, head);
  const at = head.indexOf(NEWLINE);
  if (at < 0) return undefined;
  return new TextDecoder().decode(head.subarray(0, at));
}

/** Fills `into` from offset `start`. */
function readAt(file: Deno.FsFile, start: number, into: Uint8Array): void {
  file.seekSync(start, Deno.SeekMode.Start);
  for (let at = 0; at < into.length;) {
    const read = file.readSync(into.subarray(at));
    if (read === null) throw new Error(`the file shrank while being read`);
    at += read;
  }
}

/** Writes all of `bytes`. */
function writeAll(file: Deno.FsFile, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length;) at += file.writeSync(bytes.subarray(at));
}

/** `line` as a JSON string, cut after 80 characters. */
function quote(line: string): string {
  return JSON.stringify(line.length > 80 ? `${line.slice(0, 80)}…` : line);
}

/** The message of `error`, whatever it is. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The error of a failed open, naming the `--allow-*` flag that is missing. */
function openError(
  flag: string,
  path: string,
  error: unknown,
  access: "read" | "write",
): RecordFileError {
  if (error instanceof Deno.errors.NotCapable) {
    const why = access === "read"
      ? " to append to it (it checks the first and last lines)"
      : "";
    return new RecordFileError(
      path,
      `${flag} needs ${access} permission for ${path}${why}: run with --allow-${access}=${path}`,
      { cause: error },
    );
  }
  return new RecordFileError(
    path,
    `${flag} cannot open ${path} for writing: ${messageOf(error)}`,
    { cause: error },
  );
}
