/**
 * A consumer's view of the registry, looked at every poll (a watch keeps it
 * up to date: one stream info per poll, see `_bucket_feed.ts`): the publishers'
 * entries under its prefix (discovery for `live --symbols '*'`), and
 * whether the publisher of each symbol it reads is alive (its `/healthz`).
 *
 * @module
 */

import { delay, whenAborted } from "../runtime/delay.ts";
import type { RegistryBucket } from "./_bucket.ts";
import type { BucketFeed } from "./_bucket_feed.ts";
import {
  describeOwner,
  entryKey,
  type EntryStatus,
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
  /**
   * Called after each read with the live publishers' entries under the
   * prefix (no standby's, no stopped or expired one, and only once their
   * heartbeat was seen to move: an entry left by a dead publisher is not).
   */
  onRead?: (entries: readonly SymbolEntry[]) => void;
  /**
   * Does a cleanly stopped publisher fail the check? True for a ring
   * consumer (no trade will come); false for a NATS consumer, which may
   * still read the stopped publisher's history. @default {true}
   */
  stoppedFails?: boolean;
  /** Called when a read fails (NATS down): the last read stays in use. */
  onError?: (error: unknown) => void;
}

/** When this watch first saw a key's current revision, and whether it saw it change before. */
interface Seen {
  /** The revision. */
  revision: number;
  /** When it was first read (`performance.now()`). */
  at: number;
  /** The key had another revision at an earlier read: its heartbeat moved. */
  moved: boolean;
}

/**
 * Reads the registry every poll; see the module doc. A publisher is judged
 * on this process's own monotonic clock, not on the server's store time:
 * expired once its entry's revision has not changed for its TTL across
 * this watch's reads (so clocks that disagree do not matter), and unknown,
 * not dead, while the registry cannot be read.
 */
export class PublisherWatch {
  #feed: BucketFeed;
  #options: PublisherWatchOptions;
  #entries = new Map<string, StoredEntry>();
  #seen = new Map<string, Seen>();
  #read = false;
  #failing = false;

  /** A watch of `bucket`; nothing read until {@linkcode poll} or {@linkcode run}. */
  constructor(bucket: RegistryBucket, options: PublisherWatchOptions) {
    this.#feed = bucket.feed();
    this.#options = options;
  }

  /** Reads the registry once, then hands `onRead` the publishers' entries. */
  async poll(): Promise<void> {
    try {
      this.#entries = await this.#feed.read();
    } catch (error) {
      this.#failing = true;
      throw error;
    }
    this.#failing = false;
    this.#read = true;
    const now = performance.now();
    for (const [key, stored] of this.#entries) {
      const seen = this.#seen.get(key);
      if (seen?.revision === stored.revision) continue;
      this.#seen.set(key, {
        revision: stored.revision,
        at: now,
        moved: seen !== undefined,
      });
    }
    // Keys gone from the bucket (deleted, aged out) are forgotten.
    for (const key of this.#seen.keys()) {
      if (!this.#entries.has(key)) this.#seen.delete(key);
    }
    const entries = [...this.#entries].filter(([key, stored]) =>
      this.#ours(stored.entry) && this.#seen.get(key)!.moved &&
      this.#status(key, stored, now) === "alive"
    ).map(([, stored]) => stored.entry);
    this.#options.onRead?.(entries);
  }

  /**
   * Polls every `pollMs` until `signal` aborts; a failed read is reported
   * once until one succeeds. A read in flight when `signal` aborts is not
   * waited for (closing the connection ends it): a registry request that
   * times out does not hold a role's stop.
   */
  async run(signal: AbortSignal): Promise<void> {
    const aborted = whenAborted(signal);
    while (!signal.aborted) {
      const failing = this.#failing;
      const read = this.poll().catch((error) => {
        if (!failing && !signal.aborted) this.#options.onError?.(error);
      });
      await Promise.race([read, aborted]);
      await delay(this.#options.pollMs, signal);
    }
    await this.#feed.close();
  }

  /**
   * The state of the publisher of (`exchange`, `symbol`) at `now`
   * (`performance.now()`): ok while it is alive, or while an alive standby
   * is taking over, or while the registry cannot be read (unknown is not
   * dead); not ok when its heartbeat expired with no standby, or when it
   * stopped and `stoppedFails`. A symbol with no entry (a publisher without
   * the registry) is ok and said to be unknown.
   */
  check(
    exchange: string,
    symbol: string,
    now = performance.now(),
  ): PublisherCheck {
    const result = (ok: boolean, detail: string) => ({
      exchange,
      symbol,
      ok,
      detail,
    });
    const name = `${exchange} ${symbol}`;
    if (!this.#read) return result(true, `${name}: registry not read yet`);
    const place = { prefix: this.#options.prefix, exchange, symbol };
    const key = entryKey(place);
    const stored = this.#entries.get(key);
    if (stored === undefined) {
      return result(true, `${name}: not in the registry`);
    }
    const owner = `publisher ${describeOwner(stored.entry)}`;
    if (this.#failing && stored.entry.state !== "stopped") {
      return result(
        true,
        `${name}: ${owner}: unknown (the registry cannot be read now)`,
      );
    }
    const status = this.#status(key, stored, now);
    if (status === "alive") {
      return result(true, `${name}: ${owner} alive`);
    }
    const why = status === "stopped"
      ? "stopped"
      : `heartbeat expired (unchanged for ${
        ((now - this.#seen.get(key)!.at) / 1000).toFixed(1)
      } s)`;
    const standbyAt = standbyKey(place);
    const standby = this.#entries.get(standbyAt);
    if (
      standby !== undefined &&
      this.#status(standbyAt, standby, now) === "alive"
    ) {
      return result(
        true,
        `${name}: ${owner} ${why}; standby ${
          describeOwner(standby.entry)
        } taking over`,
      );
    }
    if (status === "stopped" && this.#options.stoppedFails === false) {
      return result(
        true,
        `${name}: ${owner} stopped (a clean exit): its history stays readable`,
      );
    }
    return result(false, `${name}: ${owner} ${why}, no standby`);
  }

  /** Stopped; expired when its revision did not change for its TTL as this watch saw it at `now`; else alive. */
  #status(key: string, stored: StoredEntry, now: number): EntryStatus {
    if (stored.entry.state === "stopped") return "stopped";
    const seen = this.#seen.get(key);
    return seen !== undefined && now - seen.at >= stored.entry.ttlMs
      ? "expired"
      : "alive";
  }

  /** A publisher's entry (not a standby's) under this watch's prefix. */
  #ours(entry: SymbolEntry): boolean {
    return entry.prefix === this.#options.prefix && entry.state !== "standby";
  }
}
