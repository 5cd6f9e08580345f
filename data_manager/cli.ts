/**
 * The `serve` command line of data_manager.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { flagOverrides, splitList } from "../common/cli.ts";
import type { ConfigOverride } from "../common/config/mod.ts";

/** Usage text of `deno task serve`. */
export const SERVE_USAGE = `Usage: deno task serve [flags]

Publishes trades for the configured symbols (data_manager).

Flags (each overrides the config file):
  --config FILE        TOML config (the task passes config/development.toml;
                       without it the built-in defaults apply)
  --symbols A,B        symbols to publish            data_manager.symbols
  --exchange NAME      exchange name                 data_manager.exchange
  --source KIND        synthetic | binance | replay  data_manager.source
  --nats               also publish to NATS JetStream transport.nats.enabled
  --nats-url URL[,URL] NATS servers (implies --nats)  transport.nats.servers
  --stream NAME        JetStream stream name          transport.nats.jetstream.stream_name
  --no-ipc             do not publish into the shared-memory ring
  --log-level LEVEL    debug | info | warn | error    log.level
  --print-config       print the resolved config (secrets hidden) and exit
  -h, --help           show this help

Environment: NATS_URL (comma-separated) overrides transport.nats.servers.`;

/** What the `serve` command line asks for. */
export interface ServeArgs {
  /** The config file, if one was given. */
  configPath: string | undefined;
  /** Config values the flags set. */
  overrides: ConfigOverride[];
  /** Print the resolved config and exit. */
  printConfig: boolean;
  /** Print usage and exit. */
  help: boolean;
}

/**
 * Parses `serve` flags.
 *
 * @throws {TypeError} for an unknown flag or a flag missing its value.
 */
export function parseServeArgs(args: string[]): ServeArgs {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      config: { type: "string" },
      symbols: { type: "string" },
      exchange: { type: "string" },
      source: { type: "string" },
      nats: { type: "boolean" },
      "nats-url": { type: "string" },
      stream: { type: "string" },
      "no-ipc": { type: "boolean" },
      "log-level": { type: "string" },
      "print-config": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  const overrides = flagOverrides(values, {
    symbols: { key: "data_manager.symbols", convert: splitList },
    exchange: { key: "data_manager.exchange" },
    source: { key: "data_manager.source" },
    nats: { key: "transport.nats.enabled" },
    "nats-url": [
      { key: "transport.nats.servers", convert: splitList },
      { key: "transport.nats.enabled", convert: () => true },
    ],
    stream: { key: "transport.nats.jetstream.stream_name" },
    "no-ipc": { key: "transport.ipc.enabled", convert: () => false },
    "log-level": { key: "log.level" },
  });
  return {
    configPath: values.config,
    overrides,
    printConfig: values["print-config"] ?? false,
    help: values.help ?? false,
  };
}
