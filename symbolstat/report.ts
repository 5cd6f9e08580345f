/**
 * What `deno task symbols` prints: the registry's entries as a table or as
 * one JSON document.
 *
 * @module
 */

import { entryStatus, type StoredEntry } from "../common/registry/mod.ts";

/** One row: an entry and how it looks now. */
export interface SymbolRow {
  /** The registry key. */
  key: string;
  /** The entry. */
  stored: StoredEntry;
}

/** What the report says. */
export interface SymbolsReport {
  /** The bucket. */
  bucket: string;
  /** The servers asked. */
  servers: readonly string[];
  /** The entries, in key order. */
  rows: readonly SymbolRow[];
  /** When it was read, ms since the Unix epoch. */
  now: number;
}

/** A row's state: `alive`, `expired` or `stopped`, each after `standby` for a standby's entry (`standby` alone while alive). */
function stateOf(row: SymbolRow, now: number): string {
  const status = entryStatus(row.stored, now);
  if (!row.key.endsWith(".standby")) return status;
  return status === "alive" ? "standby" : `standby ${status}`;
}

/** The report as one JSON document. */
export function formatJson(report: SymbolsReport): string {
  return JSON.stringify({
    bucket: report.bucket,
    servers: report.servers,
    entries: report.rows.map((row) => ({
      key: row.key,
      status: entryStatus(row.stored, report.now),
      heartbeatAgeMs: report.now - row.stored.storedAt,
      revision: row.stored.revision,
      ...row.stored.entry,
      startedAt: new Date(row.stored.entry.startedAt).toISOString(),
      heartbeatAt: new Date(row.stored.entry.heartbeatAt).toISOString(),
    })),
  });
}

const COLUMNS = [
  "SYMBOL",
  "STATE",
  "PUBLISHER",
  "SINCE",
  "HEARTBEAT",
  "RATE",
  "RING",
  "EPOCH",
  "SOURCE",
];

/** The report as an aligned table, or a line saying the registry is empty. */
export function formatText(report: SymbolsReport): string {
  const title = `registry ${report.bucket} on ${report.servers.join(",")}`;
  if (report.rows.length === 0) return `${title}: no symbol registered`;
  const lines = report.rows.map(({ key, stored }) => {
    const { entry } = stored;
    const age = (report.now - stored.storedAt) / 1000;
    return [
      `${entry.prefix} ${entry.exchange} ${entry.symbol}`,
      stateOf({ key, stored }, report.now),
      `${entry.host} pid ${entry.pid}`,
      new Date(entry.startedAt).toISOString(),
      `${age.toFixed(1)} s ago`,
      `${entry.rate}/s`,
      entry.ring ?? "-",
      entry.epoch === undefined ? "-" : entry.epoch.toString(16),
      entry.source,
    ];
  });
  const widths = COLUMNS.map((column, i) =>
    Math.max(column.length, ...lines.map((line) => line[i].length))
  );
  const format = (cells: readonly string[]) =>
    cells.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd();
  return [
    `${title}: ${report.rows.length} entr${
      report.rows.length === 1 ? "y" : "ies"
    }`,
    format(COLUMNS),
    ...lines.map(format),
  ].join("\n");
}
