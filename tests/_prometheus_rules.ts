/**
 * The monitoring profile's committed Prometheus files, read for the tests:
 * prometheus.yml's scrape interval, the rule files and their rules, and the
 * rules made fast for a test run (every range window and `for:` scaled by
 * one factor, derived from the files rather than written twice).
 *
 * @module
 */

import { basename } from "node:path";
import { parse } from "yaml";
import { globFiles, readProjectFile } from "./_compose.ts";
import { durationMs, formatDuration, scaleWindows } from "./_promql.ts";

/** The folder of the Prometheus config, rules and promtool tests. */
export const PROMETHEUS_DIR = "config/prometheus";

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

/** The committed prometheus.yml, parsed. */
export function prometheusYml(): {
  global: Record<string, string>;
  scrape_configs: Record<string, unknown>[];
} {
  return parse(readProjectFile(`${PROMETHEUS_DIR}/prometheus.yml`));
}

/** prometheus.yml's `scrape_interval`, ms. */
export function scrapeIntervalMs(): number {
  return durationMs(prometheusYml().global.scrape_interval);
}

/** The committed rule files, by project path. */
export function ruleFiles(
  read: (path: string) => string = readProjectFile,
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

/** The recording rules of `rules`, name → expression. */
export function recordingRules(rules: readonly Rule[]): Map<string, string> {
  return new Map(
    rules.flatMap((rule) => rule.record ? [[rule.record, rule.expr]] : []),
  );
}

/** The committed rule files with every range window and `for:` multiplied by `factor`, by file name. */
export function scaledRuleFiles(factor: number): Map<string, RuleFile> {
  const scaled = new Map<string, RuleFile>();
  for (const [path, file] of ruleFiles()) {
    for (const group of file.groups) {
      for (const rule of group.rules) {
        rule.expr = scaleWindows(rule.expr, factor);
        if (rule.for !== undefined) {
          rule.for = formatDuration(durationMs(rule.for) * factor);
        }
      }
    }
    scaled.set(basename(path), file);
  }
  return scaled;
}
