/**
 * Where a ring durable consumer (`live --ring-durable NAME`) starts, from
 * its stored positions (see `durable_position.ts`), and what it records.
 * With none stored (its first run) it starts now: a time catch-up from the
 * start. Otherwise the history replays JetStream from
 * {@linkcode DURABLE_MARGIN_MS} before the earliest position's `ts_recv`
 * with each stream's trades up to its position left out; a stream the
 * history brings nothing past its position switches to the ring past it
 * (the seam's stored cut). The timeline: docs/ipc_ring.md, "A ring
 * consumer that survives its restart".
 *
 * @module
 */

import type { TradeOrigin } from "../wire/codec.ts";
import { RecordOffset } from "../wire/record.ts";
import { TradeView } from "../wire/trade_view.ts";
import { TRADE_RECORD_SIZE, TradeFlags } from "../wire/trade.ts";
import type { TradeFeed } from "../transport/feed.ts";
import type {
  LoadSnapshot,
  SnapshotTrade,
} from "../transport/snapshot_feed.ts";
import type { DurablePosition, Position } from "./durable_position.ts";
import { PositionFilter } from "./_position_filter.ts";

/**
 * How long before the earliest position's `ts_recv` the history starts,
 * ms: JetStream starts by the time it stored a message, which is after the
 * publisher received the trade, but on another host its clock may differ.
 */
export const DURABLE_MARGIN_MS = 2000;

/** Where a durable's catch-up starts: the `CatchUpFeed` options it sets. */
export interface DurableStart {
  /** When the history starts (the JetStream consumer's start time). */
  historyStart: Date;
  /** The catch-up's `since`: set when no position is stored (a first run: from now). */
  since?: Date;
  /** Each stream's position, for the seam's cut (a stream the history brings nothing of). */
  stored: LoadSnapshot;
  /** Its positions are the last trades an earlier run delivered: true once one is stored (a first trade of another run is a restart gap). */
  continuing: boolean;
  /** Wraps the history feed to leave out each stream's trades up to its position. */
  history(feed: TradeFeed): TradeFeed;
}

/** What a start reads of a durable's file. */
export type PositionSource = Pick<DurablePosition, "name" | "get">;

/** The stored positions of the streams `exchange` × `symbols` (absent: none stored). */
function storedPositions(
  store: PositionSource,
  exchange: string,
  symbols: readonly string[],
): Map<string, Position> {
  const positions = new Map<string, Position>();
  for (const symbol of symbols) {
    const position = store.get(exchange, symbol);
    if (position !== undefined) positions.set(symbol, position);
  }
  return positions;
}

/** A 48-byte record holding `position`'s `seq` and `ts_recv` (the rest zero). */
function recordOf(position: Position): Uint8Array {
  const record = new Uint8Array(48);
  const words = new DataView(record.buffer);
  words.setUint32(RecordOffset.Seq, position.seq, true);
  words.setBigInt64(RecordOffset.TsRecv, position.tsRecv, true);
  return record;
}

/**
 * Where durable `store` starts reading `symbols` of `exchange`, at
 * `options.now` (ms since the epoch; default: now); `options.warn` tells
 * the history trades its filter gives up on.
 */
export function durableStart(
  store: PositionSource,
  origin: { exchange: string; symbols: readonly string[] },
  options: { now?: number; warn?: (message: string) => void } = {},
): DurableStart {
  const now = options.now ?? Date.now();
  const { exchange, symbols } = origin;
  const positions = storedPositions(store, exchange, symbols);
  if (positions.size === 0) {
    const since = new Date(now);
    return {
      historyStart: since,
      since,
      continuing: false,
      stored: () => Promise.resolve([]),
      history: (feed) => feed,
    };
  }
  let earliest = BigInt(now) * 1_000_000n;
  for (const position of positions.values()) {
    if (position.tsRecv < earliest) earliest = position.tsRecv;
  }
  const at = Number(earliest / 1_000_000n) - DURABLE_MARGIN_MS;
  const stored: SnapshotTrade[] = [...positions].map(([symbol, position]) => ({
    origin: { exchange, symbol },
    record: recordOf(position),
    // Acknowledged by construction: no consumer ack floor to wait for.
    streamSeq: 0,
    epoch: position.epoch,
    where: `durable ${store.name}'s position`,
  }));
  return {
    historyStart: new Date(Math.max(0, at)),
    continuing: true,
    stored: () => Promise.resolve(stored),
    history: (feed) =>
      new PositionFilter(
        feed,
        (stream) =>
          stream.exchange === exchange
            ? positions.get(stream.symbol)
            : undefined,
        { warn: options.warn },
      ),
  };
}

/** Where a restarted durable's redelivery ends: the trade in hand at its crash. */
interface Redelivery {
  epoch: number;
  seq: number;
}

/**
 * Records, per stream, the trade in hand before the strategy gets it and
 * the delivered position after, in a durable's file; marks
 * {@linkcode TradeFlags.Redelivered} the trades a crash may have delivered
 * already (those past the stored position up to the stored trade in hand).
 */
export class DurableRecorder {
  readonly #store: DurablePosition;
  /** Each stream's slot in the file, by stream index. */
  readonly #slots: number[] = [];
  /** Each stream's redelivery left to mark, by stream index (undefined: none). */
  readonly #redelivery: (Redelivery | undefined)[] = [];
  readonly #copy = new Uint8Array(TRADE_RECORD_SIZE);
  readonly #marked = new TradeView();

  /** Records into `store`. */
  constructor(store: DurablePosition) {
    this.#store = store;
  }

  /** The slot of `stream`, reading its redelivery at the first call. */
  #slot(origin: TradeOrigin, stream: number): number {
    const known = this.#slots[stream];
    if (known !== undefined) return known;
    const { exchange, symbol } = origin;
    const hand = this.#store.inHand(exchange, symbol);
    const done = this.#store.get(exchange, symbol);
    if (
      hand !== undefined &&
      (done === undefined || hand.epoch !== done.epoch || hand.seq !== done.seq)
    ) {
      this.#redelivery[stream] = { epoch: hand.epoch, seq: hand.seq };
    }
    return this.#slots[stream] = this.#store.slot(exchange, symbol);
  }

  /**
   * Stores `trade`, of stream `stream` (`origin`) and run `epoch`, as in
   * hand: call it just before the strategy gets it. Returns the trade to
   * deliver: `trade`, or a copy marked {@linkcode TradeFlags.Redelivered}
   * when a crash may have delivered it already (valid until the next call).
   * A trade of no known run (epoch 0 or undefined) is neither stored nor
   * marked.
   */
  hand(
    trade: TradeView,
    origin: TradeOrigin,
    stream: number,
    epoch: number | undefined,
  ): TradeView {
    if (!epoch) return trade;
    const slot = this.#slot(origin, stream);
    this.#store.hand(slot, epoch, trade.seq);
    const redelivery = this.#redelivery[stream];
    if (redelivery === undefined) return trade;
    if (
      epoch !== redelivery.epoch || ((redelivery.seq - trade.seq) | 0) < 0
    ) {
      this.#redelivery[stream] = undefined; // past the trade in hand
      return trade;
    }
    trade.copyRecord(this.#copy, 0);
    const flags = RecordOffset.Flags;
    const marked = (this.#copy[flags] | this.#copy[flags + 1] << 8) |
      TradeFlags.Redelivered;
    this.#copy[flags] = marked & 0xff;
    this.#copy[flags + 1] = marked >>> 8;
    this.#marked.wrap(this.#copy);
    return this.#marked;
  }

  /**
   * Records `trade`, of stream `stream` (`origin`) and run `epoch`, as
   * delivered: call it once the strategy and the outputs handled it. A
   * trade of no known run (epoch 0 or undefined) is not recorded.
   */
  record(
    trade: TradeView,
    origin: TradeOrigin,
    stream: number,
    epoch: number | undefined,
  ): void {
    if (!epoch) return;
    this.#store.store(
      this.#slot(origin, stream),
      epoch,
      trade.seq,
      trade.tsRecv,
    );
  }
}
