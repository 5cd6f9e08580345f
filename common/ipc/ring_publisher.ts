/**
 * The shared-memory transport: one ring per symbol, created at start-up and
 * removed at close.
 *
 * @module
 */

import { RingSpaceError } from "./errors.ts";
import { segmentSize } from "./layout.ts";
import { type ReplacedSegment, RingWriter } from "./ring_writer.ts";
import { shmFreeBytes } from "./segment.ts";
import { segmentName } from "../wire/mod.ts";
import { formatBytes, formatCount } from "../runtime/format.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import type { PublisherStats, TradePublisher } from "../transport/publisher.ts";

/** Options of {@linkcode RingPublisher.open}. */
export interface RingPublisherOptions {
  /** Exchange name (part of the segment names). */
  exchange: string;
  /** Segment name prefix, e.g. `/marketbus_`. */
  shmPathPrefix: string;
  /** Slots per ring (power of two). */
  capacity: number;
  /** Producer heartbeat period, ms. */
  heartbeatIntervalMs: number;
}

/** A ring that replaced a stale segment at start-up. */
export interface ReplacedRing extends ReplacedSegment {
  /** The segment name. */
  name: string;
}

/** Publishes each symbol into its own shared-memory ring. */
export class RingPublisher implements TradePublisher {
  /** Transport name. */
  readonly name = "ipc";
  /** Closing unmaps the rings (~120 ms for 512 MiB): teardown, not publishing. */
  readonly closeIsTeardown = true;
  #writers: RingWriter[];
  #errors = 0;
  #closed = false;

  private constructor(writers: RingWriter[]) {
    this.#writers = writers;
  }

  /**
   * Creates one ring per symbol (replacing stale ones), every page
   * allocated up front. On failure the rings created so far are removed
   * again.
   *
   * @throws {RingInUseError} when another live data_manager owns a ring.
   * @throws {RingOwnerError} when another user holds a ring's name.
   * @throws {RingSpaceError} when /dev/shm cannot hold the rings, saying what all of them need.
   */
  static open(
    symbols: readonly string[],
    options: RingPublisherOptions,
  ): RingPublisher {
    const writers: RingWriter[] = [];
    try {
      for (const symbol of symbols) {
        writers.push(
          RingWriter.create(
            segmentName(options.shmPathPrefix, options.exchange, symbol),
            {
              capacity: options.capacity,
              heartbeatIntervalMs: options.heartbeatIntervalMs,
            },
          ),
        );
      }
    } catch (error) {
      for (const writer of writers) writer.close();
      if (error instanceof RingSpaceError && symbols.length > 1) {
        // The rings created before it are gone again: their room is free.
        throw new RingSpaceError(error.segment, {
          needed: symbols.length * segmentSize(options.capacity),
          free: writers.length === 0 ? error.free : shmFreeBytes(),
          rings: symbols.length,
        });
      }
      throw error;
    }
    return new RingPublisher(writers);
  }

  /** Segment names, in symbol order. */
  get segments(): string[] {
    return this.#writers.map((writer) => writer.name);
  }

  /** Stale segments replaced at start-up. */
  get replaced(): ReplacedRing[] {
    return this.#writers.flatMap((writer) =>
      writer.replaced ? [{ name: writer.name, ...writer.replaced }] : []
    );
  }

  /** Publishes one record into the symbol's ring. */
  send(symbol: number, record: Uint8Array, offset = 0): void {
    try {
      this.#writers[symbol].write(record, offset);
    } catch (error) {
      this.#errors++;
      throw error;
    }
  }

  /** Publishes `count` records into the symbol's ring, waking consumers once. */
  sendBatch(symbol: number, records: Uint8Array, count: number): void {
    try {
      this.#writers[symbol].writeMany(records, count);
    } catch (error) {
      this.#errors++;
      throw error;
    }
  }

  /** Trades written per symbol (each ring's write position). */
  sentPerSymbol(): number[] {
    return this.#writers.map((writer) => writer.position);
  }

  /** True until closed: a ring never blocks or waits. */
  ready(): boolean {
    return !this.#closed;
  }

  /**
   * Counters. The ring overwrites instead of overflowing: consumers that fall
   * a lap behind count their own losses, so `bufferOverflows` stays 0, and
   * `bufferUtilization` is the fraction of slots holding trades (1 once wrapped).
   */
  stats(): PublisherStats {
    let messages = 0;
    let filled = 0;
    let slots = 0;
    for (const writer of this.#writers) {
      messages += writer.position;
      filled += Math.min(writer.position, writer.capacity);
      slots += writer.capacity;
    }
    return {
      messagesSent: messages,
      bytesSent: messages * TRADE_RECORD_SIZE,
      sendErrors: this.#errors,
      bufferOverflows: 0,
      bufferUtilization: slots === 0 ? 0 : filled / slots,
    };
  }

  /** Progress fragment: messages, bytes, errors and how full the rings are. */
  summary(): string {
    const stats = this.stats();
    return `ipc ${formatCount(stats.messagesSent)} msgs ${
      formatBytes(stats.bytesSent)
    } errors ${stats.sendErrors} fill ${
      (stats.bufferUtilization * 100).toFixed(0)
    }%`;
  }

  /** Closes every ring: consumers see "closed" and the segments are unlinked. */
  close(): Promise<void> {
    this.#closed = true;
    for (const writer of this.#writers) writer.close();
    return Promise.resolve();
  }
}
