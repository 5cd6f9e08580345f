/**
 * Helpers shared by the shared-memory ring tests (common/ipc/ring_test.ts,
 * tests/ipc_ring_test.ts) and their child scripts (tests/ipc/): unique
 * segment names and their clean-up, deterministic records, a running hash,
 * line-by-line stream reading and the permission gate.
 *
 * @module
 */

import assert from "node:assert/strict";
import { RecordOffset } from "../common/wire/codec.ts";
import {
  LibcUnavailableError,
  openSegment,
  RingNotFoundError,
  type RingReader,
  unlinkSegment,
  unmapSegment,
} from "../common/ipc/mod.ts";
import {
  Side,
  TRADE_RECORD_SIZE,
  TradeFlags,
  type TradeRecord,
  WIRE_VERSION,
} from "../common/wire/trade.ts";
import { gatedTest, type GatedTestDefinition } from "./_permissions.ts";

const TWO_32 = 2 ** 32;

/** A fresh segment-name prefix (`/mbtest_<random>_`) for one test file, so leftovers can be found. */
export function testSegmentPrefix(): string {
  const word = new Uint32Array(1);
  crypto.getRandomValues(word);
  return `/mbtest_${word[0].toString(16).padStart(8, "0")}_`;
}

/** Does segment `name` exist? (Through shm_open: Deno 2.9 lets only --allow-all stat /dev/shm.) */
export function segmentExists(name: string): boolean {
  try {
    unmapSegment(openSegment(name));
    return true;
  } catch (error) {
    if (!(error instanceof RingNotFoundError)) throw error;
    return error.reason !== "absent"; // else empty: being created
  }
}

/**
 * Removes segment `name` if it exists, for `finally` blocks. Without
 * unscoped FFI (Deno then refuses the errno read after a failed unlink, or
 * libc cannot load) it removes what it can and leaves the rest to the
 * leftover check.
 */
export function cleanUpSegment(name: string): void {
  try {
    unlinkSegment(name);
  } catch (error) {
    const refused = error instanceof Deno.errors.NotCapable ||
      error instanceof LibcUnavailableError;
    if (!refused) throw error;
  }
}

/** Permission to run `find`, which lists /dev/shm for {@linkcode shmModes}. */
export const FIND_PERMISSION: Deno.PermissionDescriptor = {
  name: "run",
  command: "find",
};

/**
 * The permission bits of the segments whose names start with `prefix`, by
 * name, listed with `find` (Deno 2.9 lets only --allow-all read /dev/shm).
 */
export async function shmModes(prefix: string): Promise<Map<string, number>> {
  const output = await new Deno.Command("find", {
    args: [
      "/dev/shm",
      "-mindepth",
      "1",
      "-maxdepth",
      "1",
      "-printf",
      "%m %f\\n",
    ],
    stdin: "null",
  }).output();
  if (!output.success) {
    throw new Error(
      `find /dev/shm failed: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
  const modes = new Map<string, number>();
  for (const line of new TextDecoder().decode(output.stdout).split("\n")) {
    const [mode, file] = line.split(" ");
    if (file !== undefined && `/${file}`.startsWith(prefix)) {
      modes.set(`/${file}`, parseInt(mode, 8));
    }
  }
  return modes;
}

/** The unscoped FFI permission: Deno 2.9 refuses pointer access (mmap views) under a path-scoped --allow-ffi. */
const FFI_PERMISSION: Deno.PermissionDescriptor = { name: "ffi" };

/** A ring test definition: a gated test whose permissions are those beyond FFI. */
export type RingTestDefinition =
  & Omit<GatedTestDefinition, "permissions">
  & {
    /** Permissions needed besides FFI (default none). */
    permissions?: readonly Deno.PermissionDescriptor[];
  };

/** Registers a test that needs FFI (plus `permissions`); skipped, saying why, without them. */
export function ringTest(definition: RingTestDefinition): void {
  gatedTest({
    ...definition,
    permissions: [FFI_PERMISSION, ...(definition.permissions ?? [])],
  });
}

/** Writes a u64 that is a safe integer as two little-endian u32 halves. */
function setU64(view: DataView, at: number, value: number): void {
  view.setUint32(at, value % TWO_32, true);
  view.setUint32(at + 4, Math.floor(value / TWO_32), true);
}

/** Trade id of record `i` (distinct from its seq, so swapped fields show). */
function tradeIdOf(i: number): number {
  return 1_000_000_000_000 + i * 7;
}

/**
 * Writes deterministic record number `i` (seq = `i` mod 2^32, every other
 * field derived from `i`) at byte `at` of `view`.
 */
export function fillRecord(view: DataView, at: number, i: number): void {
  view.setUint8(at + RecordOffset.Version, WIRE_VERSION);
  view.setUint8(at + RecordOffset.Side, 1 + (i & 1));
  view.setUint16(at + RecordOffset.Flags, TradeFlags.Synthetic, true);
  view.setUint32(at + RecordOffset.Seq, i % TWO_32, true);
  setU64(view, at + RecordOffset.TsEvent, 1_700_000_000_000 + i * 1000);
  setU64(view, at + RecordOffset.TsRecv, 1_700_000_000_000 + i * 1000 + 250);
  setU64(view, at + RecordOffset.Price, 60_000e9 + (i % 1000) * 1e6);
  view.setFloat64(at + RecordOffset.Size, ((i % 97) + 1) / 100, true);
  setU64(view, at + RecordOffset.TradeId, tradeIdOf(i));
}

/** `count` deterministic records, numbers `first` to `first + count - 1`, back to back. */
export function recordBatch(first: number, count: number): Uint8Array {
  const bytes = new Uint8Array(count * TRADE_RECORD_SIZE);
  const view = new DataView(bytes.buffer);
  for (let k = 0; k < count; k++) {
    fillRecord(view, k * TRADE_RECORD_SIZE, first + k);
  }
  return bytes;
}

/** Trade number `seq` (its id too): a buy of 1 at price 1, stamped `nanos` as exchange and receive time. */
export function numberedTrade(seq: number, nanos: bigint): TradeRecord {
  return {
    side: Side.Buy,
    flags: 0,
    seq,
    tsEvent: nanos,
    tsRecv: nanos,
    priceFixed: 1_000_000_000n,
    size: 1,
    tradeId: BigInt(seq),
  };
}

/** The seq field of the record at byte `at`. */
export function recordSeq(bytes: Uint8Array, at = 0): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .getUint32(at + RecordOffset.Seq, true);
}

const expectedView = new DataView(new ArrayBuffer(TRADE_RECORD_SIZE));
const expectedBytes = new Uint8Array(expectedView.buffer);

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Undefined when the 48 bytes at `at` are exactly record `i`, else a description of both. */
export function recordMismatch(
  bytes: Uint8Array,
  at: number,
  i: number,
): string | undefined {
  fillRecord(expectedView, 0, i);
  for (let k = 0; k < TRADE_RECORD_SIZE; k++) {
    if (bytes[at + k] !== expectedBytes[k]) {
      return `record ${i}: got ${
        hex(bytes.subarray(at, at + TRADE_RECORD_SIZE))
      }, expected ${hex(expectedBytes)}`;
    }
  }
  return undefined;
}

/** The integers from `from` up to `to` (exclusive). */
export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, k) => from + k);
}

/**
 * Reads until the reader is caught up, asserting that each record is the one
 * published at its position (record `base + k` at the k-th position of the
 * epoch), and returns the k of each record read.
 */
export function drain(reader: RingReader, base = 0): number[] {
  const target = new Uint8Array(TRADE_RECORD_SIZE);
  const got: number[] = [];
  while (reader.read(target)) {
    const k = reader.position - 1 - reader.firstPosition;
    assert.equal(recordMismatch(target, 0, base + k), undefined);
    got.push(k);
  }
  return got;
}

/** One JSON line a child script of tests/ipc/ writes to stdout. */
export interface ScriptEvent {
  /** What happened, e.g. `"ready"`. */
  event: string;
  /** Event details. */
  [detail: string]: unknown;
}

/** Writes `event` as one JSON line to stdout (child scripts' reporting channel). */
export function emitEvent(event: ScriptEvent): void {
  console.log(JSON.stringify(event));
}

/** A running 32-bit FNV-1a hash over bytes. */
export class Fnv1a {
  #hash = 0x811c9dc5;

  /** Adds `length` bytes of `bytes` from byte `at`. */
  update(bytes: Uint8Array, at = 0, length = bytes.length - at): void {
    let hash = this.#hash;
    for (let k = at; k < at + length; k++) {
      hash = Math.imul(hash ^ bytes[k], 0x01000193);
    }
    this.#hash = hash;
  }

  /** The hash so far, 8 hex digits. */
  get hex(): string {
    return (this.#hash >>> 0).toString(16).padStart(8, "0");
  }
}

/** The lines of a byte stream (UTF-8, without their "\n"). */
export async function* lines(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<string> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    for (let end = rest.indexOf("\n"); end >= 0; end = rest.indexOf("\n")) {
      yield rest.slice(0, end);
      rest = rest.slice(end + 1);
    }
  }
  if (rest !== "") yield rest;
}

/**
 * Resolves true when `promise` settles within `ms`, false otherwise (a
 * liveness bound, not a timing check). A rejection counts as settling,
 * unless `options.rethrow`: then it rejects with the same error.
 */
export async function settlesWithin(
  promise: Promise<unknown>,
  ms: number,
  options: { rethrow?: boolean } = {},
): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = promise.then(() => true, (error) => {
    if (options.rethrow) throw error;
    return true;
  });
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}
