/**
 * What the monitoring tests share: finding Debian's `promtool` and
 * `prometheus` (scripts/install_prometheus.sh installs them) and skipping,
 * with the reason, where they or the permissions are missing; the committed
 * rules and dashboard, read; the metric names a PromQL expression uses
 * (recording rules resolved to their expressions); durations and the range
 * windows of expressions, parsed and scaled.
 *
 * @module
 */

import { join } from "node:path";
import { parse } from "yaml";
import { gatedTest, missingPermissions } from "./_permissions.ts";
import { globFiles } from "./_compose_monitoring.ts";
import { PROJECT_ROOT } from "./nats_server.ts";

/** The folder of the Prometheus config, rules and promtool tests. */
export const PROMETHEUS_DIR = "config/prometheus";
/** The Grafana dashboard the monitoring profile provisions. */
export const DASHBOARD_FILE = "config/grafana/dashboards/marketbus.json";

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

// ------------------------------------------------------------- the rules

/** A rule of a rule file (the keys the project uses). */
export interface Rule {
  /** Alert name (alerting rules). */
  alert?: string;
  /** Series name (recording rules). */
  record?: string;
  /** The PromQL expression. */
  expr: string;
  /** How long the condition holds before the alert fires. */
  for?: string;
  /** Labels added. */
  labels?: Record<string, string>;
  /** Annotations (alerts). */
  annotations?: Record<string, string>;
}

/** A rule file, parsed. */
export interface RuleFile {
  /** Groups of rules. */
  groups: { name: string; interval?: string; rules: Rule[] }[];
}

/** The committed rule files, by project path. */
export function ruleFiles(
  read: (path: string) => string = readProject,
): Map<string, RuleFile> {
  return new Map(
    globFiles(`${PROMETHEUS_DIR}/rules/*.yml`).map((
      file,
    ) => [file, parse(read(file)) as RuleFile]),
  );
}

/** Every rule of `files`. */
export function allRules(files: Map<string, RuleFile>): Rule[] {
  return [...files.values()].flatMap((file) =>
    file.groups.flatMap((group) => group.rules)
  );
}

/** Reads a project file. */
export function readProject(path: string): string {
  return Deno.readTextFileSync(join(PROJECT_ROOT, path));
}

// ---------------------------------------------------------- the dashboard

/** A panel of the dashboard with the row it sits in and its queries. */
export interface Panel {
  /** Its title. */
  title: string;
  /** Its description (shown on hover). */
  description: string;
  /** The title of the row above it ("" before any row). */
  row: string;
  /** The PromQL of its targets. */
  exprs: string[];
}

interface RawPanel {
  type: string;
  title?: string;
  description?: string;
  targets?: { expr?: string }[];
  panels?: RawPanel[];
}

/** The panels of a dashboard JSON (rows flattened), in order. */
export function dashboardPanels(dashboard: { panels: RawPanel[] }): Panel[] {
  const panels: Panel[] = [];
  let row = "";
  const visit = (raw: RawPanel) => {
    if (raw.type === "row") {
      row = raw.title ?? "";
      for (const inner of raw.panels ?? []) visit(inner);
      return;
    }
    panels.push({
      title: raw.title ?? "",
      description: raw.description ?? "",
      row,
      exprs: (raw.targets ?? []).flatMap((t) => t.expr ? [t.expr] : []),
    });
  };
  for (const raw of dashboard.panels) visit(raw);
  return panels;
}

/** The PromQL of the dashboard's template variables (`label_values(EXPR, label)` → EXPR). */
export function templateExprs(
  dashboard: { templating?: { list: { query?: { query?: string } }[] } },
): string[] {
  return (dashboard.templating?.list ?? []).flatMap((variable) => {
    const query = variable.query?.query ?? "";
    const match = /^label_values\((.*),\s*\w+\)$/.exec(query.trim());
    return match ? [match[1]] : query ? [query] : [];
  });
}

// ------------------------------------------------------------------ PromQL

const KEYWORDS = new Set([
  "and",
  "or",
  "unless",
  "bool",
  "inf",
  "nan",
  "Inf",
  "NaN",
]);

/**
 * The metric names (and recording-rule names) an expression selects:
 * identifiers outside strings, label matchers, ranges and grouping clauses
 * that are not functions, aggregations or keywords.
 */
export function promqlNames(expr: string): string[] {
  const text = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(
      /\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g,
      " ",
    )
    .replace(/\boffset\s+-?[\w.]+/g, " ");
  const names = new Set<string>();
  for (
    const match of text.matchAll(/(?<![\w:.$])([a-zA-Z_:][\w:]*)(\s*\()?/g)
  ) {
    if (match[2] === undefined && !KEYWORDS.has(match[1])) names.add(match[1]);
  }
  return [...names].sort();
}

/**
 * The names `expr` uses, with every recording rule of `recorded` replaced by
 * the names of its own expression (recursively).
 */
export function resolvedNames(
  expr: string,
  recorded: ReadonlyMap<string, string>,
): string[] {
  const names = new Set<string>();
  const visit = (text: string, seen: Set<string>) => {
    for (const name of promqlNames(text)) {
      const inner = recorded.get(name);
      if (inner === undefined) names.add(name);
      else if (!seen.has(name)) visit(inner, new Set([...seen, name]));
    }
  };
  visit(expr, new Set());
  return [...names].sort();
}

/** The recording rules of `rules`, name → expression. */
export function recordingRules(rules: readonly Rule[]): Map<string, string> {
  return new Map(
    rules.flatMap((rule) => rule.record ? [[rule.record, rule.expr]] : []),
  );
}

const UNITS_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};

/** A Prometheus duration (`5s`, `1m30s`, `500ms`) in ms; throws a RangeError naming it otherwise. */
export function durationMs(text: string): number {
  const parts = [...text.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) {
    throw new RangeError(
      `Invalid duration "${text}": expected e.g. "30s", "1m30s", "500ms"`,
    );
  }
  return parts.reduce((ms, [, n, unit]) => ms + Number(n) * UNITS_MS[unit], 0);
}

/** `ms` as a Prometheus duration (whole seconds when it is one). */
export function formatDuration(ms: number): string {
  const whole = Math.round(ms);
  return whole % 1000 === 0 ? `${whole / 1000}s` : `${whole}ms`;
}

/** The range windows of `expr` (`[1m]`, a subquery's range), as written. */
export function rangeWindows(expr: string): string[] {
  return [...expr.matchAll(/\[([^\]:]+)(?::[^\]]*)?\]/g)].map((m) =>
    m[1].trim()
  );
}

/** `expr` with every range window that is a duration multiplied by `factor`. */
export function scaleWindows(expr: string, factor: number): string {
  return expr.replace(
    /\[([^\]:$]+)((?::[^\]]*)?)\]/g,
    (_, range: string, rest: string) =>
      `[${formatDuration(durationMs(range.trim()) * factor)}${rest}]`,
  );
}
