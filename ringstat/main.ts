/**
 * `deno task rings`: every shared-memory ring under the prefix, its producer
 * and its registered readers, read through read-only mappings (like
 * AeronStat). Needs only `--allow-ffi` (and read access to its config file).
 *
 * @module
 */

import { type Config, ConfigError, loadConfig } from "../common/config/mod.ts";
import {
  ringActivity,
  ringSnapshots,
  type SegmentStatus,
} from "../common/ipc/ring_status.ts";
import { LibcUnavailableError, OsError } from "../common/os/libc.ts";
import { chooseConfig, configToJson } from "../common/runtime/cli.ts";
import { delay } from "../common/runtime/delay.ts";
import { createLogger } from "../common/runtime/log.ts";
import { shutdownSignal } from "../common/runtime/shutdown.ts";
import { parseRingsArgs, RINGS_USAGE, type RingsArgs, TOOL } from "./cli.ts";
import {
  formatJson,
  formatText,
  type RingLook,
  type RingsReport,
} from "./report.ts";

/** Clears a terminal and puts the cursor home: each `--watch` round on a fresh screen. */
const CLEAR_SCREEN = "\x1b[H\x1b[2J";

/** Runs `deno task rings` with the given arguments and returns the exit status. */
export async function main(args: string[]): Promise<number> {
  let parsed: RingsArgs;
  try {
    parsed = parseRingsArgs(args);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`${TOOL}: ${message} (--help lists the flags)`);
    return 2;
  }
  const { role } = parsed;
  if (role.help) {
    console.log(RINGS_USAGE);
    return 0;
  }
  const config = await loadOrReport(role.configPath, parsed);
  if (config === undefined) return 2;
  if (role.printConfig) {
    console.log(configToJson(config));
    return 0;
  }
  try {
    return await watchRings(prefixesOf(config), parsed);
  } catch (error) {
    const expected = error instanceof OsError ||
      error instanceof LibcUnavailableError ||
      error instanceof Deno.errors.NotCapable;
    if (!expected) throw error;
    console.error(`${TOOL}: ${error.message}`);
    return 1;
  }
}

/**
 * The config (no NATS variables: the rings need none), its warnings on
 * stderr; undefined when it has problems, which are printed.
 */
async function loadOrReport(
  given: string | undefined,
  parsed: RingsArgs,
): Promise<Config | undefined> {
  const choice = await chooseConfig(given);
  try {
    const config = await loadConfig(choice.path, {
      overrides: parsed.role.overrides,
      env: {},
    });
    const log = createLogger(TOOL, { ...config.log, out: console.error });
    for (const warning of config.warnings) log.warn(warning);
    return config;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${TOOL}: ${error.message}`);
    return undefined;
  }
}

/** The prefixes of the config's rings: data_manager's, and trading_core's when it differs. */
function prefixesOf(config: Config): string[] {
  return [
    ...new Set([
      config.transport.ipc.shmPathPrefix,
      config.dataSource.ipc.shmPathPrefix,
    ]),
  ];
}

/** Every segment under `prefixes`, once each, in name order. */
function lookAt(prefixes: readonly string[]): SegmentStatus[] {
  const byName = new Map<string, SegmentStatus>();
  for (const prefix of prefixes) {
    for (const status of ringSnapshots(prefix)) {
      byName.set(status.name, status);
    }
  }
  return [...byName.values()].sort((a, b) => a.name < b.name ? -1 : 1);
}

/** The second look's segments, each with how it moved since the first look. */
function compare(
  before: readonly SegmentStatus[],
  after: readonly SegmentStatus[],
): RingLook[] {
  const earlier = new Map(before.map((status) => [status.name, status]));
  return after.map((status) => {
    const previous = earlier.get(status.name);
    const activity = status.kind === "ring" && previous?.kind === "ring"
      ? ringActivity(previous, status)
      : undefined;
    return { status, activity };
  });
}

/**
 * Looks once (`--once`), twice an interval apart (the rate), or on and on
 * (`--watch`, until SIGINT or SIGTERM), printing each report.
 */
async function watchRings(
  prefixes: readonly string[],
  args: RingsArgs,
): Promise<number> {
  const print = (report: RingsReport) => {
    if (args.json) console.log(formatJson(report, { compact: args.watch }));
    else {
      const clear = args.watch && Deno.stdout.isTerminal() ? CLEAR_SCREEN : "";
      console.log(clear + formatText(report) + (args.watch ? "\n" : ""));
    }
  };
  let before = lookAt(prefixes);
  const once = () => {
    const rings = before.map((status) => ({ status }));
    print({ prefixes, intervalMs: null, rings });
    return 0;
  };
  // Nothing to rate: no ring, or one look asked for.
  if (args.once || (before.length === 0 && !args.watch)) return once();
  const shutdown = shutdownSignal();
  try {
    let printed = false;
    do {
      await delay(args.intervalMs, shutdown.signal);
      if (shutdown.signal.aborted) return printed ? 0 : once();
      const after = lookAt(prefixes);
      const rings = compare(before, after);
      print({ prefixes, intervalMs: args.intervalMs, rings });
      printed = true;
      before = after;
    } while (args.watch);
  } finally {
    shutdown.dispose();
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
