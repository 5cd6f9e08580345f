/**
 * The few key-value operations the registry needs, over the JetStream stream
 * API the way NATS KV lays a bucket out (stream `KV_{bucket}`, subjects
 * `$KV.{bucket}.{key}`, one message kept per key), so `nats kv ls` and
 * `nats kv get` read the same bucket. Writes are compare-and-set on the
 * key's last revision (`Nats-Expected-Last-Subject-Sequence`); reads go to
 * the stream leader (not direct gets, which a replica may answer stale).
 *
 * @module
 */

import {
  jetstream,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/nats-core";
import {
  decodeEntry,
  encodeEntry,
  type StoredEntry,
  type SymbolEntry,
} from "./entry.ts";
import { BucketFeed } from "./_bucket_feed.ts";

/** A compare-and-set write lost: the key changed (or appeared) since the revision it named. */
export class RevisionConflictError extends Error {
  /** The key written. */
  readonly key: string;

  /** Creates the error for `key` expected at `revision` (0 = absent). */
  constructor(key: string, revision: number, options?: ErrorOptions) {
    super(
      `Registry key ${
        JSON.stringify(key)
      } is no longer at revision ${revision}: another process wrote it`,
      options,
    );
    this.name = "RevisionConflictError";
    this.key = key;
  }
}

/** Options of {@linkcode RegistryBucket.open}. */
export interface BucketOptions {
  /** Bucket name (`registry.bucket`). */
  bucket: string;
  /** Create the bucket when missing, with this max age of an entry not re-put, ms; undefined = never create (readers). */
  createWithMaxAgeMs?: number;
  /** How long one request (a get, a put) may take, ms; a NATS outage fails them after it. */
  timeoutMs?: number;
  /** Replicas of a bucket it creates. @default {1} */
  replicas?: number;
}

function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}

async function hasStream(
  jsm: JetStreamManager,
  stream: string,
): Promise<boolean> {
  try {
    await jsm.streams.info(stream);
    return true;
  } catch (error) {
    if (isApiError(error, JetStreamApiCodes.StreamNotFound)) return false;
    throw error;
  }
}

/** A registry bucket: get, create, compare-and-set update, list. */
export class RegistryBucket {
  #js: JetStreamClient;
  #jsm: JetStreamManager;
  #stream: string;
  #prefix: string;

  private constructor(
    nc: NatsConnection,
    jsm: JetStreamManager,
    options: { bucket: string; timeoutMs?: number },
  ) {
    const bucket = options.bucket;
    this.#js = jetstream(nc, { timeout: options.timeoutMs });
    this.#jsm = jsm;
    this.#stream = `KV_${bucket}`;
    this.#prefix = `$KV.${bucket}.`;
  }

  /**
   * Binds to the bucket on `nc`, creating it first when asked to and it is
   * missing. A bucket that does not exist (yet) lists nothing.
   */
  static async open(
    nc: NatsConnection,
    options: BucketOptions,
  ): Promise<RegistryBucket> {
    const jsm = await jetstreamManager(nc, {
      checkAPI: false,
      timeout: options.timeoutMs,
    });
    const stream = `KV_${options.bucket}`;
    if (
      options.createWithMaxAgeMs !== undefined && !await hasStream(jsm, stream)
    ) {
      const maxAge = nanos(options.createWithMaxAgeMs);
      try {
        await jsm.streams.add({
          name: stream,
          subjects: [`$KV.${options.bucket}.>`],
          max_msgs_per_subject: 1,
          max_age: maxAge,
          duplicate_window: Math.min(maxAge, nanos(120_000)),
          discard: "new" as never,
          allow_rollup_hdrs: true,
          deny_delete: true,
          allow_direct: true,
          num_replicas: options.replicas ?? 1,
        });
      } catch (error) {
        // Another serve created it between the look and the add.
        if (!(error instanceof JetStreamApiError)) throw error;
      }
    }
    return new RegistryBucket(nc, jsm, options);
  }

  /** The entry under `key`, or undefined when there is none (or it is not one). */
  async get(key: string): Promise<StoredEntry | undefined> {
    let message;
    try {
      message = await this.#jsm.streams.getMessage(this.#stream, {
        last_by_subj: this.#prefix + key,
      });
    } catch (error) {
      if (
        isApiError(error, JetStreamApiCodes.NoMessageFound) ||
        isApiError(error, JetStreamApiCodes.StreamNotFound)
      ) return undefined;
      throw error;
    }
    if (message === null) return undefined;
    const entry = decodeEntry(message.data);
    if (entry === undefined) return undefined;
    return { entry, revision: message.seq, storedAt: message.time.getTime() };
  }

  /**
   * Writes `entry` under `key` if the key is still at `options.revision`
   * (0: absent) and returns the new revision.
   *
   * @throws {RevisionConflictError} when another process wrote it first.
   */
  async put(
    key: string,
    entry: SymbolEntry,
    options: { revision: number },
  ): Promise<number> {
    const { revision } = options;
    try {
      const ack = await this.#js.publish(
        this.#prefix + key,
        encodeEntry(entry),
        {
          expect: { lastSubjectSequence: revision },
        },
      );
      return ack.seq;
    } catch (error) {
      if (
        isApiError(error, JetStreamApiCodes.StreamWrongLastSequence) ||
        isApiError(error, JetStreamApiCodes.StreamWrongLastSequenceUnknown)
      ) throw new RevisionConflictError(key, revision, { cause: error });
      throw error;
    }
  }

  /** Every entry kept up to date by a watch (see {@linkcode BucketFeed}); close it when done. */
  feed(): BucketFeed {
    return new BucketFeed({
      js: this.#js,
      jsm: this.#jsm,
      stream: this.#stream,
      prefix: this.#prefix,
      readAll: () => this.list(),
    });
  }

  /** Every entry, by key (none when the bucket does not exist). */
  async list(): Promise<Map<string, StoredEntry>> {
    const entries = new Map<string, StoredEntry>();
    let subjects: Record<string, number> | undefined;
    try {
      const info = await this.#jsm.streams.info(this.#stream, {
        subjects_filter: `${this.#prefix}>`,
      });
      subjects = info.state.subjects;
    } catch (error) {
      if (isApiError(error, JetStreamApiCodes.StreamNotFound)) return entries;
      throw error;
    }
    for (const subject of Object.keys(subjects ?? {}).sort()) {
      const key = subject.slice(this.#prefix.length);
      const stored = await this.get(key);
      if (stored !== undefined) entries.set(key, stored);
    }
    return entries;
  }
}
