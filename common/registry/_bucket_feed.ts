/**
 * The registry bucket kept up to date by a watch instead of read again on
 * every poll: an ordered push consumer on the bucket's stream (all its
 * keys, the last entry of each, then every new one), the way a NATS KV
 * watch works. A poll then costs one stream info (is the feed caught up
 * with the stream's last sequence?) instead of one info plus a get per key.
 * A feed that cannot start (a permission, a missing bucket) or that lags
 * past a check falls back to reading every key, and is started again.
 *
 * @module
 */

import {
  type ConsumerMessages,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { decodeEntry, type StoredEntry } from "./entry.ts";

/** How long a check waits for the feed to reach the stream's last sequence, ms. */
const CATCH_UP_MS = 1000;
/** How long after a feed that could not start (a permission refused) it is tried again, ms. */
const RETRY_MS = 30_000;

/** Where the feed reads: the bucket's stream and its subjects' prefix. */
export interface FeedPlace {
  /** JetStream client (the consumer). */
  js: JetStreamClient;
  /** JetStream manager (stream info). */
  jsm: JetStreamManager;
  /** `KV_{bucket}`. */
  stream: string;
  /** `$KV.{bucket}.`. */
  prefix: string;
  /** Reads every key once (the fallback). */
  readAll: () => Promise<Map<string, StoredEntry>>;
}

/** The bucket's entries as a watch sees them; see the module doc. */
export class BucketFeed {
  #place: FeedPlace;
  #entries = new Map<string, StoredEntry>();
  /** The stream sequence of the last message applied. */
  #seq = 0;
  #messages: ConsumerMessages | undefined;
  #starting: Promise<void> | undefined;
  #caughtUp: { seq: number; resolve: () => void } | undefined;
  #closed = false;
  /** When the feed may be tried again after it could not start (`performance.now()`). */
  #retryAt = 0;

  /** A feed of `place`; nothing read before {@linkcode read}. */
  constructor(place: FeedPlace) {
    this.#place = place;
  }

  /**
   * Every entry, by key, as of now: the feed's when it has reached the
   * stream's last sequence (waiting up to a second for it), else every key
   * read again (the feed restarted). None when the bucket does not exist.
   */
  async read(): Promise<Map<string, StoredEntry>> {
    const { jsm, stream } = this.#place;
    let state;
    try {
      state = (await jsm.streams.info(stream)).state;
    } catch (error) {
      if (
        error instanceof JetStreamApiError &&
        error.code === JetStreamApiCodes.StreamNotFound
      ) {
        this.#stop();
        return new Map();
      }
      throw error;
    }
    if (this.#messages === undefined) {
      this.#starting ??= this.#start().finally(() =>
        this.#starting = undefined
      );
      await this.#starting.catch(() => {});
    }
    // An empty stream (every entry aged out) keeps its last sequence.
    const last = state.messages === 0 ? 0 : state.last_seq;
    if (this.#messages !== undefined && await this.#reach(last)) {
      // Entries the stream aged out (max_age) are gone for the feed too.
      for (const [key, stored] of this.#entries) {
        if (stored.revision < state.first_seq) this.#entries.delete(key);
      }
      return new Map(this.#entries);
    }
    this.#stop(); // lagging or not started: read every key, start again
    return await this.#place.readAll();
  }

  /** Stops the feed for good. */
  close(): void {
    this.#closed = true;
    this.#stop();
  }

  async #start(): Promise<void> {
    if (this.#closed) return;
    const { js, stream, prefix } = this.#place;
    const consumer = await js.consumers.getPushConsumer(stream, {
      filter_subjects: `${prefix}>`,
      deliver_policy: DeliverPolicy.LastPerSubject,
    });
    this.#entries = new Map();
    this.#seq = 0;
    const messages = await consumer.consume({
      callback: (message) => this.#apply(message),
    });
    if (this.#closed) return void messages.stop();
    this.#messages = messages;
  }

  #apply(message: JsMsg): void {
    const key = message.subject.slice(this.#place.prefix.length);
    // A delete or purge marker, or what is not an entry: no entry.
    const entry = message.data.length > 0
      ? decodeEntry(message.data)
      : undefined;
    if (entry === undefined) this.#entries.delete(key);
    else {
      this.#entries.set(key, {
        entry,
        revision: message.seq,
        storedAt: message.info.timestampNanos / 1e6,
      });
    }
    this.#seq = Math.max(this.#seq, message.seq);
    if (this.#caughtUp && this.#seq >= this.#caughtUp.seq) {
      this.#caughtUp.resolve();
    }
  }

  /** Has the feed applied every message up to `seq` (waiting up to {@linkcode CATCH_UP_MS})? */
  async #reach(seq: number): Promise<boolean> {
    if (this.#seq >= seq) return true;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#caughtUp = { seq, resolve };
    const timer = setTimeout(resolve, CATCH_UP_MS);
    await promise;
    clearTimeout(timer);
    this.#caughtUp = undefined;
    return this.#seq >= seq;
  }

  #stop(): void {
    this.#messages?.stop();
    this.#messages = undefined;
  }
}
