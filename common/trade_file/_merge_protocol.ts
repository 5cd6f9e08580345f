/**
 * The messages between a parallel merge (_merge_remote.ts) and its workers
 * (_merge_worker.ts), and errors across them.
 *
 * @module
 */

import type { TradeOrigin } from "../wire/codec.ts";
import type { GapRow } from "./_row.ts";
import { TradeFileRowError } from "./_row_parser.ts";
import { TradeFileReadError } from "./_text_file.ts";
import type { CursorOptions } from "./_merge_cursor.ts";

/** Records a worker gathers per block it posts (fewer at a file's end or a bad row). */
export const REMOTE_BLOCK_RECORDS = 4096;

/** Cursor options that cross to a worker (the callbacks become messages). */
export type RemoteCursorOptions = Omit<
  CursorOptions,
  "onBadRow" | "onOutOfOrder"
>;

/** To a worker. */
export type ToWorker =
  | {
    type: "open";
    id: number;
    path: string;
    index: number;
    options: RemoteCursorOptions;
  }
  | { type: "more"; id: number }
  | { type: "close"; id: number };

/** An error as it crosses from a worker. */
export type SerializedError =
  | { kind: "row"; path: string; line: number; reason: string }
  | { kind: "read"; path: string; line: number | undefined; message: string }
  | {
    kind: "other";
    /** TypeError and RangeError (bad options, exit 2) cross as themselves; others as Error. */
    name: string;
    message: string;
    stack?: string;
  };

/** From a worker. */
export type FromWorker =
  | {
    type: "block";
    id: number;
    bytes: Uint8Array;
    streams: Int32Array;
    count: number;
    gaps: { at: number; row: GapRow }[];
    origins: TradeOrigin[];
    bytesRead: number;
    /** The file has ended and this (empty) block is the last. */
    final: boolean;
  }
  | { type: "error"; id: number; error: SerializedError }
  | { type: "bad"; id: number; line: number; reason: string }
  | { type: "out of order"; id: number; line: number }
  | { type: "closed"; id: number };

/** `error` as it can cross to another thread. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof TradeFileRowError) {
    const { path, line, reason } = error;
    return { kind: "row", path, line, reason };
  }
  if (error instanceof TradeFileReadError) {
    const { path, line, message } = error;
    return { kind: "read", path, line, message };
  }
  const { name, message, stack } = error instanceof Error
    ? error
    : new Error(String(error));
  return { kind: "other", name, message, stack };
}

/** The error {@linkcode serializeError} took across, as it was. */
export function deserializeError(error: SerializedError): Error {
  if (error.kind === "row") {
    return new TradeFileRowError(error.path, error.line, error.reason);
  }
  if (error.kind === "read") {
    const read = new TradeFileReadError(error.path, "", { line: error.line });
    read.message = error.message;
    return read;
  }
  if (error.name === "TypeError") return new TypeError(error.message);
  if (error.name === "RangeError") return new RangeError(error.message);
  const other = new Error(error.message);
  other.name = error.name;
  if (error.stack !== undefined) other.stack = error.stack;
  return other;
}
