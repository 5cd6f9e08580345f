/**
 * What {@linkcode NatsPublisher} holds per symbol: a lane with its queue of
 * trades (preallocated chunks of records) and its messages (slots) from
 * publish until acknowledged or rejected.
 *
 * @module
 */

import type { TradeOrigin } from "../wire/mod.ts";
import { normalizeSymbol, tradeSubject } from "../wire/subjects.ts";
import { TRADE_RECORD_SIZE } from "../wire/trade.ts";
import { natsMessageIdPrefix } from "../wire/message_id.ts";

/** Records per queue chunk. */
export const CHUNK_TRADES = 256;
/** 32-bit words per record. */
export const RECORD_WORDS = TRADE_RECORD_SIZE / 4;

/** Queued records of one symbol, from `head` (oldest) to `tail`. */
export interface Chunk {
  /** The records, as 32-bit words (copied in). */
  words: Int32Array;
  /** The same records, as bytes (copied out). */
  bytes: Uint8Array;
  /** Arrival number of each record, to find the oldest trade over all symbols. */
  arrivals: Float64Array;
  /** The oldest queued record. */
  head: number;
  /** Where the next record goes. */
  tail: number;
}

/** One symbol: its subject, its queue and its messages not yet acknowledged. */
export interface Lane {
  /** The symbol's subject. */
  subject: string;
  /** The same subject, as bytes (in every command). */
  subjectBytes: Uint8Array;
  /** Exchange and symbol, in the message ids. */
  origin: TradeOrigin;
  /** The `exchange:symbol:` start of its message ids, as bytes. */
  idPrefix: Uint8Array;
  /** Trades of this symbol in acknowledged messages. */
  sent: number;
  /** Queued trades; every chunk but the last is full when appended, and the first holds the oldest. */
  chunks: Chunk[];
  /** Trades queued, not yet in a message. */
  queued: number;
  /** Messages built and not yet acknowledged or rejected, in publish order. */
  unacked: Slot[];
  /** How many of `unacked` are split (refused for their size): nothing behind them goes out. */
  splitting: number;
  /** How many of `unacked` wait for a retry. */
  waiting: number;
  /** Retries wait until then (performance.now() ms). */
  retryAt: number;
}

/** Where a slot's message is. */
export const enum SlotState {
  /** Holds no message. */
  Free,
  /** Published, awaiting its ack. */
  InFlight,
  /** Waiting to be published again (a retry, or the next part of a split message). */
  Waiting,
  /** Acked as a duplicate of a bigger message it was split from: reading what the stream holds. */
  Checking,
}

/** A message: its trades, its current part and attempt. */
export interface Slot {
  /** Its place among the slots (also in its attempt ids). */
  index: number;
  /** Its trades (room for `batchMaxTrades`). */
  bytes: Uint8Array;
  /** The same bytes, to read the first trade's id and seq. */
  view: DataView;
  /** Where its message is. */
  state: SlotState;
  /** The symbol of its trades; undefined while free. */
  lane: Lane | undefined;
  /** The part of the trades in the current message. */
  payload: Uint8Array;
  /** Trades in the slot. */
  count: number;
  /** Trades before the current message (stored already): non-zero once split. */
  offset: number;
  /** Trades in the current message. */
  sending: number;
  /** Refused for its size once: sent as smaller messages, one at a time. */
  split: boolean;
  /** The next publish of a waiting slot is a retry (not the next part of a split one). */
  retry: boolean;
  /** An attempt with the current message's id may have been stored (sent, no answer). */
  maybeStored: boolean;
  /** The current message has the id of the bigger one it was split from. */
  keptId: boolean;
  /** The current message's `Nats-Msg-Id` (its first `idLength` bytes). */
  id: Uint8Array;
  /** Bytes of `id` in use. */
  idLength: number;
  /** Id of the current attempt (in its reply subject); stale replies do not match. */
  attempt: number;
  /** performance.now() of the current attempt. */
  sentAt: number;
  /** Failed attempts so far: the next retry waits longer. */
  failures: number;
}

/** An empty chunk. */
export function newChunk(): Chunk {
  const words = new Int32Array(CHUNK_TRADES * RECORD_WORDS);
  return {
    words,
    bytes: new Uint8Array(words.buffer),
    arrivals: new Float64Array(CHUNK_TRADES),
    head: 0,
    tail: 0,
  };
}

/** The empty lane of `symbol` of `exchange` (normalized), its subject under `prefix`. */
export function newLane(
  exchange: string,
  symbol: string,
  options: {
    /** Subject prefix of the stream. */
    prefix: string;
  },
): Lane {
  const subject = tradeSubject(exchange, symbol, { prefix: options.prefix });
  const origin = { exchange, symbol: normalizeSymbol(symbol) };
  return {
    subject,
    subjectBytes: new TextEncoder().encode(subject),
    origin,
    idPrefix: natsMessageIdPrefix(origin),
    sent: 0,
    chunks: [newChunk()],
    queued: 0,
    unacked: [],
    splitting: 0,
    waiting: 0,
    retryAt: 0,
  };
}

/** A free slot numbered `index`, room for `batchMax` trades. */
export function newSlot(index: number, batchMax: number): Slot {
  const bytes = new Uint8Array(batchMax * TRADE_RECORD_SIZE);
  return {
    index,
    bytes,
    view: new DataView(bytes.buffer),
    state: SlotState.Free,
    lane: undefined,
    payload: bytes,
    count: 0,
    offset: 0,
    sending: 0,
    split: false,
    retry: false,
    maybeStored: false,
    keptId: false,
    id: new Uint8Array(0),
    idLength: 0,
    attempt: -1,
    sentAt: 0,
    failures: 0,
  };
}

/**
 * Removes the `count` oldest queued trades of `lane`, copying them to `into`
 * when given; emptied chunks but the last go to `spare`. (Positional
 * arguments: it runs for every message.)
 */
export function takeTrades(
  lane: Lane,
  count: number,
  spare: Chunk[],
  into?: Uint8Array,
): void {
  let done = 0;
  while (done < count) {
    const chunk = lane.chunks[0];
    const n = Math.min(count - done, chunk.tail - chunk.head);
    into?.set(
      chunk.bytes.subarray(
        chunk.head * TRADE_RECORD_SIZE,
        (chunk.head + n) * TRADE_RECORD_SIZE,
      ),
      done * TRADE_RECORD_SIZE,
    );
    chunk.head += n;
    done += n;
    if (chunk.head === chunk.tail) {
      if (lane.chunks.length > 1) {
        lane.chunks.shift();
        chunk.head = chunk.tail = 0;
        spare.push(chunk);
      } else {
        chunk.head = chunk.tail = 0;
      }
    }
  }
  lane.queued -= count;
}

/** The trades `lanes` sent and have no ack for yet. */
export function unackedTrades(lanes: readonly Lane[]): number {
  let unacked = 0;
  for (const lane of lanes) {
    for (const slot of lane.unacked) unacked += slot.count - slot.offset;
  }
  return unacked;
}

/** Empties every lane's queue; returns the trades the lanes held, queued or sent and not acknowledged. */
export function giveUpAll(lanes: readonly Lane[], spare: Chunk[]): number {
  let held = unackedTrades(lanes);
  for (const lane of lanes) {
    held += lane.queued;
    takeTrades(lane, lane.queued, spare);
  }
  return held;
}

/** The lane holding the oldest queued trade over all `lanes` (the first when none is queued). */
export function oldestLane(lanes: readonly Lane[]): Lane {
  let oldest = lanes[0];
  let arrival = Infinity;
  for (const lane of lanes) {
    if (lane.queued === 0) continue;
    const chunk = lane.chunks[0];
    if (chunk.arrivals[chunk.head] < arrival) {
      arrival = chunk.arrivals[chunk.head];
      oldest = lane;
    }
  }
  return oldest;
}
