/**
 * trading_core entrypoint: `deno task live`.
 *
 * @module
 */

import { runRole } from "../common/cli.ts";
import { LIVE_USAGE, parseLiveArgs } from "./cli.ts";
import { live } from "./live.ts";
import type { RecordFormat } from "./recorder.ts";

/** Runs `live` with the given arguments and returns the exit status. */
export function main(args: string[]): Promise<number> {
  return runRole(args, {
    role: "trading_core",
    usage: LIVE_USAGE,
    parse: parseLiveArgs,
    start: (config, parsed) =>
      live(config, {
        summaryJson: parsed.switches["summary-json"] === true,
        record: parsed.switches.record as string | undefined,
        recordFormat: parsed.switches["record-format"] as
          | RecordFormat
          | undefined,
      }),
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
