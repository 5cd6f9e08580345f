/**
 * `deno task symbols`: the symbol registry, read once over the consumer's
 * NATS connection (`data_source.nats.connection`). Needs only network access
 * to the servers (and read access to its config file and the NATS
 * variables).
 *
 * @module
 */

import { type Config, ConfigError, loadConfig } from "../common/config/mod.ts";
import { NatsAuthError } from "../common/nats/connection.ts";
import {
  openRegistry,
  RegistryUnreachableError,
} from "../common/registry/mod.ts";
import { chooseConfig, configToJson } from "../common/runtime/cli.ts";
import { createLogger, type Logger } from "../common/runtime/log.ts";
import { shutdownSignal } from "../common/runtime/shutdown.ts";
import {
  parseSymbolsArgs,
  SYMBOLS_USAGE,
  type SymbolsArgs,
  TOOL,
} from "./cli.ts";
import { formatJson, formatText } from "./report.ts";

/** Runs `deno task symbols` with the given arguments and returns the exit status. */
export async function main(args: string[]): Promise<number> {
  let parsed: SymbolsArgs;
  try {
    parsed = parseSymbolsArgs(args);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`${TOOL}: ${message} (--help lists the flags)`);
    return 2;
  }
  const { role } = parsed;
  if (role.help) {
    console.log(SYMBOLS_USAGE);
    return 0;
  }
  let config: Config;
  try {
    const choice = await chooseConfig(role.configPath);
    config = await loadConfig(choice.path, { overrides: role.overrides });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${TOOL}: ${error.message}`);
    return 2;
  }
  if (role.printConfig) {
    console.log(configToJson(config));
    return 0;
  }
  // Logs go to stderr: stdout holds the report alone.
  const log = createLogger(TOOL, {
    ...config.log,
    level: config.log.level === "info" ? "warn" : config.log.level,
    out: console.error,
  });
  for (const warning of config.warnings) log.warn(warning);
  return await list(config, { json: parsed.json, log });
}

/** Reads the registry and prints it; 1 when NATS cannot be reached in time or refuses. */
async function list(
  config: Config,
  options: { json: boolean; log: Logger },
): Promise<number> {
  const { connection } = config.dataSource.nats;
  const shutdown = shutdownSignal();
  const { signal } = shutdown;
  try {
    await using registry = await openRegistry(connection, {
      registry: config.registry,
      log: options.log,
      signal,
      connectWithinMs: connection.connectTimeoutMs,
    });
    const entries = await registry.bucket.list();
    const report = {
      bucket: config.registry.bucket,
      servers: connection.servers,
      rows: [...entries].map(([key, stored]) => ({ key, stored })),
      now: Date.now(),
    };
    console.log(options.json ? formatJson(report) : formatText(report));
    return 0;
  } catch (error) {
    if (signal.aborted) {
      console.error(`${TOOL}: interrupted before NATS answered`);
      return 1;
    }
    if (error instanceof RegistryUnreachableError) {
      console.error(
        `${TOOL}: cannot reach NATS: ${error.message} (data_source.nats.connection.connect_timeout)`,
      );
      return 1;
    }
    if (error instanceof NatsAuthError || error instanceof ConfigError) {
      console.error(`${TOOL}: ${error.message}`);
      return 1;
    }
    throw error;
  } finally {
    shutdown.dispose();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
