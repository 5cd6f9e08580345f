/**
 * The registry bucket kept up to date by a watch instead of read again on
 * every poll: an ordered push consumer on the bucket's stream (all its
 * keys, the last entry of each, then every new one), the way a NATS KV
 * watch works. A poll then costs one stream info (is the feed caught up
 * with the stream's last sequence?) instead of one info plus a get per key.
 * A feed that lags past a check falls back to reading every key, and is
 * started again; one that cannot start (a consumer refused: a permission)
 * reads every key for {@linkcode RETRY_MS} before it tries again. A
 * recreated bucket (a new stream: another creation time, or a last
 * sequence below the feed's) starts a new feed from the start, entries
 * cleared: the old consumer died with the old stream. A key removed with
 * no marker (a raw purge of its subject) is seen as a subject count that
 * differs from the stream's at two reads in a row: the feed restarts. A
 * stopped feed's
 * consumer is deleted (best effort), not left for the server's 5 minutes.
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
  type PushConsumer,
} from "@nats-io/jetstream";
import { decodeEntry, type StoredEntry } from "./entry.ts";

/** How long a check waits for the feed to reach the stream's last sequence, ms. */
const CATCH_UP_MS = 1000;
/** How long after a feed that could not start (a permission refused) it is tried again, ms. */
export const RETRY_MS = 30_000;
/** How long {@linkcode BucketFeed.close} waits for its consumer's deletion, ms. */
const DELETE_WAIT_MS = 1000;

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
  /** The keys whose last message is a delete or purge marker (or no entry), by sequence: subjects of the stream too. */
  #markers = new Map<string, number>();
  /** Reads in a row at which the feed's keys and the stream's subjects differed in number. */
  #miscounts = 0;
  /** The stream sequence of the last message applied. */
  #seq = 0;
  #messages: ConsumerMessages | undefined;
  #consumer: PushConsumer | undefined;
  /** The creation time of the stream the feed reads (a recreated bucket has another). */
  #created: string | undefined;
  /** The consumers being deleted. */
  #deleting = new Set<Promise<unknown>>();
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
    let info;
    try {
      info = await jsm.streams.info(stream);
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
    const { state, created } = info;
    if (created !== this.#created || state.last_seq < this.#seq) {
      this.#stop(); // a recreated bucket: its consumer died with the old stream
    }
    if (this.#messages === undefined && performance.now() >= this.#retryAt) {
      this.#starting ??= this.#start(created).finally(() =>
        this.#starting = undefined
      );
      await this.#starting;
    }
    // An empty stream (every entry aged out) keeps its last sequence.
    const last = state.messages === 0 ? 0 : state.last_seq;
    if (this.#messages !== undefined && await this.#reach(last)) {
      this.#prune(state.first_seq);
      // One miscount may be a key put since the stream info; two in a row
      // are a key gone without a marker (a raw purge).
      const keys = this.#entries.size + this.#markers.size;
      this.#miscounts = keys === state.num_subjects ? 0 : this.#miscounts + 1;
      if (this.#miscounts < 2) return new Map(this.#entries);
    }
    this.#stop(); // lagging or not started: read every key, start again
    return await this.#place.readAll();
  }

  /** Entries and markers the stream aged out (max_age, before `firstSeq`) are gone for the feed too. */
  #prune(firstSeq: number): void {
    for (const [key, stored] of this.#entries) {
      if (stored.revision < firstSeq) this.#entries.delete(key);
    }
    for (const [key, seq] of this.#markers) {
      if (seq < firstSeq) this.#markers.delete(key);
    }
  }

  /** Stops the feed for good, deleting its consumer (waiting up to a second for that). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stop();
    // A feed starting meanwhile stops (and deletes its consumer) once started.
    const deleted = (async () => {
      await this.#starting?.catch(() => {});
      await Promise.all(this.#deleting);
    })();
    const { promise, resolve } = Promise.withResolvers<void>();
    const timer = setTimeout(resolve, DELETE_WAIT_MS);
    await Promise.race([deleted, promise]);
    clearTimeout(timer);
  }

  /** Starts a feed of the stream created at `created`; a refused consumer is tried again after {@linkcode RETRY_MS}. */
  async #start(created: string): Promise<void> {
    if (this.#closed) return;
    const { js, stream, prefix } = this.#place;
    let consumer;
    try {
      consumer = await js.consumers.getPushConsumer(stream, {
        filter_subjects: `${prefix}>`,
        deliver_policy: DeliverPolicy.LastPerSubject,
      });
    } catch {
      this.#retryAt = performance.now() + RETRY_MS;
      return;
    }
    this.#entries = new Map();
    this.#markers = new Map();
    this.#miscounts = 0;
    this.#seq = 0;
    this.#created = created;
    this.#consumer = consumer;
    const messages = await consumer.consume({
      callback: (message) => this.#apply(message),
    });
    this.#messages = messages;
    if (this.#closed) this.#stop();
  }

  #apply(message: JsMsg): void {
    const key = message.subject.slice(this.#place.prefix.length);
    // A delete or purge marker, or what is not an entry: no entry.
    const entry = message.data.length > 0
      ? decodeEntry(message.data)
      : undefined;
    if (entry === undefined) {
      this.#entries.delete(key);
      this.#markers.set(key, message.seq);
    } else {
      this.#markers.delete(key);
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

  /** Stops the consumer and deletes it (best effort; the server would keep it 5 minutes). */
  #stop(): void {
    this.#messages?.stop();
    this.#messages = undefined;
    const deleting = this.#consumer?.delete().catch(() => {});
    this.#consumer = undefined;
    if (deleting === undefined) return;
    this.#deleting.add(deleting);
    deleting.finally(() => this.#deleting.delete(deleting));
  }
}
