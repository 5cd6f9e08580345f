/**
 * The `live` command line of trading_core.
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
import { BROKER_FLAGS, BROKER_FLAGS_HELP } from "./broker_flags.ts";

/** The table of trading_core's NATS connection. */
const NATS = "data_source.nats.connection";

/** Usage text of `deno task live`. */
export const LIVE_USAGE = roleUsage({
  task: "live",
  summary:
    "Consumes trades (trading_core) from the shared-memory ring or NATS JetStream.",
  connection: NATS,
  flags:
    `  --symbols A,B        symbols to read; '*' = every one    data_source.symbols
                       (the ring: those the symbol registry and data_source.nats.consumer.symbols
                       lists, followed as new ones appear;
                       NATS: every subject, also "")
  --exchange NAME      exchange to read; '*' = every       data_source.exchange
                       exchange (NATS only)                and data_source.nats.consumer.exchange
  --max-trades N       exit after N trades                 data_source.max_trades
                       (0 = run until stopped)
  --catch-up SINCE     replay NATS from SINCE (15m, an     data_source.catch_up
                       RFC 3339 time, or durable), then
                       switch each symbol to its ring
  --ipc                read the shared-memory ring         data_source.type
  --wait STRATEGY      spin | backoff | yield              data_source.ipc.wait
  --delivery POLICY    lossy | tethered: the producer      data_source.ipc.delivery
                       waits for a tethered reader, up to
                       --tether-timeout, then evicts it
  --tether-timeout D   how long a tethered reader may      data_source.ipc.tether_timeout
                       hold the ring, e.g. 5s
  --from POSITION      newest | oldest: where to start     data_source.ipc.from
                       on a ring that is already running
  --ring-durable NAME  a ring consumer that survives its   data_source.ipc.durable_name
                       restart: its last delivered trade
                       per symbol is kept in /dev/shm; a
                       restart catches up from it through
                       NATS JetStream, then reads the ring
  --nats               read NATS JetStream instead         data_source.type
${natsUrlHelp(NATS)}
  --durable NAME       durable consumer (implies --nats)   data_source.nats.consumer.durable_name
  --deliver POLICY     all | new | last | last_per_subject data_source.nats.consumer.deliver
                       | by_start_time | by_start_sequence
  --start-time TIME    RFC 3339 start for --deliver        data_source.nats.consumer.start_time
                       by_start_time
  --start-sequence N   stream sequence (1 or more) to      data_source.nats.consumer.start_sequence
                       start at, for --deliver by_start_sequence
  --replay POLICY      instant | original                  data_source.nats.consumer.replay
  --snapshot           each symbol's latest stored trade   data_source.snapshot
                       first, marked as a snapshot (from
                       NATS JetStream, also with --ipc: then
                       data_source.nats.connection.servers
                       must be set)
${metricsPortHelp("trading_core")}
  --console-port PORT  serve the live web console (0 = a    trading_core.console.port
                       free port; host: trading_core.console.host,
                       127.0.0.1: this machine only)
${LOG_FLAGS_HELP}
  --progress-summary-above N
                       more streams than N: one progress   trading_core.progress_summary_above
                       summary line, plus a line per stream
                       with losses or gaps (0 = always)
  --strategy FILE      run the strategy FILE exports        trading_core.strategy
                       (onTrade/onBar; see strategies/README.md)
  --bars A,B           bar intervals, e.g. 1s,1m           trading_core.bars.intervals
  --bar-clock CLOCK    wall | trade: bars also close on    trading_core.bars.clock
                       each stream's trade clock (wall) or
                       only on its later trades (trade)
  --max-clock-jump D   a trade further ahead of its        trading_core.bars.max_clock_jump
                       symbol's clock (default 1h) is an
                       outlier unless the next confirms it
  --bars-out FILE      write closed bars as NDJSON         trading_core.bars_out
  --fills-out FILE     write the strategy's paper fills    trading_core.fills_out
                       as NDJSON
${BROKER_FLAGS_HELP}
  --summary-json       print one JSON summary line on exit
  --record FILE        write every trade received to FILE, which
                       serve --source replay reads back (needs
                       --allow-write=FILE)
  --record-format FMT  ndjson (default, lossless) | csv (Binance
                       trades layout: one symbol; no seq, ts_recv, flags)
  --overwrite          replace an existing --record,       trading_core.on_existing_file
                       --bars-out or --fills-out file
                       (default: refuse, exit 2)
  --append             add to an existing --record,        trading_core.on_existing_file
                       --bars-out or --fills-out file of the same format
                       (needs --allow-read=FILE too)
  --on-write-error W   stop | continue: when writing       trading_core.on_write_error
                       --record, --bars-out or --fills-out fails (a full
                       disk), stop consuming or go on without
                       the file; either way exit 1`,
});

const CONSUMER = "data_source.nats.consumer";
const USE_NATS = { key: "data_source.type", convert: () => "nats" };
const EXISTING_FILE = "trading_core.on_existing_file";

/** The flags of `live` and the config keys they set. */
const LIVE_FLAGS: Record<string, RoleFlag> = {
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
  "max-trades": {
    type: "string",
    sets: { key: "data_source.max_trades", convert: toNumber },
  },
  "catch-up": { type: "string", sets: { key: "data_source.catch_up" } },
  ipc: {
    type: "boolean",
    sets: { key: "data_source.type", convert: () => "ipc" },
  },
  wait: { type: "string", sets: { key: "data_source.ipc.wait" } },
  delivery: { type: "string", sets: { key: "data_source.ipc.delivery" } },
  "tether-timeout": {
    type: "string",
    sets: { key: "data_source.ipc.tether_timeout" },
  },
  from: { type: "string", sets: { key: "data_source.ipc.from" } },
  "ring-durable": {
    type: "string",
    sets: [
      { key: "data_source.ipc.durable_name" },
      { key: "data_source.type", convert: () => "ipc" },
    ],
  },
  nats: { type: "boolean", sets: USE_NATS },
  "nats-url": natsUrlFlag(NATS, USE_NATS),
  durable: {
    type: "string",
    sets: [{ key: `${CONSUMER}.durable_name` }, USE_NATS],
  },
  deliver: { type: "string", sets: { key: `${CONSUMER}.deliver` } },
  "start-time": { type: "string", sets: { key: `${CONSUMER}.start_time` } },
  "start-sequence": {
    type: "string",
    sets: { key: `${CONSUMER}.start_sequence`, convert: toNumber },
  },
  replay: { type: "string", sets: { key: `${CONSUMER}.replay` } },
  snapshot: {
    type: "boolean",
    sets: { key: "data_source.snapshot", convert: () => true },
  },
  "metrics-port": metricsPortFlag("trading_core"),
  "console-port": {
    type: "string",
    sets: { key: "trading_core.console.port", convert: toNumber },
  },
  strategy: { type: "string", sets: { key: "trading_core.strategy" } },
  bars: {
    type: "string",
    sets: { key: "trading_core.bars.intervals", convert: splitList },
  },
  "bar-clock": { type: "string", sets: { key: "trading_core.bars.clock" } },
  "max-clock-jump": {
    type: "string",
    sets: { key: "trading_core.bars.max_clock_jump" },
  },
  "bars-out": { type: "string", sets: { key: "trading_core.bars_out" } },
  "fills-out": { type: "string", sets: { key: "trading_core.fills_out" } },
  ...BROKER_FLAGS,
  overwrite: {
    type: "boolean",
    sets: { key: EXISTING_FILE, convert: () => "overwrite" },
  },
  append: {
    type: "boolean",
    sets: { key: EXISTING_FILE, convert: () => "append" },
  },
  "on-write-error": {
    type: "string",
    sets: { key: "trading_core.on_write_error" },
  },
  "progress-summary-above": {
    type: "string",
    sets: { key: "trading_core.progress_summary_above", convert: toNumber },
  },
  "summary-json": { type: "boolean" },
  record: { type: "string" },
  "record-format": { type: "string" },
};

/**
 * Parses `live` flags.
 *
 * @throws {TypeError} for an unknown flag, a flag missing its value, or
 * conflicting flags (`--ipc` or `--ring-durable` with `--nats`, `--nats-url`
 * or `--durable`;
 * `--overwrite` with `--append`),
 * an empty `--record`, or a `--record-format` other than ndjson or csv, or
 * without `--record`.
 */
export function parseLiveArgs(args: string[]): RoleArgs {
  const parsed = parseRoleArgs(args, LIVE_FLAGS);
  const { record, "record-format": format } = parsed.switches;
  if (record === "") throw new TypeError("--record needs a file name");
  if (format !== undefined) {
    if (format !== "ndjson" && format !== "csv") {
      throw new TypeError(
        `Invalid --record-format ${
          JSON.stringify(format)
        }: expected ndjson or csv`,
      );
    }
    if (record === undefined) {
      throw new TypeError("--record-format needs --record FILE");
    }
  }
  return parsed;
}
