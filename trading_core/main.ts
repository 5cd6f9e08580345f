/**
 * trading_core entrypoint: `deno task live`, and the `dist/trading_core`
 * binary of `deno task compile`.
 *
 * @module
 */

import { runRole } from "../common/runtime/cli.ts";
import { LIVE_USAGE, parseLiveArgs } from "./cli.ts";
import { live } from "./live.ts";
import type { RecordFormat } from "./recorder.ts";

/**
 * Why a standalone binary (`deno task compile`) cannot run a strategy: it
 * imports only the modules compiled into it, never a file from disk.
 */
const STANDALONE_STRATEGY =
  "--strategy needs deno task live: the standalone trading_core binary cannot import a strategy file";

/** Runs `live` with the given arguments and returns the exit status. */
export function main(args: string[]): Promise<number> {
  return runRole(args, {
    role: "trading_core",
    usage: LIVE_USAGE,
    parse: parseLiveArgs,
    start: (config, parsed) => {
      if (Deno.build.standalone && config.tradingCore.strategy !== undefined) {
        console.error(`trading_core: ${STANDALONE_STRATEGY}`);
        return 2;
      }
      return live(config, {
        summaryJson: parsed.switches["summary-json"] === true,
        record: parsed.switches.record as string | undefined,
        recordFormat: parsed.switches["record-format"] as
          | RecordFormat
          | undefined,
      });
    },
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
