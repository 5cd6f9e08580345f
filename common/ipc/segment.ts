/**
 * POSIX shared-memory segments: naming, create, open, map, unlink
 * (`shm_open` + `ftruncate` + `mmap` through FFI).
 *
 * @module
 */

import {
  cString,
  EACCES,
  ENOENT,
  errno,
  libc,
  MAP_POPULATE,
  MAP_SHARED,
  O_CREAT,
  O_EXCL,
  O_RDWR,
  OsError,
  PROT_READ,
  PROT_WRITE,
  SEEK_END,
} from "./_libc.ts";
import { RingNotFoundError } from "./errors.ts";
import { normalizeExchange, normalizeSymbol } from "../subjects.ts";

/** A mapped segment. Drop every view before {@linkcode unmapSegment}: touching the memory afterwards crashes the process. */
export interface Segment {
  /** The POSIX shm name, e.g. `/marketbus_binance_BTCUSDT`. */
  readonly name: string;
  /** Start of the mapping. */
  readonly pointer: Deno.PointerObject;
  /** Size of the shared-memory object in bytes. */
  readonly size: number;
  /** Bytes mapped from its start (all of it unless opened with `mapBytes`). */
  readonly mappedSize: number;
  /** Zero-copy view of the mapping. */
  readonly buffer: ArrayBuffer;
}

/** Options of {@linkcode openSegment}. */
export interface OpenSegmentOptions {
  /** Map at most this many bytes from the start (e.g. only the header). */
  mapBytes?: number;
}

const SHM_NAME = /^\/[A-Za-z0-9._-]{1,254}$/;

/**
 * The segment name of one ring: `{prefix}{exchange}_{SYMBOL}`.
 *
 * @throws {RangeError} when the exchange or symbol is invalid, or the result
 * is not a valid POSIX shm name (a "/" then 1..254 of `A-Za-z0-9._-`).
 */
export function segmentName(
  prefix: string,
  exchange: string,
  symbol: string,
): string {
  const name = `${prefix}${normalizeExchange(exchange)}_${
    normalizeSymbol(symbol)
  }`;
  if (!SHM_NAME.test(name)) {
    throw new RangeError(
      `Invalid segment name "${name}" (prefix "${prefix}", exchange "${exchange}", symbol "${symbol}"): ` +
        `expected "/" then 1 to 254 letters, digits, ".", "_" or "-"`,
    );
  }
  return name;
}

/** The file under /dev/shm that backs a segment, for messages. */
export function segmentPath(name: string): string {
  return `/dev/shm${name}`;
}

function checkName(name: string): Uint8Array<ArrayBuffer> {
  if (typeof name !== "string" || !SHM_NAME.test(name)) {
    throw new RangeError(
      `Invalid segment name "${name}": expected "/" then 1 to 254 letters, digits, ".", "_" or "-"`,
    );
  }
  return cString(name);
}

function osError(call: string, name: string, code: number): OsError {
  const error = new OsError(`${call} ${segmentPath(name)}`, code);
  if (code === EACCES) {
    error.message +=
      ": segments are owner-only (0600), run both roles as the same user";
  }
  return error;
}

function map(
  name: string,
  fd: number,
  size: number,
  mappedSize = size,
): Segment {
  const lib = libc();
  const pointer = lib.mmap(
    null,
    BigInt(mappedSize),
    PROT_READ | PROT_WRITE,
    MAP_SHARED | MAP_POPULATE,
    fd,
    0n,
  );
  const failed = pointer === null ||
    Deno.UnsafePointer.value(pointer) === 0xffff_ffff_ffff_ffffn;
  const code = failed ? errno() : 0;
  lib.close(fd);
  if (failed) throw osError("mmap", name, code);
  const buffer = Deno.UnsafePointerView.getArrayBuffer(pointer!, mappedSize);
  return { name, pointer: pointer!, size, mappedSize, buffer };
}

/**
 * Creates a new zero-filled segment of `size` bytes, owner-only (0600), and
 * maps it.
 *
 * @throws {OsError} with errno EEXIST when the name is taken, or another OS error.
 */
export function createSegment(name: string, size: number): Segment {
  const lib = libc();
  const fd = lib.shm_open(checkName(name), O_RDWR | O_CREAT | O_EXCL, 0o600);
  if (fd < 0) throw osError("shm_open", name, errno());
  if (lib.ftruncate(fd, BigInt(size)) !== 0) {
    const code = errno();
    lib.close(fd);
    lib.shm_unlink(cString(name));
    throw osError("ftruncate", name, code);
  }
  try {
    return map(name, fd, size);
  } catch (error) {
    lib.shm_unlink(cString(name)); // do not leave an unusable name behind
    throw error;
  }
}

/**
 * Opens and maps an existing segment, whatever its size (the caller
 * validates the contents).
 *
 * @throws {RingNotFoundError} when no segment has that name.
 * @throws {OsError} for other OS errors (e.g. EACCES: another user's segment).
 */
export function openSegment(
  name: string,
  options: OpenSegmentOptions = {},
): Segment {
  const lib = libc();
  const fd = lib.shm_open(checkName(name), O_RDWR, 0);
  if (fd < 0) {
    const code = errno();
    if (code === ENOENT) throw new RingNotFoundError(name);
    throw osError("shm_open", name, code);
  }
  const size = Number(lib.lseek(fd, 0n, SEEK_END));
  if (size < 0) {
    const code = errno();
    lib.close(fd);
    throw osError("lseek", name, code);
  }
  if (size === 0) {
    lib.close(fd);
    throw new RingNotFoundError(name, "being created");
  }
  return map(name, fd, size, Math.min(size, options.mapBytes ?? size));
}

/** Unmaps a segment. Every view over it must be unreachable by then. */
export function unmapSegment(segment: Segment): void {
  if (libc().munmap(segment.pointer, BigInt(segment.mappedSize)) !== 0) {
    throw osError("munmap", segment.name, errno());
  }
}

/**
 * Removes a segment's name (processes that mapped it keep their mapping).
 * Returns false when it did not exist.
 *
 * @throws {OsError} for other OS errors.
 */
export function unlinkSegment(name: string): boolean {
  if (libc().shm_unlink(checkName(name)) === 0) return true;
  const code = errno();
  if (code === ENOENT) return false;
  throw osError("shm_unlink", name, code);
}
