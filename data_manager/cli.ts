/**
 * The `serve` command line of data_manager.
 *
 * @module
 */

import { parseRoleArgs, type RoleArgs, splitList } from "../common/cli.ts";

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

/**
 * Parses `serve` flags.
 *
 * @throws {TypeError} for an unknown flag or a flag missing its value.
 */
export function parseServeArgs(args: string[]): RoleArgs {
  return parseRoleArgs(args, {
    symbols: {
      type: "string",
      sets: { key: "data_manager.symbols", convert: splitList },
    },
    exchange: { type: "string", sets: { key: "data_manager.exchange" } },
    source: { type: "string", sets: { key: "data_manager.source" } },
    nats: { type: "boolean", sets: { key: "transport.nats.enabled" } },
    "nats-url": {
      type: "string",
      sets: [
        { key: "transport.nats.servers", convert: splitList },
        { key: "transport.nats.enabled", convert: () => true },
      ],
    },
    stream: {
      type: "string",
      sets: { key: "transport.nats.jetstream.stream_name" },
    },
    "no-ipc": {
      type: "boolean",
      sets: { key: "transport.ipc.enabled", convert: () => false },
    },
  });
}
