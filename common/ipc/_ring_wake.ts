/**
 * Waking a ring's sleeping consumers outside the per-trade path: the futex
 * word, a wake-up of every sleeper, and closing the ring for its consumers
 * (shared by the writer, the segment it replaces, and the reader's
 * interrupt). The writer's commit wakes inline.
 *
 * @module
 */

import { futexWake } from "../os/futex.ts";
import { W_STATE, W_WAKE } from "./_header.ts";
import { Header, RingState } from "./layout.ts";
import type { Segment } from "./segment.ts";

/** The futex word consumers sleep on: the header's wake sequence. */
export function wakeWordOf(segment: Segment): Deno.PointerObject {
  return Deno.UnsafePointer.offset(segment.pointer, Header.WakeSequence)!;
}

/** Moves the wake sequence and wakes every sleeper: a pending sleep returns at once. */
export function wakeAll(words: Int32Array, wakeWord: Deno.PointerObject): void {
  Atomics.add(words, W_WAKE, 1);
  futexWake(wakeWord, 0x7fff_ffff);
}

/** Marks the ring closed and wakes every consumer, so that they notice at once. */
export function markClosed(
  words: Int32Array,
  wakeWord: Deno.PointerObject,
): void {
  Atomics.store(words, W_STATE, RingState.Closed);
  wakeAll(words, wakeWord);
}
