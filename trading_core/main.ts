/**
 * trading_core entrypoint: `deno task live`.
 *
 * @module
 */

import {
  configToJson,
  exitOnUsageError,
  loadConfigOrExit,
} from "../common/cli.ts";
import { LIVE_USAGE, type LiveArgs, parseLiveArgs } from "./cli.ts";

const ROLE = "trading_core";

/** Runs `live` with the given arguments and returns the exit status. */
export async function main(args: string[]): Promise<number> {
  let parsed: LiveArgs;
  try {
    parsed = parseLiveArgs(args);
  } catch (error) {
    exitOnUsageError(ROLE, error, LIVE_USAGE);
  }
  if (parsed.help) {
    console.log(LIVE_USAGE);
    return 0;
  }
  const config = await loadConfigOrExit(parsed.configPath, {
    overrides: parsed.overrides,
    role: ROLE,
  });
  if (parsed.printConfig) {
    console.log(configToJson(config));
    return 0;
  }
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

if (import.meta.main) Deno.exit(await main(Deno.args));
