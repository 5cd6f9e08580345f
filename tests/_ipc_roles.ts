/**
 * Shared by the tests that put trades through the shared-memory ring (and,
 * with a NATS server, through JetStream): a segment name prefix of their own
 * (so they never meet each other or a developer's `deno task serve`) with its
 * /dev/shm clean-up, a temp config for both roles (optionally with a NATS
 * server, a unique stream and subject prefix), and `serve`/`live` processes
 * started with the tasks' own permissions.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import denoJson from "../deno.json" with { type: "json" };
import { NATS_ENV_VARIABLES } from "../common/config/mod.ts";
import { LIBC_PATHS } from "../common/os/mod.ts";
import { PROJECT_ROOT } from "./nats_server.ts";
import { SHM_PERMISSIONS } from "./_permissions.ts";
import { LIVENESS_MS, until } from "./_until.ts";
import type {
  LiveSummary,
  StreamSummary,
} from "../trading_core/live_report.ts";

/** Where Linux keeps POSIX shared-memory segments. */

/**
 * The NATS variables a role reads (NATS_URL, NATS_TOKEN, …) set empty: a
 * developer's own never reach a role under test.
 */
export const NO_NATS_ENV: Record<string, string> = Object.fromEntries(
  NATS_ENV_VARIABLES.map((name) => [name, ""]),
);

export const SHM_DIR = "/dev/shm";

/** The bound of eventual things, from tests/_until.ts (beside-code tests import it from there). */
export { LIVENESS_MS };

/** What the process tests need: {@linkcode SHM_PERMISSIONS}, spawning deno, temp configs. */
export const ROLE_PERMISSIONS: readonly Deno.PermissionDescriptor[] = [
  ...SHM_PERMISSIONS,
  { name: "run" },
  { name: "read" },
  { name: "write" },
];

const DIR_SYMBOLS = {
  opendir: { parameters: ["buffer"], result: "pointer" },
  readdir: { parameters: ["pointer"], result: "pointer" },
  closedir: { parameters: ["pointer"], result: "i32" },
  shm_unlink: { parameters: ["buffer"], result: "i32" },
} as const;

/** Offset of d_name in glibc's struct dirent on 64-bit Linux (ino, off, reclen, type). */
const D_NAME = 19;

let dirLibc: Deno.DynamicLibrary<typeof DIR_SYMBOLS>["symbols"] | undefined;

function shmLibc(): Deno.DynamicLibrary<typeof DIR_SYMBOLS>["symbols"] {
  if (dirLibc) return dirLibc;
  for (const path of LIBC_PATHS) {
    try {
      dirLibc = Deno.dlopen(path, DIR_SYMBOLS).symbols;
      return dirLibc;
    } catch {
      // try the next one
    }
  }
  throw new Error(`libc not found at any of ${LIBC_PATHS.join(", ")}`);
}

function cText(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${text}\0`);
}

/** A segment name prefix nobody else uses: `/mbt` + 12 random hex digits + `_`. */
export function uniquePrefix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `/mbt${hex}_`;
}

/** The ring segment name of `symbol`, spelled out independently of the code under test. */
export function ringName(
  prefix: string,
  symbol: string,
  exchange = "binance",
): string {
  return `${prefix}${exchange}_${symbol}`;
}

/** The segments (as `/name`) under /dev/shm whose names start with `prefix`, sorted. */
export function segmentsWithPrefix(prefix: string): string[] {
  const lib = shmLibc();
  const start = prefix.slice(1);
  const dir = lib.opendir(cText(SHM_DIR));
  assert.ok(dir !== null, `cannot list ${SHM_DIR}`);
  const names: string[] = [];
  try {
    for (let entry = lib.readdir(dir); entry; entry = lib.readdir(dir)) {
      const name = Deno.UnsafePointerView.getCString(entry, D_NAME);
      if (name.startsWith(start)) names.push(`/${name}`);
    }
  } finally {
    lib.closedir(dir);
  }
  return names.sort();
}

/** Removes every segment whose name starts with `prefix` (clean-up, whatever the code under test left). */
export function removeSegments(prefix: string): void {
  for (const name of segmentsWithPrefix(prefix)) {
    shmLibc().shm_unlink(cText(name));
  }
}

/** A unique prefix whose segments are removed on dispose: `using shm = shmScope()`. */
export interface ShmScope extends Disposable {
  /** The prefix, `/mbt…_`. */
  readonly prefix: string;
  /** The segment name of `symbol` under this prefix. */
  ring(symbol: string): string;
  /** The segments that exist under this prefix now. */
  existing(): string[];
}

/** Creates a {@linkcode ShmScope}. */
export function shmScope(): ShmScope {
  const prefix = uniquePrefix();
  return {
    prefix,
    ring: (symbol) => ringName(prefix, symbol),
    existing: () => segmentsWithPrefix(prefix),
    [Symbol.dispose]: () => removeSegments(prefix),
  };
}

/** Settings of a {@linkcode roleConfig} beyond the unique prefix. */
export interface RoleConfigOptions {
  /** Symbols of both roles (default BTCUSDT, ETHUSDT, SOLUSDT). */
  symbols?: string[];
  /** `transport.ipc.capacity` (default 65536). */
  capacity?: number;
  /** `data_source.ipc.stale_after` (default: the built-in one). */
  staleAfter?: string;
  /**
   * More `[data_source.ipc]` keys as written in TOML (e.g.
   * `{ tether_timeout: "1s" }`).
   */
  ipcSource?: Record<string, TomlValue>;
  /**
   * More `[transport.ipc]` keys as written in TOML (e.g.
   * `{ backlog: 4096, max_tether_timeout: "2s" }`).
   */
  ipcTransport?: Record<string, TomlValue>;
  /** `[data_manager.synthetic]` keys (default: the built-in ones). */
  synthetic?: RoleSyntheticOptions;
  /**
   * NATS settings of both roles (default: none, the built-in servers and
   * stream). The roles still need `--nats` to use it.
   */
  nats?: RoleNatsOptions;
}

/** `[data_manager.synthetic]` of a {@linkcode roleConfig}. */
export interface RoleSyntheticOptions {
  /** `seed`. */
  seed?: number;
  /** `first_trade_id` (fixed trade ids, e.g. to regenerate the trades). */
  firstTradeId?: number;
  /** `burst_size`. */
  burstSize?: number;
  /** `burst_interval`, a duration such as `"500ms"`. */
  burstInterval?: string;
}

/** NATS settings of a {@linkcode roleConfig}. */
export interface RoleNatsOptions {
  /** Client URL of the server both roles use. */
  url: string;
  /**
   * `[transport.nats.publish]` keys as written in TOML (e.g.
   * `{ batch_max_trades: 1, flush_timeout: "10s" }`).
   */
  publish?: Record<string, number | string>;
  /** A token for both roles' `auth` tables (default: no auth). */
  token?: string;
  /**
   * `[data_source.nats.consumer]` keys as written in TOML (e.g.
   * `{ exchange: "*", symbols: ["AUDA"] }`). `exchange` and `symbols` set
   * here are left out of `[data_source]`, as a user would write them once.
   */
  consumer?: Record<string, TomlValue>;
  /** `stream_per_exchange = true` in both roles' tables (default: not set). */
  streamPerExchange?: boolean;
}

/** NATS names of a {@linkcode RoleConfig} made with {@linkcode RoleConfigOptions.nats}. */
export interface RoleNats {
  /** The server URL. */
  readonly url: string;
  /** Stream name of both roles, unique to this config (`MBT_…`). */
  readonly stream: string;
  /** Subject prefix of both roles, unique to this config (`mbt…`), so streams never overlap. */
  readonly subjectPrefix: string;
}

/** A temp TOML config for both roles on a unique prefix; disposing removes it and its segments. */
export interface RoleConfig extends AsyncDisposable {
  /** The TOML file. */
  readonly path: string;
  /** Its directory (the roles get read access to it). */
  readonly dir: string;
  /** The segment prefix. */
  readonly prefix: string;
  /** The symbols. */
  readonly symbols: readonly string[];
  /** Ring slots. */
  readonly capacity: number;
  /** Segment names, in symbol order. */
  readonly rings: readonly string[];
  /** The segments that exist under the prefix now. */
  existing(): string[];
  /** The NATS names, when the config was made with {@linkcode RoleConfigOptions.nats}. */
  readonly nats: RoleNats | undefined;
}

/** A TOML value these configs write. */
export type TomlValue = number | string | readonly string[];

function tomlValue(value: TomlValue): string {
  return typeof value === "number" ? String(value) : JSON.stringify(value);
}

function tomlKeys(keys: Record<string, TomlValue | undefined>): string {
  return Object.entries(keys)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key} = ${tomlValue(value!)}\n`)
    .join("");
}

/** The `[data_manager.synthetic]` table, or nothing. */
function syntheticToml(synthetic: RoleSyntheticOptions | undefined): string {
  if (synthetic === undefined) return "";
  return `
[data_manager.synthetic]
${
    tomlKeys({
      seed: synthetic.seed,
      first_trade_id: synthetic.firstTradeId,
      burst_size: synthetic.burstSize,
      burst_interval: synthetic.burstInterval,
    })
  }`;
}

/** The publisher's `[transport.nats…]` tables. */
function publisherNatsToml(options: RoleNatsOptions, names: RoleNats): string {
  const auth = options.token === undefined
    ? ""
    : `\n[transport.nats.auth]\ntoken = ${JSON.stringify(options.token)}\n`;
  const publish = options.publish === undefined
    ? ""
    : `\n[transport.nats.publish]\n${tomlKeys(options.publish)}`;
  return `
[transport.nats]
servers = [${JSON.stringify(names.url)}]
enabled = false # servers alone would turn it on; serve --nats does

[transport.nats.jetstream]
stream_name = ${JSON.stringify(names.stream)}
subject_prefix = ${JSON.stringify(names.subjectPrefix)}
${perExchange(options)}${publish}${auth}`;
}

function perExchange(options: RoleNatsOptions): string {
  return options.streamPerExchange ? "stream_per_exchange = true\n" : "";
}

/** The consumer's `[data_source.nats…]` tables. */
function consumerNatsToml(options: RoleNatsOptions, names: RoleNats): string {
  const auth = options.token === undefined ? "" : `
[data_source.nats.connection.auth]
token = ${JSON.stringify(options.token)}
`;
  const consumer = options.consumer === undefined
    ? ""
    : `\n[data_source.nats.consumer]\n${tomlKeys(options.consumer)}`;
  return `
[data_source.nats]
stream_name = ${JSON.stringify(names.stream)}
subject_prefix = ${JSON.stringify(names.subjectPrefix)}
${perExchange(options)}
[data_source.nats.connection]
servers = [${JSON.stringify(names.url)}]
${auth}${consumer}`;
}

/**
 * Writes a {@linkcode RoleConfig}: no progress lines, nothing but the ring
 * unless {@linkcode RoleConfigOptions.nats} adds a server, a unique stream
 * and a unique subject prefix for both roles.
 */
export async function roleConfig(
  options: RoleConfigOptions = {},
): Promise<RoleConfig> {
  const symbols = options.symbols ?? ["BTCUSDT", "ETHUSDT", "SOLUSDT"];
  const capacity = options.capacity ?? 65536;
  const prefix = uniquePrefix();
  const dir = await Deno.makeTempDir({ prefix: "marketbus_roles_" });
  const path = join(dir, "roles.toml");
  const list = JSON.stringify(symbols);
  const stale = options.staleAfter === undefined
    ? ""
    : `stale_after = "${options.staleAfter}"\n`;
  const unique = prefix.slice(4, -1); // the random hex digits
  const nats: RoleNats | undefined = options.nats && {
    url: options.nats.url,
    stream: `MBT_${unique.toUpperCase()}`,
    subjectPrefix: `mbt${unique}`,
  };
  await Deno.writeTextFile(
    path,
    `[data_manager]
exchange = "binance"
symbols = ${list}
${syntheticToml(options.synthetic)}
[transport.ipc]
shm_path_prefix = "${prefix}"
capacity = ${capacity}
${tomlKeys(options.ipcTransport ?? {})}${
      options.nats ? publisherNatsToml(options.nats, nats!) : ""
    }
[data_source]
type = "ipc" # [data_source.nats] next to [data_source.ipc] needs it; live --nats picks NATS
${
      tomlKeys({
        exchange: options.nats?.consumer?.exchange === undefined
          ? "binance"
          : undefined,
        symbols: options.nats?.consumer?.symbols === undefined
          ? symbols
          : undefined,
      })
    }
[data_source.ipc]
shm_path_prefix = "${prefix}"
${stale}${tomlKeys(options.ipcSource ?? {})}${
      options.nats ? consumerNatsToml(options.nats, nats!) : ""
    }
[log]
progress_interval = "0"
`,
  );
  return {
    path,
    dir,
    prefix,
    symbols,
    capacity,
    nats,
    rings: symbols.map((symbol) => ringName(prefix, symbol)),
    existing: () => segmentsWithPrefix(prefix),
    async [Symbol.asyncDispose]() {
      try {
        removeSegments(prefix);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  };
}

/** The two roles, by task name. */
export type Role = "serve" | "live";

/** Extra permissions of a role process beyond its task's. */
export interface RoleProcessOptions {
  /** Paths it may write besides the task's own (a recording, a bar file). */
  write?: readonly string[];
}

/**
 * The `deno run` arguments of task `role` in deno.json (its permissions and
 * script), with `--config` pointing at `config`, read access to its
 * directory added to the task's own, and write access to `options.write`.
 */
export function roleArgs(
  role: Role | "rings" | "symbols",
  config: RoleConfig,
  options: RoleProcessOptions = {},
): string[] {
  const command = taskCommand(role);
  const tokens = command.split(/\s+/);
  const script = tokens.findIndex((token) => token.endsWith(".ts"));
  assert.ok(
    tokens[0] === "deno" && tokens[1] === "run" && script > 2 &&
      tokens.slice(2, script).every((token) => token.startsWith("--")),
    `task ${role} is no longer "deno run <flags> <script> …": ${command}`,
  );
  assert.deepEqual(
    tokens.slice(script + 1),
    ["--config", "config/development.toml"],
    `task ${role} no longer ends with --config config/development.toml: ${command}`,
  );
  const flags = tokens.slice(2, script);
  const read = flags.findIndex((flag) => flag.startsWith("--allow-read"));
  if (read < 0) flags.push(`--allow-read=${config.dir}`);
  else if (flags[read].includes("=")) flags[read] += `,${config.dir}`;
  if (options.write?.length) {
    const paths = options.write.join(",");
    const write = flags.findIndex((flag) => flag.startsWith("--allow-write"));
    if (write < 0) flags.push(`--allow-write=${paths}`);
    else if (flags[write].includes("=")) flags[write] += `,${paths}`;
  }
  return ["run", ...flags, tokens[script], "--config", config.path];
}

/** The command of task `task` in deno.json, failing when there is none. */
function taskCommand(task: string): string {
  const tasks = denoJson.tasks as Record<string, { command?: string }>;
  const command = tasks[task]?.command;
  assert.ok(command, `deno.json has no task ${task}`);
  return command;
}

/**
 * `deno task rings --json --once` on the rings of `config`, run with the
 * task's own permissions (plus reading the config): its JSON document.
 */
export async function ringsLook(config: RoleConfig): Promise<RingsDocument> {
  const args = roleArgs("rings", config);
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [...args, "--json", "--once"],
    cwd: PROJECT_ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout);
  assert.equal(
    code,
    0,
    `deno task rings exited ${code}:\n${text}${
      new TextDecoder().decode(stderr)
    }`,
  );
  return JSON.parse(text);
}

/** The document `deno task rings --json` prints (the fields the tests read). */
export interface RingsDocument {
  /** The prefixes listed. */
  prefixes: string[];
  /** Every segment under them. */
  rings: RingsEntry[];
}

/** A segment of a {@linkcode RingsDocument}. */
export interface RingsEntry {
  /** `"ring"`, or `"unreadable"`. */
  kind: string;
  /** The shm name. */
  name: string;
  /** The producer's pid. */
  pid: number;
  /** Trades written. */
  writePosition: number;
  /** The registered readers. */
  readers: {
    idHex: string;
    pid: number;
    policy: "lossy" | "tethered" | "evicted";
    position: number;
    lag: number;
    heartbeatAgeMs: number;
    evictions: number;
  }[];
}

/** How a role process ended, and everything it printed. */
export interface RoleExit {
  /** Exit code. */
  code: number;
  /** The signal that killed it, if one did. */
  signal: Deno.Signal | null;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
  /** `performance.now()` when its exit was seen. */
  exitedAt: number;
  /** The test had to stop it (see {@linkcode RoleProcess.finish}). */
  timedOut: boolean;
}

/** A running `serve` or `live`; disposing kills it if it still runs. */
export class RoleProcess implements AsyncDisposable {
  /** The role. */
  readonly role: Role;
  /** The process id (the role itself: `deno run`, no task runner in between). */
  readonly pid: number;
  /** Resolves when it has exited and its output is read. */
  readonly exited: Promise<RoleExit>;
  #child: Deno.ChildProcess;
  #stdout = "";
  #stderr = "";
  #ended = false;
  #running = true;
  #listeners = new Set<() => void>();

  /** Starts `role` with the temp `config`, extra flags `args` and extra permissions `options`. */
  constructor(
    role: Role,
    config: RoleConfig,
    args: string[] = [],
    options: RoleProcessOptions = {},
  ) {
    this.role = role;
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [...roleArgs(role, config, options), ...args],
      cwd: PROJECT_ROOT,
      env: { NO_COLOR: "1", ...NO_NATS_ENV },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.#child.pid;
    const pumps = Promise.all([
      this.#pump(this.#child.stdout, (text) => this.#stdout += text),
      this.#pump(this.#child.stderr, (text) => this.#stderr += text),
    ]);
    this.exited = this.#child.status.then(async (status) => {
      const exitedAt = performance.now();
      this.#running = false;
      await pumps;
      this.#ended = true;
      this.#notify();
      return {
        code: status.code,
        signal: status.signal,
        stdout: this.#stdout,
        stderr: this.#stderr,
        exitedAt,
        timedOut: false,
      };
    });
  }

  async #pump(
    stream: ReadableStream<Uint8Array>,
    append: (text: string) => void,
  ): Promise<void> {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      append(text);
      this.#notify();
    }
  }

  #notify(): void {
    for (const listener of this.#listeners) listener();
  }

  /** Everything it printed so far, stdout then stderr. */
  get output(): string {
    return `${this.#stdout}${this.#stderr}`;
  }

  /** Does the process still run? */
  get running(): boolean {
    return this.#running;
  }

  /**
   * Resolves with the matches once its output matches `pattern` (global)
   * `count` times; rejects, quoting the output, when it exits first or after
   * `timeoutMs`.
   */
  waitFor(
    pattern: RegExp,
    count = 1,
    timeoutMs = LIVENESS_MS,
  ): Promise<RegExpExecArray[]> {
    const flags = pattern.flags.includes("g")
      ? pattern.flags
      : `${pattern.flags}g`;
    const global = new RegExp(pattern.source, flags);
    return new Promise((resolve, reject) => {
      const settle = (error?: Error) => {
        clearTimeout(timer);
        this.#listeners.delete(check);
        const matches = [...this.output.matchAll(global)];
        if (error) reject(error);
        else resolve(matches);
      };
      const fail = (why: string) =>
        settle(
          new Error(
            `${this.role} (pid ${this.pid}) ${why} before printing ${pattern} ×${count}; its output:\n${this.output}`,
          ),
        );
      const check = () => {
        if ([...this.output.matchAll(global)].length >= count) settle();
        else if (this.#ended) fail("exited");
      };
      const timer = setTimeout(
        () => fail(`ran ${timeoutMs} ms`),
        timeoutMs,
      );
      this.#listeners.add(check);
      check();
    });
  }

  /** Sends `signal` (if it still runs) and returns `performance.now()` just before. */
  kill(signal: Deno.Signal): number {
    const at = performance.now();
    try {
      this.#child.kill(signal);
    } catch {
      // already exited
    }
    return at;
  }

  /**
   * Its exit, waiting at most `timeoutMs`; then it is stopped with SIGINT
   * (SIGKILL if that does not work) and the result says `timedOut`.
   */
  async finish(timeoutMs = LIVENESS_MS): Promise<RoleExit> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), timeoutMs);
    });
    try {
      if (await Promise.race([this.exited, late]) !== "late") {
        return await this.exited;
      }
    } finally {
      clearTimeout(timer);
    }
    this.kill("SIGINT");
    const killer = setTimeout(() => this.kill("SIGKILL"), 5000);
    try {
      return { ...await this.exited, timedOut: true };
    } finally {
      clearTimeout(killer);
    }
  }

  /** Kills it with SIGKILL if it still runs, and waits for it. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#running) this.kill("SIGKILL");
    await this.exited;
  }
}

/** Time for a consumer to drain a closed ring after it said so, ms (draining takes microseconds). */
export const DRAIN_MS = 500;

/**
 * How many streams `output` told something of: its lines matching `line`,
 * and with many streams (live's digest, trading_core/_event_digest.ts) the
 * N of each `N more streams FOLDED since the last progress line` line.
 */
export function streamsTelling(
  output: string,
  line: RegExp,
  folded: string,
): number {
  const digest = new RegExp(
    `(\\d[\\d,]*) more streams? ${folded} since the last progress line`,
  );
  let count = 0;
  for (const text of output.split("\n")) {
    const more = digest.exec(text);
    if (more) count += parseCount(more[1]);
    else if (line.test(text)) count++;
  }
  return count;
}

/** Waits until `role` told `count` streams something (see {@linkcode streamsTelling}). */
export function waitForStreams(
  role: RoleProcess,
  count: number,
  told: { line: RegExp; folded: string },
): Promise<void> {
  return until(
    () => streamsTelling(role.output, told.line, told.folded) >= count,
    `${count} streams: ${told.line} (${role.role} pid ${role.pid}):\n${
      role.output.slice(-4000)
    }`,
    { timeoutMs: LIVENESS_MS, pollMs: 20 },
  );
}

/**
 * Stops a `live` that runs until stopped once it has drained the ring its
 * producer closed: waits for "producer closed" (`closed` streams, folded or
 * not), then {@linkcode DRAIN_MS}, then SIGINT; its exit.
 */
export async function finishAfterDrain(
  live: RoleProcess,
  closed = 1,
): Promise<RoleExit> {
  await waitForStreams(live, closed, {
    line: /producer closed/,
    folded: "saw their producer close",
  });
  await new Promise((resolve) => setTimeout(resolve, DRAIN_MS));
  live.kill("SIGINT");
  return await live.finish();
}

/** A count as the roles print it (`"1,234"`) as a number. */
export function parseCount(text: string): number {
  return Number(text.replaceAll(",", ""));
}

/** The trades a `serve` reported in its final line ("stopped after …: N trades"). */
export function publishedTrades(output: string): number {
  const found = output.match(/stopped after [\d.]+s: ([\d,]+) trades/);
  assert.ok(found, `no final "stopped after" line in:\n${output}`);
  return parseCount(found[1]);
}

/** A finished role's stdout and stderr together, for assertion messages. */
export function output(exit: RoleExit): string {
  return `${exit.stdout}${exit.stderr}`;
}

/** Asserts that a role exited by itself with status 0. */
export function assertCleanExit(exit: RoleExit, what: string): void {
  assert.ok(!exit.timedOut, `${what} did not exit by itself:\n${output(exit)}`);
  assert.equal(exit.code, 0, `${what} exited ${exit.code}:\n${output(exit)}`);
}

/**
 * Asserts that a finished `live` exited by itself with the status its summary
 * calls for: 0 when nothing was lost or invalid, else 1 saying so.
 */
export function assertLiveExit(exit: RoleExit, what: string): void {
  assert.ok(!exit.timedOut, `${what} did not exit by itself:\n${output(exit)}`);
  const { lost, invalid } = summaryOf(exit);
  if (lost + invalid === 0) return assertCleanExit(exit, what);
  assert.equal(exit.code, 1, `${what} exited ${exit.code}:\n${output(exit)}`);
  // The text log's ERROR line, or --log-format json's.
  assert.match(
    exit.stderr,
    /(ERROR |"level":"error").*incomplete: .*; exit status 1/,
  );
}

/** The `--summary-json` line of a finished `live`. */
export function summaryOf(exit: RoleExit): LiveSummary {
  const line = exit.stdout.split("\n").findLast((l) => l.startsWith("{"));
  assert.ok(line, `no JSON summary on stdout:\n${output(exit)}`);
  return JSON.parse(line);
}

/** The summary's figures of `symbol` on `exchange` (default binance, the roles' exchange), failing when it has none. */
export function streamOf(
  summary: LiveSummary,
  symbol: string,
  exchange = "binance",
): StreamSummary {
  const figures = summary.exchanges[exchange]?.[symbol];
  assert.ok(
    figures,
    `no ${exchange} ${symbol} in the summary: ${JSON.stringify(summary)}`,
  );
  return figures;
}

/**
 * Every trade of a `--max-trades total` run arrived, once, in order per
 * symbol (on `exchange`, default binance), seqs from 1.
 */
export function assertComplete(
  summary: LiveSummary,
  symbols: readonly string[],
  total: number,
  exchange = "binance",
): void {
  const text = JSON.stringify(summary);
  assert.equal(summary.received, total, text);
  assert.equal(summary.lost, 0, text);
  assert.equal(summary.gaps, 0, text);
  assert.equal(summary.invalid, 0, text);
  let sum = 0;
  for (const symbol of symbols) {
    const figures = streamOf(summary, symbol, exchange);
    assert.ok(figures.received > 0, `${symbol}: ${text}`);
    // seq starts at 1 per symbol, so the last one is the symbol's count.
    assert.equal(figures.lastSeq, figures.received, `${symbol}: ${text}`);
    assert.equal(figures.lost, 0, `${symbol}: ${text}`);
    assert.equal(figures.gaps, 0, `${symbol}: ${text}`);
    assert.equal(figures.invalid, 0, `${symbol}: ${text}`);
    sum += figures.received;
  }
  assert.equal(sum, total, text);
}
