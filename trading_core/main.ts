/**
 * trading_core entrypoint: `deno task live`.
 *
 * @module
 */

import { runRole } from "../common/cli.ts";
import type { Config } from "../common/config/mod.ts";
import { LIVE_USAGE, parseLiveArgs } from "./cli.ts";

const ROLE = "trading_core";

function start(config: Config): number {
  const source = config.dataSource;
  const from = source.type === "ipc"
    ? `IPC ring ${source.ipc.shmPathPrefix}${source.exchange}_*`
    : `NATS ${source.nats.connection.servers.join(",")} (${
      source.nats.consumer.durableName ?? "ordered consumer"
    })`;
  console.log(
    `${ROLE}: config OK (${config.file ?? "built-in defaults"}): ` +
      `${source.exchange} ${source.symbols.join(",")} ← ${from}`,
  );
  console.error(
    `${ROLE}: consuming is not implemented yet (IPC ring: issue #3, NATS: issue #4); ` +
      `--print-config shows the resolved configuration`,
  );
  return 1;
}

/** Runs `live` with the given arguments and returns the exit status. */
export function main(args: string[]): Promise<number> {
  return runRole(args, {
    role: ROLE,
    usage: LIVE_USAGE,
    parse: parseLiveArgs,
    start,
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
