/**
 * Debian's `promtool` and `prometheus` for the monitoring tests
 * (scripts/install_prometheus.sh installs them): finding them, registering
 * a test that runs them or is skipped saying why (a binary or a permission
 * missing, the installer's reason), and running `promtool`.
 *
 * @module
 */

import { join } from "node:path";
import { gatedTest, missingPermissions } from "./_permissions.ts";
import { PROJECT_ROOT } from "./nats_server.ts";

/** The binaries of Debian's `prometheus` package. */
export type PrometheusTool = "promtool" | "prometheus";

/** Finding and running promtool or prometheus, their temp files, and parsing YAML (the yaml package reads LOG_TOKENS and LOG_STREAM). */
export const TOOL_PERMISSIONS: readonly Deno.PermissionDescriptor[] = [
  { name: "run" },
  { name: "read" },
  { name: "write" },
  { name: "env", variable: "PATH" },
  { name: "env", variable: "PROMTOOL_BIN" },
  { name: "env", variable: "PROMETHEUS_BIN" },
  { name: "env", variable: "LOG_TOKENS" },
  { name: "env", variable: "LOG_STREAM" },
];

/** Is `path` an executable file? */
function executable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** `PROMTOOL_BIN` / `PROMETHEUS_BIN` when executable, else `tool` on `PATH`; `undefined` when none. */
export function findTool(tool: PrometheusTool): string | undefined {
  const explicit = Deno.env.get(`${tool.toUpperCase()}_BIN`);
  if (explicit) return executable(explicit) ? explicit : undefined;
  return (Deno.env.get("PATH") ?? "").split(":")
    .map((dir) => join(dir || ".", tool))
    .find(executable);
}

/** Why scripts/install_prometheus.sh last said it could not install (its one line), if it did. */
function installFailure(): string | undefined {
  try {
    const text = Deno.readTextFileSync(
      join(PROJECT_ROOT, ".tools/prometheus.not_installed"),
    ).trim();
    return text === "" ? undefined : text;
  } catch {
    return undefined;
  }
}

/** Why a test that runs `tools` cannot run here (permissions, a binary missing), or `undefined`. */
export function toolSkipReason(
  tools: readonly PrometheusTool[],
  permissions: readonly Deno.PermissionDescriptor[] = [],
): string | undefined {
  const missing = missingPermissions([...TOOL_PERMISSIONS, ...permissions]);
  if (missing.length > 0) return `needs ${missing.join(", ")}`;
  const absent = tools.filter((tool) => findTool(tool) === undefined);
  if (absent.length === 0) return undefined;
  const variable = `${absent[0].toUpperCase()}_BIN`;
  const explicit = Deno.env.get(variable);
  if (explicit) return `${variable}=${explicit} is not an executable file`;
  const why = installFailure();
  return `no ${absent.join(" or ")}: ${
    why === undefined
      ? "bash scripts/install_prometheus.sh installs Debian's prometheus (deno task test runs it)"
      : `scripts/install_prometheus.sh could not install it (${why})`
  }; or set PROMTOOL_BIN and PROMETHEUS_BIN`;
}

/** What a {@linkcode toolTest} runs, and needs besides. */
export interface ToolTestOptions {
  /** The binaries it runs. */
  tools: readonly PrometheusTool[];
  /**
   * Permissions it needs besides {@linkcode TOOL_PERMISSIONS}.
   * @default {[]}
   */
  permissions?: readonly Deno.PermissionDescriptor[];
}

/**
 * Registers a test that runs `options.tools` (and needs
 * `options.permissions` besides): skipped, with the reason in its name, when
 * {@linkcode toolSkipReason} gives one.
 */
export function toolTest(
  name: string,
  fn: (t: Deno.TestContext) => void | Promise<void>,
  options: ToolTestOptions,
): void {
  const permissions = [...TOOL_PERMISSIONS, ...options.permissions ?? []];
  const reason = toolSkipReason(options.tools, permissions);
  if (reason === undefined) gatedTest({ name, permissions, fn });
  else {Deno.test({
      name: `${name} [skipped: ${reason}]`,
      ignore: true,
      fn() {},
    });}
}

/** Runs `tool args…`; its exit code and output (stdout then stderr). */
export async function runTool(
  tool: PrometheusTool,
  args: string[],
): Promise<{ code: number; output: string }> {
  const { code, stdout, stderr } = await new Deno.Command(findTool(tool)!, {
    args,
    cwd: PROJECT_ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code, output: decoder.decode(stdout) + decoder.decode(stderr) };
}
