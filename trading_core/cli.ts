/**
 * The `live` command line of trading_core.
 *
 * @module
 */

import { parseRoleArgs, type RoleArgs, splitList } from "../common/cli.ts";

/** Usage text of `deno task live`. */
export const LIVE_USAGE = `Usage: deno task live [flags]

Consumes trades (trading_core) from the shared-memory ring or NATS JetStream.

Flags (each overrides the config file):
  --config FILE        TOML config (the task passes config/development.toml;
                       without it the built-in defaults apply)
  --symbols A,B        symbols to read        data_source.symbols
  --exchange NAME      exchange to read       data_source.exchange
  --nats               read from NATS JetStream instead of the ring  data_source.type
  --nats-url URL[,URL] NATS servers (implies --nats)  data_source.nats.connection.servers
  --durable NAME       durable consumer name (implies --nats)  data_source.nats.consumer.durable_name
  --deliver POLICY     all | new | last | last_per_subject | by_start_time | by_start_sequence
  --start-time TIME    RFC 3339 start for --deliver by_start_time
  --replay POLICY      instant | original
  --log-level LEVEL    debug | info | warn | error
  --print-config       print the resolved config (secrets hidden) and exit
  -h, --help           show this help

Environment: NATS_URL (comma-separated) overrides data_source.nats.connection.servers.`;

const CONSUMER = "data_source.nats.consumer";
const USE_NATS = { key: "data_source.type", convert: () => "nats" };

/**
 * Parses `live` flags.
 *
 * @throws {TypeError} for an unknown flag or a flag missing its value.
 */
export function parseLiveArgs(args: string[]): RoleArgs {
  return parseRoleArgs(args, {
    symbols: {
      type: "string",
      sets: [
        { key: "data_source.symbols", convert: splitList },
        { key: `${CONSUMER}.symbols`, convert: splitList },
      ],
    },
    exchange: {
      type: "string",
      sets: [{ key: "data_source.exchange" }, { key: `${CONSUMER}.exchange` }],
    },
    nats: { type: "boolean", sets: USE_NATS },
    "nats-url": {
      type: "string",
      sets: [
        { key: "data_source.nats.connection.servers", convert: splitList },
        USE_NATS,
      ],
    },
    durable: {
      type: "string",
      sets: [{ key: `${CONSUMER}.durable_name` }, USE_NATS],
    },
    deliver: { type: "string", sets: { key: `${CONSUMER}.deliver` } },
    "start-time": { type: "string", sets: { key: `${CONSUMER}.start_time` } },
    replay: { type: "string", sets: { key: `${CONSUMER}.replay` } },
  });
}
