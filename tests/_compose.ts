/**
 * compose.yaml and the files its services mount, read for the tests: project
 * files by path or by a `dir/*.ext` glob, the parsed services, where a
 * container path lives in the project, and a reader of the nats-server config
 * syntax the shipped files use.
 *
 * @module
 */

import assert from "node:assert/strict";
import { basename, dirname, join } from "node:path";
import { parse } from "yaml";
import { type Config, parseConfig } from "../common/config/mod.ts";
import { PROJECT_ROOT } from "./nats_server.ts";

/** A healthcheck of compose.yaml. */
export interface ComposeHealthcheck {
  /** `["CMD", ...]`. */
  test: string[];
  /** Duration between probes, e.g. `"5s"`. */
  interval?: string;
  /** Duration a probe may take. */
  timeout?: string;
  /** Failed probes before unhealthy. */
  retries?: number;
  /** Grace period after start. */
  start_period?: string;
}

/** A service of compose.yaml (the keys the project uses). */
export interface ComposeService {
  /** Image reference. */
  image: string;
  /** Profiles; absent = always enabled. */
  profiles?: string[];
  /** The command, as a list. */
  command: string[];
  /** Published ports, `host_ip:host:container`. */
  ports?: string[];
  /** Mounts, `source:target[:mode]`. */
  volumes?: string[];
  /** Environment variables. */
  environment?: Record<string, string>;
  /** Working directory. */
  working_dir?: string;
  /** Health probe. */
  healthcheck?: ComposeHealthcheck;
  /** Services to wait for, with the condition. */
  depends_on?: Record<string, { condition: string }>;
}

/** compose.yaml, parsed (merge keys resolved). */
export interface ComposeFile {
  /** Project name. */
  name: string;
  /** Services by name. */
  services: Record<string, ComposeService>;
  /** Declared named volumes. */
  volumes: Record<string, unknown>;
}

/** A value of a nats-server config file. */
export type NatsConfValue =
  | string
  | number
  | boolean
  | NatsConfValue[]
  | NatsConf;

/** A block of a nats-server config file. */
export interface NatsConf {
  [key: string]: NatsConfValue;
}

/** Reads a file of the project by its project-relative path. */
export type ProjectReader = (path: string) => string;

/** Reads project files from disk. */
export function readProjectFile(path: string): string {
  return Deno.readTextFileSync(join(PROJECT_ROOT, path));
}

/** The project files a `dir/*.ext` glob matches (the only form used), sorted. */
export function globFiles(pattern: string): string[] {
  const dir = dirname(pattern);
  const match = /^\*(\.\w+)$/.exec(basename(pattern));
  assert.ok(match, `expected DIR/*.EXT, got ${pattern}`);
  const names = [...Deno.readDirSync(join(PROJECT_ROOT, dir))]
    .filter((entry) => entry.isFile && entry.name.endsWith(match[1]))
    .map((entry) => join(dir, entry.name));
  return names.sort();
}

/** Parses compose.yaml text, resolving YAML merge keys (`<<: *anchor`) as Compose does. */
export function parseCompose(text: string): ComposeFile {
  return parse(text, { merge: true }) as ComposeFile;
}

/** The named volume mounted at `target` in `service`, or undefined. */
export function namedVolumeAt(
  service: ComposeService,
  target: string,
): string | undefined {
  for (const mount of service.volumes ?? []) {
    const [source, at] = mount.split(":");
    if (at === target && !/^[./]/.test(source)) return source;
  }
  return undefined;
}

/**
 * The project-relative path behind `containerPath` of `service`, through its
 * bind mounts of project directories (`./dir:/target`).
 *
 * @throws {RangeError} when no bind mount of the project covers the path.
 */
export function projectPath(
  service: ComposeService,
  containerPath: string,
): string {
  for (const mount of service.volumes ?? []) {
    const [source, target] = mount.split(":");
    if (!source.startsWith(".")) continue;
    if (containerPath === target || containerPath.startsWith(`${target}/`)) {
      return join(source, containerPath.slice(target.length));
    }
  }
  throw new RangeError(
    `Path "${containerPath}" is not under a bind mount of the project: expected one of ${
      JSON.stringify(service.volumes ?? [])
    } to cover it`,
  );
}

/**
 * Parses the nats-server config syntax the shipped files use: `key: value`
 * (or `=`), blocks `{}`, arrays `[]` (newline- or comma-separated), quoted
 * and bare strings, integers, booleans, `#` comments and `include "file"`
 * (read through `read` relative to `file`, merged where it stands). `$VAR`
 * references are kept as written.
 *
 * @throws {SyntaxError} for anything else.
 */
export function parseNatsConf(
  file: string,
  read: ProjectReader,
): NatsConf {
  const text = read(file);
  let i = 0;
  const fail = (what: string): never => {
    const line = text.slice(0, i).split("\n").length;
    throw new SyntaxError(
      `${file}:${line}: expected ${what}, found ${
        JSON.stringify(text.slice(i, i + 20))
      }`,
    );
  };
  const skip = (commas: boolean) => {
    for (;;) {
      const c = text[i];
      if (c === "#") {
        while (i < text.length && text[i] !== "\n") i++;
      } else if (c !== undefined && (/\s/.test(c) || (commas && c === ","))) {
        i++;
      } else return;
    }
  };
  const bare = (stop: RegExp): string => {
    const start = i;
    while (i < text.length && !stop.test(text[i])) i++;
    return text.slice(start, i);
  };
  const scalar = (): string | number | boolean => {
    const quote = text[i];
    if (quote === '"' || quote === "'") {
      const end = text.indexOf(quote, i + 1);
      if (end < 0) fail("a closing quote");
      const value = text.slice(i + 1, end);
      i = end + 1;
      return value;
    }
    const word = bare(/[\s,\]}#]/);
    if (word === "") fail("a value");
    if (word === "true" || word === "false") return word === "true";
    return /^-?\d+$/.test(word) ? Number(word) : word;
  };
  const value = (): NatsConfValue => {
    if (text[i] === "{") {
      i++;
      return block("}");
    }
    if (text[i] !== "[") return scalar();
    i++;
    const items: NatsConfValue[] = [];
    for (skip(true); text[i] !== "]"; skip(true)) {
      if (i >= text.length) fail('"]"');
      items.push(value());
    }
    i++;
    return items;
  };
  const block = (end: string | undefined): NatsConf => {
    const conf: NatsConf = {};
    for (skip(false); text[i] !== end; skip(false)) {
      if (i >= text.length) fail(`"${end}"`);
      const key = bare(/[\s:={]/);
      if (key === "") fail("a key");
      skip(false);
      if (key === "include") {
        const included = scalar();
        if (typeof included !== "string") fail("an include path");
        Object.assign(
          conf,
          parseNatsConf(join(dirname(file), String(included)), read),
        );
        continue;
      }
      if (text[i] === ":" || text[i] === "=") i++;
      skip(false);
      conf[key] = value();
    }
    i++;
    return conf;
  };
  return block(undefined);
}

/** The port of a `host:port` listen address of a NATS config. */
export function listenPort(address: NatsConfValue | undefined): number {
  const match = typeof address === "string"
    ? /^[^:]+:(\d+)$/.exec(address)
    : null;
  if (match === null) {
    throw new RangeError(
      `Invalid listen address ${
        JSON.stringify(address)
      }: expected "host:port", e.g. "0.0.0.0:4222"`,
    );
  }
  return Number(match[1]);
}

/** Is `service` a NATS server (the `nats:` image)? */
export function isNats(service: ComposeService): boolean {
  return service.image.startsWith("nats:");
}

/** Is `service` a marketbus role (the `denoland/deno:` image)? */
export function isRole(service: ComposeService): boolean {
  return service.image.startsWith("denoland/deno:");
}

/** `deno run FLAGS role/main.ts --config FILE`, taken apart. */
export interface RoleCommand {
  /** `data_manager` or `trading_core`. */
  role: string;
  /** The permission and lock flags. */
  flags: string[];
  /** The config file, relative to the working directory. */
  configFile: string;
}

/** A role service's command and the config it loads. */
export type RoleService = RoleCommand & {
  /** The config, parsed as the role would (no environment). */
  config: Config;
};

/** The command of a role service, taken apart; fails when it is not `deno run … role/main.ts --config FILE`. */
export function roleCommand(service: ComposeService): RoleCommand {
  const [deno, run, ...args] = service.command;
  assert.deepEqual([deno, run], ["deno", "run"]);
  const script = args.findIndex((arg) => !arg.startsWith("-"));
  const match = /^(data_manager|trading_core)\/main\.ts$/.exec(args[script]);
  assert.ok(match, `expected a role's main.ts in ${service.command}`);
  const [flag, configFile, ...rest] = args.slice(script + 1);
  assert.deepEqual([flag, rest], ["--config", []]);
  return { role: match[1], flags: args.slice(0, script), configFile };
}

/** The command of a role service and its config, read through `read`. */
export function roleService(
  service: ComposeService,
  read: ProjectReader,
): RoleService {
  const command = roleCommand(service);
  const file = projectPath(
    service,
    join(service.working_dir ?? "", command.configFile),
  );
  return { ...command, config: parseConfig(read(file), { file, env: {} }) };
}

/** The metrics port a role service listens on (its config's `metrics.port`). */
export function roleMetricsPort(
  service: ComposeService,
  read: ProjectReader,
): number {
  const { role, config } = roleService(service, read);
  return role === "data_manager"
    ? config.dataManager.metrics.port
    : config.tradingCore.metrics.port;
}

/** The container port of a `127.0.0.1:host:container` mapping; fails for any other form (a port on every interface). */
export function containerPort(mapping: string): number {
  const match = /^127\.0\.0\.1:(\d+):(\d+)$/.exec(mapping);
  assert.ok(match, `expected "127.0.0.1:HOST:CONTAINER", got "${mapping}"`);
  return Number(match[2]);
}
