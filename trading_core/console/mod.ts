/**
 * The live web console of `deno task live --console-port PORT`: a page
 * (table of every stream, candles of the selected one with its trade tape,
 * the transport view) served by `live` itself, updated by Server-Sent
 * Events on `/events` at `trading_core.console.updates_per_second`, never
 * per trade. docs/console.md has the page, the event schema and the bounds.
 *
 * @module
 */

// The console of one run: what it keeps as live reads, and its server.
export {
  type ConsoleSources,
  LiveConsole,
  type LiveConsoleOptions,
} from "./live_console.ts";
// The HTTP side: paths, headers, the query of /events.
export {
  chartRequest,
  CLOSE_WAIT_MS,
  type ConsoleServer,
  CONTENT_SECURITY_POLICY,
  HttpListenError,
  serveConsole,
  type ServeConsoleOptions,
} from "./server.ts";
// The JSON of the events, as types (docs/console.md says it in prose).
export {
  type ChartPart,
  type ConsoleMeta,
  SCHEMA_VERSION,
  type SnapshotEvent,
  type StreamName,
  type StreamRow,
  type TablePart,
  type TapeEntry,
  type UpdateEvent,
} from "./schema.ts";
// The events and their sources: the table, candles, tape, transport view.
export {
  type ChartRequest,
  type ChartWatch,
  ConsoleEvents,
  type EventsMeta,
  type EventSources,
} from "./events.ts";
export {
  Broadcaster,
  type BroadcasterOptions,
  HEARTBEAT_MS,
  MAX_UNSENT_BYTES,
  RETRY_MS,
} from "./broadcaster.ts";
export {
  ConsoleTable,
  RATE_WINDOW_MS,
  ROW_FIELDS,
  type TableSources,
  type TableTick,
  type TableTotals,
} from "./table.ts";
export { type Candle, CANDLES_KEPT, CandleStore } from "./candles.ts";
export { TAPE_SIZE, TradeTape } from "./tape.ts";
export {
  type NatsRow,
  type ReaderRow,
  RING_BUDGET_MS,
  type RingRow,
  type TransportView,
  TransportWatch,
  type TransportWatchOptions,
} from "./transport.ts";
