/**
 * The console's Server-Sent Events, as text: the `snapshot` a client gets
 * first and the `update` of each tick (docs/console.md has the schema).
 * Per tick the table and the transport view are serialised once, for every
 * client; the chart part once per (stream, interval) watched; whole
 * messages once per distinct chart, shared by the clients that watch it.
 *
 * @module
 */

import type { CandleStore } from "./candles.ts";
import type { ConsoleTable, TableTick } from "./table.ts";
import type { TradeTape } from "./tape.ts";
import type { TransportWatch } from "./transport.ts";
import { type ChartPart, type ConsoleMeta, SCHEMA_VERSION } from "./schema.ts";

/** What a client asked to chart (`/events?exchange=E&symbol=S&interval=I`). */
export interface ChartRequest {
  /** The exchange, with `symbol`; undefined: the first stream. */
  exchange?: string;
  /** The symbol, with `exchange`. */
  symbol?: string;
  /** The interval's index among the charted ones. */
  k: number;
}

/** A client's chart, as the events follow it. */
export interface ChartWatch {
  /** What it asked for. */
  readonly request: ChartRequest;
  /** The stream index charted, -1 until the stream is known. */
  stream: number;
  /** Whether its next chart part must be whole (it has none yet). */
  full: boolean;
}

/** The sources of the events. */
export interface EventSources {
  /** The table of every stream. */
  table: ConsoleTable;
  /** Closed bars and the open one. */
  candles: CandleStore;
  /** The trade tape of the watched streams. */
  tape: TradeTape;
  /** The transport view. */
  transport: TransportWatch;
}

/** What every snapshot tells about the console itself. */
export interface EventsMeta {
  /** Updates pushed per second at most. */
  updatesPerSecond: number;
  /** Where the candles come from: `live`'s own bars (a strategy or a bar file) or the console's. */
  bars: "live" | "console";
}

/** Where a chart part starts: the closed bars and tape entries already sent. */
interface Sent {
  closed: number;
  tapeId: number;
}

/** Ticks between two reads of the transport view: about a second. */
function transportEvery(updatesPerSecond: number): number {
  return Math.max(1, Math.round(updatesPerSecond));
}

/**
 * Builds the events: {@linkcode snapshot} for a client that connects,
 * {@linkcode tick} once per tick for all of them.
 */
export class ConsoleEvents {
  readonly #sources: EventSources;
  readonly #meta: EventsMeta;
  /** Per "stream:k" watched: what the last tick's chart parts ended at. */
  #sent = new Map<string, Sent>();
  /** Per "stream:k" watched: the open bar last sent, as JSON. */
  #opens = new Map<string, string>();
  #transport = "null";
  #ticks = 0;
  #refreshed = false;

  /** Events of `sources`. */
  constructor(sources: EventSources, meta: EventsMeta) {
    this.#sources = sources;
    this.#meta = meta;
  }

  /**
   * A client's first event, `snapshot`: everything as of the last tick, or
   * read now when `options.fresh` (no tick ran lately: no other client) or
   * there was none; its chart whole.
   */
  snapshot(watch: ChartWatch, options: { fresh?: boolean } = {}): string {
    if (options.fresh || !this.#refreshed) this.#refresh(performance.now());
    const { candles } = this.#sources;
    this.#resolve(watch);
    const meta: ConsoleMeta = {
      version: SCHEMA_VERSION,
      intervals: [...candles.intervals],
      updates_per_second: this.#meta.updatesPerSecond,
      bars: this.#meta.bars,
    };
    const chart = this.#chart(watch, true)!;
    if (watch.stream >= 0) this.#startFrom(watch.stream, watch.request.k);
    watch.full = false;
    return event(
      "snapshot",
      `{"meta":${JSON.stringify(meta)},"table":${
        tableJson(this.#sources.table.snapshot())
      },"chart":${chart},"transport":${this.#transport}}`,
    );
  }

  /**
   * One tick at `nowMs`: the `update` event of each of `watches` (by
   * position; undefined when it has nothing new), the same text for
   * clients with the same chart.
   */
  tick(watches: readonly ChartWatch[], nowMs: number): (string | undefined)[] {
    const { table, transportChanged } = this.#refresh(nowMs);
    const shared = table.changed ? `"table":${tableJson(table)}` : "";
    const transport = transportChanged ? `"transport":${this.#transport}` : "";
    const messages = new Map<string, string | undefined>();
    const out = watches.map((watch) => {
      this.#resolve(watch);
      const key = `${watch.stream}:${watch.request.k}:${watch.full}`;
      let message = messages.get(key);
      if (!messages.has(key)) {
        const chart = watch.stream < 0 && !watch.full
          ? undefined
          : this.#chart(watch, watch.full);
        const parts = [shared, chart && `"chart":${chart}`, transport]
          .filter((part) => part);
        message = parts.length === 0
          ? undefined
          : event("update", `{${parts.join(",")}}`);
        messages.set(key, message);
      }
      watch.full = false;
      return message;
    });
    this.#advance(watches);
    return out;
  }

  /** Forgets a client's chart (it disconnected): its stream's tape stops when nobody else watches it. */
  release(watch: ChartWatch): void {
    if (watch.stream >= 0) this.#sources.tape.unwatch(watch.stream);
    watch.stream = -1;
  }

  /** Refreshes the table, and the transport view about once a second. */
  #refresh(nowMs: number): { table: TableTick; transportChanged: boolean } {
    this.#refreshed = true;
    const table = this.#sources.table.refresh(nowMs);
    let transportChanged = false;
    if (this.#ticks++ % transportEvery(this.#meta.updatesPerSecond) === 0) {
      const json = JSON.stringify(this.#sources.transport.refresh());
      transportChanged = json !== this.#transport;
      this.#transport = json;
    }
    return { table, transportChanged };
  }

  /** Finds the stream a client asked for once it is known, and starts its tape. */
  #resolve(watch: ChartWatch): void {
    if (watch.stream >= 0) return;
    const { request } = watch;
    const { candles, table } = this.#sources;
    const stream = request.exchange === undefined
      ? (table.size > 0 ? 0 : -1)
      : candles.find(request.exchange, request.symbol!) ?? -1;
    if (stream < 0) return;
    watch.stream = stream;
    watch.full = true;
    this.#sources.tape.watch(stream);
  }

  /** What a tick's chart parts start from, for a (stream, k) not followed yet: now. */
  #startFrom(stream: number, k: number): void {
    const key = `${stream}:${k}`;
    if (this.#sent.has(key)) return;
    this.#sent.set(key, {
      closed: this.#sources.candles.closed(stream, k),
      tapeId: this.#sources.tape.lastId(stream),
    });
  }

  /** Once a tick's messages are built: the chart parts of next tick start from now; unwatched ones are forgotten. */
  #advance(watches: readonly ChartWatch[]): void {
    const next = new Map<string, Sent>();
    const { candles, tape } = this.#sources;
    for (const { stream, request } of watches) {
      if (stream < 0) continue;
      next.set(`${stream}:${request.k}`, {
        closed: candles.closed(stream, request.k),
        tapeId: tape.lastId(stream),
      });
    }
    this.#sent = next;
    for (const key of this.#opens.keys()) {
      if (!next.has(key)) this.#opens.delete(key);
    }
  }

  /**
   * The chart part of `watch`: whole, or what is new since the last tick
   * (undefined: nothing, the open bar as it was).
   */
  #chart(watch: ChartWatch, full: boolean): string | undefined {
    const { candles, tape, table } = this.#sources;
    const { k } = watch.request;
    const interval = candles.intervals[k];
    const stream = watch.stream;
    if (stream < 0) {
      const { exchange, symbol } = watch.request;
      const waiting: ChartPart = {
        exchange: exchange ?? null,
        symbol: symbol ?? null,
        interval,
        full: true,
        bars: [],
        open: null,
        tape: [],
        note: exchange === undefined
          ? "no stream yet: waiting for the first one"
          : "this live has not met this stream (yet)",
      };
      return JSON.stringify(waiting);
    }
    const key = `${stream}:${k}`;
    const from = full ? undefined : this.#sent.get(key);
    const name = table.stream(stream)!;
    const bars = candles.since(stream, k, from?.closed ?? 0);
    const open = candles.open(stream, k);
    const trades = tape.since(stream, from?.tapeId ?? 0);
    const openJson = JSON.stringify(open);
    const unchanged = from !== undefined && bars.length === 0 &&
      trades.length === 0 && this.#opens.get(key) === openJson;
    this.#opens.set(key, openJson);
    if (unchanged) return undefined;
    const part: ChartPart = {
      exchange: name.exchange,
      symbol: name.symbol,
      interval,
      full: from === undefined,
      bars,
      open,
      tape: trades,
      note: null,
    };
    return JSON.stringify(part);
  }
}

/** The table part of an event. */
function tableJson(table: TableTick): string {
  return `{"streams":${table.streams},"rows":${table.rows},"totals":${table.totals}}`;
}

/** One SSE event of type `name` with one data line (JSON has no raw line breaks). */
function event(name: string, data: string): string {
  return `event: ${name}\ndata: ${data}\n\n`;
}
