/**
 * The backtest entrypoint: `deno task backtest`.
 *
 * @module
 */

import { runRole } from "../../common/runtime/cli.ts";
import { BACKTEST_USAGE, backtestArgs, parseBacktestArgs } from "./cli.ts";
import { renderReport } from "./report_html.ts";
import { backtest } from "./run.ts";

/** Runs `backtest` with the given arguments and returns the exit status. */
export function main(args: string[]): Promise<number> {
  return runRole(args, {
    role: "backtest",
    usage: BACKTEST_USAGE,
    parse: parseBacktestArgs,
    start: (config, parsed) => {
      const options = backtestArgs(parsed.switches);
      return backtest(config, options, {
        renderReport,
        // --progress 0 turns it off too; its redraw interval is fixed.
        progress: !options.quiet && Deno.stderr.isTerminal() &&
          config.log.format === "text" && config.log.progressIntervalMs > 0,
      });
    },
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
