/**
 * data_manager entrypoint: `deno task serve`.
 *
 * @module
 */

import { runRole } from "../common/cli.ts";
import type { Config } from "../common/config/mod.ts";
import { parseServeArgs, SERVE_USAGE } from "./cli.ts";

const ROLE = "data_manager";

function start(config: Config): number {
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

/** Runs `serve` with the given arguments and returns the exit status. */
export function main(args: string[]): Promise<number> {
  return runRole(args, {
    role: ROLE,
    usage: SERVE_USAGE,
    parse: parseServeArgs,
    start,
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
