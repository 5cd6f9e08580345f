/**
 * The silence watchdog's decisions, apart from the sockets: which symbols
 * trade steadily enough that a silence means a stalled stream, and what a
 * connection that went quiet needs (a probe, or a reconnect).
 *
 * A symbol is *active* when it traded in at least {@linkcode ACTIVE_SLOTS}
 * of the {@linkcode WINDOW_SLOTS} equal slots of the `silence timeout`-long
 * window ending at its last trade: trading spread over the window, not one
 * burst (a single order sweeping the book makes dozens of trades at once).
 * An active symbol that then sends nothing for the timeout has stalled: at
 * the rate that made it active, such a silence is all but impossible
 * (probability below e^-16). A quiet symbol is never taken for a dead
 * connection.
 *
 * Times are monotonic milliseconds (`performance.now()`).
 *
 * @module
 */

/** Slots a silence-timeout window is split into. */
export const WINDOW_SLOTS = 10;
/** Slots of the window a symbol must have traded in to count as active. */
export const ACTIVE_SLOTS = 8;

const ALL_SLOTS = (1 << WINDOW_SLOTS) - 1;

function popcount(mask: number): number {
  let count = 0;
  for (let bits = mask; bits !== 0; bits &= bits - 1) count++;
  return count;
}

/** Per-symbol trading activity over the last silence-timeout window. */
export class SymbolActivity {
  readonly #timeoutMs: number;
  readonly #slotMs: number;
  // Per symbol: time of the last trade, its slot number, and a bit per slot
  // of the window ending there (bit 0 = the last trade's slot).
  readonly #lastAt: Float64Array;
  readonly #lastSlot: Float64Array;
  readonly #slots: Uint16Array;

  /** Tracks `symbolCount` symbols against a silence timeout of `timeoutMs` (> 0). */
  constructor(symbolCount: number, timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
    this.#slotMs = timeoutMs / WINDOW_SLOTS;
    this.#lastAt = new Float64Array(symbolCount);
    this.#lastSlot = new Float64Array(symbolCount);
    this.#slots = new Uint16Array(symbolCount);
  }

  /** Records a trade of symbol `index` at `now`. */
  trade(index: number, now: number): void {
    const slot = Math.floor(now / this.#slotMs);
    const shift = slot - this.#lastSlot[index];
    const slots = this.#slots[index];
    if (slots === 0 || shift >= WINDOW_SLOTS) this.#slots[index] = 1;
    else if (shift > 0) {
      this.#slots[index] = ((slots << shift) & ALL_SLOTS) | 1;
    }
    this.#lastSlot[index] = slot;
    this.#lastAt[index] = now;
  }

  /** Forgets symbol `index`'s activity: after a reconnect it must trade steadily again to be watched (no reconnect loop on a symbol that stopped for good). */
  forget(index: number): void {
    this.#slots[index] = 0;
  }

  /** Slots of its last window symbol `index` traded in. */
  slotsTraded(index: number): number {
    return popcount(this.#slots[index]);
  }

  /** How long active symbol `index` has been silent at `now` when that is at least the timeout; otherwise undefined. */
  stalledFor(index: number, now: number): number | undefined {
    if (this.slotsTraded(index) < ACTIVE_SLOTS) return undefined;
    const silent = now - this.#lastAt[index];
    return silent >= this.#timeoutMs ? silent : undefined;
  }
}

/** What a connection's watchdog does at one check. */
export type SilenceAction =
  | { kind: "none" }
  | { kind: "probe" }
  | { kind: "silent"; silentMs: number }
  | { kind: "stalled"; symbolIndex: number; silentMs: number };

const NONE: SilenceAction = { kind: "none" };
const PROBE: SilenceAction = { kind: "probe" };

/** The silence state of one open connection. */
export interface ConnectionSilence {
  /** When its last frame (of any kind) arrived, or when it opened. */
  lastFrameAt: number;
  /** Whether a probe was sent since that frame. */
  probed: boolean;
}

/**
 * Decides what an open connection needs at `now`: nothing; a probe (no frame
 * for half the timeout: a request whose reply proves the connection alive);
 * a reconnect because nothing at all came for the timeout, not even the
 * probe's reply (`silent`); or a reconnect because one of its active symbols
 * stalled while the connection answered (`stalled`).
 */
export function checkSilence(
  connection: ConnectionSilence,
  context: {
    now: number;
    timeoutMs: number;
    symbolIndexes: readonly number[];
    activity: SymbolActivity;
  },
): SilenceAction {
  const { now, timeoutMs, symbolIndexes, activity } = context;
  const silentMs = now - connection.lastFrameAt;
  if (silentMs >= timeoutMs) return { kind: "silent", silentMs };
  for (const symbolIndex of symbolIndexes) {
    const stalled = activity.stalledFor(symbolIndex, now);
    if (stalled !== undefined) {
      return { kind: "stalled", symbolIndex, silentMs: stalled };
    }
  }
  return silentMs >= timeoutMs / 2 && !connection.probed ? PROBE : NONE;
}
