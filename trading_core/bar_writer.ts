/**
 * `live --bars-out FILE`: writes every closed bar as one NDJSON line.
 *
 * Each line is a JSON object with the fields in this fixed order:
 * `exchange`, `symbol`, `interval`, `intervalMs`, `start`, `end`,
 * `startTime`, `endTime`, `open`, `high`, `low`, `close`, `volume`,
 * `buyVolume`, `sellVolume`, `notional`, `vwap`, `trades`, `complete` —
 * the {@linkcode Bar} fields, with `startTime` and `endTime` the ISO 8601 UTC
 * forms of `start` and `end` (ms since the epoch). Numbers are written as
 * JavaScript prints them, so they parse back to the same doubles; `vwap` is
 * null for an empty bar. `complete` (false when trades of the stream are
 * missing from the bar) comes last so that the fields before it keep their
 * places; files written before it existed lack it: read a missing
 * `complete` as true.
 *
 * ```ts ignore
 * const writer = await BarWriter.open("bars.ndjson");
 * const bars = new BarBuilder(symbols, {
 *   exchange,
 *   intervals: ["1s", "1m"],
 *   onBar: (bar) => writer.write(bar),
 * });
 * // at the end:
 * writer.close();
 * ```
 *
 * @module
 */

import type { Bar } from "./bar.ts";
import {
  LineFile,
  type LineWriterOptions,
  ndjsonWithFields,
  NdjsonWriter,
  RecordFileError,
  RecordFileExistsError,
} from "./_line_file.ts";

export { RecordFileError, RecordFileExistsError };

/** What the first line of a bar file appended to must be. */
const NOT_A_BAR = ndjsonWithFields("a bar", [
  "exchange",
  "symbol",
  "interval",
  "start",
  "open",
  "close",
]);

/** Options of {@linkcode BarWriter.open}. */
export type BarWriterOptions = LineWriterOptions;

/** One bar as an NDJSON line (without the newline), fields in the order of the module doc. */
export function formatBarLine(bar: Bar): string {
  return JSON.stringify({
    exchange: bar.exchange,
    symbol: bar.symbol,
    interval: bar.interval,
    intervalMs: bar.intervalMs,
    start: bar.start,
    end: bar.end,
    startTime: new Date(bar.start).toISOString(),
    endTime: new Date(bar.end).toISOString(),
    open: bar.open,
    high: bar.high,
    low: bar.low,
    close: bar.close,
    volume: bar.volume,
    buyVolume: bar.buyVolume,
    sellVolume: bar.sellVolume,
    notional: bar.notional,
    vwap: bar.vwap,
    trades: bar.trades,
    complete: bar.complete,
  });
}

/**
 * Appends closed bars to a file, one NDJSON line each, without an `await`:
 * buffered, synchronous chunked writes (see {@linkcode LineFile} for why),
 * flushed at least every `flushIntervalMs`.
 */
export class BarWriter extends NdjsonWriter<Bar> {
  /**
   * Creates `path` for the bars, or takes the existing file as
   * {@linkcode BarWriterOptions.onExisting} says (a file appended to must
   * start with a bar).
   *
   * @throws {RangeError} for a bad `chunkChars`.
   * @throws {RecordFileExistsError} when the file exists and is not empty,
   * unless it is to be overwritten, or appended to and holds bars.
   * @throws {RecordFileError} when the file cannot be opened for writing
   * (the message says which `--allow-write` `--bars-out` needs).
   */
  static async open(
    path: string,
    options: BarWriterOptions = {},
  ): Promise<BarWriter> {
    const file = await LineFile.open(path, {
      ...options,
      flag: "--bars-out",
      checkFirstLine: NOT_A_BAR,
    });
    return new BarWriter(file, formatBarLine);
  }
}
