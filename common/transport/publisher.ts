/**
 * What a publishing transport offers the pipeline: publish records of the
 * configured symbols, say whether it is ready, and report its counters.
 *
 * @module
 */

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
  /** Can it publish now? */
  ready(): boolean;
  /** Current counters. */
  stats(): PublisherStats;
  /** Trades delivered per symbol: written to the ring, acknowledged by the stream. */
  sentPerSymbol(): number[];
  /** A short progress fragment with this transport's own figures, e.g. `"ipc 1,234 msgs …"`. */
  summary(): string;
  /**
   * Resolves when the transport can take more without dropping, or returns
   * undefined when it can now. Transports that never drop (the ring) omit it.
   */
  room?(): Promise<void> | undefined;
  /** Flushes what it holds and releases its resources. */
  close(): Promise<void>;
}
