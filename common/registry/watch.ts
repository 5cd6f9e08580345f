/**
 * A consumer's view of the registry, read again every poll: the publishers'
 * entries under its prefix (discovery for `live --symbols '*'`), and
 * whether the publisher of each symbol it reads is alive (its `/healthz`).
 *
 * @module
 */

import { delay } from "../runtime/delay.ts";
import type { RegistryBucket } from "./_bucket.ts";
import {
  describeOwner,
  entryKey,
  entryStatus,
  standbyKey,
  type StoredEntry,
  type SymbolEntry,
} from "./entry.ts";

/** The publisher of one (exchange, symbol) as the registry says: see {@linkcode PublisherWatch.check}. */
export interface PublisherCheck {
  /** Exchange. */
  exchange: string;
  /** Symbol. */
  symbol: string;
  /** False when its publisher is stopped or expired and no standby is alive. */
  ok: boolean;
  /** One line naming the publisher and its state. */
  detail: string;
}

/** Options of {@linkcode PublisherWatch}. */
export interface PublisherWatchOptions {
  /** Subject prefix of the trades read: only its entries count. */
  prefix: string;
  /** Time between two reads of the registry, ms. */
  pollMs: number;
  /** Called after each read with the publishers' entries under the prefix (no standby's). */
  onRead?: (entries: readonly SymbolEntry[]) => void;
  /** Called when a read fails (NATS down): the last read stays in use. */
  onError?: (error: unknown) => void;
}

/** Reads the registry every poll; see the module doc. */
export class PublisherWatch {
  #bucket: RegistryBucket;
  #options: PublisherWatchOptions;
  #entries = new Map<string, StoredEntry>();
  #read = false;
  #failing = false;

  /** A watch of `bucket`; nothing read until {@linkcode poll} or {@linkcode run}. */
  constructor(bucket: RegistryBucket, options: PublisherWatchOptions) {
    this.#bucket = bucket;
    this.#options = options;
  }

  /** Reads the registry once, then hands `onRead` the publishers' entries. */
  async poll(): Promise<void> {
    this.#entries = await this.#bucket.list();
    this.#read = true;
    const entries = [...this.#entries.values()].map((stored) => stored.entry)
      .filter((entry) => this.#ours(entry));
    this.#options.onRead?.(entries);
  }

  /** Polls every `pollMs` until `signal` aborts; a failed read is reported once until one succeeds. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.poll();
        this.#failing = false;
      } catch (error) {
        if (!this.#failing) this.#options.onError?.(error);
        this.#failing = true;
      }
      await delay(this.#options.pollMs, signal);
    }
  }

  /**
   * The state of the publisher of (`exchange`, `symbol`) at `now`: ok while
   * it is alive, or while an alive standby is taking over; not ok when it
   * stopped or its heartbeat expired with no standby. A symbol with no entry
   * (a publisher without the registry) is ok and said to be unknown.
   */
  check(exchange: string, symbol: string, now = Date.now()): PublisherCheck {
    const result = (ok: boolean, detail: string) => ({
      exchange,
      symbol,
      ok,
      detail,
    });
    const name = `${exchange} ${symbol}`;
    if (!this.#read) return result(true, `${name}: registry not read yet`);
    const place = { prefix: this.#options.prefix, exchange, symbol };
    const stored = this.#entries.get(entryKey(place));
    if (stored === undefined) {
      return result(true, `${name}: not in the registry`);
    }
    const owner = `publisher ${describeOwner(stored.entry)}`;
    const status = entryStatus(stored, now);
    if (status === "alive") {
      return result(true, `${name}: ${owner} alive`);
    }
    const why = status === "stopped"
      ? "stopped"
      : `heartbeat expired (the last one ${
        ((now - stored.storedAt) / 1000).toFixed(1)
      } s ago)`;
    const standby = this.#entries.get(standbyKey(place));
    if (standby !== undefined && entryStatus(standby, now) === "alive") {
      return result(
        true,
        `${name}: ${owner} ${why}; standby ${
          describeOwner(standby.entry)
        } taking over`,
      );
    }
    return result(false, `${name}: ${owner} ${why}, no standby`);
  }

  /** A publisher's entry (not a standby's) under this watch's prefix. */
  #ours(entry: SymbolEntry): boolean {
    return entry.prefix === this.#options.prefix && entry.state !== "standby";
  }
}
