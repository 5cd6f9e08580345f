/**
 * Opens the Binance source after checking that its endpoint is inside this
 * process's network permissions.
 *
 * @module
 */

import type { Config } from "../../common/config/mod.ts";
import type { Logger } from "../../common/runtime/log.ts";
import { EXIT_RUNTIME, SourceProblem } from "../source.ts";
import { BinanceSource } from "./source.ts";

/** `host:port` of a `ws://` or `wss://` endpoint. */
function hostOf(endpoint: string): string {
  const url = new URL(endpoint);
  const port = url.port || (url.protocol === "wss:" ? "443" : "80");
  return `${url.hostname}:${port}`;
}

/**
 * The configured Binance source, or a {@linkcode SourceProblem} when its
 * endpoint is outside `--allow-net`.
 */
export function openBinance(config: Config, log: Logger): BinanceSource {
  const { endpoint, silenceTimeoutMs } = config.dataManager.binance;
  const host = hostOf(endpoint);
  // Requested, not queried, so that where Deno may prompt it prompts now; a
  // denied host would otherwise be retried forever.
  if (Deno.permissions.requestSync({ name: "net", host }).state !== "granted") {
    throw new SourceProblem(
      `binance: endpoint ${endpoint} is outside this process's network permissions: add ${host} to its --allow-net (the task's flags in deno.json, or those of deno task compile)`,
      EXIT_RUNTIME,
    );
  }
  return new BinanceSource(config.dataManager.symbols, {
    endpoint,
    log,
    silenceTimeoutMs,
  });
}
