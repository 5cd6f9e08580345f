/**
 * What `deno task rings` prints: a table per ring, or one JSON document.
 *
 * @module
 */

import type {
  ReaderStatus,
  RingActivity,
  RingSnapshot,
  SegmentStatus,
} from "../common/ipc/ring_status.ts";
import { formatCount } from "../common/runtime/format.ts";

/** One segment as looked at: its last snapshot and, after two looks, how it moved. */
export interface RingLook {
  /** The last snapshot. */
  status: SegmentStatus;
  /** Since the look before (undefined after one look, or for another incarnation). */
  activity?: RingActivity;
}

/** Everything one run (or one `--watch` round) saw. */
export interface RingsReport {
  /** The prefixes looked under. */
  prefixes: readonly string[];
  /** Time between the two looks, ms; null with `--once`. */
  intervalMs: number | null;
  /** The segments found, in name order. */
  rings: readonly RingLook[];
}

/** "no rings under /marketbus_" (or under several prefixes). */
export function noRings(prefixes: readonly string[]): string {
  return `no rings under ${prefixes.join(" or ")}`;
}

/** A duration for people: `40 ms`, `2.1 s`, `3 min`, `2.0 h`. */
export function formatAge(ms: number): string {
  if (ms < 999.5) return `${Math.round(ms)} ms`;
  if (ms < 59_950) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** Columns left-aligned to their widest cell, two spaces apart, each row indented by two. */
function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0].map((_, column) =>
    Math.max(...rows.map((row) => row[column].length))
  );
  return rows.map((row) =>
    "  " +
    row.map((cell, column) =>
      column === row.length - 1 ? cell : cell.padEnd(widths[column])
    ).join("  ")
  );
}

/**
 * The producer as one word: dead (no such pid), silent (the pid exists, the
 * ring is open, yet its heartbeat did not move for two periods between the
 * looks), else alive.
 */
function producerWord(ring: RingSnapshot, activity?: RingActivity): string {
  if (!ring.producerAlive) return "dead";
  const silent = activity !== undefined && !activity.heartbeatMoved &&
    ring.state === "open" &&
    activity.elapsedMs >= 2 * ring.heartbeatIntervalMs;
  return silent ? "silent" : "alive";
}

/** The first line of a ring: producer, state, epoch, capacity, written, rate, and the gate's totals when not zero. */
function ringLine(ring: RingSnapshot, activity?: RingActivity): string {
  const parts = [
    ring.name,
    `producer ${ring.pid} ${producerWord(ring, activity)}`,
    ring.state,
    `epoch ${(ring.epoch >>> 0).toString(16).padStart(8, "0")}`,
    `cap ${formatCount(ring.capacity)}`,
    `written ${formatCount(ring.writePosition)}`,
  ];
  if (activity !== undefined) {
    parts.push(`${formatCount(Math.max(0, activity.ratePerSecond))}/s`);
  }
  if (ring.tethered > 0) parts.push(`tethered ${ring.tethered}`);
  if (ring.evictions > 0) parts.push(`evictions ${ring.evictions}`);
  if (ring.stalledMs > 0) parts.push(`stalled ${formatAge(ring.stalledMs)}`);
  return parts.join("  ");
}

function readerRow(reader: ReaderStatus): string[] {
  const heartbeat = `${formatAge(reader.heartbeatAgeMs)} ago${
    reader.alive ? "" : " (pid gone)"
  }`;
  const evictions = reader.lastEviction === null
    ? `${reader.evictions}`
    : `${reader.evictions} (${reader.lastEviction})`;
  return [
    reader.idHex,
    `${reader.pid}`,
    reader.policy,
    formatCount(reader.position),
    `${formatCount(reader.lag)} (${reader.lagPercent.toFixed(1)}%)`,
    heartbeat,
    evictions,
  ];
}

const READER_HEADINGS = [
  "reader",
  "pid",
  "policy",
  "position",
  "lag",
  "heartbeat",
  "evictions",
];

/** The lines of one segment: its ring line and reader table, or its problem. */
function segmentLines(look: RingLook): string[] {
  const { status } = look;
  if (status.kind === "unreadable") {
    return [`${status.name}  ${status.problem}`];
  }
  const lines = [ringLine(status, look.activity)];
  if (status.layout === 1) {
    lines.push("  layout 1 (older marketbus): no reader table");
  } else if (status.readers.length === 0) {
    lines.push("  no registered readers");
  } else {
    lines.push(...table([READER_HEADINGS, ...status.readers.map(readerRow)]));
  }
  return lines;
}

/** The report as text: every segment's lines, or that there are none. */
export function formatText(report: RingsReport): string {
  if (report.rings.length === 0) return noRings(report.prefixes);
  return report.rings.flatMap(segmentLines).join("\n");
}

/** A ring in the JSON document: its snapshot (without the process-local time) and how it moved. */
function jsonRing(look: RingLook): Record<string, unknown> {
  const { status, activity } = look;
  if (status.kind === "unreadable") return { ...status };
  const { takenAtMs: _, ...ring } = status;
  return {
    ...ring,
    ratePerSecond: activity?.ratePerSecond ?? null,
    heartbeatMoved: activity?.heartbeatMoved ?? null,
  };
}

/** The report as one JSON document: `{prefixes, intervalMs, rings}`; indented unless `compact`. */
export function formatJson(
  report: RingsReport,
  options: { compact?: boolean } = {},
): string {
  const document = {
    prefixes: report.prefixes,
    intervalMs: report.intervalMs,
    rings: report.rings.map(jsonRing),
  };
  return JSON.stringify(document, null, options.compact ? undefined : 2);
}
