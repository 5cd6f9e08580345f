/**
 * The command line of `deno task rings`: its flags, usage text and what
 * they ask for.
 *
 * @module
 */

import { parseDuration } from "../common/config/duration.ts";
import {
  parseRoleArgs,
  type RoleArgs,
  type RoleFlag,
} from "../common/runtime/cli.ts";

/** The name its messages start with. */
export const TOOL = "ringstat";

/** Time between the two looks that give the rate, ms, unless `--interval` says otherwise. */
export const DEFAULT_INTERVAL_MS = 1000;

/** Shortest and longest `--interval`, ms. */
const INTERVAL_RANGE_MS = [10, 3_600_000] as const;

/** Usage text of `deno task rings`. */
export const RINGS_USAGE = `Usage: deno task rings [flags]

Lists every shared-memory ring under the prefix, read-only (like AeronStat):
its producer (pid, alive or dead), state, epoch, capacity, write position and
rate, and each registered reader with its policy, position, lag, heartbeat and
evictions. Needs no role running and never writes a segment.

Flags:
  --config FILE        TOML config (the task passes config/development.toml;
                       without it config/marketbus.toml if present, else the
                       built-in defaults)
  --prefix PREFIX      list the rings under this prefix    transport.ipc.shm_path_prefix
                       (default: the config's, "/marketbus_") and data_source.ipc's
  --interval DURATION  time between the two looks that give the rate
                       (default 1s)
  --once               look once: no rate
  --watch              look again every interval until Ctrl-C
  --json               print one JSON document (--watch: one per line)
  --log-level LEVEL    warn | error: config warnings on stderr  log.level
  --print-config       print the resolved config and exit
  -h, --help           show this help

Exit status: 0 (also with no rings), 1 when /dev/shm cannot be read, 2 for a
bad command line or config.`;

/** The flags of `deno task rings` and the config keys they set. */
const RINGS_FLAGS: Record<string, RoleFlag> = {
  prefix: {
    type: "string",
    sets: [
      { key: "transport.ipc.shm_path_prefix" },
      { key: "data_source.ipc.shm_path_prefix" },
    ],
  },
  interval: { type: "string" },
  once: { type: "boolean" },
  watch: { type: "boolean" },
  json: { type: "boolean" },
};

/** What the command line of `deno task rings` asks for. */
export interface RingsArgs {
  /** The flags shared with the roles: `--config`, the config overrides, `--print-config`, `--help`. */
  role: RoleArgs;
  /** Time between looks, ms. */
  intervalMs: number;
  /** One look, no rate. */
  once: boolean;
  /** Look again every interval until interrupted. */
  watch: boolean;
  /** JSON rather than a table. */
  json: boolean;
}

/**
 * Parses the command line of `deno task rings`.
 *
 * @throws {TypeError} for an unknown flag, a positional argument, a flag
 * missing its value or given twice, a bad `--interval`, or `--once` with
 * `--watch`.
 */
export function parseRingsArgs(args: string[]): RingsArgs {
  const role = parseRoleArgs(args, RINGS_FLAGS);
  const { interval, once = false, watch = false, json = false } = role.switches;
  if (once && watch) {
    throw new TypeError(
      "--once and --watch conflict: --once looks once, --watch until Ctrl-C; give only one",
    );
  }
  return {
    role,
    intervalMs: interval === undefined
      ? DEFAULT_INTERVAL_MS
      : intervalOf(String(interval)),
    once: once === true,
    watch: watch === true,
    json: json === true,
  };
}

function intervalOf(text: string): number {
  const [min, max] = INTERVAL_RANGE_MS;
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (error) {
    throw new TypeError(`--interval: ${(error as Error).message}`);
  }
  if (ms < min || ms > max) {
    throw new TypeError(
      `--interval ${
        JSON.stringify(text)
      } is out of range: expected from ${min}ms to 1h, e.g. "1s"`,
    );
  }
  return ms;
}
