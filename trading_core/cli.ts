/**
 * The `live` command line of trading_core.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { flagOverrides, splitList } from "../common/cli.ts";
import type { ConfigOverride } from "../common/config/mod.ts";

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

/** What the `live` command line asks for. */
export interface LiveArgs {
  /** The config file, if one was given. */
  configPath: string | undefined;
  /** Config values the flags set. */
  overrides: ConfigOverride[];
  /** Print the resolved config and exit. */
  printConfig: boolean;
  /** Print usage and exit. */
  help: boolean;
}

const CONSUMER = "data_source.nats.consumer";
const USE_NATS = { key: "data_source.type", convert: () => "nats" };

/**
 * Parses `live` flags.
 *
 * @throws {TypeError} for an unknown flag or a flag missing its value.
 */
export function parseLiveArgs(args: string[]): LiveArgs {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      config: { type: "string" },
      symbols: { type: "string" },
      exchange: { type: "string" },
      nats: { type: "boolean" },
      "nats-url": { type: "string" },
      durable: { type: "string" },
      deliver: { type: "string" },
      "start-time": { type: "string" },
      replay: { type: "string" },
      "log-level": { type: "string" },
      "print-config": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  const overrides = flagOverrides(values, {
    symbols: [
      { key: "data_source.symbols", convert: splitList },
      { key: `${CONSUMER}.symbols`, convert: splitList },
    ],
    exchange: [
      { key: "data_source.exchange" },
      { key: `${CONSUMER}.exchange` },
    ],
    nats: USE_NATS,
    "nats-url": [
      { key: "data_source.nats.connection.servers", convert: splitList },
      USE_NATS,
    ],
    durable: [{ key: `${CONSUMER}.durable_name` }, USE_NATS],
    deliver: { key: `${CONSUMER}.deliver` },
    "start-time": { key: `${CONSUMER}.start_time` },
    replay: { key: `${CONSUMER}.replay` },
    "log-level": { key: "log.level" },
  });
  return {
    configPath: values.config,
    overrides,
    printConfig: values["print-config"] ?? false,
    help: values.help ?? false,
  };
}
