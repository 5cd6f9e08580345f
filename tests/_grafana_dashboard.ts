/**
 * The monitoring profile's Grafana dashboard, read for the tests: its panels
 * (rows flattened) with their queries, units and heatmap options, its
 * template variables' queries, and a query made runnable on a plain
 * Prometheus (Grafana's variables replaced).
 *
 * @module
 */

import { readProjectFile } from "./_compose.ts";

/** The Grafana dashboard the monitoring profile provisions. */
export const DASHBOARD_FILE = "config/grafana/dashboards/marketbus.json";

/** What a panel the NATS-only compose pipeline leaves empty says (its description or its row's title). */
export const EMPTY_UNDER_COMPOSE = /empty under compose/;

/** A query of a panel. */
export interface PanelTarget {
  /** Its refId (`A`, `B`, …). */
  refId: string;
  /** Its PromQL. */
  expr: string;
  /** `heatmap`, `table`, or absent (time series). */
  format?: string;
  /** Its legend. */
  legendFormat?: string;
  /** The unit its values are shown in: an override by its refId, else the panel's. */
  unit?: string;
}

/** A panel of the dashboard with the row it sits in and its queries. */
export interface Panel {
  /** `timeseries`, `stat`, `heatmap`, `table`, … */
  type: string;
  /** Its title. */
  title: string;
  /** Its description (shown on hover). */
  description: string;
  /** The title of the row above it ("" before any row). */
  row: string;
  /** Its queries. */
  targets: PanelTarget[];
  /** The PromQL of its targets. */
  exprs: string[];
  /** A heatmap's `calculate` (false: the buckets are Prometheus's). */
  calculate?: boolean;
  /** A heatmap's y axis unit. */
  yUnit?: string;
}

interface RawOverride {
  matcher?: { id?: string; options?: string };
  properties?: { id?: string; value?: unknown }[];
}

interface RawPanel {
  type: string;
  title?: string;
  description?: string;
  targets?: {
    refId?: string;
    expr?: string;
    format?: string;
    legendFormat?: string;
  }[];
  fieldConfig?: {
    defaults?: { unit?: string };
    overrides?: RawOverride[];
  };
  options?: { calculate?: boolean; yAxis?: { unit?: string } };
  panels?: RawPanel[];
}

/** A dashboard JSON, parsed (the keys the tests read). */
export interface Dashboard {
  /** Its panels and rows. */
  panels: RawPanel[];
  /** Its template variables. */
  templating?: { list: { query?: { query?: string } }[] };
}

/** The committed dashboard, parsed; `text` instead of the file (a mutated copy). */
export function readDashboard(text?: string): Dashboard {
  return JSON.parse(text ?? readProjectFile(DASHBOARD_FILE));
}

/** The unit an override gives the target `refId` (by Grafana's `byFrameRefID`). */
function overriddenUnit(raw: RawPanel, refId: string): string | undefined {
  const override = (raw.fieldConfig?.overrides ?? []).find((o) =>
    o.matcher?.id === "byFrameRefID" && o.matcher.options === refId
  );
  const unit = override?.properties?.find((p) => p.id === "unit")?.value;
  return typeof unit === "string" ? unit : undefined;
}

/** The panels of a dashboard JSON (rows flattened), in order. */
export function dashboardPanels(dashboard: Dashboard): Panel[] {
  const panels: Panel[] = [];
  let row = "";
  const visit = (raw: RawPanel) => {
    if (raw.type === "row") {
      row = raw.title ?? "";
      for (const inner of raw.panels ?? []) visit(inner);
      return;
    }
    const targets = (raw.targets ?? []).flatMap((t): PanelTarget[] =>
      t.expr
        ? [{
          refId: t.refId ?? "",
          expr: t.expr,
          format: t.format,
          legendFormat: t.legendFormat,
          unit: overriddenUnit(raw, t.refId ?? "") ??
            raw.fieldConfig?.defaults?.unit,
        }]
        : []
    );
    panels.push({
      type: raw.type,
      title: raw.title ?? "",
      description: raw.description ?? "",
      row,
      targets,
      exprs: targets.map((t) => t.expr),
      calculate: raw.options?.calculate,
      yUnit: raw.options?.yAxis?.unit,
    });
  };
  for (const raw of dashboard.panels) visit(raw);
  return panels;
}

/** Does `panel` say the NATS-only compose pipeline leaves it empty? */
export function emptyUnderCompose(panel: Panel): boolean {
  return EMPTY_UNDER_COMPOSE.test(`${panel.row} ${panel.description}`);
}

/** The PromQL of the dashboard's template variables (`label_values(EXPR, label)` → EXPR). */
export function templateExprs(dashboard: Dashboard): string[] {
  return (dashboard.templating?.list ?? []).flatMap((variable) => {
    const query = variable.query?.query ?? "";
    const match = /^label_values\((.*),\s*\w+\)$/.exec(query.trim());
    return match ? [match[1]] : query ? [query] : [];
  });
}

/**
 * A dashboard query made runnable on Prometheus: every value of its
 * variables, and `$__rate_interval` as Grafana makes it for
 * `scrapeIntervalMs` (4 scrape intervals at least).
 */
export function runnable(expr: string, scrapeIntervalMs: number): string {
  return expr
    .replaceAll("$__rate_interval", `${(4 * scrapeIntervalMs) / 1000}s`)
    .replaceAll("$pipeline", ".*")
    .replaceAll("$symbol", ".*");
}
