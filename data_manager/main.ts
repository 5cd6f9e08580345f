/**
 * data_manager entrypoint: `deno task serve`, and the `dist/data_manager`
 * binary of `deno task compile`.
 *
 * @module
 */

import { runRole } from "../common/runtime/cli.ts";
import { parseServeArgs, SERVE_USAGE } from "./cli.ts";
import { serve } from "./serve.ts";

/** Runs `serve` with the given arguments and returns the exit status. */
export function main(args: string[]): Promise<number> {
  return runRole(args, {
    role: "data_manager",
    usage: SERVE_USAGE,
    parse: parseServeArgs,
    start: (config) => serve(config),
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
