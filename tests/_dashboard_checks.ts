/**
 * What the dashboard's panels must be for Grafana to draw them right, checked
 * from the JSON and the recording rules: a heatmap is fed Prometheus's own
 * buckets (`format: "heatmap"`, summed `by (le)`, `calculate: false`) on a y
 * axis in the histogram's unit; every other query is shown in the unit its
 * metric's name says (`_seconds` → `s`, `_bytes` → `bytes`, `_ratio` or one
 * count over another → `percentunit`, a rate → `ops`, seconds a second →
 * `percentunit`, counts → `short`).
 *
 * @module
 */

import type { Panel, PanelTarget } from "./_grafana_dashboard.ts";
import { expandRules, PROMETHEUS_OWN, promqlNames } from "./_promql.ts";

/** The Grafana unit of a metric (a gauge, or a histogram's base name) by its name's unit suffix. */
export function suffixUnit(name: string): string | undefined {
  if (name.endsWith("_info")) return undefined; // labels, not a quantity
  if (name.endsWith("_seconds")) return "s";
  if (name.endsWith("_bytes")) return "bytes";
  if (name.endsWith("_ratio")) return "percentunit";
  return "short";
}

/** `expr` without its string literals and label matchers. */
function bare(expr: string): string {
  return expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\{[^}]*\}/g, "");
}

/**
 * The unit a query's values are in, from what it computes (recording rules
 * expanded) and its metrics' names; `undefined` when it has none (an info
 * metric shown as a table).
 */
export function expectedUnit(
  expr: string,
  recorded: ReadonlyMap<string, string>,
): string | undefined {
  const text = bare(expandRules(expr, recorded));
  const names = promqlNames(text).filter((name) => !PROMETHEUS_OWN.has(name));
  if (names.length === 0) return "short"; // targets up, alerts firing
  if (/\bhistogram_quantile\s*\(/.test(text)) {
    return suffixUnit(names[0].replace(/_bucket$/, ""));
  }
  if (/\b(i?rate)\s*\(/.test(text)) {
    return names.every((name) => name.endsWith("_seconds_total"))
      ? "percentunit" // seconds a second: a share of the time
      : "ops";
  }
  if (/\bincrease\s*\(/.test(text)) return "short";
  const units = new Set(names.map(suffixUnit));
  if (/\s\/\s/.test(text) && names.length === 2) {
    const [a, b] = names.map((name) => name.split("_").at(-1));
    if (a === b) return "percentunit"; // e.g. lag trades over capacity trades
  }
  return units.size === 1 ? [...units][0] : `one of ${[...units].join(", ")}`;
}

/** What is wrong with heatmap `panel`'s queries and axis. */
function heatmapProblems(
  panel: Panel,
  recorded: ReadonlyMap<string, string>,
): string[] {
  const problems: string[] = [];
  if (panel.calculate !== false) {
    problems.push("calculate is not false (Grafana would bucket the rates)");
  }
  for (const target of panel.targets) {
    if (target.format !== "heatmap") {
      problems.push(`${target.refId}: format is not "heatmap"`);
    }
    const by = /\bby\s*\(([^)]*)\)/.exec(target.expr)?.[1].split(",")
      .map((label) => label.trim());
    if (!by?.includes("le")) {
      problems.push(`${target.refId}: not summed by (le): ${target.expr}`);
    }
    const buckets = promqlNames(expandRules(target.expr, recorded))
      .filter((name) => name.endsWith("_bucket"));
    if (buckets.length !== 1) {
      problems.push(`${target.refId}: reads no one histogram: ${buckets}`);
      continue;
    }
    const unit = suffixUnit(buckets[0].replace(/_bucket$/, ""));
    if (panel.yUnit !== unit) {
      problems.push(`y axis in ${panel.yUnit}, the buckets in ${unit}`);
    }
  }
  return problems;
}

/** What is wrong with `target`'s unit. */
function unitProblem(
  target: PanelTarget,
  recorded: ReadonlyMap<string, string>,
): string | undefined {
  const unit = expectedUnit(target.expr, recorded);
  if (unit === undefined || unit === target.unit) return undefined;
  return `${target.refId} shown in ${target.unit}, computes ${unit}: ${target.expr}`;
}

/** What is wrong with the panels' heatmaps and units, one line each, naming the panel. */
export function dashboardProblems(
  panels: readonly Panel[],
  recorded: ReadonlyMap<string, string>,
): string[] {
  return panels.flatMap((panel) => {
    const problems = panel.type === "heatmap"
      ? heatmapProblems(panel, recorded)
      : panel.type === "table"
      ? []
      : panel.targets.flatMap((t) => unitProblem(t, recorded) ?? []);
    return problems.map((problem) => `"${panel.title}": ${problem}`);
  });
}
