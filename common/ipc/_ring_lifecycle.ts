/**
 * A ring writer's segment at its start and at its end: the header of the
 * fresh ring, stored before anyone may read it (docs/ipc_ring.md,
 * "Header"), and the removal of its name at close, unless another producer
 * replaced it meanwhile.
 *
 * @module
 */

import { readHeader, W_STATE } from "./_header.ts";
import {
  openSegment,
  type Segment,
  unlinkSegment,
  unmapSegment,
} from "./segment.ts";
import {
  Header,
  REGISTRY_SLOT_SIZE,
  REGISTRY_SLOTS,
  RING_HEADER_SIZE,
  RING_LAYOUT_VERSION,
  RING_MAGIC,
  RingState,
  SLOT_PAYLOAD_SIZE,
  SLOT_SIZE,
} from "./layout.ts";
import { WIRE_VERSION } from "../wire/trade.ts";

/** What the header of a fresh ring says. */
export interface RingHeaderFields {
  /** Slots. */
  capacity: number;
  /** The writer's heartbeat period, ms. */
  heartbeatIntervalMs: number;
  /** This incarnation's epoch. */
  epoch: number;
  /** The first write position, low 32 bits. */
  positionLo: number;
  /** The first write position, high bits. */
  positionHi: number;
}

/**
 * Writes the header of the fresh (all zero) ring in `buffer`, whose words
 * are `words`: the magic is stored last, so a reader that sees it sees a
 * complete header.
 */
export function initialiseHeader(
  buffer: ArrayBuffer,
  words: Int32Array,
  fields: RingHeaderFields,
): void {
  const view = new DataView(buffer, 0, RING_HEADER_SIZE);
  view.setUint32(Header.LayoutVersion, RING_LAYOUT_VERSION, true);
  view.setUint32(Header.HeaderSize, RING_HEADER_SIZE, true);
  view.setUint32(Header.Capacity, fields.capacity, true);
  view.setUint32(Header.SlotSize, SLOT_SIZE, true);
  view.setUint32(Header.PayloadSize, SLOT_PAYLOAD_SIZE, true);
  view.setUint32(Header.WireVersion, WIRE_VERSION, true);
  view.setInt32(Header.ProducerPid, Deno.pid, true);
  view.setUint32(Header.Epoch, fields.epoch, true);
  view.setUint32(Header.HeartbeatIntervalMs, fields.heartbeatIntervalMs, true);
  view.setInt32(Header.FirstPositionLo, fields.positionLo, true);
  view.setUint32(Header.FirstPositionHi, fields.positionHi, true);
  view.setFloat64(Header.CreatedAtMs, Date.now(), true);
  // The registry itself is all zero (every slot free) in a fresh segment.
  view.setUint32(Header.RegistrySlots, REGISTRY_SLOTS, true);
  view.setUint32(Header.RegistrySlotSize, REGISTRY_SLOT_SIZE, true);
  view.setInt32(Header.WritePositionLo, fields.positionLo, true);
  view.setUint32(Header.WritePositionHi, fields.positionHi, true);
  Atomics.store(words, W_STATE, RingState.Open);
  // Stored last: a reader that sees the magic sees a complete header.
  Atomics.store(words, Header.Magic >> 2, RING_MAGIC | 0);
}

/** Removes the segment `name` if it is still the incarnation `epoch` (another producer may have replaced it). */
export function unlinkIfOurs(name: string, epoch: number): void {
  let current: Segment;
  try {
    current = openSegment(name, { mapBytes: RING_HEADER_SIZE });
  } catch {
    return; // already gone, or not ours to judge
  }
  let ours = false;
  try {
    ours = readHeader(current).epoch === epoch;
  } catch {
    ours = false;
  } finally {
    unmapSegment(current);
  }
  if (ours) unlinkSegment(name);
}
