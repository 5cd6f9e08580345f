/**
 * Creates `serve`'s configured trade source, after every check that needs no
 * transport: whether the replay file can be read and which symbol a Binance
 * CSV holds, whether the Binance endpoint is inside `--allow-net`. A source
 * that cannot start is reported in one line before any ring or NATS stream
 * exists.
 *
 * @module
 */

import type { Config } from "../common/config/mod.ts";
import { formatRate } from "../common/runtime/format.ts";
import type { Logger } from "../common/runtime/log.ts";
import { BinanceSource } from "./binance/source.ts";
import {
  detectTradeFormat,
  symbolFromFileName,
  TradeFileReadError,
  verifyGzip,
} from "../common/trade_file/mod.ts";
import { ReplaySource } from "./replay/source.ts";
import type { TradeSource } from "./source.ts";
import { SyntheticSource } from "./synthetic/source.ts";

/** Exit status of a source that cannot start because of its config (flags, keys). */
const USAGE = 2;
/** Exit status of a source that cannot start at run time (a file, a permission). */
const RUNTIME = 1;

/** A source that cannot start: the one-line reason and the exit status. */
class SourceProblem {
  constructor(readonly message: string, readonly status: number) {}
}

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
    USAGE,
  );
}

async function openReplay(config: Config, log: Logger): Promise<ReplaySource> {
  const { dataManager } = config;
  const { replay, symbols } = dataManager;
  const file = replay.file!; // the config requires a non-empty one for replay
  const denied = replayDenied(file);
  if (denied !== undefined) throw new SourceProblem(denied, RUNTIME);
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
      throw new SourceProblem(`replay: ${error.message}`, RUNTIME);
    }
    if (format === undefined) {
      throw new SourceProblem(
        `replay: published 0 trades: ${file} has no trade rows (it is empty or blank)`,
        RUNTIME,
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

/** `host:port` of a `ws://` or `wss://` endpoint. */
function hostOf(endpoint: string): string {
  const url = new URL(endpoint);
  const port = url.port || (url.protocol === "wss:" ? "443" : "80");
  return `${url.hostname}:${port}`;
}

function openBinance(config: Config, log: Logger): BinanceSource {
  const { endpoint, silenceTimeoutMs } = config.dataManager.binance;
  const host = hostOf(endpoint);
  // Requested, not queried, so that where Deno may prompt it prompts now; a
  // denied host would otherwise be retried forever.
  if (Deno.permissions.requestSync({ name: "net", host }).state !== "granted") {
    throw new SourceProblem(
      `binance: endpoint ${endpoint} is outside this process's network permissions: add ${host} to its --allow-net (the task's flags in deno.json, or those of deno task compile)`,
      RUNTIME,
    );
  }
  return new BinanceSource(config.dataManager.symbols, {
    endpoint,
    log,
    silenceTimeoutMs,
  });
}

function openSynthetic(config: Config): SyntheticSource {
  const { dataManager } = config;
  const { synthetic } = dataManager;
  return new SyntheticSource(dataManager.symbols, {
    seed: synthetic.seed,
    rate: synthetic.rate,
    burstSize: synthetic.burstSize,
    burstIntervalMs: synthetic.burstIntervalMs,
    maxTrades: dataManager.maxTrades,
    // Unique per run unless configured: the NATS dedup window must never
    // mistake a restarted run's trades for repeats.
    firstTradeId: synthetic.firstTradeId ?? Date.now() * 1000,
  });
}

/**
 * Creates the configured source, or logs in one line why it cannot start
 * and returns the exit status: 2 for a config that cannot work (a Binance
 * CSV whose symbol is unknown), 1 for a file or permission problem.
 */
export async function openSource(
  config: Config,
  log: Logger,
): Promise<TradeSource | number> {
  try {
    switch (config.dataManager.source) {
      case "binance":
        return openBinance(config, log);
      case "replay":
        return await openReplay(config, log);
      case "synthetic":
        return openSynthetic(config);
    }
  } catch (error) {
    if (!(error instanceof SourceProblem)) throw error;
    log.error(error.message);
    return error.status;
  }
}

/** The source's settings for the start-up line: endpoint, file and speed, or rate and seed. */
export function describeSource(config: Config): string {
  const { dataManager } = config;
  switch (dataManager.source) {
    case "binance":
      return dataManager.binance.endpoint;
    case "replay":
      return `${dataManager.replay.file} at ${
        dataManager.replay.speed === 0
          ? "full speed"
          : `${dataManager.replay.speed}× original speed`
      }`;
    case "synthetic":
      return `${
        dataManager.synthetic.rate === 0
          ? "full speed"
          : formatRate(dataManager.synthetic.rate)
      }, seed ${dataManager.synthetic.seed}`;
  }
}
