/**
 * Pieces both roles' command lines share: config flags → overrides, the
 * config printout with secrets hidden, and error reporting at start-up.
 *
 * @module
 */

import {
  type Config,
  ConfigError,
  type ConfigOverride,
  loadConfig,
} from "./config/mod.ts";

/** How one command-line flag maps onto a config key. */
export interface FlagMapping {
  /** Dotted config key the flag sets. */
  key: string;
  /** Converts the flag's value (default: as given). */
  convert?: (value: string | boolean) => unknown;
}

/** Splits a comma-separated flag value (`BTCUSDT,ETHUSDT`), dropping blanks. */
export function splitList(value: string | boolean): string[] {
  return String(value).split(",").map((s) => s.trim()).filter((s) => s !== "");
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

/** The config as JSON with secrets replaced by `"(hidden)"`, for `--print-config`. */
export function configToJson(config: Config): string {
  return JSON.stringify(
    config,
    (key, value) => {
      if (SECRET_KEYS.has(key) && typeof value === "string") return "(hidden)";
      if (typeof value === "bigint") return value.toString();
      return value;
    },
    2,
  );
}

/**
 * Loads the config for a role; on a {@linkcode ConfigError} prints every
 * problem to stderr and exits with status 2.
 */
export async function loadConfigOrExit(
  path: string | undefined,
  options: { overrides: ConfigOverride[]; role: string },
): Promise<Config> {
  try {
    const config = await loadConfig(path, { overrides: options.overrides });
    for (const warning of config.warnings) {
      console.error(`${options.role}: warning: ${warning}`);
    }
    return config;
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`${options.role}: ${error.message}`);
      Deno.exit(2);
    }
    throw error;
  }
}

/**
 * Reports a bad command line (unknown flag, missing value) and exits with
 * status 2; `parseArgs` throws TypeError for those.
 */
export function exitOnUsageError(
  role: string,
  error: unknown,
  usage: string,
): never {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`${role}: ${message}\n\n${usage}`);
  Deno.exit(2);
}
