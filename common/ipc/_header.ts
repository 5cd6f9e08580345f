/**
 * Reading and validating a segment's header (shared by the writer, which
 * inspects a segment it is about to replace, and the reader).
 *
 * @module
 */

import { WIRE_VERSION } from "../wire/trade.ts";
import { RingFormatError, RingNotFoundError } from "./errors.ts";
import {
  checkCapacity,
  Header,
  REGISTRY_SLOT_SIZE,
  REGISTRY_SLOTS,
  RING_HEADER_SIZE,
  RING_LAYOUT_VERSION,
  RING_MAGIC,
  type RingState,
  segmentSize,
  SLOT_PAYLOAD_SIZE,
  SLOT_SIZE,
} from "./layout.ts";
import type { Segment } from "./segment.ts";

/** 2^32, for the low and high words of positions. */
export const TWO_32 = 2 ** 32;
/** Header size in 32-bit words: the first slot's word index. */
export const HEADER_WORDS = RING_HEADER_SIZE >> 2;
/** Slot size in 32-bit words. */
export const SLOT_WORDS = SLOT_SIZE >> 2;
/** Record size in 32-bit words. */
export const RECORD_WORDS = SLOT_PAYLOAD_SIZE >> 2;
/** Word index of the write position's low word. */
export const W_WRITE_LO = Header.WritePositionLo >> 2;
/** Word index of the write position's high word. */
export const W_WRITE_HI = Header.WritePositionHi >> 2;
/** Word index of the sleeper count. */
export const W_SLEEPERS = Header.Sleepers >> 2;
/** Word index of the futex word. */
export const W_WAKE = Header.WakeSequence >> 2;
/** Word index of the heartbeat counter. */
export const W_HEARTBEAT = Header.Heartbeat >> 2;
/** Word index of the state. */
export const W_STATE = Header.State >> 2;
/** Word index of the futex word a gated producer sleeps on (version 2). */
export const W_TETHER_WAKE = Header.TetherWake >> 2;
/** Word index of the producer's "waiting for tethered readers" flag (version 2). */
export const W_WRITER_WAITING = Header.WriterWaiting >> 2;
/** Word index of the tethered readers seen at the producer's last scan (version 2). */
export const W_TETHERED = Header.Tethered >> 2;
/** Word index of the evictions since creation (version 2). */
export const W_EVICTIONS = Header.Evictions >> 2;

/** What a valid header says. */
export interface HeaderInfo {
  /** Slots. */
  capacity: number;
  /** Producer pid. */
  pid: number;
  /** Epoch of this incarnation. */
  epoch: number;
  /** Producer heartbeat period, ms. */
  heartbeatIntervalMs: number;
  /** First position written in this epoch. */
  firstPosition: number;
  /** Wall-clock creation time, ms. */
  createdAtMs: number;
}

/** Loads a 32-bit header word atomically (byte offset). */
export function loadWord(words: Int32Array, offset: number): number {
  return Atomics.load(words, offset >> 2);
}

/**
 * Validates the header of a mapped segment.
 *
 * @throws {RingNotFoundError} while the producer is still initialising it (magic not yet stored).
 * @throws {RingFormatError} when it is foreign, corrupt, or of another version or size.
 */
export function readHeader(segment: Segment): HeaderInfo {
  const { name, size } = segment;
  if (size < RING_HEADER_SIZE || segment.mappedSize < RING_HEADER_SIZE) {
    throw new RingFormatError(
      name,
      `${size} bytes, expected at least the ${RING_HEADER_SIZE}-byte ring header`,
    );
  }
  const words = new Int32Array(segment.buffer, 0, RING_HEADER_SIZE / 4);
  const view = new DataView(segment.buffer, 0, RING_HEADER_SIZE);
  const magic = loadWord(words, Header.Magic) >>> 0;
  if (magic === 0) throw new RingNotFoundError(name, "being created");
  if (magic !== RING_MAGIC) {
    throw new RingFormatError(
      name,
      `magic 0x${magic.toString(16)}, expected 0x${
        RING_MAGIC.toString(16)
      } ("MBRG"): not a marketbus ring`,
    );
  }
  const u32 = (offset: number) => view.getUint32(offset, true);
  const expect = (offset: number, what: string, wanted: number) => {
    const found = u32(offset);
    if (found !== wanted) {
      throw new RingFormatError(name, `${what} ${found}, expected ${wanted}`);
    }
  };
  checkVersion(name, u32(Header.LayoutVersion));
  expect(Header.HeaderSize, "header size", RING_HEADER_SIZE);
  expect(Header.RegistrySlots, "registry slots", REGISTRY_SLOTS);
  expect(Header.RegistrySlotSize, "registry slot size", REGISTRY_SLOT_SIZE);
  expect(Header.SlotSize, "slot size", SLOT_SIZE);
  expect(Header.PayloadSize, "payload size", SLOT_PAYLOAD_SIZE);
  expect(Header.WireVersion, "wire version", WIRE_VERSION);
  const capacity = u32(Header.Capacity);
  try {
    checkCapacity(capacity);
  } catch (error) {
    throw new RingFormatError(name, (error as Error).message);
  }
  if (size !== segmentSize(capacity)) {
    throw new RingFormatError(
      name,
      `${size} bytes, expected ${segmentSize(capacity)} for ${capacity} slots`,
    );
  }
  const epoch = u32(Header.Epoch);
  if (epoch === 0) {
    throw new RingFormatError(name, "epoch 0, expected non-zero");
  }
  return {
    capacity,
    pid: view.getInt32(Header.ProducerPid, true),
    epoch,
    heartbeatIntervalMs: u32(Header.HeartbeatIntervalMs),
    firstPosition: u32(Header.FirstPositionHi) * 2 ** 32 +
      u32(Header.FirstPositionLo),
    createdAtMs: view.getFloat64(Header.CreatedAtMs, true),
  };
}

/**
 * Refuses another layout version: an older producer (version 1, before the
 * reader registry) is to be restarted; otherwise the two ends differ.
 */
function checkVersion(name: string, version: number): void {
  if (version === RING_LAYOUT_VERSION) return;
  const why = version === 1
    ? "data_manager is an older marketbus (no reader registry); restart it with this version"
    : "producer and consumer are different marketbus versions";
  throw new RingFormatError(
    name,
    `layout version ${version}, expected ${RING_LAYOUT_VERSION}: ${why}`,
  );
}

/** The segment's state word. */
export function readState(words: Int32Array): RingState {
  return loadWord(words, Header.State) as RingState;
}
