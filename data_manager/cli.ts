/**
 * The `serve` command line of data_manager.
 *
 * @module
 */

import {
  LOG_FLAGS_HELP,
  metricsPortFlag,
  metricsPortHelp,
  natsUrlFlag,
  natsUrlHelp,
  parseRoleArgs,
  type RoleArgs,
  type RoleFlag,
  roleUsage,
  splitList,
  toNumber,
} from "../common/runtime/cli.ts";

/** The table of data_manager's NATS connection. */
const NATS = "transport.nats";

/** Usage text of `deno task serve`. */
export const SERVE_USAGE = roleUsage({
  task: "serve",
  summary: "Publishes trades for the configured symbols (data_manager).",
  connection: NATS,
  flags:
    `  --symbols A,B        symbols to publish                  data_manager.symbols
  --exchange NAME      exchange name                       data_manager.exchange
  --source KIND        synthetic | binance | replay        data_manager.source
  --live               the live exchange feed              data_manager.source = "binance"
                       (the same as --source binance)
  --max-trades N       publish N trades, flush and exit    data_manager.max_trades
                       (0 = no limit)
  --rate N             synthetic trades per second         data_manager.synthetic.rate
                       (0 = as fast as possible)
  --seed N             synthetic generator seed            data_manager.synthetic.seed
  --endpoint URL       Binance stream endpoint, or binance | binance.us | testnet
                                                           data_manager.binance.endpoint
  --file FILE          trade file to replay (CSV or NDJSON, .gz too)
                                                           data_manager.replay.file
  --speed X            replay at original speed × X (0 = as fast as possible)
                                                           data_manager.replay.speed
  --on-error WHAT      bad replay rows: skip | stop        data_manager.replay.on_error
  --ipc                publish into the shared-memory ring transport.ipc.enabled
  --no-ipc             do not publish into the ring        transport.ipc.enabled
  --wait-readers N     hold the source until N tethered    transport.ipc.wait_for_readers
                       readers (live --delivery tethered)
                       are registered on every ring
  --nats               also publish to NATS JetStream      transport.nats.enabled
${natsUrlHelp(NATS)}
  --stream NAME        JetStream stream name               transport.nats.jetstream.stream_name
  --standby            wait as the hot standby of a serve  registry.standby
                       that publishes these symbols, and take
                       over when its heartbeat expires
                       (without it: refuse, exit 1)
${metricsPortHelp("data_manager")}
${LOG_FLAGS_HELP}`,
});

/** The flags of `serve` and the config keys they set. */
const SERVE_FLAGS: Record<string, RoleFlag> = {
  symbols: {
    type: "string",
    sets: { key: "data_manager.symbols", convert: splitList },
  },
  exchange: { type: "string", sets: { key: "data_manager.exchange" } },
  "metrics-port": metricsPortFlag("data_manager"),
  source: { type: "string", sets: { key: "data_manager.source" } },
  live: {
    type: "boolean",
    sets: { key: "data_manager.source", convert: () => "binance" },
  },
  "max-trades": {
    type: "string",
    sets: { key: "data_manager.max_trades", convert: toNumber },
  },
  rate: {
    type: "string",
    sets: { key: "data_manager.synthetic.rate", convert: toNumber },
  },
  seed: {
    type: "string",
    sets: { key: "data_manager.synthetic.seed", convert: toNumber },
  },
  endpoint: {
    type: "string",
    sets: { key: "data_manager.binance.endpoint" },
  },
  file: { type: "string", sets: { key: "data_manager.replay.file" } },
  speed: {
    type: "string",
    sets: { key: "data_manager.replay.speed", convert: toNumber },
  },
  "on-error": {
    type: "string",
    sets: { key: "data_manager.replay.on_error" },
  },
  ipc: { type: "boolean", sets: { key: "transport.ipc.enabled" } },
  "no-ipc": {
    type: "boolean",
    sets: { key: "transport.ipc.enabled", convert: () => false },
  },
  "wait-readers": {
    type: "string",
    sets: { key: "transport.ipc.wait_for_readers", convert: toNumber },
  },
  nats: { type: "boolean", sets: { key: "transport.nats.enabled" } },
  "nats-url": natsUrlFlag(NATS, {
    key: "transport.nats.enabled",
    convert: () => true,
  }),
  stream: {
    type: "string",
    sets: { key: "transport.nats.jetstream.stream_name" },
  },
  standby: { type: "boolean", sets: { key: "registry.standby" } },
};

/**
 * Parses `serve` flags.
 *
 * @throws {TypeError} for an unknown flag, a flag missing its value, or
 * conflicting flags (`--ipc` with `--no-ipc`, `--live` with a `--source`
 * other than binance).
 */
export function parseServeArgs(args: string[]): RoleArgs {
  return parseRoleArgs(args, SERVE_FLAGS);
}
