/**
 * Opens the replay source after every check that needs no transport: the
 * file is readable under this process's permissions, its format, a gzip's
 * checksum, and which symbol a Binance CSV holds.
 *
 * @module
 */

import type { Config } from "../../common/config/mod.ts";
import type { Logger } from "../../common/runtime/log.ts";
import {
  detectTradeFormat,
  symbolFromFileName,
  TradeFileReadError,
  verifyGzip,
} from "../../common/trade_file/mod.ts";
import { EXIT_RUNTIME, EXIT_USAGE, SourceProblem } from "../source.ts";
import { ReplaySource } from "./source.ts";

/**
 * Why the replay file cannot be read under this process's permissions, or
 * undefined: checked before anything is opened, with the flag that is missing.
 */
function replayDenied(file: string): string | undefined {
  const state = Deno.permissions.querySync({ name: "read", path: file }).state;
  if (state === "granted") return undefined;
  return `replay: cannot read ${file}: this process may not read it (deno task serve reads only config/ and data/): put the file under data/, or run with --allow-read=${file}`;
}

/**
 * The symbol of a Binance CSV: from its name (`BTCUSDT-trades-2024-01-01.csv`),
 * else the one configured symbol.
 */
function csvSymbol(file: string, symbols: readonly string[]): string {
  const named = symbolFromFileName(file);
  if (named !== undefined) return named;
  if (symbols.length === 1) return symbols[0];
  throw new SourceProblem(
    `replay: cannot tell the symbol of the Binance CSV ${
      JSON.stringify(file)
    } (data_manager.replay.file): its name is not like "BTCUSDT-trades-2024-01-01.csv", and data_manager.symbols lists ${symbols.length} (${
      symbols.join(", ")
    }) where it takes exactly one: give one symbol (--symbols), or rename the file`,
    EXIT_USAGE,
  );
}

/**
 * The configured replay source, or a {@linkcode SourceProblem} saying in one
 * line why it cannot start.
 */
export async function openReplay(
  config: Config,
  log: Logger,
): Promise<ReplaySource> {
  const { dataManager } = config;
  const { replay, symbols } = dataManager;
  const file = replay.file!; // the config requires a non-empty one for replay
  const denied = replayDenied(file);
  if (denied !== undefined) throw new SourceProblem(denied, EXIT_RUNTIME);
  let format: Awaited<ReturnType<typeof detectTradeFormat>>;
  const stream = await isStream(file);
  if (stream) {
    // A FIFO or a device can be read only once: ReplaySource reads it as it
    // comes, detecting the format from its first line.
    log.info(
      `replay: ${file} is not a regular file: read once as it comes (a gzip stream's checksum is checked only at its end)`,
    );
    format = replay.format === "auto" ? undefined : replay.format;
  } else {
    try {
      // Opens and reads the file's start even when the format is configured:
      // a missing file, a directory, a corrupt gzip header is reported now.
      format = await detectTradeFormat(file);
      // A gzip stream's checksum is at its end: a corrupt one must fail
      // before a row of it is published, and before any ring exists.
      await verifyGzip(file);
    } catch (error) {
      if (!(error instanceof TradeFileReadError)) throw error;
      throw new SourceProblem(`replay: ${error.message}`, EXIT_RUNTIME);
    }
    if (format === undefined) {
      throw new SourceProblem(
        `replay: published 0 trades: ${file} has no trade rows (it is empty or blank)`,
        EXIT_RUNTIME,
      );
    }
  }
  if (replay.format !== "auto") format = replay.format;
  let symbol: string | undefined;
  if (format === "binance-csv") symbol = csvSymbol(file, symbols);
  else if (format === undefined) {
    // Not known yet: the symbol a CSV would have, if it can be told.
    symbol = symbolFromFileName(file) ??
      (symbols.length === 1 ? symbols[0] : undefined);
  }
  return new ReplaySource(symbols, {
    file,
    speed: replay.speed,
    onError: replay.onError,
    format: format ?? "auto",
    symbol,
    exchange: dataManager.exchange,
    log,
    verified: !stream,
  });
}

/** Whether `file` exists and is neither a regular file nor a directory (a FIFO, a device). */
async function isStream(file: string): Promise<boolean> {
  try {
    const info = await Deno.stat(file);
    return !info.isFile && !info.isDirectory;
  } catch {
    return false; // opening it reports why, in one line
  }
}
