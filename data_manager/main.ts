/**
 * data_manager entrypoint: `deno task serve`.
 *
 * @module
 */

import {
  configToJson,
  exitOnUsageError,
  loadConfigOrExit,
} from "../common/cli.ts";
import { parseServeArgs, SERVE_USAGE, type ServeArgs } from "./cli.ts";

const ROLE = "data_manager";

/** Runs `serve` with the given arguments and returns the exit status. */
export async function main(args: string[]): Promise<number> {
  let parsed: ServeArgs;
  try {
    parsed = parseServeArgs(args);
  } catch (error) {
    exitOnUsageError(ROLE, error, SERVE_USAGE);
  }
  if (parsed.help) {
    console.log(SERVE_USAGE);
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
  const { dataManager, transport } = config;
  const outputs = [
    transport.ipc.enabled &&
    `IPC ring ${transport.ipc.shmPathPrefix}${dataManager.exchange}_*`,
    transport.nats.enabled &&
    `NATS ${
      transport.nats.servers.join(",")
    } stream ${transport.nats.jetstream.streamName}`,
  ].filter(Boolean);
  console.log(
    `${ROLE}: config OK (${
      config.file ?? "built-in defaults"
    }): ${dataManager.source} ` +
      `${dataManager.exchange} ${dataManager.symbols.join(",")} → ${
        outputs.join(" + ") || "no transport"
      }`,
  );
  console.error(
    `${ROLE}: publishing is not implemented yet (IPC ring: issue #3, NATS: issue #4); ` +
      `--print-config shows the resolved configuration`,
  );
  return 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
