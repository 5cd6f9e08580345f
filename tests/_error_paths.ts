/**
 * The machinery of tests/error_paths_test.ts: what an error path is, the
 * files a case's setup writes into its config's directory, and the runner
 * that starts the role with its task's permissions, a few at a time, and
 * checks how it ended.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  NO_NATS_ENV,
  type Role,
  roleArgs,
  type RoleConfig,
  roleConfig,
} from "./_ipc_roles.ts";
import { PROJECT_ROOT } from "./nats_server.ts";

/** Symbols of every case's config. */
export const SYMBOLS = ["BTCUSDT", "ETHUSDT"];
/** Processes run at once: the machine has 2 cores, and other tests run too. */
export const POOL_SIZE = 2;
/** A case still running after this is stopped (SIGKILL) and fails. */
export const CASE_MS = 20_000;
/** A never-routable address (TEST-NET-1, RFC 5737), outside both tasks' --allow-net. */
export const FORBIDDEN_NATS = "nats://192.0.2.1:4222";
/** A loopback port nothing listens on (discard). */
export const CLOSED_NATS = "nats://127.0.0.1:9";

/** What a case's setup hands the runner. */
export interface Setup {
  /** Extra flags (after the task's `--config`). */
  args: string[];
  /** Replaces the task's `--config` file. */
  config?: string;
  /** Environment variables besides `NO_COLOR` (and the NATS variables, empty unless set here). */
  env?: Record<string, string>;
  /** Runs while the role runs (e.g. feeds it garbage). */
  during?: (output: () => string) => Promise<void>;
  /** Clean-up after the role ended. */
  dispose?: () => Promise<void> | void;
}

/** One error path: a role, what it meets, and how it must end. */
export interface ErrorPath {
  /** What the case is, for the step's name. */
  what: string;
  /** Which role runs. */
  role: Role;
  /** Extra flags, or a setup writing files into the config's directory. */
  args: string[] | ((config: RoleConfig) => Promise<Setup> | Setup);
  /** Expected exit status. */
  code: 0 | 1 | 2;
  /** The error line (on stderr): what is wrong and where. */
  error: RegExp;
  /** A role that goes on by design gets SIGINT once its output matches this. */
  interruptAt?: RegExp;
  /** Grant write access to the config's directory too. */
  writable?: boolean;
}

/** How a case's process ended. */
export interface CaseRun {
  code: number;
  stdout: string;
  stderr: string;
  killed: boolean;
  /** Ring segments left under the case's prefix. */
  leftover: string[];
}

/** Writes `content` to `name` in the config's directory and returns its path. */
export async function file(
  config: RoleConfig,
  name: string,
  content: string | Uint8Array,
): Promise<string> {
  const path = join(config.dir, name);
  if (typeof content === "string") await Deno.writeTextFile(path, content);
  else await Deno.writeFile(path, content);
  return path;
}

/** Copies `tests/fixtures/replay/<name>` into the config's directory. */
export async function fixture(
  config: RoleConfig,
  name: string,
): Promise<string> {
  const path = join(config.dir, name);
  await Deno.copyFile(
    new URL(`./fixtures/replay/${name}`, import.meta.url),
    path,
  );
  return path;
}

/** Replaces the config file's content. */
export function configText(
  text: string,
): (config: RoleConfig) => Promise<Setup> {
  return async (config) => {
    await Deno.writeTextFile(config.path, text);
    return { args: [] };
  };
}

/** `serve --source replay` of a file the setup writes. */
export function replay(
  make: (config: RoleConfig) => Promise<string>,
  extra: string[] = [],
): (config: RoleConfig) => Promise<Setup> {
  return async (config) => ({
    args: ["--source", "replay", "--file", await make(config), ...extra],
  });
}

/** `live --strategy` of a module with this source. */
export function strategy(
  source: string,
): (config: RoleConfig) => Promise<Setup> {
  return async (config) => ({
    args: ["--strategy", await file(config, "strategy.ts", source)],
  });
}

/** A listener on a free loopback port, so the role's metrics endpoint finds it busy. */
export function busyPort(): Setup {
  return busyPortFor("--metrics-port");
}

/** `flag` set to a loopback port something else listens on (closed by `dispose`). */
export function busyPortFor(flag: string): Setup {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return {
    args: [flag, String(listener.addr.port)],
    dispose: () => listener.close(),
  };
}

/** One good row of a Binance trades CSV. */
export const CSV_ROW =
  "3355546431,42283.58000000,0.00120000,50.74029600,1704067200000,True,True\n";

/** `text` as a literal inside a RegExp. */
export function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** Runs `fn` over `items`, at most `size` at a time; results in order. */
export async function inPool<T, R>(
  items: readonly T[],
  size: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]);
    }
  };
  await Promise.all(Array.from({ length: size }, worker));
  return results;
}

async function readAll(
  stream: ReadableStream<Uint8Array>,
  append: (text: string) => void,
): Promise<void> {
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    append(text);
  }
}

/** Runs one case's role to its end (interrupting or killing it if need be). */
export async function runCase(path: ErrorPath): Promise<CaseRun> {
  await using config = await roleConfig({ symbols: SYMBOLS });
  const setup = typeof path.args === "function"
    ? await path.args(config)
    : { args: path.args };
  try {
    const [run, ...rest] = roleArgs(path.role, config);
    if (setup.config !== undefined) {
      rest[rest.indexOf("--config") + 1] = setup.config;
    }
    const grants = ["--no-prompt"];
    if (path.writable) grants.push(`--allow-write=${config.dir}`);
    const child = new Deno.Command(Deno.execPath(), {
      args: [run, ...grants, ...rest, ...setup.args],
      cwd: PROJECT_ROOT,
      env: { NO_COLOR: "1", ...NO_NATS_ENV, ...setup.env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let stdout = "";
    let stderr = "";
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill("SIGKILL");
    }, CASE_MS);
    const output = () => `${stdout}${stderr}`;
    let interrupted = false;
    const watch = (text: string) => {
      if (interrupted || path.interruptAt === undefined) return;
      if (path.interruptAt.test(output() + text)) {
        interrupted = true;
        try {
          child.kill("SIGINT");
        } catch {
          // already exited
        }
      }
    };
    const reading = Promise.all([
      readAll(child.stdout, (text) => {
        watch(text);
        stdout += text;
      }),
      readAll(child.stderr, (text) => {
        watch(text);
        stderr += text;
      }),
    ]);
    const during = setup.during?.(output).catch((error) => {
      stderr += `\n(test setup failed: ${error})`;
    });
    const status = await child.status;
    clearTimeout(timer);
    await reading;
    await during;
    return {
      code: status.code,
      stdout,
      stderr,
      killed,
      leftover: config.existing(),
    };
  } finally {
    await setup.dispose?.();
  }
}

/**
 * Asserts that a case ended as it must: by itself, with its status, its error
 * line on stderr, no stack frame or "Uncaught" anywhere, and no ring left.
 */
export function check(path: ErrorPath, run: CaseRun): void {
  const text = `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
  assert.ok(!run.killed, `still running after ${CASE_MS} ms:\n${text}`);
  assert.equal(run.code, path.code, `exit status; ${text}`);
  const line = run.stderr.split("\n").find((l) => path.error.test(l));
  assert.ok(line, `no stderr line matches ${path.error}; ${text}`);
  for (
    const [name, stream] of [["stdout", run.stdout], ["stderr", run.stderr]]
  ) {
    assert.doesNotMatch(stream, /^ {4}at /m, `stack frame on ${name}; ${text}`);
    assert.doesNotMatch(
      stream,
      /error: Uncaught/,
      `uncaught on ${name}; ${text}`,
    );
  }
  assert.deepEqual(run.leftover, [], `rings left behind; ${text}`);
}
