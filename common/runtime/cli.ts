/**
 * Pieces both roles' command lines share: flag parsing into config overrides,
 * the config file's default location, the config printout with secrets
 * hidden, and error reporting at start-up (bad flags, bad config, a missing
 * permission).
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  type Config,
  ConfigError,
  type ConfigOverride,
  hideUrlCredentials,
  loadConfig,
} from "../config/mod.ts";
import { createLogger, type Logger } from "./log.ts";

/** How one command-line flag maps onto a config key. */
export interface FlagMapping {
  /** Dotted config key the flag sets. */
  key: string;
  /** Converts the flag's value (default: as given). */
  convert?: (value: string | boolean) => unknown;
}

/**
 * Splits a comma-separated flag value (`BTCUSDT, ETHUSDT`), trimming items
 * and dropping blanks (`""` is the empty list). The items are checked where
 * the config reads the key: `--symbols` by the one symbol-list rule of
 * common/config/symbols.ts.
 */
export function splitList(value: string | boolean): string[] {
  return String(value).split(",").map((s) => s.trim()).filter((s) => s !== "");
}

/** A decimal number as typed on a command line: `1000`, `-1`, `0.5`, `1e6`. */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;

/**
 * Reads a numeric flag value (`--rate 500`) as a number, so the config reader
 * checks its type and range; anything else, and a number too large for a
 * float (`1e999`), stays as given, and the reader reports it quoting the
 * value as typed and the flag.
 */
export function toNumber(value: string | boolean): number | string | boolean {
  const text = String(value).trim();
  const number = DECIMAL.test(text) ? Number(text) : NaN;
  return Number.isFinite(number) ? number : value;
}

/**
 * Turns parsed flag values into config overrides, in the order of `mappings`,
 * skipping flags that were not given.
 */
export function flagOverrides(
  values: Record<string, string | boolean | undefined>,
  mappings: Record<string, FlagMapping | FlagMapping[]>,
): ConfigOverride[] {
  const overrides: ConfigOverride[] = [];
  for (const [flag, mapping] of Object.entries(mappings)) {
    const value = values[flag];
    if (value === undefined) continue;
    for (const { key, convert } of [mapping].flat()) {
      overrides.push({
        key,
        value: convert ? convert(value) : value,
        origin: `--${flag}`,
      });
    }
  }
  return overrides;
}

const SECRET_KEYS = new Set(["token", "password", "seed", "jwt"]);

/**
 * The config as JSON for `--print-config`: secrets and credentials inside
 * server URLs replaced by `(hidden)`, and `file` always present (`null` for
 * the built-in defaults).
 */
export function configToJson(config: Config): string {
  return JSON.stringify(
    { ...config, file: config.file ?? null },
    (key, value) => {
      if (SECRET_KEYS.has(key) && typeof value === "string") return "(hidden)";
      if (typeof value === "string") {
        return hideUrlCredentials(value);
      }
      if (typeof value === "bigint") return value.toString();
      return value;
    },
    2,
  );
}

/** Where a role looks for its config when no `--config` is given, relative to the working directory. */
export const DEFAULT_CONFIG_PATH = "config/marketbus.toml";

/** Help of `--config`, the first flag of every role. */
const CONFIG_HELP =
  `  --config FILE        TOML config (the task passes config/development.toml;
                       without it ${DEFAULT_CONFIG_PATH} if present,
                       else the built-in defaults)`;

/** Help of the logging flags every role takes: `--progress`, `--log-level`, `--log-format`. */
export const LOG_FLAGS_HELP =
  `  --progress DURATION  time between progress lines         log.progress_interval
                       ("0" = none)
  --log-level LEVEL    debug | info | warn | error         log.level
  --log-format FORMAT  text | json (one object per line)   log.format`;

/** Help of `--metrics-port` for the role whose table is `[<role>.metrics]` (`data_manager`). */
export function metricsPortHelp(role: string): string {
  return `  --metrics-port PORT  serve /metrics and /healthz         ${role}.metrics.port
                       (0 = off; host: ${role}.metrics.host)`;
}

/** `--metrics-port` of the role whose table is `[<role>.metrics]`: sets `<role>.metrics.port` ({@linkcode metricsPortHelp}). */
export function metricsPortFlag(role: string): RoleFlag {
  return {
    type: "string",
    sets: { key: `${role}.metrics.port`, convert: toNumber },
  };
}

/** Help of `--nats-url` for the role whose NATS connection table is `connection` (`transport.nats`). */
export function natsUrlHelp(connection: string): string {
  return `  --nats-url URL[,URL] NATS servers (implies --nats)       ${connection}.servers`;
}

/**
 * `--nats-url` of the role whose NATS connection table is `connection`: sets
 * `<connection>.servers` ({@linkcode natsUrlHelp}), then what `useNats` sets
 * to turn NATS on.
 */
export function natsUrlFlag(
  connection: string,
  useNats: FlagMapping,
): RoleFlag {
  return {
    type: "string",
    sets: [{ key: `${connection}.servers`, convert: splitList }, useNats],
  };
}

/** What {@linkcode roleUsage} composes a role's `--help` from. */
export interface RoleUsage {
  /** The `deno task` that runs the role: `serve`, `live`. */
  task: string;
  /** One line on what the role does. */
  summary: string;
  /** The role's flag lines, between `--config` and `--print-config`. */
  flags: string;
  /** The table of the role's NATS connection (`transport.nats`), which the NATS variables set. */
  connection: string;
}

/**
 * A role's usage text: the usage line, its summary, `--config`, its own
 * flags, `--print-config` and `--help`, and the NATS variables.
 */
export function roleUsage(usage: RoleUsage): string {
  const { connection } = usage;
  return `Usage: deno task ${usage.task} [flags]

${usage.summary}

Flags (each overrides the config key on its right):
${CONFIG_HELP}
${usage.flags}
  --print-config       print the resolved config (secrets hidden) and exit
  -h, --help           show this help

Environment: NATS_URL (comma-separated) overrides ${connection}.servers; NATS_TOKEN,
NATS_USER + NATS_PASSWORD and NATS_CREDS set ${connection}.auth (never echoed).`;
}

/** The config file a role loads, and why. */
export interface ConfigChoice {
  /** The file, or undefined for the built-in defaults. */
  path: string | undefined;
  /** What was loaded, for the start-up log line. */
  description: string;
}

/**
 * The config file to load: `given` (`--config`), else
 * {@linkcode DEFAULT_CONFIG_PATH} when it exists and may be read, else the
 * built-in defaults. Never prompts for the default file.
 */
export async function chooseConfig(
  given: string | undefined,
): Promise<ConfigChoice> {
  if (given !== undefined) return { path: given, description: given };
  const descriptor = { name: "read", path: DEFAULT_CONFIG_PATH } as const;
  if (Deno.permissions.querySync(descriptor).state !== "granted") {
    return {
      path: undefined,
      description:
        `built-in defaults (${DEFAULT_CONFIG_PATH} not readable without --allow-read=config)`,
    };
  }
  try {
    await Deno.stat(DEFAULT_CONFIG_PATH);
  } catch (error) {
    // anything but its absence is for loading it to report
    if (error instanceof Deno.errors.NotFound) {
      return {
        path: undefined,
        description: `built-in defaults (no ${DEFAULT_CONFIG_PATH})`,
      };
    }
  }
  return { path: DEFAULT_CONFIG_PATH, description: DEFAULT_CONFIG_PATH };
}

/**
 * Loads the config for a role; on a {@linkcode ConfigError} prints every
 * problem to stderr and exits with status 2.
 */
async function loadConfigOrExit(
  path: string | undefined,
  options: { overrides: ConfigOverride[]; role: string },
): Promise<{ config: Config; log: Logger }> {
  try {
    const config = await loadConfig(path, { overrides: options.overrides });
    const log = createLogger(options.role, config.log);
    for (const warning of config.warnings) log.warn(warning);
    return { config, log };
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`${options.role}: ${error.message}`);
      Deno.exit(2);
    }
    throw error;
  }
}

/**
 * Reports a bad command line (unknown flag, missing value) in one line and
 * exits with status 2; `parseArgs` throws TypeError for those.
 */
function exitOnUsageError(role: string, error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`${role}: ${message} (--help lists the flags)`);
  Deno.exit(2);
}

/** A role-specific flag: its value type and the config key(s) it sets, if any. */
export interface RoleFlag {
  /** `string` takes a value; `boolean` is a switch. */
  type: "string" | "boolean";
  /** The config key(s) it sets; without it, the value lands in {@linkcode RoleArgs.switches}. */
  sets?: FlagMapping | FlagMapping[];
  /** A string flag without `sets` that may be given more than once (`--data A --data B`): its switch is the list of values. */
  multiple?: boolean;
}

/** What a role's command line asks for. */
export interface RoleArgs {
  /** The config file, if one was given. */
  configPath: string | undefined;
  /** Config values the flags set. */
  overrides: ConfigOverride[];
  /** The given flags that set no config key, by name: `{ "summary-json": true }`; a {@linkcode RoleFlag.multiple} flag's is a list. */
  switches: Record<string, string | boolean | string[]>;
  /** Print the resolved config and exit. */
  printConfig: boolean;
  /** Print usage and exit. */
  help: boolean;
}

/** The flags every role takes besides its own, with the keys they set. */
const SHARED_FLAGS: Record<string, RoleFlag> = {
  "log-level": { type: "string", sets: { key: "log.level" } },
  "log-format": { type: "string", sets: { key: "log.format" } },
  progress: { type: "string", sets: { key: "log.progress_interval" } },
};

/**
 * Throws, in one line, when a flag that takes a value is followed by
 * something that starts with "-" (`--symbols --ipc`, `--rate -5`): the value
 * is missing, or must be attached (`--rate=-5`). `parseArgs` says so in three
 * lines.
 */
function rejectDashValues(
  args: readonly string[],
  options: Record<string, { type: "string" | "boolean" }>,
): void {
  for (let i = 0; i + 1 < args.length && args[i] !== "--"; i++) {
    const [arg, next] = [args[i], args[i + 1]];
    if (!arg.startsWith("--") || arg.includes("=")) continue;
    if (options[arg.slice(2)]?.type === "string" && next.startsWith("-")) {
      throw new TypeError(
        `Option '${arg}' argument is ambiguous: ${next} starts with "-"; give ${arg} its value, or write ${arg}=${next} if that is it`,
      );
    }
  }
}

/**
 * Throws when a flag that takes a value is given twice with different values
 * (`--symbols A --symbols B`): the last would silently win. `--config` is
 * the exception: the tasks pass `--config config/development.toml`, and a
 * user's own `--config` after it replaces it.
 */
function rejectRepeats(
  tokens: readonly { kind: string; name?: string; value?: string }[],
  multiple: ReadonlySet<string>,
): void {
  const first = new Map<string, string>();
  for (const token of tokens) {
    if (token.kind !== "option" || token.value === undefined) continue;
    const name = token.name!; // every option token has one
    if (name === "config" || multiple.has(name)) continue;
    const earlier = first.get(name);
    if (earlier === undefined) first.set(name, token.value);
    else if (earlier !== token.value) {
      throw new TypeError(
        `--${name} is given twice (${JSON.stringify(earlier)} and ${
          JSON.stringify(token.value)
        }); give it once`,
      );
    }
  }
}

/**
 * Throws when two flags set one key to different values (`--ipc --no-ipc`):
 * whichever came last would silently win.
 */
function rejectConflicts(overrides: readonly ConfigOverride[]): void {
  const first = new Map<string, ConfigOverride>();
  for (const override of overrides) {
    const earlier = first.get(override.key);
    if (earlier === undefined) {
      first.set(override.key, override);
    } else if (
      JSON.stringify(earlier.value) !== JSON.stringify(override.value)
    ) {
      throw new TypeError(
        `${earlier.origin} and ${override.origin} conflict: they set ${override.key} to ${
          JSON.stringify(earlier.value)
        } and ${JSON.stringify(override.value)}; give only one`,
      );
    }
  }
}

/**
 * Parses a role's command line: its own flags plus `--config`,
 * `--log-level`, `--log-format`, `--progress`, `--print-config` and
 * `-h/--help`.
 *
 * @throws {TypeError} for an unknown flag, a positional argument, a flag
 * missing its value, a flag given twice with different values, or two flags
 * that set one key to different values.
 */
export function parseRoleArgs(
  args: string[],
  flags: Record<string, RoleFlag>,
): RoleArgs {
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = {
    config: { type: "string" },
    "print-config": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  };
  const all = { ...flags, ...SHARED_FLAGS };
  const mappings: Record<string, FlagMapping | FlagMapping[]> = {};
  const multiple = new Set<string>();
  for (const [flag, { type, sets, multiple: many }] of Object.entries(all)) {
    options[flag] = many ? { type, multiple: true } : { type };
    if (many) multiple.add(flag);
    if (sets !== undefined) mappings[flag] = sets;
  }
  rejectDashValues(args, options);
  const { values, tokens } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options,
    tokens: true,
  });
  rejectRepeats(tokens, multiple);
  // Only single flags set config keys (a multiple one is a switch).
  const overrides = flagOverrides(
    values as Record<string, string | boolean | undefined>,
    mappings,
  );
  rejectConflicts(overrides);
  const switches: Record<string, string | boolean | string[]> = {};
  for (const [flag, { sets }] of Object.entries(all)) {
    const value = values[flag];
    if (sets === undefined && value !== undefined) {
      switches[flag] = value as string | boolean | string[];
    }
  }
  return {
    configPath: values.config as string | undefined,
    overrides,
    switches,
    printConfig: values["print-config"] === true,
    help: values.help === true,
  };
}

/** One role's entrypoint: its name, usage, flag parser and what it does with a valid config. */
export interface RoleCommand {
  /** Role name used as the message prefix. */
  role: string;
  /** Usage text. */
  usage: string;
  /** Parses the role's flags. */
  parse: (args: string[]) => RoleArgs;
  /** Runs the role with its config and command line, and returns the exit status. */
  start: (config: Config, args: RoleArgs) => number | Promise<number>;
}

/**
 * Runs a role: parses flags (usage errors exit 2), prints help, loads the
 * config from `--config` or {@linkcode chooseConfig}'s choice (problems exit
 * 2), prints it for `--print-config`, or logs which config it loaded and
 * starts the role. A permission the role lacks and did not handle itself
 * ends it with status 1 and Deno's message, without a stack trace.
 */
export async function runRole(
  args: string[],
  command: RoleCommand,
): Promise<number> {
  let parsed: RoleArgs;
  try {
    parsed = command.parse(args);
  } catch (error) {
    exitOnUsageError(command.role, error);
  }
  if (parsed.help) {
    console.log(command.usage);
    return 0;
  }
  const choice = await chooseConfig(parsed.configPath);
  const { config, log } = await loadConfigOrExit(choice.path, {
    overrides: parsed.overrides,
    role: command.role,
  });
  if (parsed.printConfig) {
    console.log(configToJson(config));
    return 0;
  }
  log.info(`config: ${choice.description}`);
  try {
    return await command.start(config, parsed);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
    log.error(`permission denied: ${error.message}`);
    return 1;
  }
}
