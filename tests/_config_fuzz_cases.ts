/**
 * Inputs for the config-loader fuzz test: a case is a TOML text, the NATS
 * environment variables and command-line overrides, made from a
 * {@linkcode Random} alone, so a failure is replayed from the run's seed
 * and the iteration. Three kinds: a valid file with damaged bytes, a file
 * generated from the known keys with values of every TOML type, and random
 * overrides. A secret marker is put only where secrets go (the auth keys,
 * `NATS_TOKEN`, `NATS_PASSWORD`): no problem may ever print it. Then what
 * every outcome must satisfy: {@linkcode checkRefusal} for a refused input,
 * {@linkcode checkRingNames} for one that loaded.
 *
 * @module
 */

import { parse as parseToml } from "smol-toml";
import {
  type Config,
  ConfigError,
  type ConfigOverride,
  type NatsEnv,
} from "../common/config/mod.ts";
import { segmentName } from "../common/wire/mod.ts";
import { mutate, type Random } from "./_fuzz.ts";

/** One input of the loader. */
export interface ConfigCase {
  /** How it was made, for failure messages. */
  kind: "mutated" | "generated" | "overrides";
  /** The file's text (undefined = no file). */
  text: string | undefined;
  /** The NATS variables. */
  env: NatsEnv;
  /** Command-line overrides. */
  overrides: ConfigOverride[];
  /** Appears only in secret places; no problem may contain it. */
  secret: string;
}

/** What the cases are made from: valid files and the key paths they and the docs know. */
export interface Corpus {
  /** Valid config texts (the shipped files). */
  files: readonly string[];
  /** Every known dotted key path (tables included). */
  keys: readonly string[];
}

/** Keys the shipped files leave commented out, and the seed's legacy ones. */
const EXTRA_KEYS = [
  ...["transport.nats", "data_source.nats.connection"].flatMap((c) => [
    `${c}.auth.token`,
    `${c}.auth.user`,
    `${c}.auth.password`,
    `${c}.auth.nkey_seed`,
    `${c}.auth.jwt`,
    `${c}.auth.creds_file`,
    `${c}.tls.ca_file`,
    `${c}.tls.cert_file`,
    `${c}.tls.key_file`,
    `${c}.tls.handshake_first`,
  ]),
  "data_manager.synthetic.first_trade_id",
  "data_manager.replay.file",
  "data_source.nats.consumer.replay_policy",
  "data_source.nats.consumer.start_time",
  "data_source.nats.consumer.start_sequence",
  "data_source.nats.consumer.durable_name",
  "transport.nats.jetstream.max_msgs_per_subject",
  "trading_core.strategy",
  "trading_core.bars_out",
  "log.levle",
  "bogus",
];

/** Auth keys whose values are secret. */
const SECRET_KEYS = /\.auth\.(token|password|nkey_seed|jwt)$/;

/** The dotted key paths of a parsed TOML table. */
function paths(table: Record<string, unknown>, prefix = ""): string[] {
  return Object.entries(table).flatMap(([key, value]) => {
    const path = prefix === "" ? key : `${prefix}.${key}`;
    const isTable = typeof value === "object" && value !== null &&
      !Array.isArray(value) && !(value instanceof Date);
    return isTable
      ? [path, ...paths(value as Record<string, unknown>, path)]
      : [path];
  });
}

/** A corpus from valid config texts: their keys and {@linkcode EXTRA_KEYS}. */
export function corpusOf(files: readonly string[]): Corpus {
  const keys = new Set(EXTRA_KEYS);
  for (const text of files) {
    for (const path of paths(parseToml(text) as Record<string, unknown>)) {
      keys.add(path);
    }
  }
  return { files, keys: [...keys].sort() };
}

/** Strings that have broken parsers: unicode, controls, quotes, long, empty. */
const STRINGS = [
  "",
  " ",
  "BTCUSDT",
  "btcusdt",
  "€UR",
  "a.b",
  "*",
  ">",
  "x y",
  "tab\there",
  "new\nline",
  "nul\u0000",
  'quo"te',
  "back\\slash",
  "/marketbus_",
  "/",
  "//",
  "nats://127.0.0.1:4222",
  "nats://u:p@h:4222",
  "http://h:1",
  "tls://h",
  "h:99999",
  "1s",
  "0",
  "-1s",
  "1x",
  "2h30m",
  "1.5h",
  "99999999999999999999h",
  "1e400ms",
  "64 MiB",
  "1.5B",
  "-1",
  "2026-11-26T09:30:00Z",
  "2026-13-45T99:99:99Z",
  "ByStartTime",
  "Instant",
  "limits",
  "ipc",
  "nats",
  "*",
  "\u202e\u200b",
  "😀",
  "\ud800",
];

const TOML_SCALARS = [
  "0",
  "-0",
  "1",
  "-1",
  "7",
  "65536",
  "100000",
  "4294967296",
  "9007199254740993",
  "9223372036854775807",
  "-9223372036854775808",
  "0x7fffffff",
  "0o777",
  "0b1010",
  "1_000",
  "0.5",
  "-0.0",
  "1e308",
  "1e-320",
  "inf",
  "+inf",
  "-inf",
  "nan",
  "-nan",
  "true",
  "false",
  "1979-05-27T07:32:00Z",
  "1979-05-27T00:32:00-07:00",
  "1979-05-27T07:32:00",
  "1979-05-27",
  "07:32:00",
];

/** A TOML string literal of `text`, escaped as a basic string. */
function quoted(text: string): string {
  return JSON.stringify(text).replace(
    /[\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** A random TOML value, nested at most `depth` deep. */
function tomlValue(random: Random, depth = 2): string {
  const roll = random.int(depth > 0 ? 10 : 8);
  if (roll < 3) return random.pick(TOML_SCALARS);
  if (roll < 6) return quoted(random.pick(STRINGS));
  if (roll === 6) {
    return quoted(random.pick(STRINGS).repeat(random.range(2, 60)));
  }
  if (roll === 7) return `'${random.pick(["literal", "€", "a b", ""])}'`;
  if (roll === 8) {
    const items = Array.from(
      { length: random.int(5) },
      () => tomlValue(random, depth - 1),
    );
    return `[${items.join(", ")}]`;
  }
  const entries = Array.from(
    { length: random.int(3) },
    () => `${bareKey(random)} = ${tomlValue(random, depth - 1)}`,
  );
  return `{ ${entries.join(", ")} }`;
}

/** A key for an inline table or an unknown key, sometimes quoted with escapes. */
function bareKey(random: Random): string {
  return random.pick([
    "a",
    "x",
    "enabled",
    "symbols",
    '"quoted key"',
    '"new\\nline"',
    '"tab\\tkey"',
    '"€"',
    '""',
  ]);
}

/** A file written from random known keys, grouped under their tables, with random values. */
function generatedText(random: Random, corpus: Corpus, secret: string): string {
  const lines: string[] = [];
  let table = "";
  const count = random.range(1, 25);
  for (let i = 0; i < count; i++) {
    const path = random.chance(0.05)
      ? `${random.pick(corpus.keys)}.${bareKey(random)}`
      : random.pick(corpus.keys);
    const dot = path.lastIndexOf(".");
    const [parent, key] = dot < 0 ? ["", path] : [
      path.slice(0, dot),
      path.slice(dot + 1),
    ];
    const value = SECRET_KEYS.test(path) && random.chance(0.7)
      ? quoted(secret)
      : tomlValue(random);
    if (random.chance(0.2)) {
      // A dotted key from the top, before any table header.
      lines.unshift(`${path} = ${value}`);
      continue;
    }
    if (parent !== table || random.chance(0.05)) {
      lines.push(parent === "" ? "" : `[${parent}]`);
      table = parent;
    }
    lines.push(`${key} = ${value}`);
  }
  return `${lines.join(random.chance(0.1) ? "\r\n" : "\n")}\n`;
}

/** A valid file with its secrets set to the marker, then damaged. */
function mutatedText(random: Random, corpus: Corpus, secret: string): string {
  let text = random.pick(corpus.files);
  if (random.chance(0.5)) {
    text += `\n[transport.nats.auth]\ntoken = ${quoted(secret)}\n` +
      `[data_source.nats.connection.auth]\nuser = "u"\npassword = ${
        quoted(secret)
      }\n`;
  }
  const bytes = mutate(new TextEncoder().encode(text), random, {
    count: random.range(1, 6),
  });
  return new TextDecoder().decode(bytes);
}

/** Flags as the CLIs turn them into overrides: the keys they set, values as typed or converted. */
const FLAG_KEYS = [
  "data_manager.symbols",
  "data_manager.exchange",
  "data_manager.source",
  "data_manager.max_trades",
  "data_manager.synthetic.rate",
  "data_manager.synthetic.seed",
  "data_manager.replay.file",
  "data_manager.replay.speed",
  "data_manager.binance.endpoint",
  "transport.ipc.enabled",
  "transport.nats.enabled",
  "transport.nats.servers",
  "transport.nats.jetstream.stream_name",
  "data_source.type",
  "data_source.symbols",
  "data_source.exchange",
  "data_source.nats.consumer.symbols",
  "data_source.nats.consumer.exchange",
  "data_source.nats.consumer.deliver",
  "data_source.nats.consumer.start_time",
  "data_source.nats.consumer.start_sequence",
  "data_source.nats.consumer.durable_name",
  "data_source.ipc.wait",
  "data_source.ipc.from",
  "trading_core.bars.intervals",
  "log.level",
  "log.progress_interval",
];

function overrideValue(random: Random): unknown {
  switch (random.int(6)) {
    case 0:
      return random.pick(STRINGS);
    case 1:
      return random.pick([0, -1, 1, 1e6, 0.5, 2 ** 53, 1e308, -0]);
    case 2:
      return random.chance(0.5);
    case 3:
      return Array.from({ length: random.int(4) }, () => random.pick(STRINGS));
    case 4:
      return random.pick(STRINGS).repeat(random.range(2, 80));
    default:
      return undefined;
  }
}

function randomEnv(random: Random, secret: string): NatsEnv {
  const env: NatsEnv = {};
  if (random.chance(0.3)) {
    env.NATS_URL = Array.from(
      { length: random.range(1, 3) },
      () => random.pick(STRINGS),
    ).join(random.pick([",", ", ", ",,"]));
  }
  if (random.chance(0.3)) env.NATS_TOKEN = secret;
  if (random.chance(0.2)) env.NATS_USER = random.pick(STRINGS);
  if (random.chance(0.2)) env.NATS_PASSWORD = secret;
  if (random.chance(0.2)) env.NATS_CREDS = random.pick(STRINGS);
  return env;
}

/** One case, chosen and filled by `random` alone. */
export function configCase(random: Random, corpus: Corpus): ConfigCase {
  const secret = `s3cr3t-${random.int(0x1_0000_0000).toString(36)}`;
  const kind = random.pick(["mutated", "generated", "overrides"] as const);
  const text = kind === "mutated"
    ? mutatedText(random, corpus, secret)
    : kind === "generated"
    ? generatedText(random, corpus, secret)
    : random.chance(0.3)
    ? undefined
    : random.pick(corpus.files);
  const overrides: ConfigOverride[] = [];
  const count = kind === "overrides" ? random.range(1, 6) : random.int(2);
  for (let i = 0; i < count; i++) {
    const key = random.chance(0.05)
      ? `${random.pick(FLAG_KEYS)}.x`
      : random.pick(FLAG_KEYS);
    overrides.push({
      key,
      value: overrideValue(random),
      origin: `--${key.split(".").pop()}`,
    });
  }
  return { kind, text, env: randomEnv(random, secret), overrides, secret };
}

/**
 * Throws unless `error` is a ConfigError of one-line problems without
 * `secret`: the only way the loader may refuse an input.
 */
export function checkRefusal(error: unknown, secret: string): void {
  if (!(error instanceof ConfigError)) {
    throw new Error(
      `not a ConfigError: ${
        error instanceof Error ? error.stack ?? error.message : String(error)
      }`,
    );
  }
  if (error.problems.length === 0) {
    throw new Error("a ConfigError without problems");
  }
  for (const problem of error.problems) {
    if (/[\r\n]/.test(problem)) {
      throw new Error(`a problem of several lines: ${JSON.stringify(problem)}`);
    }
    if (problem.includes(secret)) {
      throw new Error(`a secret was echoed: ${JSON.stringify(problem)}`);
    }
  }
}

/**
 * Throws unless a config that loaded names every ring its roles would
 * create or open: serve's when `transport.ipc.enabled`, live's when
 * `data_source.type = "ipc"`.
 */
export function checkRingNames(config: Config): void {
  const rings = [
    config.transport.ipc.enabled && {
      prefix: config.transport.ipc.shmPathPrefix,
      ...config.dataManager,
    },
    config.dataSource.type === "ipc" && {
      prefix: config.dataSource.ipc.shmPathPrefix,
      ...config.dataSource,
    },
  ];
  for (const ring of rings) {
    if (ring === false) continue;
    for (const symbol of ring.symbols) {
      try {
        segmentName(ring.prefix, ring.exchange, symbol);
      } catch (error) {
        throw new RangeError(
          `the config loaded, but a ring cannot be named: ${error}`,
        );
      }
    }
  }
}
