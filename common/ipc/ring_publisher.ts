/**
 * The shared-memory transport: one ring per symbol, created at start-up and
 * removed at close. A ring holds the source back only for its tethered
 * readers: {@linkcode RingPublisher.room} is pending while a ring's writer
 * keeps trades in its backlog, and each eviction is logged in one line.
 *
 * @module
 */

import { RingSpaceError } from "./errors.ts";
import {
  EvictionCause,
  ReaderState,
  REGISTRY_SLOTS,
  segmentSize,
} from "./layout.ts";
import {
  type ReaderEvictionInfo,
  type ReplacedSegment,
  RingWriter,
} from "./ring_writer.ts";
import { shmFreeBytes } from "./segment.ts";
import { segmentName } from "../wire/mod.ts";
import { formatBytes, formatCount } from "../runtime/format.ts";
import { createLogger, type Logger } from "../runtime/log.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import type { Labels, MetricFamily } from "../metrics/exposition.ts";
import type {
  PublisherLoss,
  PublisherStats,
  TradePublisher,
} from "../transport/publisher.ts";
import { ringPublisherFamilies } from "./publisher_metrics.ts";
import { readerIdHex } from "./ring_status.ts";
import { DEFAULT_MAX_TETHER_TIMEOUT_MS } from "./_tether_gate.ts";

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
  /** Trades each ring keeps in order while a tethered reader holds it (default 262,144). */
  backlog?: number;
  /** The cap on every tethered reader's timeout, ms (default 60,000); also the longest close() waits for a backlog. */
  maxTetherTimeoutMs?: number;
  /**
   * {@linkcode RingPublisher.room} stays pending until this many tethered
   * readers are registered on every ring (default 0: no wait), so that
   * they miss nothing of a source that waits for room.
   */
  waitForReaders?: number;
  /** Where evictions and the wait for readers are logged (default a `data_manager` logger). */
  log?: Logger;
  /** The run's epoch, given to every ring (default: a random one per ring; see `RingWriterOptions.epoch`). */
  epoch?: number;
}

/** How long close() waits for a held ring's backlog when the role stops on a signal, ms. */
export const SIGNALLED_DRAIN_MS = 1000;

/** Kind of the loss of trades dropped from a ring's backlog: {@linkcode RingPublisher.losses}. */
export const DROPPED_HELD = "dropped while a tethered reader held the ring";

/** How often the wait for tethered readers looks at the rings, ms. */
const READERS_POLL_MS = 5;

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
  #symbols: readonly string[];
  #log: Logger;
  #maxTetherTimeoutMs: number;
  #waitForReaders: number;
  /** The wait for tethered readers: undefined before room() first asked, then pending until they are there. */
  #readersWait: Promise<void> | undefined;
  #readersReady = false;
  #readersTimer: ReturnType<typeof setTimeout> | undefined;
  #stopWaiting: (() => void) | undefined;
  #errors = 0;
  #closed = false;

  private constructor(
    writers: RingWriter[],
    symbols: readonly string[],
    options: RingPublisherOptions & { log: Logger },
  ) {
    this.#writers = writers;
    this.#symbols = symbols;
    this.#log = options.log;
    this.#maxTetherTimeoutMs = options.maxTetherTimeoutMs ??
      DEFAULT_MAX_TETHER_TIMEOUT_MS;
    this.#waitForReaders = options.waitForReaders ?? 0;
    this.#readersReady = this.#waitForReaders === 0;
  }

  /**
   * Creates one ring per symbol (replacing stale ones), every page
   * allocated up front. On failure the rings created so far are removed
   * again.
   *
   * @throws {RingInUseError} when another live data_manager owns a ring.
   * @throws {RingOwnerError} when another user holds a ring's name.
   * @throws {RingSpaceError} when /dev/shm cannot hold the rings, saying what all of them need.
   * @throws {RangeError} for a bad backlog, tether timeout or reader count.
   */
  static open(
    symbols: readonly string[],
    options: RingPublisherOptions,
  ): RingPublisher {
    const waitFor = options.waitForReaders ?? 0;
    if (!Number.isInteger(waitFor) || waitFor < 0 || waitFor > REGISTRY_SLOTS) {
      throw new RangeError(
        `Invalid count of tethered readers to wait for ${waitFor} (transport.ipc.wait_for_readers): expected an integer from 0 to ${REGISTRY_SLOTS} (the reader slots of a ring)`,
      );
    }
    const log = options.log ?? createLogger("data_manager");
    const writers: RingWriter[] = [];
    try {
      for (const symbol of symbols) {
        writers.push(
          RingWriter.create(
            segmentName(options.shmPathPrefix, options.exchange, symbol),
            {
              capacity: options.capacity,
              heartbeatIntervalMs: options.heartbeatIntervalMs,
              backlog: options.backlog,
              maxTetherTimeoutMs: options.maxTetherTimeoutMs,
              epoch: options.epoch,
              onEvict: (info) => log.warn(evictionText(symbol, info)),
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
    return new RingPublisher(writers, symbols, { ...options, log });
  }

  /** Segment names, in symbol order. */
  get segments(): string[] {
    return this.#writers.map((writer) => writer.name);
  }

  /** Each ring's epoch, in the order of {@linkcode segments}. */
  get epochs(): number[] {
    return this.#writers.map((writer) => writer.epoch);
  }

  /** Stale segments replaced at start-up. */
  get replaced(): ReplacedRing[] {
    return this.#writers.flatMap((writer) =>
      writer.replaced ? [{ name: writer.name, ...writer.replaced }] : []
    );
  }

  /**
   * Publishes one record into the symbol's ring (or its backlog while a
   * tethered reader holds it: see {@linkcode room}). The commit that wakes
   * sleeping consumers is deferred ({@linkcode RingWriter.writeDeferred}):
   * once per batch, at {@linkcode flush} or once the caller's synchronous
   * code ends.
   */
  send(symbol: number, record: Uint8Array, offset = 0): void {
    try {
      this.#writers[symbol].writeDeferred(record, offset);
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

  /** Commits what {@linkcode send} wrote into every ring: sleeping consumers wake now. */
  flush(): undefined {
    const writers = this.#writers;
    for (let i = 0; i < writers.length; i++) writers[i].commit();
  }

  /** Trades written per symbol (each ring's write position). */
  sentPerSymbol(): number[] {
    return this.#writers.map((writer) => writer.position);
  }

  /** A standby on this host retired one of its rings (see {@linkcode RingWriter.retired}): it must write no more. */
  retired(): boolean {
    return this.#writers.some((writer) => writer.retired);
  }

  /** True until closed: a ring never blocks (a held one queues in order). */
  ready(): boolean {
    return !this.#closed;
  }

  /**
   * Pending while a ring keeps trades in its backlog (a tethered reader
   * holds it) or, with `waitForReaders`, until that many tethered readers
   * are registered on every ring; undefined when there is room now.
   */
  room(): Promise<void> | undefined {
    if (!this.#readersReady && !this.#closed) {
      return this.#readersWait ??= this.#waitReaders();
    }
    for (const writer of this.#writers) {
      const room = writer.room();
      if (room !== undefined) return room;
    }
    return undefined;
  }

  /** Resolves once every ring has `waitForReaders` tethered readers (or the rings closed), saying so. */
  #waitReaders(): Promise<void> {
    const count = this.#waitForReaders;
    const lacking = this.#lackingReaders();
    if (lacking.length === 0) {
      this.#readersReady = true;
      return Promise.resolve();
    }
    this.#log.info(
      `waiting for ${count} tethered reader${count === 1 ? "" : "s"} on ${
        lacking.join(", ")
      }…`,
    );
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(this.#readersTimer);
        this.#readersReady = true;
        this.#stopWaiting = undefined;
        resolve();
      };
      this.#stopWaiting = done;
      const poll = () => {
        if (this.#lackingReaders().length > 0) {
          this.#readersTimer = setTimeout(poll, READERS_POLL_MS);
          return;
        }
        this.#log.info(
          `${count} tethered reader${count === 1 ? "" : "s"} on every ring`,
        );
        done();
      };
      poll();
    });
  }

  /** The rings with fewer tethered readers than `waitForReaders`. */
  #lackingReaders(): string[] {
    return this.#writers.filter((writer) =>
      writer.readers().filter((r) => r.state === ReaderState.Tethered)
        .length < this.#waitForReaders
    ).map((writer) => writer.name);
  }

  /**
   * The readers registered on each ring, their lag, evictions, time held
   * and backlog, scanned now; `symbols` holds each ring's labels.
   */
  metrics(symbols: readonly Labels[]): MetricFamily[] {
    return ringPublisherFamilies(
      this.#writers.map((writer) => ({
        capacity: writer.capacity,
        readers: writer.readers(),
        stats: writer.tetherStats(),
      })),
      symbols,
    );
  }

  /** Trades dropped from the rings' backlogs (at close, after waiting for the tethered readers): one entry, or none. */
  losses(): PublisherLoss[] {
    const dropped = this.#writers.map((w) => w.tetherStats().dropped);
    const trades = dropped.reduce((sum, n) => sum + n, 0);
    if (trades === 0) return [];
    const rings = dropped.flatMap((n, i) =>
      n > 0 ? [`${this.#symbols[i]} ${formatCount(n)}`] : []
    );
    return [{
      kind: DROPPED_HELD,
      trades,
      text: `${formatCount(trades)} trades ${DROPPED_HELD} (${
        rings.join(", ")
      }): it had not read them when the ring closed`,
    }];
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

  /**
   * Closes every ring: consumers see "closed" and the segments are
   * unlinked. Trades still in a ring's backlog get up to the max tether
   * timeout to be written (a tethered reader holding the ring is evicted by
   * then), or {@linkcode SIGNALLED_DRAIN_MS} when `signalled` (the role
   * stops on a signal); the rest are dropped, counted in {@linkcode losses}.
   */
  async close(options: { signalled?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopWaiting?.();
    const drains = this.#writers.flatMap((writer) => writer.room() ?? []);
    if (drains.length > 0) {
      // A little past the cap: the holder's eviction, then the writes.
      const waitMs = options.signalled
        ? SIGNALLED_DRAIN_MS
        : this.#maxTetherTimeoutMs + 100;
      const queued = this.#writers.reduce(
        (sum, writer) => sum + writer.tetherStats().backlog,
        0,
      );
      this.#log.warn(
        `waiting up to ${
          (waitMs / 1000).toFixed(1)
        } s for tethered readers to read ${
          formatCount(queued)
        } queued trades before closing the rings (deno task rings shows who holds them)`,
      );
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all(drains),
        new Promise((resolve) => {
          timer = setTimeout(resolve, waitMs);
        }),
      ]);
      clearTimeout(timer);
    }
    for (const writer of this.#writers) writer.close();
  }
}

/** The one warning line of an eviction on the ring of `symbol`. */
export function evictionText(symbol: string, info: ReaderEvictionInfo): string {
  const reader = `tethered reader ${
    readerIdHex(info.readerId)
  } (pid ${info.pid})`;
  const behind = `${formatCount(info.lag)} trades behind (${
    Math.round(info.lag / info.capacity * 100)
  }% of the ring)`;
  const after = `${(info.waitedMs / 1000).toFixed(1)} s`;
  switch (info.cause) {
    case EvictionCause.Dead:
      return `${symbol}: ${reader} is gone: evicted at once, ${behind}`;
    case EvictionCause.BacklogFull:
      return `${symbol}: evicted ${reader} after ${after}: the backlog of ${
        formatCount(info.backlog)
      } trades (transport.ipc.backlog) filled up, ${behind}: it continues lossy`;
    default:
      return `${symbol}: evicted ${reader} after ${after}, ${behind}: it continues lossy`;
  }
}
