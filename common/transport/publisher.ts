/**
 * What a publishing transport offers the pipeline: publish records of the
 * configured symbols, say whether it is ready, and report its counters, its
 * own metric families, its failure and the trades it gave up on.
 *
 * @module
 */

import type { Labels, MetricFamily } from "../metrics/exposition.ts";

/** Counters every transport reports. */
export interface PublisherStats {
  /** Messages published (one record each for the ring). */
  messagesSent: number;
  /** Payload bytes published. */
  bytesSent: number;
  /** Publishes that failed. */
  sendErrors: number;
  /** Records dropped because a buffer was full. */
  bufferOverflows: number;
  /** How full the transport's buffer is, 0..1. */
  bufferUtilization: number;
}

/** Trades a publisher gave up on, one way: see {@linkcode TradePublisher.losses}. */
export interface PublisherLoss {
  /** How, e.g. `"dropped"`: its buffer was full. */
  kind: string;
  /** How many trades. */
  trades: number;
  /** One line saying how many and why. */
  text: string;
}

/**
 * A destination for trade records. Symbols are addressed by their index in
 * the list the transport was created with, so the hot path does no lookups.
 */
export interface TradePublisher {
  /** Short name for logs and stats, e.g. `"ipc"`. */
  readonly name: string;
  /** Publishes one 48-byte record of symbol `symbol` found at `offset` in `record`. */
  send(symbol: number, record: Uint8Array, offset?: number): void;
  /** Publishes `count` records of symbol `symbol` stored back to back from byte 0 of `records`. */
  sendBatch(symbol: number, records: Uint8Array, count: number): void;
  /**
   * Hands consumers now what {@linkcode TradePublisher.send} took so far,
   * for a transport that defers part of that work to the end of the
   * caller's synchronous code (the ring commits once per batch, NATS writes
   * its frames once per microtask). A source that blocks the thread between
   * trades has the pipeline call it first. Returns undefined when it is
   * done, or a promise when only the event loop can finish it (a socket
   * write: await it before blocking). Transports that do not defer omit it.
   */
  flush?(): Promise<void> | undefined;
  /**
   * Writes only while `lease()` is true (serve's registry lease): while
   * false it suspends, queueing what it is handed (bounded, drops counted),
   * and writes again once it holds. Transports that write only when sent to
   * omit it: the pipeline asks before each trade.
   */
  guard?(lease: () => boolean): void;
  /**
   * Another publisher took these symbols over: gives up for good on what it
   * holds or is handed (counted in {@linkcode TradePublisher.losses} as
   * `fenced`, logged) and writes nothing more, not even at close.
   */
  fence?(): void;
  /** Can it publish now? */
  ready(): boolean;
  /** Current counters. */
  stats(): PublisherStats;
  /** Trades delivered per symbol: written to the ring, acknowledged by the stream. */
  sentPerSymbol(): number[];
  /** A short progress fragment with this transport's own figures, e.g. `"ipc 1,234 msgs …"`. */
  summary(): string;
  /**
   * Resolves when the transport can take more without queueing or dropping,
   * or returns undefined when it can now: the ring's is pending while a
   * tethered reader holds it (or while it waits for its readers), NATS's
   * while its outage queue is half full. The publisher lets it pace sources
   * that can wait only for the transports it chose to pace them (see
   * data_manager's pipeline). Transports that can always take more omit it.
   */
  room?(): Promise<void> | undefined;
  /**
   * The transport's own metric families, after the ones every transport has;
   * `symbols` holds the labels (`exchange`, `symbol`) of each symbol index.
   * Transports with none omit it.
   */
  metrics?(symbols: readonly Labels[]): MetricFamily[];
  /**
   * Resolves when the transport gave up for good, having logged why; pending
   * otherwise. Transports that cannot fail that way omit it.
   */
  failed?(): Promise<unknown>;
  /**
   * One entry per way trades were given up on (complete once
   * {@linkcode TradePublisher.close} finished); empty when every trade was
   * delivered. Transports that never give a trade up omit it.
   */
  losses?(): PublisherLoss[];
  /**
   * True when {@linkcode TradePublisher.close} only releases resources
   * (nothing is left to deliver): its time is teardown, not publishing.
   * Absent, closing is flushing and its time counts as publishing.
   */
  readonly closeIsTeardown?: boolean;
  /**
   * Flushes what it holds and releases its resources. `signalled`: the
   * role is stopping on a signal, so a transport waiting on a consumer (a
   * tethered ring reader) waits only briefly, then drops and counts.
   */
  close(options?: { signalled?: boolean }): Promise<void>;
}
