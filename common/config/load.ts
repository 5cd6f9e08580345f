/**
 * Loads and validates the TOML configuration: built-in defaults < file <
 * the NATS variables (`NATS_URL`, `NATS_TOKEN`, `NATS_USER`,
 * `NATS_PASSWORD`, `NATS_CREDS`) < command-line flags. Every problem is
 * reported at once, each with its key path, value, source and what was
 * expected.
 *
 * @module
 */

import { parse as parseToml, TomlError } from "smol-toml";
import { ConfigError } from "./error.ts";
import { readDataManager } from "./_data_manager.ts";
import { readDataSource } from "./_data_source.ts";
import {
  envAuthTables,
  envOverrides,
  NATS_CONNECTIONS,
  type NatsEnv,
  readNatsEnv,
} from "./_env.ts";
import { isTable, keyPaths, Problems, Section, type Table } from "./_reader.ts";
import { checkRingNames } from "./_ring_names.ts";
import { readTradingCore } from "./_trading_core.ts";
import { readTransport } from "./_transport.ts";
import { boundedDuration } from "./_values.ts";
import type { Config, LogConfig, LogFormat } from "./types.ts";

/** One value set from outside the file: a command-line flag or a variable. */
export interface ConfigOverride {
  /** Dotted key path, e.g. `data_manager.symbols`. */
  key: string;
  /** The value, as TOML would have given it. */
  value: unknown;
  /** What set it, for messages: `--symbols`, `NATS_URL`. */
  origin: string;
}

/** Options of {@linkcode loadConfig} and {@linkcode parseConfig}. */
export interface LoadConfigOptions {
  /**
   * Values that override the file (command-line flags), applied last.
   *
   * @default {[]}
   */
  overrides?: readonly ConfigOverride[];
  /**
   * Environment: `NATS_URL` (comma-separated) overrides both roles' servers,
   * `NATS_TOKEN`, `NATS_USER`, `NATS_PASSWORD` and `NATS_CREDS` their auth
   * keys (the names of `NATS_ENV_VARIABLES`). When absent,
   * {@linkcode loadConfig} reads the process's variables
   * ({@linkcode readNatsEnv}) and {@linkcode parseConfig} uses none.
   */
  env?: NatsEnv;
}

/**
 * Loads the configuration from a TOML file (or only the built-in defaults
 * when `path` is undefined) and applies the environment and overrides.
 * `env` defaults to the variables of `NATS_ENV_VARIABLES` the process may
 * read ({@linkcode readNatsEnv}).
 *
 * @throws {ConfigError} listing every problem found.
 *
 * @example A file with one flag's value over it, every problem reported at once
 * ```ts
 * import { ConfigError, loadConfig } from "@marketbus/marketbus";
 *
 * try {
 *   const config = await loadConfig("config/development.toml", {
 *     overrides: [{
 *       key: "data_manager.symbols",
 *       value: ["BTCUSDT"],
 *       origin: "--symbols",
 *     }],
 *   });
 *   console.log(config.dataManager.symbols); // ["BTCUSDT"]
 * } catch (error) {
 *   if (!(error instanceof ConfigError)) throw error;
 *   console.error(error.problems.join("\n")); // one line per problem
 * }
 * ```
 */
export async function loadConfig(
  path: string | undefined,
  options: LoadConfigOptions = {},
): Promise<Config> {
  let text: string | undefined;
  if (path !== undefined) {
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new ConfigError([`Config file "${path}" not found`]);
      }
      if (error instanceof Deno.errors.NotCapable) {
        throw new ConfigError([
          `Config file "${path}" cannot be read: run with --allow-read=${path}`,
        ]);
      }
      throw new ConfigError([`Config file "${path}" cannot be read: ${error}`]);
    }
  }
  return parseConfig(text, {
    ...options,
    file: path,
    env: options.env ?? readNatsEnv(),
  });
}

/**
 * Parses and validates configuration text (undefined = no file).
 *
 * @throws {ConfigError} listing every problem found.
 *
 * @example From a string, with no I/O
 * ```ts
 * import { parseConfig } from "@marketbus/marketbus";
 *
 * const config = parseConfig(
 *   `[data_manager]\nsymbols = ["btcusdt", "ETHUSDT"]\n`,
 *   { file: "inline.toml" }, // names the source in messages
 * );
 * config.dataManager.symbols; // ["BTCUSDT", "ETHUSDT"]
 * parseConfig(undefined).dataManager.exchange; // "binance", the default
 * ```
 */
export function parseConfig(
  text: string | undefined,
  options: LoadConfigOptions & { file?: string } = {},
): Config {
  const file = options.file;
  let tree: Table = {};
  if (text !== undefined) {
    try {
      tree = parseToml(text) as Table;
    } catch (error) {
      if (error instanceof TomlError) {
        throw new ConfigError([
          `Invalid TOML in ${
            file ?? "config"
          } at line ${error.line}, column ${error.column}: ${
            error.message.split("\n")[0]
          }`,
        ]);
      }
      throw error;
    }
  }
  const origins = new Map<string, string>();
  const flags = options.overrides ?? [];
  const env = options.env ?? {};
  const overrides: ConfigOverride[] = Object.values(env).some((v) => v)
    ? envOverrides(env, connectionsInUse(tree, file, flags))
    : [];
  overrides.push(...flags);
  // What the file itself set, before any override: seed-style tables imply keys.
  const problems = new Problems(file, origins, keyPaths(tree));
  // An auth table only the environment fills is "(from NATS_TOKEN, …)".
  for (
    const [table, names] of envAuthTables(overrides, (p) => problems.inFile(p))
  ) {
    origins.set(table, names);
  }
  for (const override of overrides) {
    if (setPath(tree, override.key, override.value)) {
      origins.set(override.key, override.origin);
    } else {
      problems.list.push(
        `Cannot apply ${override.origin}: ${override.key} sits under a key that is not a table ${
          problems.where(override.key)
        }`,
      );
    }
  }
  const config = readConfig(new Section(problems, "", tree), file);
  if (problems.list.length > 0) throw new ConfigError(problems.list);
  return config;
}

/**
 * The NATS connections the configuration uses, read from the file and the
 * flags alone (no variable sets `enabled` or `type`): `transport.nats` when
 * serve publishes to NATS, `data_source.nats.connection` when live reads it
 * (or its snapshot, `data_source.snapshot`).
 * The NATS variables set only these, so a ring-only role ignores them.
 */
function connectionsInUse(
  tree: Table,
  file: string | undefined,
  flags: readonly ConfigOverride[],
): string[] {
  const probe = structuredClone(tree);
  for (const flag of flags) setPath(probe, flag.key, flag.value);
  const problems = new Problems(file, new Map(), keyPaths(tree));
  const config = readConfig(new Section(problems, "", probe), file);
  const [publisher, consumer] = NATS_CONNECTIONS;
  return [
    ...(config.transport.nats.enabled ? [publisher] : []),
    ...(config.dataSource.type === "nats" || config.dataSource.snapshot
      ? [consumer]
      : []),
  ];
}

function setPath(tree: Table, key: string, value: unknown): boolean {
  const parts = key.split(".");
  let table = tree;
  for (const part of parts.slice(0, -1)) {
    table[part] ??= {};
    const next = table[part];
    if (!isTable(next)) return false;
    table = next;
  }
  table[parts[parts.length - 1]] = value;
  return true;
}

function readConfig(root: Section, file: string | undefined): Config {
  const warnings: string[] = [];
  const dataManagerSection = root.section("data_manager");
  const dataManager = readDataManager(dataManagerSection);
  const transportSection = root.section("transport");
  const transport = readTransport(transportSection, dataManager);
  if (transport.ipc.enabled) {
    checkRingNames(dataManagerSection, {
      ipc: transportSection.section("ipc"),
      prefix: transport.ipc.shmPathPrefix,
      exchange: dataManager.exchange,
      symbols: dataManager.symbols,
      without: "publish without the ring (--no-ipc)",
    });
  }
  const dataSource = readDataSource(root.section("data_source"), warnings);
  const tradingCore = readTradingCore(root.section("trading_core"));
  const log = readLog(root.section("log"));
  root.done();
  return {
    file,
    dataManager,
    transport,
    dataSource,
    tradingCore,
    log,
    warnings,
  };
}

function readLog(section: Section): LogConfig {
  const level = section.choice("level", "info", [
    "debug",
    "info",
    "warn",
    "error",
  ]);
  const format = section.choice<LogFormat>("format", "text", ["text", "json"]);
  const progressIntervalMs = boundedDuration(section, "progress_interval", {
    fallback: 5000,
    min: 100,
    off: true,
  });
  section.done();
  return { level, format, progressIntervalMs };
}
