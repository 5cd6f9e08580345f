/**
 * A reader's own slot in the ring's reader registry (`_registry.ts`): the
 * options that ask for one, the claim, and what the reader publishes there
 * (its position, its heartbeat) or learns from it (an eviction). The
 * registry layout and protocol are in docs/ipc_ring.md.
 *
 * @module
 */

import {
  beat,
  claimSlot,
  type Eviction,
  evictionOf,
  type Policy,
  releaseSlot,
  retether,
  slotOwner,
  slotState,
  storePosition,
  tetherWakeWordOf,
  wakeGatedWriter,
} from "./_registry.ts";
import { EvictionCause, ReaderState } from "./layout.ts";
import type { Segment } from "./segment.ts";

/** How a reader is delivered to: `lossy` (lapped when too slow) or `tethered` (holds the producer). */
export type Delivery = Policy;

/** The accepted deliveries. */
export const DELIVERIES: readonly Delivery[] = ["lossy", "tethered"];

/** The tether timeout a reader asks for unless told, ms. */
export const DEFAULT_TETHER_TIMEOUT_MS = 5000;

/** What a reader asks of the registry (part of `RingReaderOptions`). */
export interface RegistrationOptions {
  /**
   * `lossy`: lapped, with its loss counted, when it falls a ring behind.
   * `tethered`: the producer does not overwrite what it has not read, for up
   * to its tether timeout; then it evicts it (the reader learns it from `RingReader.evicted`).
   *
   * @default {"lossy"}
   */
  delivery?: Delivery;
  /**
   * How long a tethered reader may hold the producer before being evicted,
   * ms (the producer caps it).
   *
   * @default {5000}
   */
  tetherTimeoutMs?: number;
  /**
   * Register in the segment's reader table (a lossy reader only to be seen,
   * e.g. by `deno task rings`); false for tools and tests that must not
   * write to the segment. A tethered reader always registers.
   *
   * @default {true}
   */
  register?: boolean;
}

/** The validated {@linkcode RegistrationOptions}. */
export interface Registering {
  /** The delivery asked for. */
  delivery: Delivery;
  /** The tether timeout asked for, ms. */
  tetherTimeoutMs: number;
  /** Register at all? */
  register: boolean;
}

/**
 * Checks `options`.
 *
 * @throws {RangeError} for an unknown delivery, a timeout that is not a
 * whole number of ms from 1 to 2^32 − 1, or a tethered reader that would
 * not register.
 */
export function registering(options: RegistrationOptions): Registering {
  const delivery = options.delivery ?? "lossy";
  if (!DELIVERIES.includes(delivery)) {
    throw new RangeError(
      `Invalid delivery "${delivery}": expected "lossy" or "tethered"`,
    );
  }
  const tetherTimeoutMs = options.tetherTimeoutMs ?? DEFAULT_TETHER_TIMEOUT_MS;
  if (
    !Number.isInteger(tetherTimeoutMs) || tetherTimeoutMs < 1 ||
    tetherTimeoutMs > 0xffff_ffff
  ) {
    throw new RangeError(
      `Invalid tether timeout ${tetherTimeoutMs} ms: expected a whole number of ms from 1 to ${0xffff_ffff}`,
    );
  }
  const register = options.register ?? true;
  if (!register && delivery === "tethered") {
    throw new RangeError(
      `Invalid reader options: a tethered reader must register (got register: false)`,
    );
  }
  return { delivery, tetherTimeoutMs, register };
}

/** A reader's claimed registry slot: what it writes there and reads back. */
export class ReaderSlotHandle {
  /** The reader's random non-zero id (the slot's owner word). */
  readonly id: number;
  /** The slot index, 0 to 63. */
  readonly index: number;
  /** Lossy or tethered. */
  readonly policy: Policy;
  #words: Int32Array;
  #hi = -1;
  #wakeWord: Deno.PointerObject;
  #released = false;

  private constructor(
    words: Int32Array,
    wakeWord: Deno.PointerObject,
    claimed: { index: number; id: number; policy: Policy },
  ) {
    this.#words = words;
    this.#wakeWord = wakeWord;
    this.id = claimed.id;
    this.index = claimed.index;
    this.policy = claimed.policy;
  }

  /**
   * Claims a slot of `segment` (`words` over it from byte 0) with `position`,
   * then its state; undefined when every slot is held by a live reader.
   */
  static claim(
    segment: Segment,
    words: Int32Array,
    options: { policy: Policy; position: number; tetherTimeoutMs: number },
  ): ReaderSlotHandle | undefined {
    const registration = claimSlot(words, options);
    if (registration === undefined) return undefined;
    const handle = new ReaderSlotHandle(words, tetherWakeWordOf(segment), {
      ...registration,
      policy: options.policy,
    });
    handle.#hi = Math.floor(options.position / 2 ** 32);
    return handle;
  }

  /** Is the slot still this reader's (not freed or reclaimed by another process)? */
  owned(): boolean {
    return !this.#released &&
      slotOwner(this.#words, this.index) === this.id;
  }

  /**
   * Publishes `position` (a tethered reader then wakes the producer if it
   * waits). False when the slot is no longer this reader's.
   */
  publish(position: number): boolean {
    if (!this.owned()) return false;
    this.#hi = storePosition(this.#words, this.index, position, this.#hi);
    if (this.policy === "tethered") {
      wakeGatedWriter(this.#words, this.#wakeWord);
    }
    return true;
  }

  /** Stores the heartbeat (`nowMs` from `monotonicMs`); false when the slot is no longer this reader's. */
  beat(nowMs: number): boolean {
    if (!this.owned()) return false;
    beat(this.#words, this.index, nowMs);
    return true;
  }

  /** Is the slot tethered now (not evicted, still this reader's)? */
  tethered(): boolean {
    return slotState(this.#words, this.index) === ReaderState.Tethered &&
      this.owned();
  }

  /**
   * The eviction of a tethered reader, or undefined while it is tethered
   * (or lossy). A slot the producer freed (a reader it took for dead) or
   * another reader reclaimed counts as an eviction too.
   */
  evicted(): Eviction | undefined {
    if (this.policy !== "tethered" || this.tethered()) return undefined;
    const state = slotState(this.#words, this.index);
    const eviction = evictionOf(this.#words, this.index);
    if (state === ReaderState.Evicted && this.owned()) return eviction;
    // Freed by the producer after it evicted a reader it took for dead (its
    // fields may be gone already if another reader took the slot).
    return (eviction.cause as number) === 0
      ? { cause: EvictionCause.Dead, evictedAt: 0, lag: 0, evictions: 1 }
      : eviction;
  }

  /**
   * Tethers again at `position` after an eviction. False when the slot is no
   * longer this reader's (then claim another).
   */
  retether(position: number): boolean {
    if (!this.owned()) return false;
    const hi = Math.floor(position / 2 ** 32);
    const done = retether(this.#words, this.index, position, this.#hi);
    this.#hi = hi;
    return done;
  }

  /** Gives the slot back (if still this reader's). Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    releaseSlot(this.#words, { index: this.index, id: this.id });
    // A producer gated on this reader need not wait for its next rescan.
    wakeGatedWriter(this.#words, this.#wakeWord);
  }
}
