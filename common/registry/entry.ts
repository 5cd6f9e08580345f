/**
 * One registry entry: who publishes an (exchange, symbol), since when and
 * whether its heartbeat is still fresh. Stored as JSON under the key
 * `{subject_prefix}.{exchange}.{SYMBOL}` of the registry bucket: what is
 * owned is the symbol's subject, so deployments with their own prefixes
 * share a bucket without meeting.
 *
 * @module
 */

/** What a publishing `serve` says about one (exchange, symbol). */
export interface SymbolEntry {
  /** Subject prefix of the symbol's trades (`transport.nats.jetstream.subject_prefix`). */
  prefix: string;
  /** Exchange, lower case. */
  exchange: string;
  /** Symbol, upper case. */
  symbol: string;
  /** Shared-memory segment the symbol is published into; undefined without the ring. */
  ring: string | undefined;
  /** The run's epoch (the ring's where serve has rings); undefined when none is known. */
  epoch: number | undefined;
  /** Source kind: `synthetic`, `binance` or `replay`. */
  source: string;
  /** When this run started publishing the symbol, ms since the Unix epoch. */
  startedAt: number;
  /** Host name of the publisher. */
  host: string;
  /** Process id of the publisher. */
  pid: number;
  /** Trades per second of the symbol over the last heartbeat interval. */
  rate: number;
  /** The publisher's clock at its last heartbeat, ms since the Unix epoch. */
  heartbeatAt: number;
  /** How long after its last heartbeat the entry counts as expired, ms. */
  ttlMs: number;
  /** `publishing` (the owner), `standby` (a hot standby, under {@linkcode standbyKey}) or `stopped` (the owner exited cleanly). */
  state: EntryState;
}

/** What the process an entry names is doing. */
export type EntryState = "publishing" | "standby" | "stopped";

const STATES: readonly string[] = ["publishing", "standby", "stopped"];

/** An entry as read from the bucket, with its revision and server time. */
export interface StoredEntry {
  /** The entry. */
  entry: SymbolEntry;
  /** Its revision (the stream sequence): compare-and-set updates name it. */
  revision: number;
  /** When the server stored it, ms since the Unix epoch (the server's clock). */
  storedAt: number;
}

/** Liveness of a stored entry: see {@linkcode entryStatus}. */
export type EntryStatus = "alive" | "expired" | "stopped";

/** Where an entry's symbol is: the subject prefix, the exchange and the symbol. */
export interface EntryPlace {
  /** Subject prefix. */
  prefix: string;
  /** Exchange. */
  exchange: string;
  /** Symbol. */
  symbol: string;
}

/** Registry key of a symbol: `market.binance.BTCUSDT`. */
export function entryKey(place: EntryPlace): string {
  return `${place.prefix}.${place.exchange}.${place.symbol}`;
}

/** Registry key of the hot standby of a symbol: `market.binance.BTCUSDT.standby`. */
export function standbyKey(place: EntryPlace): string {
  return `${entryKey(place)}.standby`;
}

/**
 * `alive` while the last heartbeat (the server's store time, so a publisher
 * with a wrong clock is judged by the server's) is younger than the entry's
 * TTL at `now`; `stopped` after a clean exit; else `expired`.
 */
export function entryStatus(stored: StoredEntry, now: number): EntryStatus {
  if (stored.entry.state === "stopped") return "stopped";
  return now - stored.storedAt < stored.entry.ttlMs ? "alive" : "expired";
}

/** The owner as a log fragment: `host h pid 123 since 2026-12-06T01:00:00.000Z`. */
export function describeOwner(entry: SymbolEntry): string {
  return `host ${entry.host} pid ${entry.pid} since ${
    new Date(entry.startedAt).toISOString()
  }`;
}

const FIELDS = [
  "prefix",
  "exchange",
  "symbol",
  "source",
  "host",
] as const;
const NUMBERS = [
  "startedAt",
  "pid",
  "rate",
  "heartbeatAt",
  "ttlMs",
] as const;

/** The JSON bytes of `entry`. */
export function encodeEntry(entry: SymbolEntry): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(entry));
}

/**
 * The entry in `data`, or undefined when it is not one (a foreign writer,
 * another version): the registry skips it rather than trusting it.
 */
export function decodeEntry(data: Uint8Array): SymbolEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (FIELDS.some((field) => typeof v[field] !== "string")) return undefined;
  if (NUMBERS.some((field) => typeof v[field] !== "number")) return undefined;
  if (!STATES.includes(v.state as string)) return undefined;
  return {
    prefix: v.prefix as string,
    exchange: v.exchange as string,
    symbol: v.symbol as string,
    ring: typeof v.ring === "string" ? v.ring : undefined,
    epoch: typeof v.epoch === "number" ? v.epoch : undefined,
    source: v.source as string,
    startedAt: v.startedAt as number,
    host: v.host as string,
    pid: v.pid as number,
    rate: v.rate as number,
    heartbeatAt: v.heartbeatAt as number,
    ttlMs: v.ttlMs as number,
    state: v.state as EntryState,
  };
}
