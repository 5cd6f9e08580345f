/**
 * Runs a command from the project root, as a user would, and captures its
 * output (colour off, `NATS_URL` cleared unless the caller sets it).
 *
 * @module
 */

import { PROJECT_ROOT } from "./nats_server.ts";

/** Exit code and decoded output of a finished command. */
export interface RunResult {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** Runs `command` with `args` in the project root and waits for it. */
export async function runInProject(
  command: string,
  args: string[],
  options: { env?: Record<string, string> } = {},
): Promise<RunResult> {
  const output = await new Deno.Command(command, {
    args,
    cwd: PROJECT_ROOT,
    env: { NO_COLOR: "1", NATS_URL: "", ...options.env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
