/**
 * What data_manager publishes (`[data_manager]`): the exchange and symbols,
 * the source and each source's table (`synthetic`, `binance`, `replay`), and
 * its metrics endpoint.
 *
 * @module
 */

import { normalizeExchange } from "../wire/subjects.ts";
import {
  checkBinanceEndpoint,
  DEFAULT_BINANCE_ENDPOINT,
  DEFAULT_SILENCE_TIMEOUT_MS,
} from "./binance_endpoint.ts";
import { DEFAULT_EXCHANGE, DEFAULT_SYMBOLS } from "./_defaults.ts";
import type { Section } from "./_reader.ts";
import {
  boundedDuration,
  COUNT,
  NANOSECOND,
  nonEmptyPath,
  nonNegativeNumber,
  readMetrics,
  readSymbols,
} from "./_values.ts";
import {
  type BinanceConfig,
  type DataManagerConfig,
  REPLAY_FORMATS,
  type ReplayConfig,
  type SyntheticConfig,
} from "./types.ts";

/** Reads `[data_manager]`. */
export function readDataManager(section: Section): DataManagerConfig {
  const exchange = section.string("exchange", DEFAULT_EXCHANGE, {
    check: normalizeExchange,
  });
  const symbols = readSymbols(section, DEFAULT_SYMBOLS);
  if (symbols.length === 0) {
    section.problem("symbols", "expected at least one symbol to publish");
  }
  const source = section.choice("source", "synthetic", [
    "synthetic",
    "binance",
    "replay",
  ]);
  const maxTrades = section.integer("max_trades", 0, COUNT);
  const synthetic = readSynthetic(section.section("synthetic"));
  const binance = readBinance(section.section("binance"));
  const replay = readReplay(section.section("replay"));
  const metrics = readMetrics(section.section("metrics"));
  section.done();
  if (source === "replay" && replay.file === undefined) {
    section.problem(
      "source",
      'invalid value "replay" without data_manager.replay.file: give the file to replay (--file)',
    );
  }
  return {
    exchange,
    symbols,
    source,
    maxTrades,
    synthetic,
    binance,
    replay,
    metrics,
  };
}

function readBinance(section: Section): BinanceConfig {
  const endpoint = section.string("endpoint", DEFAULT_BINANCE_ENDPOINT, {
    check: (value) => checkBinanceEndpoint(value, { names: true }),
  });
  const silenceTimeoutMs = boundedDuration(section, "silence_timeout", {
    fallback: DEFAULT_SILENCE_TIMEOUT_MS,
    min: 1000,
    off: true,
  });
  section.done();
  return { endpoint, silenceTimeoutMs };
}

function readReplay(section: Section): ReplayConfig {
  const file = section.optionalString("file", { check: nonEmptyPath });
  const speed = nonNegativeNumber(section, "speed", { fallback: 0 });
  const onError = section.choice("on_error", "stop", ["skip", "stop"]);
  const format = section.choice("format", "auto", REPLAY_FORMATS);
  section.done();
  return { file, speed, onError, format };
}

function readSynthetic(section: Section): SyntheticConfig {
  const seed = section.integer("seed", 1, { min: 0, max: 2 ** 32 - 1 });
  const rate = nonNegativeNumber(section, "rate", { fallback: 1000 });
  const burstSize = section.integer("burst_size", 0, COUNT);
  if (burstSize > 0 && rate === 0) {
    section.problem(
      "burst_size",
      `invalid value ${burstSize} with rate = 0: expected 0, since rate 0 already publishes as fast as possible`,
    );
  }
  const burstIntervalMs = boundedDuration(section, "burst_interval", {
    fallback: 1000,
    min: NANOSECOND,
  });
  // Absent = derived from the start time when the run starts, so a restarted
  // run never reuses the ids (and Nats-Msg-Ids) of the last duplicate window.
  const firstTradeId = section.has("first_trade_id")
    ? section.integer("first_trade_id", 0, COUNT)
    : undefined;
  section.done();
  return { seed, rate, burstSize, burstIntervalMs, firstTradeId };
}
