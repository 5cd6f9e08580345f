/**
 * When to look again for rings that are not attached: missing, being
 * created, a dead producer's leftover, or not usable. Looking (shm_open and a
 * header read) costs microseconds, so hundreds of names looked at every few
 * milliseconds would keep a core busy. Names are looked at when the /dev/shm
 * watch reports them and otherwise on an exponential back-off.
 *
 * @module
 */

import { delay } from "../runtime/delay.ts";
import { type EventSubject, streamEvent } from "../transport/feed_events.ts";
import type { FeedEvent } from "../transport/feed.ts";
import { OsError } from "../os/libc.ts";
import { RingFormatError, RingNotFoundError } from "./errors.ts";
import {
  type Delivery,
  type ReaderStart,
  ringEpoch,
  RingReader,
} from "./ring_reader.ts";

/** What the search needs of a /dev/shm watch (common/ipc/segment_watch.ts). */
export interface NameWatch {
  /** Names changed since the last call; undefined = unknown, look at all. */
  changed(): ReadonlySet<string> | undefined;
  /** False once the watch ended. */
  readonly active: boolean;
  /** Sleeps until there is news, `timeoutMs` passed or {@linkcode cancel}, leaving the event loop free. */
  wait(timeoutMs: number): Promise<void>;
  /** Ends a wait at once. */
  cancel(): void;
  /** Stops watching. */
  close(): Promise<void>;
}

/**
 * Why a name was not attached: `absent` = nothing there, or the ring already
 * followed (only a new segment under the name can change that); `pending` =
 * something is there that may become a ring by itself (being created) or
 * that is not usable yet.
 */
export type MissKind = "absent" | "pending";

/** First delay after a miss, ms: a producer that is starting is found within it. */
export const FIRST_RETRY_MS = 5;
/** Longest delay between looks at a name that can change without an event, ms. */
export const MAX_RETRY_MS = 250;
/** Longest delay between looks at an absent name while the watch runs (in case it missed something), ms. */
export const WATCHED_RETRY_MS = 2000;

/** What is searched for: anything with a segment name. */
export interface Named {
  /** The segment name, e.g. `/marketbus_binance_BTCUSDT`. */
  readonly name: string;
}

/**
 * A name is looked at up to this fraction of its delay early: names missed
 * together stay due together, and one wake-up looks at all of them.
 */
const EARLY = 1 / 8;

interface Entry<T> {
  item: T;
  kind: MissKind;
  delayMs: number;
  /** The earliest time it is due: the delay after the miss, less the {@linkcode EARLY} part. */
  dueAt: number;
  /** The watch named it since the last miss: the next miss starts the back-off again. */
  changed: boolean;
}

/** The rings being searched for and when each is due. */
export class RingSearch<T extends Named> {
  #watch: NameWatch | undefined;
  #entries = new Map<string, Entry<T>>();
  #nextDue = Infinity;

  /** Searches with `watch` (none: back-off only). */
  constructor(watch: NameWatch | undefined) {
    this.#watch = watch;
  }

  /** Is the /dev/shm watch running? */
  get watching(): boolean {
    return this.#watch?.active ?? false;
  }

  /** Names being searched for. */
  get size(): number {
    return this.#entries.size;
  }

  /** `item` was looked at at `now` and not attached, because of `kind`. */
  missed(item: T, kind: MissKind, now: number): void {
    const entry = this.#entries.get(item.name);
    // Something new under the name (the watch named it, or a new kind of
    // miss, e.g. a refused segment replaced by a ring being created) is
    // looked at again soon.
    const delayMs = entry === undefined || entry.kind !== kind || entry.changed
      ? FIRST_RETRY_MS
      : Math.min(entry.delayMs * 2, this.#cap(kind));
    const dueAt = now + delayMs * (1 - EARLY);
    const next = { item, kind, delayMs, dueAt, changed: false };
    this.#entries.set(item.name, next);
    this.#nextDue = Math.min(this.#nextDue, next.dueAt);
  }

  /** `item` was attached: no longer searched for. */
  found(item: T): void {
    this.#entries.delete(item.name);
  }

  /** The items to look at now: due, or named by the watch. */
  due(now: number): T[] {
    if (this.#entries.size === 0) return [];
    const watched = this.watching;
    const changed = watched ? this.#watch!.changed() : undefined;
    if (changed !== undefined && changed.size === 0 && now < this.#nextDue) {
      return [];
    }
    // Events lost (or the watch just ended): everything is due.
    const all = watched && changed === undefined;
    const due: T[] = [];
    let nextDue = Infinity;
    for (const [name, entry] of this.#entries) {
      const named = changed?.has(name) ?? false;
      if (all || now >= entry.dueAt || named) {
        entry.changed = named;
        due.push(entry.item);
      } else {
        nextDue = Math.min(nextDue, entry.dueAt);
      }
    }
    this.#nextDue = nextDue;
    return due;
  }

  /**
   * Sleeps while no ring is attached: on the watch until /dev/shm changes or
   * a name is due (the event loop stays free; {@linkcode cancel} ends it),
   * or without a watch for `retryMs`, which `signal` ends early.
   */
  async idle(
    now: number,
    options: { retryMs: number; signal?: AbortSignal },
  ): Promise<void> {
    if (this.watching) {
      const dueIn = Math.max(0, this.#nextDue - now);
      await this.#watch!.wait(Math.min(dueIn, WATCHED_RETRY_MS));
      return;
    }
    await delay(options.retryMs, options.signal);
  }

  /** Ends an {@linkcode idle} sleep at once (e.g. on abort). */
  cancel(): void {
    this.#watch?.cancel();
  }

  /** Stops the watch. */
  async close(): Promise<void> {
    await this.#watch?.close();
  }

  #cap(kind: MissKind): number {
    return kind === "absent" && this.watching ? WATCHED_RETRY_MS : MAX_RETRY_MS;
  }
}

/** What looking at a ring's name found: a reader, or why not. */
export type Probe =
  | { reader: RingReader; miss?: undefined; refused?: undefined }
  | { reader?: undefined; miss: MissKind; refused?: Error };

/** How to look at a name. */
export interface ProbeOptions {
  /** The epoch already followed under the name: that ring is not a new one. */
  epoch: number | undefined;
  /** Where a new reader starts. */
  from: ReaderStart;
  /** The uid that must own the segment (default: this process's). */
  publisherUid: number | undefined;
  /** How the new reader is delivered to. */
  delivery: Delivery;
  /** The tether timeout it asks for, ms. */
  tetherTimeoutMs: number;
}

/**
 * Opens ring `name` if it is there, valid and a new incarnation. Something
 * under the name that is not a usable ring (foreign, another version, not a
 * regular file, another owner or writable by others, or an OS error opening
 * it; or, for a tethered reader, one whose reader slots are all in use)
 * comes back as `refused`, for the caller to report or throw.
 */
export function probeRing(name: string, options: ProbeOptions): Probe {
  const trust = { publisherUid: options.publisherUid };
  try {
    // The header alone tells the ring already followed (e.g. a dead
    // producer's) from a new one, without mapping all of it.
    if (ringEpoch(name, trust) === options.epoch) return { miss: "absent" };
    const reader = RingReader.open(name, {
      from: options.from,
      delivery: options.delivery,
      tetherTimeoutMs: options.tetherTimeoutMs,
      ...trust,
    });
    if (reader.epoch !== options.epoch) return { reader };
    reader.close(); // replaced back in between: still the old one
    return { miss: "absent" };
  } catch (error) {
    if (error instanceof RingNotFoundError) {
      return { miss: error.reason === "absent" ? "absent" : "pending" };
    }
    if (refusedSegment(error)) return { miss: "pending", refused: error };
    throw error;
  }
}

/**
 * Is `error` about what is under the name (refused while waiting: reported
 * once, and the search goes on)? A segment that is not a ring this version
 * reads, or not a regular file (RingFormatError), one of another owner or
 * writable by others (RingOwnerError, an OsError), or any other OS error
 * from opening, checking or mapping it (e.g. EACCES from another user's
 * owner-only segment).
 */
function refusedSegment(error: unknown): error is Error {
  return error instanceof RingFormatError || error instanceof OsError;
}

/** A subscribed ring as {@linkcode reportMiss} sees it. */
export interface WaitingChannel extends EventSubject, Named {
  /** `waiting` until it was first attached. */
  readonly state: string;
  /** "waiting for ring" was reported. */
  waitReported: boolean;
  /** A refused segment was reported since the last attach. */
  refusedReported: boolean;
}

/**
 * Reports a look that did not attach: a refused segment once per name (until
 * the next attach), else "waiting for ring" once, before the first attach.
 */
export function reportMiss(
  channel: WaitingChannel,
  refused: Error | undefined,
  emit: (event: FeedEvent) => void,
): void {
  if (refused && !channel.refusedReported) {
    emit(streamEvent(
      channel,
      "refused",
      `ignoring ${channel.name}: ${refused.message}; still waiting for a valid producer (reported once)`,
    ));
    channel.refusedReported = true;
  } else if (!refused && channel.state === "waiting" && !channel.waitReported) {
    emit(streamEvent(channel, "waiting", `waiting for ring ${channel.name}`));
    channel.waitReported = true;
  }
}
