/**
 * Loads and validates the TOML configuration: built-in defaults < file <
 * `NATS_URL` < command-line flags. Every problem is reported at once, each
 * with its key path, value, source and what was expected.
 *
 * @module
 */

import { parse as parseToml, TomlDate, TomlError } from "smol-toml";
import { parseBarInterval } from "../bar_interval.ts";
import { parseByteSize } from "../byte_size.ts";
import { formatDuration } from "../duration.ts";
import {
  checkPrefix,
  normalizeExchange,
  normalizeSymbol,
} from "../subjects.ts";
import { ConfigError } from "./error.ts";
import { isTable, Problems, Section, show, type Table } from "./_reader.ts";
import { maxMsgsPerSubjectFor } from "./stream_limits.ts";
import type {
  BarsConfig,
  BinanceConfig,
  Config,
  DataManagerConfig,
  DataSourceConfig,
  DeliverPolicy,
  IpcSourceConfig,
  IpcTransportConfig,
  JetStreamConfig,
  LogConfig,
  LogFormat,
  MetricsConfig,
  NatsAuth,
  NatsConnectionConfig,
  NatsConsumerConfig,
  NatsPublishConfig,
  NatsTls,
  NatsTransportConfig,
  ReplayConfig,
  ReplayPolicy,
  StartFrom,
  SyntheticConfig,
  TradingCoreConfig,
  WaitStrategy,
} from "./types.ts";

/** Exchange used when none is configured. */
export const DEFAULT_EXCHANGE = "binance";
/** Symbols used when none are configured. */
export const DEFAULT_SYMBOLS: readonly string[] = ["BTCUSDT", "ETHUSDT"];
/** NATS server used when none is configured. */
export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";
/** Shared-memory segment name prefix used when none is configured. */
export const DEFAULT_SHM_PATH_PREFIX = "/marketbus_";

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
  /** Values that override the file (command-line flags), applied last. */
  overrides?: readonly ConfigOverride[];
  /** Environment; `NATS_URL` (comma-separated) overrides both roles' servers. */
  env?: { NATS_URL?: string | undefined };
}

/**
 * Reads `NATS_URL` when the process may (never prompts, never throws).
 */
export function readNatsUrlEnv(): { NATS_URL?: string } {
  const state = Deno.permissions.querySync({
    name: "env",
    variable: "NATS_URL",
  });
  if (state.state !== "granted") return {};
  const value = Deno.env.get("NATS_URL");
  return value === undefined || value === "" ? {} : { NATS_URL: value };
}

/**
 * Loads the configuration from a TOML file (or only the built-in defaults
 * when `path` is undefined) and applies the environment and overrides.
 * `env` defaults to the process's `NATS_URL` when readable.
 *
 * @throws {ConfigError} listing every problem found.
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
    env: options.env ?? readNatsUrlEnv(),
  });
}

/**
 * Parses and validates configuration text (undefined = no file).
 *
 * @throws {ConfigError} listing every problem found.
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
  const natsUrl = options.env?.NATS_URL;
  const overrides: ConfigOverride[] = [];
  if (natsUrl !== undefined && natsUrl !== "") {
    const servers = natsUrl.split(",").map((s) => s.trim()).filter((s) => s);
    for (
      const key of [
        "transport.nats.servers",
        "data_source.nats.connection.servers",
      ]
    ) {
      overrides.push({ key, value: servers, origin: "NATS_URL" });
    }
  }
  overrides.push(...(options.overrides ?? []));
  const problems = new Problems(file, origins);
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
  const dataManager = readDataManager(root.section("data_manager"));
  const transport = root.section("transport");
  const nats = readNatsTransport(transport.section("nats"), dataManager);
  const ipc = readIpcTransport(transport.section("ipc"));
  transport.done();
  const dataSource = readDataSource(root.section("data_source"), warnings);
  const tradingCore = readTradingCore(root.section("trading_core"));
  const log = readLog(root.section("log"));
  root.done();
  return {
    file,
    dataManager,
    transport: { nats, ipc },
    dataSource,
    tradingCore,
    log,
    warnings,
  };
}

/** The range of counts and ids: 0 up to the largest exact integer. */
const COUNT = { min: 0, max: Number.MAX_SAFE_INTEGER };

/** The shortest duration there is, in ms: durations count whole nanoseconds. */
const NANOSECOND = 1e-6;

/** Allowed durations of a key, in ms: `min` to `max` (inclusive), or also "0" (= off) when `off`. */
interface DurationRange {
  /** Shortest allowed, ms. */
  min: number;
  /** Longest allowed, ms (default: no limit). */
  max?: number;
  /** "0" is also allowed and means off. */
  off?: boolean;
}

/** What `range` allows, for messages: `a duration from 1ms to 10s`. */
function describeRange({ min, max, off }: DurationRange): string {
  const span = max === undefined
    ? `of at least ${formatDuration(min)}`
    : `from ${formatDuration(min)} to ${formatDuration(max)}`;
  return off ? `"0" (off) or a duration ${span}` : `a duration ${span}`;
}

/** A duration within `range`; outside it, a problem quoting the value, and `fallback`. */
function boundedDuration(
  section: Section,
  key: string,
  fallback: number,
  range: DurationRange,
): number {
  const ms = section.duration(key, fallback);
  const { min, max = Infinity, off = false } = range;
  if ((ms >= min && ms <= max) || (off && ms === 0)) return ms;
  section.problem(
    key,
    `invalid duration ${show(section.raw(key))}: expected ${
      describeRange(range)
    }`,
  );
  return fallback;
}

/** A TOML integer or float that is finite and not negative. */
function nonNegativeNumber(
  section: Section,
  key: string,
  fallback: number,
): number {
  const expected = "expected a number, 0 or more";
  return section.converted(key, "value", (value) => {
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new RangeError(`Invalid number: ${expected}`);
    }
    return value;
  }, expected) ?? fallback;
}

function readLog(section: Section): LogConfig {
  const level = section.choice("level", "info", [
    "debug",
    "info",
    "warn",
    "error",
  ]);
  const format = section.choice<LogFormat>("format", "text", ["text", "json"]);
  const progressIntervalMs = boundedDuration(
    section,
    "progress_interval",
    5000,
    { min: 100, off: true },
  );
  section.done();
  return { level, format, progressIntervalMs };
}

function readMetrics(section: Section): MetricsConfig {
  const port = section.integer("port", 0, { min: 0, max: 65535 });
  const host = section.string("host", "127.0.0.1", {
    check: (host) => {
      if (host.trim() === "" || /[\s/]/.test(host)) {
        throw new RangeError(
          'expected a host name or address, e.g. "127.0.0.1", "0.0.0.0"',
        );
      }
      return host;
    },
  });
  const staleAfterMs = boundedDuration(section, "stale_after", 10_000, {
    min: 100,
  });
  section.done();
  return { port, host, staleAfterMs };
}

function readBars(section: Section): BarsConfig {
  const intervals = section.stringList("intervals", ["1s", "1m"], {
    check: (text) => {
      parseBarInterval(text);
      return text;
    },
    what: "interval",
  });
  const seen = new Set<number>();
  for (const interval of intervals) {
    const ms = parseBarInterval(interval);
    if (seen.has(ms)) {
      section.problem(
        "intervals",
        `interval "${interval}" is listed twice (as ${ms} ms)`,
      );
    }
    seen.add(ms);
  }
  if (intervals.length === 0) {
    section.problem(
      "intervals",
      'expected at least one interval, e.g. ["1s", "1m"]',
    );
  }
  const closeDelayMs = boundedDuration(section, "close_delay", 250, {
    min: 0,
    max: 60_000,
  });
  section.done();
  return { intervals, closeDelayMs };
}

function nonEmptyPath(path: string): string {
  if (path.trim() === "") throw new RangeError("expected a file path");
  return path;
}

function readTradingCore(section: Section): TradingCoreConfig {
  const strategy = section.optionalString("strategy", { check: nonEmptyPath });
  const barsOut = section.optionalString("bars_out", { check: nonEmptyPath });
  const bars = readBars(section.section("bars"));
  const metrics = readMetrics(section.section("metrics"));
  section.done();
  return { strategy, barsOut, bars, metrics };
}

function readSymbols(section: Section, fallback: readonly string[]): string[] {
  const symbols = section.stringList("symbols", fallback, {
    check: normalizeSymbol,
    what: "symbol",
  });
  const seen = new Set<string>();
  const reported = new Set<string>();
  for (const symbol of symbols) {
    if (seen.has(symbol) && !reported.has(symbol)) {
      section.problem("symbols", `symbol "${symbol}" is listed twice`);
      reported.add(symbol);
    }
    seen.add(symbol);
  }
  return symbols;
}

function readDataManager(section: Section): DataManagerConfig {
  const exchange = section.string("exchange", DEFAULT_EXCHANGE, {
    check: normalizeExchange,
  });
  const symbols = readSymbols(section, DEFAULT_SYMBOLS);
  if (symbols.length === 0) {
    section.problem("symbols", "expected at least one symbol to publish");
  }
  const source = section.choice("source", "synthetic", [
    "synthetic",
    "binance",
    "replay",
  ]);
  const maxTrades = section.integer("max_trades", 0, COUNT);
  const synthetic = readSynthetic(section.section("synthetic"));
  const binance = readBinance(section.section("binance"));
  const replay = readReplay(section.section("replay"));
  const metrics = readMetrics(section.section("metrics"));
  section.done();
  if (source === "replay" && replay.file === undefined) {
    section.problem(
      "source",
      'invalid value "replay" without data_manager.replay.file: give the file to replay (--file)',
    );
  }
  return {
    exchange,
    symbols,
    source,
    maxTrades,
    synthetic,
    binance,
    replay,
    metrics,
  };
}

/** Binance endpoints by name, for `data_manager.binance.endpoint`. */
const BINANCE_ENDPOINTS: Record<string, string> = {
  binance: "wss://stream.binance.com:9443",
  "binance.us": "wss://stream.binance.us:9443",
  testnet: "wss://stream.testnet.binance.vision",
};

function checkEndpoint(value: string): string {
  const named = BINANCE_ENDPOINTS[value];
  if (named) return named;
  if (!/^wss?:\/\/[^\s/]+/.test(value)) {
    throw new RangeError(
      `expected "binance", "binance.us", "testnet" or a ws:// or wss:// URL`,
    );
  }
  return value.replace(/\/+$/, "");
}

function readBinance(section: Section): BinanceConfig {
  const endpoint = section.string("endpoint", BINANCE_ENDPOINTS.binance, {
    check: checkEndpoint,
  });
  section.done();
  return { endpoint };
}

function readReplay(section: Section): ReplayConfig {
  const file = section.optionalString("file");
  const speed = nonNegativeNumber(section, "speed", 0);
  const onError = section.choice("on_error", "stop", ["skip", "stop"]);
  const format = section.choice("format", "auto", [
    "auto",
    "binance-csv",
    "ndjson",
  ]);
  section.done();
  return { file, speed, onError, format };
}

function readSynthetic(section: Section): SyntheticConfig {
  const seed = section.integer("seed", 1, { min: 0, max: 2 ** 32 - 1 });
  const rate = nonNegativeNumber(section, "rate", 1000);
  const burstSize = section.integer("burst_size", 0, COUNT);
  if (burstSize > 0 && rate === 0) {
    section.problem(
      "burst_size",
      `invalid value ${burstSize} with rate = 0: expected 0, since rate 0 already publishes as fast as possible`,
    );
  }
  const burstIntervalMs = boundedDuration(section, "burst_interval", 1000, {
    min: NANOSECOND,
  });
  // Absent = derived from the start time when the run starts, so a restarted
  // run never reuses the ids (and Nats-Msg-Ids) of the last duplicate window.
  const firstTradeId = section.has("first_trade_id")
    ? section.integer("first_trade_id", 0, COUNT)
    : undefined;
  section.done();
  return { seed, rate, burstSize, burstIntervalMs, firstTradeId };
}

/** JetStream names (stream, durable) may not hold separators, wildcards, whitespace or path characters. */
// deno-lint-ignore no-control-regex
const JETSTREAM_NAME = /^[^.*>\s/\\\x00-\x1f\x7f]{1,255}$/;

function checkJetStreamName(name: string): string {
  if (!JETSTREAM_NAME.test(name)) {
    throw new RangeError(
      `Invalid name ${
        JSON.stringify(name)
      }: expected 1 to 255 characters without ".", "*", ">", "/", "\\", whitespace or control characters`,
    );
  }
  return name;
}

/** `nats://user:pass@host` → `nats://(hidden)@host`: never echo credentials. */
export function hideUrlCredentials(url: string): string {
  return url.replace(/^((?:[a-z][a-z0-9+.-]*:\/\/)?)[^/@]*@/i, "$1(hidden)@");
}

function checkServerUrl(server: string): string {
  let url: URL;
  try {
    url = new URL(server.includes("://") ? server : `nats://${server}`);
  } catch {
    throw new RangeError(
      `Invalid server: expected a URL such as "nats://127.0.0.1:4222" or "tls://host:4222"`,
    );
  }
  if (url.protocol !== "nats:" && url.protocol !== "tls:") {
    throw new RangeError(
      `Invalid server: expected the scheme nats:// or tls://, got "${url.protocol}//"`,
    );
  }
  if (url.hostname === "" || (url.pathname !== "" && url.pathname !== "/")) {
    throw new RangeError(
      `Invalid server: expected a URL such as "nats://127.0.0.1:4222" with a host and no path`,
    );
  }
  if (url.username !== "" || url.password !== "") {
    // Credentials in a URL end up in logs and process lists: keep them in the auth table.
    throw new RangeError(
      `Invalid server: expected no credentials in the URL; put them in the auth table (token, user and password, nkey_seed, jwt, creds_file)`,
    );
  }
  return server;
}

const NKEY_USER_SEED = /^SU[A-Z2-7]{56}$/;
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function checkSeed(seed: string): string {
  if (!NKEY_USER_SEED.test(seed)) {
    throw new RangeError(
      `Invalid seed: expected a user NKey seed (58 characters starting with "SU")`,
    );
  }
  return seed;
}

function checkJwt(jwt: string): string {
  if (!JWT.test(jwt)) {
    throw new RangeError(
      `Invalid jwt: expected a user JWT (three base64url parts separated by ".")`,
    );
  }
  return jwt;
}

function readAuth(section: Section): NatsAuth {
  const token = section.optionalString("token", { secret: true });
  const user = section.optionalString("user");
  const password = section.optionalString("password", { secret: true });
  const seed = section.optionalString("nkey_seed", {
    secret: true,
    check: checkSeed,
  });
  const jwt = section.optionalString("jwt", { secret: true, check: checkJwt });
  const credsFile = section.optionalString("creds_file");
  section.done();
  const set = [
    token !== undefined && "token",
    (user !== undefined || password !== undefined) && "user+password",
    seed !== undefined && jwt === undefined && "nkey_seed",
    jwt !== undefined && "jwt+nkey_seed",
    credsFile !== undefined && "creds_file",
  ].filter((m): m is string => m !== false);
  const methods =
    "expected exactly one of: token | user + password | nkey_seed | jwt + nkey_seed | creds_file";
  if (set.length > 1) {
    section.problem(
      "",
      `several auth methods set (${set.join(", ")}); ${methods}`,
    );
    return { kind: "none" };
  }
  if (token !== undefined) return { kind: "token", token };
  if (user !== undefined || password !== undefined) {
    if (user === undefined || password === undefined) {
      section.problem(
        user === undefined ? "user" : "password",
        "missing: user and password go together",
      );
      return { kind: "none" };
    }
    return { kind: "user", user, password };
  }
  if (jwt !== undefined) {
    if (seed === undefined) {
      section.problem(
        "nkey_seed",
        "missing: a jwt needs the user's nkey_seed to sign with",
      );
      return { kind: "none" };
    }
    return { kind: "jwt", jwt, seed };
  }
  if (seed !== undefined) return { kind: "nkey", seed };
  if (credsFile !== undefined) return { kind: "creds", file: credsFile };
  return { kind: "none" };
}

function readTls(section: Section, servers: string[]): NatsTls | undefined {
  const caFile = section.optionalString("ca_file");
  const certFile = section.optionalString("cert_file");
  const keyFile = section.optionalString("key_file");
  const handshakeFirst = section.boolean("handshake_first", false);
  section.done();
  if ((certFile === undefined) !== (keyFile === undefined)) {
    section.problem(
      certFile === undefined ? "cert_file" : "key_file",
      "missing: cert_file and key_file go together",
    );
  }
  const wanted = caFile !== undefined || certFile !== undefined ||
    keyFile !== undefined || handshakeFirst ||
    servers.some((s) => s.toLowerCase().startsWith("tls://"));
  return wanted ? { caFile, certFile, keyFile, handshakeFirst } : undefined;
}

function readConnection(section: Section, name: string): NatsConnectionConfig {
  const servers = section.stringList("servers", [DEFAULT_NATS_URL], {
    check: checkServerUrl,
    what: "server",
    shown: hideUrlCredentials,
  });
  if (servers.length === 0) {
    section.problem("servers", "expected at least one server URL");
  }
  return {
    servers,
    name: section.string("name", name),
    auth: readAuth(section.section("auth")),
    tls: readTls(section.section("tls"), servers),
    connectTimeoutMs: section.duration("connect_timeout", 5000),
  };
}

function readByteLimit(section: Section, key: string): number | undefined {
  return section.converted(
    key,
    "byte size",
    (value) => value === -1 ? -1 : parseByteSize(value),
  );
}

function readJetStream(
  section: Section,
  publisher: DataManagerConfig,
): JetStreamConfig {
  const streamName = section.string("stream_name", "MARKET_DATA", {
    check: checkJetStreamName,
  });
  const subjectPrefix = section.string("subject_prefix", "market", {
    check: checkPrefix,
  });
  const retention = section.choice("retention", "limits", [
    "limits",
    "interest",
    "workqueue",
  ]);
  const storage = section.choice("storage", "file", ["file", "memory"]);
  const maxAgeMs = section.duration("max_age", 3_600_000);
  const maxBytesPerSubject = readByteLimit(section, "max_bytes_per_subject");
  let maxMsgsPerSubject = section.integer("max_msgs_per_subject", -1, {
    min: -1,
    max: Number.MAX_SAFE_INTEGER,
  });
  if (maxBytesPerSubject !== undefined && maxBytesPerSubject !== -1) {
    if (section.has("max_msgs_per_subject")) {
      section.problem(
        "max_bytes_per_subject",
        "set either max_bytes_per_subject or max_msgs_per_subject, not both",
      );
    }
    maxMsgsPerSubject = maxMsgsPerSubjectFor(maxBytesPerSubject, {
      subjectPrefix,
      exchange: publisher.exchange,
      symbols: publisher.symbols,
      storage,
    });
  }
  const maxBytes = readByteLimit(section, "max_bytes") ?? -1;
  const replicas = section.integer("replicas", 1, { min: 1, max: 5 });
  // Like nats-server, the default window shrinks to a shorter max_age.
  const defaultWindowMs = maxAgeMs > 0 ? Math.min(120_000, maxAgeMs) : 120_000;
  const duplicateWindowMs = section.duration(
    "duplicate_window",
    defaultWindowMs,
  );
  if (maxAgeMs > 0 && duplicateWindowMs > maxAgeMs) {
    section.problem(
      "duplicate_window",
      `${formatDuration(duplicateWindowMs)} exceeds max_age ${
        formatDuration(maxAgeMs)
      }: expected a window no longer than max_age`,
    );
  }
  section.done();
  return {
    streamName,
    subjectPrefix,
    retention,
    storage,
    maxAgeMs,
    maxMsgsPerSubject,
    maxBytesPerSubject: maxBytesPerSubject === -1
      ? undefined
      : maxBytesPerSubject,
    maxBytes,
    replicas,
    duplicateWindowMs,
  };
}

function readNatsTransport(
  section: Section,
  publisher: DataManagerConfig,
): NatsTransportConfig {
  const enabled = section.boolean("enabled", false);
  const connection = readConnection(section, "marketbus-data-manager");
  const jetstream = readJetStream(section.section("jetstream"), publisher);
  const publish = readPublish(section.section("publish"));
  section.done();
  return { enabled, ...connection, jetstream, publish };
}

function readPublish(section: Section): NatsPublishConfig {
  const maxInFlight = section.integer("max_in_flight", 256, {
    min: 1,
    max: 100_000,
  });
  const batchMaxTrades = section.integer("batch_max_trades", 64, {
    min: 1,
    max: 4096,
  });
  const queueMaxTrades = section.integer("queue_max_trades", 1_000_000, {
    min: 1,
    max: 100_000_000,
  });
  const flushTimeoutMs = section.duration("flush_timeout", 5000);
  section.done();
  return { maxInFlight, batchMaxTrades, queueMaxTrades, flushTimeoutMs };
}

function checkShmPrefix(prefix: string): string {
  if (!/^\/[A-Za-z0-9._-]{0,200}$/.test(prefix)) {
    throw new RangeError(
      `Invalid prefix: expected "/" followed by at most 200 letters, digits, ".", "_" or "-", e.g. "/marketbus_"`,
    );
  }
  return prefix;
}

function readShmPathPrefix(section: Section): string {
  return section.string("shm_path_prefix", DEFAULT_SHM_PATH_PREFIX, {
    check: checkShmPrefix,
  });
}

function readIpcTransport(section: Section): IpcTransportConfig {
  const enabled = section.boolean("enabled", true);
  const shmPathPrefix = readShmPathPrefix(section);
  const capacity = section.integer("capacity", 65536, {
    min: 64,
    max: 1 << 24,
  });
  if ((capacity & (capacity - 1)) !== 0) {
    section.problem(
      "capacity",
      `invalid value ${capacity}: expected a power of two, e.g. 65536`,
    );
  }
  const heartbeatIntervalMs = boundedDuration(
    section,
    "heartbeat_interval",
    100,
    { min: 1, max: 10_000 },
  );
  section.done();
  return { enabled, shmPathPrefix, capacity, heartbeatIntervalMs };
}

function readIpcSource(section: Section): IpcSourceConfig {
  const shmPathPrefix = readShmPathPrefix(section);
  const wait = section.choice<WaitStrategy>("wait", "backoff", [
    "spin",
    "backoff",
    "yield",
  ]);
  const from = section.choice<StartFrom>("from", "newest", [
    "newest",
    "oldest",
  ]);
  const spinMs = boundedDuration(section, "spin", 0.02, { min: 0, max: 10 });
  const staleAfterMs = boundedDuration(section, "stale_after", 3000, {
    min: 100,
  });
  section.done();
  return { shmPathPrefix, wait, from, spinMs, staleAfterMs };
}

const DELIVER_POLICIES: readonly DeliverPolicy[] = [
  "all",
  "new",
  "last",
  "last_per_subject",
  "by_start_time",
  "by_start_sequence",
];

const RFC3339 =
  /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/** An instant: a TOML offset date-time or an RFC 3339 string with a zone; local times are ambiguous. */
function toInstant(raw: unknown): Date | undefined {
  let date: Date | undefined;
  if (raw instanceof TomlDate) {
    date = raw.isDateTime() && !raw.isLocal() ? raw : undefined;
  } else if (raw instanceof Date) {
    date = raw;
  } else if (typeof raw === "string" && RFC3339.test(raw)) {
    date = new Date(raw);
  }
  return date !== undefined && !Number.isNaN(date.getTime())
    ? new Date(date.getTime())
    : undefined;
}

function readStartTime(section: Section): Date | undefined {
  const raw = section.raw("start_time");
  if (raw === undefined) return undefined;
  const date = toInstant(raw);
  if (date === undefined) {
    section.problem(
      "start_time",
      `invalid time ${
        show(raw)
      }: expected an RFC 3339 time with a zone, such as 2026-11-26T09:30:00Z`,
    );
  }
  return date;
}

/** Applies the seed's `replay_policy` ("Instant" | "Original" | { ByStartTime = … }). */
function readSeedReplayPolicy(
  section: Section,
  warnings: string[],
): {
  deliver?: DeliverPolicy;
  replay?: ReplayPolicy;
  startTime?: Date;
  conflict?: boolean;
} {
  const raw = section.raw("replay_policy");
  if (raw === undefined) return {};
  const path = section.keyPath("replay_policy");
  const newKeys = ["replay", "deliver", "start_time"].filter((key) =>
    section.has(key)
  );
  if (newKeys.length > 0) {
    section.problem(
      "replay_policy",
      `the seed's replay_policy cannot be combined with ${
        newKeys.join(", ")
      }: use deliver, replay and start_time only`,
    );
    return { conflict: true };
  }
  if (raw === "Instant") {
    warnings.push(
      `${path} = "Instant" is the seed's name: write replay = "instant"`,
    );
    return { replay: "instant" };
  }
  if (raw === "Original") {
    warnings.push(
      `${path} = "Original" is the seed's name: write replay = "original"`,
    );
    return { replay: "original" };
  }
  if (isTable(raw) && Object.keys(raw).length === 1 && "ByStartTime" in raw) {
    const date = toInstant(raw.ByStartTime);
    if (date !== undefined) {
      warnings.push(
        `${path} = { ByStartTime = ... } is the seed's name: write deliver = "by_start_time" and start_time = ${date.toISOString()}`,
      );
      return { deliver: "by_start_time", startTime: date };
    }
  }
  section.problem(
    "replay_policy",
    `invalid value ${
      show(raw)
    }: expected "Instant", "Original" or { ByStartTime = 2026-11-26T09:30:00Z } (or, better, the keys deliver and replay)`,
  );
  return {};
}

function readConsumer(
  section: Section,
  source: { exchange: string; symbols: string[] },
  warnings: string[],
): NatsConsumerConfig {
  const durableName = section.optionalString("durable_name", {
    check: checkJetStreamName,
  });
  const exchange = section.string("exchange", source.exchange, {
    check: (value) => value === "*" ? value : normalizeExchange(value),
  });
  const symbols = readSymbols(section, source.symbols);
  const seed = readSeedReplayPolicy(section, warnings);
  const deliver = seed.deliver ??
    section.choice("deliver", "new", DELIVER_POLICIES);
  const replay = seed.replay ??
    section.choice<ReplayPolicy>("replay", "instant", ["instant", "original"]);
  const startTime = seed.startTime ?? readStartTime(section);
  const startSequence = section.has("start_sequence")
    ? section.integer("start_sequence", 1, {
      min: 1,
      max: Number.MAX_SAFE_INTEGER,
    })
    : undefined;
  if (seed.conflict) {
    // Reported once already; the start checks below would only pile on.
  } else if ((deliver === "by_start_time") !== (startTime !== undefined)) {
    section.problem(
      "start_time",
      deliver === "by_start_time"
        ? `missing: deliver = "by_start_time" needs start_time`
        : `only used with deliver = "by_start_time" (deliver is "${deliver}")`,
    );
  }
  if ((deliver === "by_start_sequence") !== (startSequence !== undefined)) {
    section.problem(
      "start_sequence",
      deliver === "by_start_sequence"
        ? `missing: deliver = "by_start_sequence" needs start_sequence`
        : `only used with deliver = "by_start_sequence" (deliver is "${deliver}")`,
    );
  }
  const maxAckPending = section.integer("max_ack_pending", 1000, {
    min: 1,
    max: 2 ** 31 - 1,
  });
  const ackWaitMs = boundedDuration(section, "ack_wait", 30_000, { min: 1 });
  section.done();
  return {
    durableName,
    exchange: exchange === "*" ? undefined : exchange,
    symbols,
    deliver,
    startTime,
    startSequence,
    replay,
    maxAckPending,
    ackWaitMs,
  };
}

function readDataSource(
  section: Section,
  warnings: string[],
): DataSourceConfig {
  const type = section.choice("type", "ipc", ["ipc", "nats"]);
  const exchange = section.string("exchange", DEFAULT_EXCHANGE, {
    check: normalizeExchange,
  });
  const symbols = readSymbols(section, DEFAULT_SYMBOLS);
  const maxTrades = section.integer("max_trades", 0, COUNT);
  const ipc = readIpcSource(section.section("ipc"));
  const natsSection = section.section("nats");
  const streamName = natsSection.string("stream_name", "MARKET_DATA", {
    check: checkJetStreamName,
  });
  const subjectPrefix = natsSection.string("subject_prefix", "market", {
    check: checkPrefix,
  });
  const connectionSection = natsSection.section("connection");
  const connection = readConnection(
    connectionSection,
    "marketbus-trading-core",
  );
  connectionSection.done();
  const consumer = readConsumer(
    natsSection.section("consumer"),
    { exchange, symbols },
    warnings,
  );
  natsSection.done();
  section.done();
  if (type === "ipc" && symbols.length === 0) {
    section.problem(
      "symbols",
      "expected at least one symbol: a ring is per symbol",
    );
  }
  return {
    type,
    exchange,
    symbols,
    maxTrades,
    ipc,
    nats: { connection, consumer, streamName, subjectPrefix },
  };
}
