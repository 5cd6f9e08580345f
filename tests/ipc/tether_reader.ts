/**
 * A tethered reader in a Worker, for common/ipc/tether_test.ts: registers on
 * ring `name` following the reader registry protocol of docs/ipc_ring.md
 * (written here from the layout, independently of `_registry.ts`, which a
 * file outside common/ipc may not import): its position the committed
 * write position W0, its state Tethered last; then it loads the committed
 * write position W, reads every slot from W on, `perCycle` of them,
 * straight from the segment under the seqlock, checking each still holds
 * the trade written at its position (a slot holding a later one was
 * overwritten: the writer's bug), publishing its position as it goes and
 * waking the writer; then releases its slot and does it again, `cycles`
 * times, each registration while the main thread writes.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { futexWake } from "../../common/os/futex.ts";
import { monotonicNanos } from "../../common/runtime/clock.ts";
import { openSegment, unmapSegment } from "../../common/ipc/segment.ts";
import {
  Header,
  ReaderSlot,
  ReaderState,
  REGISTRY_OFFSET,
  REGISTRY_SLOT_SIZE,
  REGISTRY_SLOTS,
  RING_HEADER_SIZE,
  SLOT_PAYLOAD_SIZE,
  SLOT_SIZE,
} from "../../common/ipc/layout.ts";
import { recordMismatch } from "../_ring_helpers.ts";

const TWO_32 = 2 ** 32;
const RECORD_WORDS = SLOT_PAYLOAD_SIZE >> 2;

/** What the test asks. */
export interface TetherReaderTask {
  /** The ring. */
  name: string;
  /** Registrations. */
  cycles: number;
  /** Trades to read from W on per registration. */
  perCycle: number;
}

/** What the worker reports at the end. */
export interface TetherReaderReport {
  /** Registrations done. */
  cycles: number;
  /** Trades read. */
  read: number;
  /** Positions ≥ W found overwritten before they were read (must stay empty). */
  overwritten: string[];
  /** Records that were not the one written at their position (must stay empty). */
  mismatches: string[];
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The committed write position. */
function committed(words: Int32Array): number {
  return (Atomics.load(words, Header.WritePositionHi >> 2) >>> 0) * TWO_32 +
    (Atomics.load(words, Header.WritePositionLo >> 2) >>> 0);
}

/**
 * Copies the slot of `position` into `into` under its seqlock and returns
 * the position the slot holds.
 */
function readSlot(
  words: Int32Array,
  capacity: number,
  position: number,
  into: Int32Array,
): number {
  const slot = (RING_HEADER_SIZE + (position % capacity) * SLOT_SIZE) >> 2;
  for (;;) {
    const before = Atomics.load(words, slot);
    if ((before & 1) !== 0) continue;
    const held = (words[slot + 3] >>> 0) * TWO_32 + (words[slot + 2] >>> 0);
    for (let i = 0; i < RECORD_WORDS; i++) into[i] = words[slot + 4 + i];
    if (Atomics.load(words, slot) === before) return held;
  }
}

/** Word index of field `field` (a ReaderSlot byte offset) of reader slot `index`. */
function field(index: number, field: number): number {
  return (REGISTRY_OFFSET + index * REGISTRY_SLOT_SIZE + field) >> 2;
}

/** Claims a free slot: owner by compare-and-swap, then pid, timeout, heartbeat and position, the state last. */
function claim(words: Int32Array, position: number): number {
  const id = 1 + Math.floor(Math.random() * 0x7fff_fffe);
  for (let index = 0; index < REGISTRY_SLOTS; index++) {
    if (
      Atomics.compareExchange(words, field(index, ReaderSlot.Owner), 0, id) !==
        0
    ) continue;
    Atomics.store(words, field(index, ReaderSlot.State), ReaderState.Claimed);
    Atomics.store(words, field(index, ReaderSlot.Pid), Deno.pid);
    Atomics.store(words, field(index, ReaderSlot.TetherTimeoutMs), 60_000);
    Atomics.store(
      words,
      field(index, ReaderSlot.HeartbeatMs),
      Math.floor(monotonicNanos() / 1e6) >>> 0,
    );
    publish(words, index, position);
    Atomics.store(words, field(index, ReaderSlot.State), ReaderState.Tethered);
    return index;
  }
  throw new Error("no free reader slot");
}

/** Publishes the reader's position (high word first), then wakes the writer if it waits. */
function publish(words: Int32Array, index: number, position: number): void {
  Atomics.store(
    words,
    field(index, ReaderSlot.PositionHi),
    Math.floor(position / TWO_32),
  );
  Atomics.store(words, field(index, ReaderSlot.PositionLo), position >>> 0);
}

/** Wakes the writer if it waits for a tethered reader. */
function wake(words: Int32Array, wakeWord: Deno.PointerObject): void {
  if (Atomics.load(words, Header.WriterWaiting >> 2) === 0) return;
  Atomics.add(words, Header.TetherWake >> 2, 1);
  futexWake(wakeWord, 1);
}

/** Gives the slot back: Free, then the owner word. */
function release(words: Int32Array, index: number): void {
  Atomics.store(words, field(index, ReaderSlot.State), ReaderState.Free);
  Atomics.store(words, field(index, ReaderSlot.Owner), 0);
}

self.onmessage = async (event: MessageEvent<TetherReaderTask>) => {
  const { name, cycles, perCycle } = event.data;
  const segment = openSegment(name);
  const words = new Int32Array(segment.buffer);
  const capacity = Atomics.load(words, Header.Capacity >> 2);
  const wakeWord = Deno.UnsafePointer.offset(
    segment.pointer,
    Header.TetherWake,
  )!;
  const record = new Int32Array(RECORD_WORDS);
  const bytes = new Uint8Array(record.buffer, 0, SLOT_PAYLOAD_SIZE);
  const report: TetherReaderReport = {
    cycles: 0,
    read: 0,
    overwritten: [],
    mismatches: [],
  };
  for (let cycle = 0; cycle < cycles; cycle++) {
    await pause(Math.random() * 3); // registers somewhere in a burst
    const index = claim(words, committed(words));
    const w = committed(words); // after the state: protected from here
    publish(words, index, w);
    // Descheduled right after registering, every other time: the writer
    // may write up to a ring past W meanwhile, and no further.
    if (cycle % 2 === 0) await pause(1);
    for (let p = w; p < w + perCycle; p++) {
      let idle = 0;
      while (committed(words) <= p) {
        publish(words, index, p);
        wake(words, wakeWord);
        if (++idle % 64 === 0) await pause(0);
      }
      const held = readSlot(words, capacity, p, record);
      if (held !== p) {
        report.overwritten.push(
          `cycle ${cycle}: W ${w}, slot of ${p} holds ${held}`,
        );
        break;
      }
      const wrong = recordMismatch(bytes, 0, p);
      if (wrong !== undefined) report.mismatches.push(wrong);
      report.read++;
      if (p % 64 === 0) {
        publish(words, index, p + 1);
        wake(words, wakeWord);
      }
      // A slow reader now and then: the producer must wait for it.
      if (report.read % 5000 === 0) await pause(1);
    }
    release(words, index);
    wake(words, wakeWord); // it may wait for this reader
    report.cycles++;
  }
  unmapSegment(segment);
  self.postMessage(report);
};
