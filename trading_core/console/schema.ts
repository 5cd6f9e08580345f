/**
 * The JSON of the console's Server-Sent Events on `/events`, as types: a
 * `snapshot` event first, then `update` events (docs/console.md says the
 * same in prose). Every event is one `data:` line of JSON. Arrays stand for
 * rows to keep the events small; their positions are fixed by version 1.
 *
 * @module
 */

import type { Candle } from "./candles.ts";
import type { TableTotals } from "./table.ts";
import type { TransportView } from "./transport.ts";

export type { Candle, TableTotals, TransportView };

/** The version of this schema, in {@linkcode ConsoleMeta.version}. */
export const SCHEMA_VERSION = 1;

/** What a snapshot tells about the console itself. */
export interface ConsoleMeta {
  /** {@linkcode SCHEMA_VERSION}. */
  version: number;
  /** The intervals charted, in order (`?interval=` picks one). */
  intervals: string[];
  /** Updates pushed per second at most. */
  updates_per_second: number;
  /** `"live"`: the bars `live` builds (a strategy or `--bars-out`); `"console"`: the console's own. */
  bars: "live" | "console";
}

/** A stream of the table: `[index, exchange, symbol]`. */
export type StreamName = [number, string, string];

/**
 * A row of the table: `[index, trades, rate, last, lost, gaps, lag, p50,
 * p99, state, caught_up]` (`ROW_FIELDS` after the index). null: unknown
 * (no rate before a second tick, no price before a trade, no latency
 * sample, no lost/lag row from the feed yet, no catch-up). p50 and p99 in
 * ns; rate in trades per second over the last second.
 */
export type StreamRow = [
  index: number,
  trades: number,
  rate: number | null,
  last: number | null,
  lost: number | null,
  gaps: number,
  lag: number | null,
  p50: number | null,
  p99: number | null,
  state: string,
  caught_up: boolean | null,
];

/** The table part: in a snapshot every stream and row; in an update those new or changed since the last. */
export interface TablePart {
  /** Streams (new ones, in an update). */
  streams: StreamName[];
  /** Rows (changed ones, in an update). */
  rows: StreamRow[];
  /** Totals over every stream (null in a snapshot before any tick). */
  totals: TableTotals | null;
}

/**
 * A tape entry: `[id, seq, tsEventMs, price, size, side]`; `id` numbers the
 * stream's entries (never repeats), side 1 buy, 2 sell, 0 unknown.
 */
export type TapeEntry = [number, number, number, number, number, number];

/** The chart part of the stream a client charts. */
export interface ChartPart {
  /** The exchange charted (null: no stream yet). */
  exchange: string | null;
  /** The symbol charted (null: no stream yet). */
  symbol: string | null;
  /** The interval charted. */
  interval: string;
  /** Whether this part replaces what the client has (else it adds to it). */
  full: boolean;
  /** Closed bars, oldest first: whole, or closed since the last update. */
  bars: Candle[];
  /** The open bar as it stands, null before the stream's first trade. */
  open: Candle | null;
  /** Tape entries, oldest first (at most 50): whole, or new since the last update. */
  tape: TapeEntry[];
  /** Why the chart is empty, when it is for a reason the page should say; else null. */
  note: string | null;
}

/** The `snapshot` event: a client's first. */
export interface SnapshotEvent {
  /** The console itself. */
  meta: ConsoleMeta;
  /** The whole table. */
  table: TablePart;
  /** The chart asked for, whole. */
  chart: ChartPart;
  /** The transport view (null until first read). */
  transport: TransportView | null;
}

/** An `update` event: only the parts that changed since the last tick. */
export interface UpdateEvent {
  /** New streams, changed rows, the totals. */
  table?: TablePart;
  /** What is new in the chart (`full` when it starts over). */
  chart?: ChartPart;
  /** The transport view, when it changed (read about once a second). */
  transport?: TransportView;
}
