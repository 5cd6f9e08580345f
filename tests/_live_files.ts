/**
 * `live` writing files (`--record`, `--bars-out`) as a process run to its
 * end: the task's permissions plus access to the files, optionally inside a
 * wrapper command (e.g. `unshare … sh -c …` for a private tmpfs).
 *
 * @module
 */

import { PROJECT_ROOT } from "./nats_server.ts";
import {
  NO_NATS_ENV,
  roleArgs,
  type RoleConfig,
  type RoleExit,
} from "./_ipc_roles.ts";

/** Options of {@linkcode runLive}. */
export interface RunLiveOptions {
  /** Flags after the task's own. */
  args: string[];
  /** Paths added as `--allow-write=…` (default none: the task's own). */
  writable?: string[];
  /** Paths added to the task's `--allow-read` (default none). */
  readable?: string[];
  /** A command and its arguments that run `deno` and its arguments, appended to them (default: none, deno itself). */
  wrapper?: string[];
  /** Longest run before it is killed, ms (default 60 s). */
  timeoutMs?: number;
}

/** Runs `live` with `config` until it exits, and returns how it ended and what it printed. */
export async function runLive(
  config: RoleConfig,
  options: RunLiveOptions,
): Promise<RoleExit> {
  const [run, ...rest] = roleArgs("live", config).map((arg) =>
    arg.startsWith("--allow-read=") && options.readable?.length
      ? `${arg},${options.readable.join(",")}`
      : arg
  );
  const writable = options.writable?.length
    ? [`--allow-write=${options.writable.join(",")}`]
    : [];
  const deno = [Deno.execPath(), run, ...writable, ...rest, ...options.args];
  const [command, ...args] = [...(options.wrapper ?? []), ...deno];
  const result = await new Deno.Command(command, {
    args,
    cwd: PROJECT_ROOT,
    env: { NO_COLOR: "1", ...NO_NATS_ENV },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(options.timeoutMs ?? 60_000),
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return {
    code: result.code,
    signal: result.signal,
    stdout: decode(result.stdout),
    stderr: decode(result.stderr),
    exitedAt: performance.now(),
    timedOut: result.signal !== null,
  };
}
