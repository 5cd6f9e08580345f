/**
 * Creates `serve`'s configured trade source through its own `open.ts`
 * (data_manager/{synthetic,binance,replay}/open.ts), after every check that
 * needs no transport. A source that cannot start is reported in one line
 * before any ring or NATS stream exists.
 *
 * @module
 */

import type { Config } from "../common/config/mod.ts";
import { formatRate } from "../common/runtime/format.ts";
import type { Logger } from "../common/runtime/log.ts";
import { openBinance } from "./binance/open.ts";
import { openReplay } from "./replay/open.ts";
import { SourceProblem, type TradeSource } from "./source.ts";
import { openSynthetic } from "./synthetic/open.ts";

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
