/**
 * Conditions around ring segments that callers handle.
 *
 * @module
 */

import { ENOSPC, EPERM, OsError } from "../os/libc.ts";
import { formatCount } from "../runtime/format.ts";
import { RING_LAYOUT_VERSION } from "./layout.ts";

/**
 * Why a ring was not found: `absent` = no segment of that name, `being
 * created` = its producer has not finished creating it (empty, or its header
 * not yet complete).
 */
export type RingNotFoundReason = "absent" | "being created";

/** No segment of that name exists (yet): the producer is not running. */
export class RingNotFoundError extends Error {
  /** The segment name. */
  readonly segment: string;
  /** Why it was not found. */
  readonly reason: RingNotFoundReason;

  /** Creates the error for segment `segment`, not found because of `reason` (default `absent`). */
  constructor(segment: string, reason: RingNotFoundReason = "absent") {
    const detail = reason === "absent" ? "no such segment" : reason;
    super(
      `Ring ${segment} not found (${detail}): is data_manager running with the same exchange, symbols and shm_path_prefix?`,
    );
    this.name = "RingNotFoundError";
    this.segment = segment;
    this.reason = reason;
  }
}

/** A segment exists but is not a ring this code can read: foreign, corrupt, or another layout version. */
export class RingFormatError extends Error {
  /** The segment name. */
  readonly segment: string;

  /** Creates the error for segment `segment`; `problem` says what was wrong and what was expected. */
  constructor(segment: string, problem: string) {
    super(`Ring ${segment} is not usable: ${problem}`);
    this.name = "RingFormatError";
    this.segment = segment;
  }
}

/** Another live producer is publishing into the segment a new producer wants to create. */
export class RingInUseError extends Error {
  /** The segment name. */
  readonly segment: string;
  /** The pid of the live producer. */
  readonly pid: number;

  /** Creates the error for `segment` held by `pid`, whose ring has layout version `layoutVersion` (named unless it is this code's). */
  constructor(segment: string, pid: number, layoutVersion?: number) {
    const older = layoutVersion === undefined ||
        layoutVersion === RING_LAYOUT_VERSION
      ? ""
      : `, layout version ${layoutVersion}`;
    super(
      `Ring ${segment} is being published by another data_manager (pid ${pid}${older}): stop it, or give this one another shm_path_prefix or exchange`,
    );
    this.name = "RingInUseError";
    this.segment = segment;
    this.pid = pid;
  }
}

/** A segment is truncated (shorter than its ring) under a process that maps it: reading on would crash with SIGBUS. */
export class RingTruncatedError extends RingFormatError {
  /** Its size now, bytes. */
  readonly size: number;
  /** The ring's size, bytes. */
  readonly expected: number;

  /** Creates the error for `segment`, now `size` bytes instead of `expected`. */
  constructor(segment: string, size: number, expected: number) {
    super(
      segment,
      `truncated to ${formatCount(size)} bytes under this process, expected ${
        formatCount(expected)
      }: another process shrank /dev/shm${segment}; stopped before touching the missing pages`,
    );
    this.name = "RingTruncatedError";
    this.size = size;
    this.expected = expected;
  }
}

/** Who owns a segment, and who was expected to. */
export interface SegmentOwnership {
  /** The owner's uid. */
  uid: number;
  /** The permission bits, e.g. `0o600`. */
  mode: number;
  /** The uid the segment must belong to. */
  expectedUid: number;
}

/**
 * A segment belongs to another user than the expected publisher, or others
 * may write it: anyone who can write a segment can forge its trades.
 */
export class RingOwnerError extends OsError {
  /** The segment name. */
  readonly segment: string;
  /** The owner's uid. */
  readonly uid: number;
  /** The permission bits. */
  readonly mode: number;

  /** Creates the error for `segment`; `remedy` says what to do about it. */
  constructor(segment: string, found: SegmentOwnership, remedy: string) {
    super("shm_open", EPERM);
    const mode = `0${(found.mode & 0o777).toString(8).padStart(3, "0")}`;
    const problems = [
      found.uid === found.expectedUid
        ? undefined
        : `owned by uid ${found.uid}, expected uid ${found.expectedUid}`,
      (found.mode & 0o022) === 0
        ? undefined
        : `mode ${mode} lets group or others write it, expected no group/other write (e.g. 0600)`,
    ].filter((problem) => problem !== undefined);
    // Trusted by owner and mode, yet its owner may not open it (EACCES).
    if (problems.length === 0) {
      problems.push(
        `mode ${mode} does not let its owner read and write it, expected 0600`,
      );
    }
    this.message =
      `Ring ${segment} (/dev/shm${segment}, uid ${found.uid}, mode ${mode}) is not trusted: ${
        problems.join("; ")
      }. Anyone who can write it can forge trades, so it is refused: ${remedy}`;
    this.name = "RingOwnerError";
    this.segment = segment;
    this.uid = found.uid;
    this.mode = found.mode;
  }
}

/** /dev/shm has no room for a new segment's pages. */
export class RingSpaceError extends OsError {
  /** The segment that did not fit. */
  readonly segment: string;
  /** Bytes needed: the segment's, or every ring's together when `rings` is given. */
  readonly needed: number;
  /** Bytes free on the file system. */
  readonly free: number;

  /**
   * Creates the error for `segment`, which did not fit: `needed` bytes (for
   * `rings` rings together, when given) with `free` left.
   */
  constructor(
    segment: string,
    space: { needed: number; free: number; rings?: number },
  ) {
    super("posix_fallocate", ENOSPC);
    const what = space.rings === undefined
      ? `Ring ${segment} needs ${formatCount(space.needed)} bytes in /dev/shm`
      : `${space.rings} rings need ${
        formatCount(space.needed)
      } bytes in /dev/shm (${formatCount(space.needed / space.rings)} each)`;
    this.message = `${what} but only ${
      formatCount(space.free)
    } are free: enlarge /dev/shm (Docker --shm-size, compose shm_size), lower transport.ipc.capacity or publish fewer symbols`;
    this.name = "RingSpaceError";
    this.segment = segment;
    this.needed = space.needed;
    this.free = space.free;
  }
}

/**
 * Every reader slot of a ring's registry is held by a live reader: a
 * tethered reader cannot register (a lossy one runs unregistered instead).
 */
export class RingReadersFullError extends RingFormatError {
  /** Slots in the registry. */
  readonly slots: number;

  /** Creates the error for `segment`, whose `slots` reader slots are all in use. */
  constructor(segment: string, slots: number) {
    super(segment, `all ${slots} reader slots are in use`);
    this.message =
      `all ${slots} reader slots of ${segment} are in use (deno task rings lists them): a tethered reader needs one; stop a reader or read lossy`;
    this.name = "RingReadersFullError";
    this.slots = slots;
  }
}
