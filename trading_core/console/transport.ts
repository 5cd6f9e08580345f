/**
 * The console's transport view: for the rings `live` reads, each ring's
 * producer and every reader its registry lists (this `live` and any other
 * process) with its lag, read through read-only mappings like
 * `deno task rings`; for NATS, the consumer's backlog (pending and
 * unacknowledged messages) and the connection. Read at most once a second,
 * the rings a few at a time within a time budget, never per trade.
 *
 * @module
 */

import {
  RingNotFoundError,
  ringSnapshot,
  type RingSnapshotOptions,
  type SegmentStatus,
} from "../../common/ipc/mod.ts";
import type { MetricFamily } from "../../common/metrics/mod.ts";
import type { TradeFeed } from "../../common/transport/feed.ts";
import { segmentName } from "../../common/wire/ring_names.ts";

/** How long one refresh may spend reading ring registries, ms (at least one ring is read). */
export const RING_BUDGET_MS = 4;

/** One registered reader of a ring, as the events carry it. */
export interface ReaderRow {
  /** Its reader id, 8 hex digits (as `deno task rings` shows it). */
  id: string;
  /** Its process. */
  pid: number;
  /** lossy, tethered or evicted. */
  policy: string;
  /** Trades written it has not read. */
  lag: number;
  /** {@linkcode ReaderRow.lag} in % of the ring (over 100: lapped). */
  lag_percent: number;
  /** False once its heartbeat is stale and its process gone. */
  alive: boolean;
  /** Whether it is this `live` process. */
  self: boolean;
}

/** One ring `live` reads, as the events carry it. */
export interface RingRow {
  /** The exchange. */
  exchange: string;
  /** The symbol. */
  symbol: string;
  /** Its shared-memory name. */
  name: string;
  /** `open`, `closed`, `initialising`, or `absent` / `unreadable` (see `problem`). */
  state: string;
  /** Its producer's pid, null when unknown. */
  producer: number | null;
  /** Whether the producer process exists. */
  producer_alive: boolean;
  /** Slots. */
  capacity: number | null;
  /** Its registered readers. */
  readers: ReaderRow[];
  /** Why it cannot be shown, null when it can. */
  problem: string | null;
}

/** The NATS consumer, as the events carry it. */
export interface NatsRow {
  /** Messages in the stream not yet delivered to the consumer. */
  pending: number;
  /** Messages delivered and not yet acknowledged. */
  ack_pending: number;
  /** Whether the connection is up. */
  connected: boolean;
  /**
   * Whether this consumer only read history (`--catch-up`) and every stream
   * has caught up: it is closed on purpose, its figures are stale.
   */
  history_done: boolean;
}

/** The transport view, as the events carry it. */
export interface TransportView {
  /** The feed's name: `ipc`, `nats`, `catch_up`, … */
  feed: string;
  /** The feed's own one-line state. */
  detail: string;
  /** Whether it is connected. */
  connected: boolean;
  /** The rings read, or null when no ring is read. */
  rings: RingRow[] | null;
  /** The NATS consumer, or null when NATS is not read. */
  nats: NatsRow | null;
}

/** Options of {@linkcode TransportWatch}. */
export interface TransportWatchOptions {
  /** The rings' name prefix, when rings are read (undefined: no rings). */
  shmPathPrefix?: string;
  /** The uid that must own the rings (default: this process's). */
  publisherUid?: number;
  /** Whether NATS is read (its consumer's backlog is shown). */
  nats: boolean;
  /** How long a refresh may spend on ring registries, ms. @default {RING_BUDGET_MS} */
  budgetMs?: number;
  /** Whether a catch-up (history over NATS) is over for every stream. @default {never} */
  historyDone?: () => boolean;
}

/** Reads the transport view of `feed`, a few rings per refresh. */
export class TransportWatch {
  readonly #feed: TradeFeed;
  readonly #options: TransportWatchOptions;
  readonly #streams: () => readonly { exchange: string; symbol: string }[];
  #rings: RingRow[] = [];
  #next = 0;

  /** Watches `feed`, whose streams `streams` lists by index. */
  constructor(
    feed: TradeFeed,
    streams: () => readonly { exchange: string; symbol: string }[],
    options: TransportWatchOptions,
  ) {
    this.#feed = feed;
    this.#streams = streams;
    this.#options = options;
  }

  /** The view now: the feed's state, the rings read so far (a few more each call), the NATS backlog. */
  refresh(): TransportView {
    const status = this.#feed.status();
    const { shmPathPrefix } = this.#options;
    return {
      feed: this.#feed.name,
      detail: status.detail,
      connected: status.connected,
      rings: shmPathPrefix === undefined
        ? null
        : this.#readRings(shmPathPrefix),
      nats: this.#options.nats
        ? natsRow(this.#feed, this.#options.historyDone?.() === true)
        : null,
    };
  }

  /** Reads rings round robin from where the last refresh stopped, within the budget. */
  #readRings(prefix: string): RingRow[] {
    const streams = this.#streams();
    const budget = this.#options.budgetMs ?? RING_BUDGET_MS;
    const started = performance.now();
    for (let read = 0; read < streams.length; read++) {
      if (read > 0 && performance.now() - started >= budget) break;
      const index = this.#next % streams.length;
      this.#next = index + 1;
      this.#rings[index] = ringRow(prefix, streams[index], {
        ownerUid: this.#options.publisherUid,
      });
    }
    return this.#rings.slice(0, streams.length).filter((row) => row);
  }
}

/** The row of the ring of `stream`. */
function ringRow(
  prefix: string,
  stream: { exchange: string; symbol: string },
  options: RingSnapshotOptions,
): RingRow {
  const { exchange, symbol } = stream;
  const row: RingRow = {
    exchange,
    symbol,
    name: "",
    state: "absent",
    producer: null,
    producer_alive: false,
    capacity: null,
    readers: [],
    problem: null,
  };
  let status: SegmentStatus;
  try {
    row.name = segmentName(prefix, exchange, symbol);
    status = ringSnapshot(row.name, options);
  } catch (error) {
    if (error instanceof RingNotFoundError) {
      return { ...row, problem: "no such ring (yet)" };
    }
    if (error instanceof RangeError) {
      return { ...row, state: "unreadable", problem: error.message };
    }
    throw error;
  }
  if (status.kind === "unreadable") {
    return { ...row, state: "unreadable", problem: status.problem };
  }
  return {
    ...row,
    state: status.state,
    producer: status.pid,
    producer_alive: status.producerAlive,
    capacity: status.capacity,
    readers: status.readers.map((reader) => ({
      id: reader.idHex,
      pid: reader.pid,
      policy: reader.policy,
      lag: reader.lag,
      lag_percent: Math.round(reader.lagPercent * 10) / 10,
      alive: reader.alive,
      self: reader.pid === Deno.pid,
    })),
  };
}

/** The NATS consumer's backlog and connection, from the feed's own metric families. */
function natsRow(feed: TradeFeed, historyDone: boolean): NatsRow {
  const families = feed.metrics([]);
  return {
    pending: scalar(families, "marketbus_nats_consumer_pending_messages"),
    ack_pending: scalar(
      families,
      "marketbus_nats_consumer_ack_pending_messages",
    ),
    connected: scalar(families, "marketbus_nats_connected") === 1,
    history_done: historyDone,
  };
}

/** The value of the unlabelled (or first) sample of family `name`, 0 when absent. */
function scalar(families: readonly MetricFamily[], name: string): number {
  const family = families.find((f) => f.name === name);
  if (family === undefined || family.type === "histogram") return 0;
  return family.samples[0]?.value ?? 0;
}
