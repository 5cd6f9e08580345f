/**
 * POSIX shared-memory segments: create, open, map, unlink (`shm_open` +
 * `ftruncate` + `mmap` through FFI). Their names: ../wire/ring_names.ts.
 *
 * @module
 */

import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  cString,
  EACCES,
  EINTR,
  ENOENT,
  ENOSPC,
  errno,
  libc,
  MAP_POPULATE,
  MAP_SHARED,
  O_CREAT,
  O_EXCL,
  O_RDONLY,
  O_RDWR,
  OsError,
  PROT_READ,
  PROT_WRITE,
  STATX_TYPE_MODE_UID_SIZE,
} from "../os/libc.ts";
import {
  RingFormatError,
  RingNotFoundError,
  RingOwnerError,
  RingSpaceError,
  RingTruncatedError,
} from "./errors.ts";
import { segmentPath, SHM_NAME } from "../wire/mod.ts";

export { joinSegmentName, segmentName, segmentPath } from "../wire/mod.ts";

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
  /** The open file descriptor (for size checks), closed by {@linkcode unmapSegment}. */
  readonly fd: number;
}

/** Options of {@linkcode openSegment}. */
export interface OpenSegmentOptions {
  /** Map at most this many bytes from the start (e.g. only the header). */
  mapBytes?: number;
  /**
   * The uid the segment must belong to (default: this process's effective
   * uid). It must not be writable by group or others either.
   */
  ownerUid?: number;
  /** What the {@linkcode RingOwnerError} tells the user to do (default: remove it). */
  ownerRemedy?: string;
  /**
   * Open and map it for reading only (`O_RDONLY`, `PROT_READ`): the MMU then
   * refuses any write, so a tool that inspects a ring cannot disturb it
   * (and pages are faulted in as read, not all at once).
   * Writing through such a mapping (a store, an `Atomics` read-modify-write)
   * kills the process with SIGSEGV.
   *
   * @default {false}
   */
  readOnly?: boolean;
}

/** What `statx` says about a segment's file. */
interface FileStatus {
  uid: number;
  /** Permission bits. */
  mode: number;
  /** File type bits (`S_IFMT` of `st_mode`). */
  type: number;
  size: number;
}

/** `S_IFMT`, and `S_IFREG`: the only type a segment may have. */
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
/** The other file types, for messages. */
const FILE_TYPES: Readonly<Record<number, string>> = {
  0o040000: "directory",
  0o120000: "symbolic link",
  0o010000: "FIFO",
  0o020000: "character device",
  0o060000: "block device",
  0o140000: "socket",
};

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

function closeFd(fd: number, name: string): void {
  if (libc().close(fd) !== 0) throw osError("close", name, errno());
}

/** `statx` of `path` relative to `dirfd` (or of `dirfd` itself with AT_EMPTY_PATH); undefined when it fails (see errno). */
function statx(
  dirfd: number,
  path: string,
  flags: number,
): FileStatus | undefined {
  const buffer = new Uint8Array(256);
  const result = libc().statx(
    dirfd,
    cString(path),
    flags,
    STATX_TYPE_MODE_UID_SIZE,
    buffer,
  );
  if (result !== 0) return undefined;
  const view = new DataView(buffer.buffer);
  const mode = view.getUint16(28, true);
  return {
    uid: view.getUint32(20, true),
    mode: mode & 0o7777,
    type: mode & S_IFMT,
    size: Number(view.getBigUint64(40, true)),
  };
}

/** `statx` of an open fd: type, owner, mode and size. */
function fileStatus(fd: number, name: string): FileStatus {
  const status = statx(fd, "", AT_EMPTY_PATH);
  if (status === undefined) throw osError("statx", name, errno());
  return status;
}

/** Refuses what is not a regular file: a directory, a symbolic link, a FIFO, a device. */
function checkRegular(name: string, status: FileStatus): void {
  if (status.type === S_IFREG) return;
  const what = FILE_TYPES[status.type] ??
    `file of type 0${status.type.toString(8)}`;
  throw new RingFormatError(
    name,
    `${
      segmentPath(name)
    } is a ${what}, expected a regular file (a ring segment)`,
  );
}

/**
 * Refuses a segment of another owner than expected, or that group or others
 * may write; with `denied` (its open failed with EACCES) whatever its owner
 * and mode, naming them.
 */
function checkOwner(
  name: string,
  status: FileStatus,
  options: OpenSegmentOptions & { denied?: boolean },
): void {
  const expectedUid = options.ownerUid ?? effectiveUid();
  const trusted = status.uid === expectedUid && (status.mode & 0o022) === 0;
  if (trusted && !options.denied) return;
  throw new RingOwnerError(
    name,
    { uid: status.uid, mode: status.mode, expectedUid },
    options.ownerRemedy ??
      `remove it (rm ${
        segmentPath(name)
      }, as its owner or root) and start data_manager as the publishing user`,
  );
}

/**
 * Why `shm_open` of an existing name failed, from the path itself (not
 * following a symbolic link): a file that is not a regular one (a
 * directory gives EINVAL, a symbolic link ELOOP), or, on EACCES, who owns
 * the segment and its mode; else the bare OS error.
 */
function openFailure(
  name: string,
  code: number,
  options: OpenSegmentOptions,
): Error {
  const status = statx(AT_FDCWD, segmentPath(name), AT_SYMLINK_NOFOLLOW);
  if (status !== undefined) {
    try {
      checkRegular(name, status);
      if (code === EACCES) {
        checkOwner(name, status, { ...options, denied: true });
      }
    } catch (error) {
      return error as Error;
    }
  }
  return osError("shm_open", name, code);
}

/** struct statvfs (112 bytes on 64-bit Linux): f_bavail × f_frsize. */
function availableBytes(statvfs: BigUint64Array): number {
  return Number(statvfs[4] * statvfs[1]);
}

/** Bytes available to this user on the file system holding `fd` (`fstatvfs`). */
function freeBytes(fd: number, name: string): number {
  const buffer = new BigUint64Array(14);
  if (libc().fstatvfs(fd, new Uint8Array(buffer.buffer)) !== 0) {
    throw osError("fstatvfs", name, errno());
  }
  return availableBytes(buffer);
}

/**
 * Bytes free for new segments in /dev/shm (`statvfs`).
 *
 * @throws {OsError} when it cannot be read.
 */
export function shmFreeBytes(): number {
  const buffer = new BigUint64Array(14);
  const path = "/dev/shm";
  if (libc().statvfs(cString(path), new Uint8Array(buffer.buffer)) !== 0) {
    throw new OsError(`statvfs ${path}`, errno());
  }
  return availableBytes(buffer);
}

/** The effective uid of this process: the owner of the segments it creates. */
export function effectiveUid(): number {
  return libc().geteuid();
}

function map(
  name: string,
  fd: number,
  size: number,
  options: { mappedSize?: number; readOnly?: boolean } = {},
): Segment {
  const lib = libc();
  const mappedSize = options.mappedSize ?? size;
  const pointer = lib.mmap(
    null,
    BigInt(mappedSize),
    options.readOnly ? PROT_READ : PROT_READ | PROT_WRITE,
    // A read-only look (a tool) touches the header, the registry and a few
    // slots: faulting in every page of a large ring would only cost time.
    options.readOnly ? MAP_SHARED : MAP_SHARED | MAP_POPULATE,
    fd,
    0n,
  );
  const failed = pointer === null ||
    Deno.UnsafePointer.value(pointer) === 0xffff_ffff_ffff_ffffn;
  if (failed) throw osError("mmap", name, errno()); // the caller closes fd
  const buffer = Deno.UnsafePointerView.getArrayBuffer(pointer!, mappedSize);
  return { name, pointer: pointer!, size, mappedSize, buffer, fd };
}

/**
 * Allocates every page of the segment now (`posix_fallocate`), so that a
 * full /dev/shm is an error here rather than SIGBUS on a later write.
 */
function reserve(fd: number, name: string, size: number): void {
  let code: number;
  do code = libc().posix_fallocate(fd, 0n, BigInt(size)); while (
    code === EINTR
  );
  if (code === 0) return;
  if (code === ENOSPC) {
    throw new RingSpaceError(name, { needed: size, free: freeBytes(fd, name) });
  }
  throw osError("posix_fallocate", name, code);
}

/**
 * Creates a new segment of `size` bytes, owner-only (0600) and zero-filled,
 * with all its pages allocated, and maps it.
 *
 * @throws {RingSpaceError} when /dev/shm cannot hold it (nothing is left behind).
 * @throws {OsError} with errno EEXIST when the name is taken, or another OS error.
 */
export function createSegment(name: string, size: number): Segment {
  const lib = libc();
  const fd = lib.shm_open(checkName(name), O_RDWR | O_CREAT | O_EXCL, 0o600);
  if (fd < 0) throw osError("shm_open", name, errno());
  try {
    if (lib.ftruncate(fd, BigInt(size)) !== 0) {
      throw osError("ftruncate", name, errno());
    }
    reserve(fd, name, size);
    return map(name, fd, size);
  } catch (error) {
    lib.close(fd);
    lib.shm_unlink(cString(name)); // do not leave an unusable name behind
    throw error;
  }
}

/**
 * Opens and maps an existing segment, whatever its size (the caller
 * validates the contents), for reading and writing or, with `readOnly`,
 * reading only, after checking that it belongs to the expected
 * uid and that neither group nor others may write it.
 *
 * @throws {RingNotFoundError} when no segment has that name (or it is still empty).
 * @throws {RingFormatError} when the name is not a regular file (a directory, a symbolic link).
 * @throws {RingOwnerError} when another user owns it, others may write it,
 * or it may not be opened (EACCES: e.g. another user's owner-only segment).
 * @throws {OsError} for other OS errors.
 */
export function openSegment(
  name: string,
  options: OpenSegmentOptions = {},
): Segment {
  const lib = libc();
  const flags = options.readOnly ? O_RDONLY : O_RDWR;
  const fd = lib.shm_open(checkName(name), flags, 0);
  if (fd < 0) {
    const code = errno();
    if (code === ENOENT) throw new RingNotFoundError(name);
    throw openFailure(name, code, options);
  }
  try {
    const status = fileStatus(fd, name);
    checkRegular(name, status);
    checkOwner(name, status, options);
    if (status.size === 0) throw new RingNotFoundError(name, "being created");
    return map(name, fd, status.size, {
      mappedSize: Math.min(status.size, options.mapBytes ?? status.size),
      readOnly: options.readOnly,
    });
  } catch (error) {
    lib.close(fd);
    throw error;
  }
}

/**
 * Checks that the segment's file still has its size: a file shrunk under a
 * mapping turns every access past its new end into SIGBUS.
 *
 * @throws {RingTruncatedError} when it is shorter than when it was mapped.
 */
export function checkSegmentSize(segment: Segment): void {
  const { size } = fileStatus(segment.fd, segment.name);
  if (size < segment.size) {
    throw new RingTruncatedError(segment.name, size, segment.size);
  }
}

/** Unmaps a segment and closes its fd. Every view over it must be unreachable by then. */
export function unmapSegment(segment: Segment): void {
  if (libc().munmap(segment.pointer, BigInt(segment.mappedSize)) !== 0) {
    const code = errno();
    libc().close(segment.fd);
    throw osError("munmap", segment.name, code);
  }
  closeFd(segment.fd, segment.name);
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

/** Where POSIX shared-memory objects live on Linux. */
const SHM_DIR = "/dev/shm";
/** glibc `struct dirent` on 64-bit Linux: `d_type` at byte 18, `d_name` at 19. */
const D_TYPE = 18;
const D_NAME = 19;
/** `d_type` of a regular file. */
const DT_REG = 8;

/**
 * The segments under /dev/shm whose names start with `prefix` (e.g.
 * `/marketbus_`; the leading "/" is optional), sorted, as
 * {@linkcode openSegment} takes them (with the leading "/"). Only regular
 * files with valid segment names. Read through libc (`opendir`,
 * `readdir`): Deno 2.9 lets only `--allow-all` read /dev/shm.
 *
 * @throws {TypeError} when `prefix` is not a string.
 * @throws {OsError} when /dev/shm cannot be opened.
 */
export function listShm(prefix: string): string[] {
  if (typeof prefix !== "string") {
    throw new TypeError(
      `Invalid segment prefix ${
        String(prefix)
      }: expected a string such as "/marketbus_"`,
    );
  }
  const lib = libc();
  const bare = prefix.startsWith("/") ? prefix.slice(1) : prefix;
  const dir = lib.opendir(cString(SHM_DIR));
  if (dir === null) throw new OsError(`opendir ${SHM_DIR}`, errno());
  const names: string[] = [];
  try {
    for (
      let entry = lib.readdir(dir);
      entry !== null;
      entry = lib.readdir(dir)
    ) {
      const view = new Deno.UnsafePointerView(entry);
      if (view.getUint8(D_TYPE) !== DT_REG) continue;
      const name = `/${view.getCString(D_NAME)}`;
      if (name.startsWith(`/${bare}`) && SHM_NAME.test(name)) names.push(name);
    }
  } finally {
    lib.closedir(dir);
  }
  return names.sort();
}
