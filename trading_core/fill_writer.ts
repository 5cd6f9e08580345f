/**
 * `live --fills-out FILE` (and a backtest's `fills.ndjson`): writes every
 * fill of the strategy's paper orders as one NDJSON line,
 * {@linkcode formatFillLine}.
 *
 * @module
 */

import { type Fill, FILL_LINE_FIELDS, formatFillLine } from "./broker/mod.ts";
import {
  LineFile,
  type LineWriterOptions,
  ndjsonWithFields,
  NdjsonWriter,
} from "./_line_file.ts";

/** What the first line of a fill file appended to must be. */
const NOT_A_FILL = ndjsonWithFields("a fill", FILL_LINE_FIELDS);

/** Options of {@linkcode FillWriter.open}. */
export type FillWriterOptions = LineWriterOptions;

/**
 * Appends fills to a file, one NDJSON line each, without an `await`:
 * buffered, synchronous chunked writes (see {@linkcode LineFile} for why),
 * flushed at least every `flushIntervalMs`.
 */
export class FillWriter extends NdjsonWriter<Fill> {
  /**
   * Creates `path` for the fills, or takes the existing file as
   * {@linkcode FillWriterOptions.onExisting} says (a file appended to must
   * start with a fill).
   *
   * @throws {RecordFileExistsError} when the file exists and is not empty,
   * unless it is to be overwritten, or appended to and holds fills.
   * @throws {RecordFileError} when the file cannot be opened for writing.
   */
  static async open(
    path: string,
    options: FillWriterOptions = {},
  ): Promise<FillWriter> {
    const file = await LineFile.open(path, {
      ...options,
      flag: "--fills-out",
      checkFirstLine: NOT_A_FILL,
    });
    return new FillWriter(file, formatFillLine);
  }
}
