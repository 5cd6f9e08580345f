/**
 * Trades a NATS consumer never received because the stream no longer held
 * them: discarded by the stream's limits (`max_msgs`, `max_bytes`,
 * `max_age`, per subject) or deleted before the consumer read them.
 *
 * Each (exchange, symbol) numbers its trades with the publisher's `seq`. A
 * forward jump in a stream's seq counts as that many trades lost when the
 * stream sequences delivered to the consumer jumped too since that stream's
 * previous message: messages went missing there. A jump without one (the
 * messages in between were all delivered) is the publisher's, which counts
 * it itself; a step back is a new publisher run. Counting trades, not
 * messages, keeps a filtered consumer (which never sees the messages of
 * other subjects, a jump in stream sequences each time) exact.
 *
 * A stream deleted and created again under the same name numbers its
 * messages from 1 again: the consumer starts over on it, and each stream's
 * next message counts its seq jump as lost whatever the stream sequences
 * did (the old stream's messages not delivered are gone).
 *
 * A durable consumer saves each stream's position in its metadata when a
 * subscription ends, so the next run counts what the stream discarded
 * while no one read it.
 *
 * @module
 */

import { deadline } from "@nats-io/nats-core";
import type { JetStreamManager } from "@nats-io/jetstream";
import { formatCount } from "../runtime/format.ts";
import {
  type LastMessage,
  lastMessages,
  lastTradeOf,
} from "./_last_messages.ts";
import { type EventSubject, streamEvent } from "../transport/feed_events.ts";
import type { FeedEvent, LossCause } from "../transport/feed.ts";

/** The cause of every loss counted here. */
export const STREAM_LOSS: LossCause = "stream limit or deleted";

/** Loss warnings per (exchange, symbol) at most this often, ms. */
export const LOSS_REPORT_MS = 10_000;

/** The durable consumer's metadata key holding the saved positions. */
export const POSITIONS_KEY = "marketbus_positions";

/** How long the end of a subscription waits to save the positions, ms. */
const SAVE_MS = 1000;

const TWO_32 = 2 ** 32;

/** Where an (exchange, symbol) stream stands: its last trade's seq and the stream sequence of that trade's message. */
export interface StreamPosition {
  /** The publisher's seq of the last trade delivered. */
  tradeSeq: number;
  /** The stream sequence of its message. */
  streamSeq: number;
}

/**
 * Finds the trades lost between the messages delivered to one consumer,
 * per (exchange, symbol) stream, by key (see the module documentation).
 */
export class LossWatch {
  #positions = new Map<string, StreamPosition>();
  /** Stream sequence of the last message delivered; 0: none known. */
  #last = 0;
  /** Stream sequence of the last message delivered after a jump. */
  #jumpedAt = 0;

  /** Stream sequence of the last message delivered (or resumed after); 0 before. */
  get lastDelivered(): number {
    return this.#last;
  }

  /** The known positions, by stream key. */
  get positions(): ReadonlyMap<string, StreamPosition> {
    return this.#positions;
  }

  /**
   * Continues after stream sequence `streamSeq` (a durable consumer's
   * acknowledged position when a run resumes it): a next message past
   * `streamSeq + 1` is a jump.
   */
  resume(streamSeq: number): void {
    if (streamSeq > this.#last) this.#last = streamSeq;
  }

  /** Takes `position` for stream `key`, unless one is known already. */
  seed(key: string, position: StreamPosition): void {
    if (!this.#positions.has(key)) this.#positions.set(key, { ...position });
  }

  /** Whether a position is known for stream `key`. */
  has(key: string): boolean {
    return this.#positions.has(key);
  }

  /**
   * Starts over on a new stream of the same name (the old one deleted): no
   * message of it delivered yet, and every known position before it (stream
   * sequence 0), so that a seq jump at its stream's next message is lost.
   */
  newStream(): void {
    this.#last = 0;
    this.#jumpedAt = 0;
    for (const position of this.#positions.values()) position.streamSeq = 0;
  }

  /** Notes that the message at `streamSeq` was delivered (valid or not), in stream order. */
  delivered(streamSeq: number): void {
    if (streamSeq <= this.#last) return;
    if (this.#last > 0 && streamSeq > this.#last + 1) {
      this.#jumpedAt = streamSeq;
    }
    this.#last = streamSeq;
  }

  /**
   * Takes the trades (seqs `first` to `last`) of stream `key` in the message
   * at `streamSeq` (noted {@linkcode delivered} first) and returns how many
   * trades of that stream were lost before them.
   */
  trades(key: string, streamSeq: number, first: number, last: number): number {
    const position = this.#positions.get(key);
    if (position === undefined) {
      this.#positions.set(key, { tradeSeq: last, streamSeq });
      return 0;
    }
    const jump = (first - position.tradeSeq - 1 + TWO_32) % TWO_32;
    // Stream sequence 0: its last message was in a stream since deleted.
    const lost = jump > 0 && jump < TWO_32 / 2 &&
        (position.streamSeq === 0 || this.#jumpedAt > position.streamSeq)
      ? jump
      : 0;
    position.tradeSeq = last;
    position.streamSeq = streamSeq;
    return lost;
  }
}

/** What tells a stream from one deleted and created again under its name. */
export interface StreamMark {
  /** When it was created (its info's `created`). */
  created: string;
  /** Its last stream sequence when asked. */
  lastSeq: number;
}

/**
 * Whether the stream marked `now` is another one than the one marked
 * `before` (undefined: unknown): created at another time, or its last
 * sequence below `delivered`, the last one delivered from the stream read.
 */
export function isNewStream(
  before: StreamMark | undefined,
  now: StreamMark,
  delivered: number,
): boolean {
  return (before !== undefined && before.created !== now.created) ||
    now.lastSeq < delivered;
}

/** The metadata value saving `positions` at the acknowledged position `floor`. */
export function encodePositions(
  floor: number,
  positions: ReadonlyMap<string, StreamPosition>,
): string {
  const streams: Record<string, [number, number]> = {};
  for (const [key, { streamSeq, tradeSeq }] of positions) {
    streams[key] = [streamSeq, tradeSeq];
  }
  return JSON.stringify({ floor, streams });
}

/**
 * The positions a metadata value saved, when they were saved at the
 * acknowledged position `floor` (a run that did not end cleanly acknowledged
 * more than it saved: its positions would be too old); undefined otherwise.
 */
export function decodePositions(
  text: string | undefined,
  floor: number,
): Map<string, StreamPosition> | undefined {
  if (text === undefined) return undefined;
  let saved: unknown;
  try {
    saved = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof saved !== "object" || saved === null) return undefined;
  const { floor: at, streams } = saved as Record<string, unknown>;
  if (at !== floor || typeof streams !== "object" || streams === null) {
    return undefined;
  }
  const positions = new Map<string, StreamPosition>();
  for (const [key, value] of Object.entries(streams)) {
    if (
      Array.isArray(value) && value.length === 2 &&
      value.every((n) => Number.isSafeInteger(n) && n >= 0)
    ) {
      positions.set(key, { streamSeq: value[0], tradeSeq: value[1] });
    }
  }
  return positions;
}

/**
 * The position of each (exchange, symbol) stream on `filters` at stream
 * sequence `upTo`: its last message at or before it, read with one batch
 * direct get (the stream must allow direct gets, as the one `serve` creates
 * does). Keyed by `keyOf(exchange, symbol)`; empty when the server cannot
 * answer.
 */
export async function positionsAt(
  jsm: JetStreamManager,
  stream: string,
  options: {
    filters: string[];
    upTo: number;
    prefix: string;
    keyOf: (exchange: string, symbol: string) => string;
  },
): Promise<Map<string, StreamPosition>> {
  const positions = new Map<string, StreamPosition>();
  let found: LastMessage[];
  try {
    found = await lastMessages(jsm, stream, {
      filters: options.filters,
      prefix: options.prefix,
      upToSeq: options.upTo,
    });
  } catch {
    return positions; // no direct gets, no message at or before upTo, or no answer: unknown
  }
  for (const { origin, data, streamSeq } of found) {
    const tradeSeq = lastTradeOf(data)?.seq;
    if (tradeSeq === undefined) continue;
    positions.set(options.keyOf(origin.exchange, origin.symbol), {
      tradeSeq,
      streamSeq,
    });
  }
  return positions;
}

/** Stream sequences a resumed durable consumer found discarded after its acknowledged position. */
export interface Discarded {
  /** The acknowledged position. */
  floor: number;
  /** The stream's first sequence, past `floor + 1`. */
  first: number;
}

/**
 * Prepares `watch` for a durable consumer that continues after stream
 * sequence `floor` (0: from where its deliver policy says): the positions
 * saved by its last run when it ended there (`saved`, its metadata value),
 * else each stream's last message at or before `floor` still stored. When
 * a `resumed` consumer's positions were not saved and the stream's first
 * message is past `floor + 1`, returns the discarded range: trades of
 * streams whose last message went too cannot be counted.
 */
export async function seedPositions(
  jsm: JetStreamManager,
  watch: LossWatch,
  options: {
    stream: string;
    prefix: string;
    filters: string[];
    keyOf: (exchange: string, symbol: string) => string;
    floor: number;
    /** The consumer existed before this run (not created by it). */
    resumed: boolean;
    saved: string | undefined;
  },
): Promise<Discarded | undefined> {
  const { floor } = options;
  if (floor === 0) return undefined;
  watch.resume(floor);
  const saved = decodePositions(options.saved, floor);
  if (saved !== undefined) {
    for (const [key, position] of saved) watch.seed(key, position);
    return undefined;
  }
  const stored = await positionsAt(jsm, options.stream, {
    ...options,
    upTo: floor,
  });
  for (const [key, position] of stored) watch.seed(key, position);
  if (!options.resumed) return undefined;
  try {
    const first = (await jsm.streams.info(options.stream)).state.first_seq;
    return first > floor + 1 ? { floor, first } : undefined;
  } catch {
    return undefined; // the stream is gone again: nothing to say yet
  }
}

/**
 * Saves the positions of `watch` in the durable consumer's metadata (beside
 * its other keys, `metadata`), for the next run; the problem when it could
 * not, within `SAVE_MS`.
 */
export async function savePositions(
  jsm: JetStreamManager,
  watch: LossWatch,
  options: {
    stream: string;
    name: string;
    metadata: Record<string, string> | undefined;
  },
): Promise<string | undefined> {
  if (watch.positions.size === 0) return undefined;
  const metadata = {
    ...options.metadata,
    [POSITIONS_KEY]: encodePositions(watch.lastDelivered, watch.positions),
  };
  try {
    await deadline(
      jsm.consumers.update(options.stream, options.name, { metadata }),
      SAVE_MS,
    );
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** A stream's losses and how far they were reported. */
export interface LossCounts {
  /** Trades lost. */
  lost: number;
  /** Of those, trades not reported yet. */
  unreported: number;
  /** When a loss was last reported (ms, `performance.now()`), or -Infinity. */
  reportedAt: number;
}

/**
 * Adds `trades` lost before stream sequence `streamSeq` to `channel` and
 * returns the warning to give now: the first loss of a stream at once, then
 * at most one per {@linkcode LOSS_REPORT_MS} (see {@linkcode pendingLossEvent}).
 */
export function addLoss(
  channel: EventSubject & LossCounts,
  trades: number,
  options: { streamSeq: number; now: number },
): FeedEvent | undefined {
  channel.lost += trades;
  channel.unreported += trades;
  if (channel.reportedAt !== -Infinity) {
    return pendingLossEvent(channel, options.now);
  }
  channel.reportedAt = options.now;
  channel.unreported = 0;
  return streamEvent(
    channel,
    "lost",
    `${
      formatCount(trades)
    } trades lost before stream sequence ${options.streamSeq}: the stream no longer held them when this consumer got there (stream limits or deleted); further losses of ${channel.symbol} are reported at most every ${
      LOSS_REPORT_MS / 1000
    } s`,
    { lostBy: { [STREAM_LOSS]: trades } },
  );
}

/**
 * The warning for the losses of `channel` not reported yet, when the last
 * was at least {@linkcode LOSS_REPORT_MS} ago (or `force`, at the end).
 */
export function pendingLossEvent(
  channel: EventSubject & LossCounts,
  now: number,
  force = false,
): FeedEvent | undefined {
  if (channel.unreported === 0) return undefined;
  if (!force && now - channel.reportedAt < LOSS_REPORT_MS) return undefined;
  const trades = channel.unreported;
  channel.unreported = 0;
  channel.reportedAt = now;
  return streamEvent(
    channel,
    "lost",
    `${formatCount(trades)} more trades lost (stream limits or deleted), ${
      formatCount(channel.lost)
    } in total`,
    { lostBy: { [STREAM_LOSS]: trades } },
  );
}
