/**
 * A fresh segment for a new producer: created under its name, or, when the
 * name is taken, after retiring what is there (refused while a live producer
 * holds it), with an epoch that differs from the one replaced.
 *
 * @module
 */

import { EEXIST, OsError, processAlive } from "../os/libc.ts";
import { loadWord, readHeader, readState } from "./_header.ts";
import { markClosed, wakeWordOf } from "./_ring_wake.ts";
import {
  RingFormatError,
  RingInUseError,
  RingNotFoundError,
  RingOwnerError,
} from "./errors.ts";
import {
  Header,
  RING_HEADER_SIZE,
  RING_LAYOUT_VERSION,
  RING_MAGIC,
  RingState,
} from "./layout.ts";
import {
  createSegment,
  effectiveUid,
  openSegment,
  type Segment,
  unlinkSegment,
  unmapSegment,
} from "./segment.ts";
import { segmentPath } from "../wire/mod.ts";
import { checkRunEpoch, newRunEpoch } from "../wire/run_epoch.ts";

/** What the writer found under its name when it started. */
export interface ReplacedSegment {
  /** Pid of the producer that left it. */
  pid: number | undefined;
  /** Why it was replaced. */
  reason: string;
}

/** A new producer's segment, its epoch, and what it replaced. */
export interface FreshSegment {
  /** The segment, created owner-only and fully allocated. */
  segment: Segment;
  /** The new incarnation's epoch (non-zero, not the replaced one's). */
  epoch: number;
  /** The segment found under the name and replaced, if any. */
  replaced: ReplacedSegment | undefined;
}

const HALF_CREATED = "left half-created by a producer that died while starting";

/**
 * Creates segment `name` of `size` bytes, retiring a stale one found under
 * the name first. Its epoch is `options.epoch` (a run's, see `RingWriter`),
 * or a random one, and never the replaced segment's: a wanted epoch equal
 * to it (a chance of 2^-32) is replaced by a random one.
 *
 * @throws {RingInUseError} when a live producer is publishing into it.
 * @throws {RingOwnerError} when another user owns the name (it cannot be replaced).
 * @throws {OsError} (EEXIST) when the name is not a regular file (a directory, a symbolic link).
 * @throws {RingSpaceError} when /dev/shm has no room for it.
 * @throws {RangeError} for an epoch that is not one.
 */
export function createReplacing(
  name: string,
  size: number,
  options: { epoch?: number } = {},
): FreshSegment {
  const wanted = options.epoch === undefined
    ? undefined
    : checkRunEpoch(options.epoch, "ring epoch");
  let replaced: (ReplacedSegment & { epoch: number }) | undefined;
  let segment: Segment;
  try {
    segment = createSegment(name, size);
  } catch (error) {
    if (!(error instanceof OsError && error.errno === EEXIST)) throw error;
    replaced = retire(name);
    segment = createSegment(name, size);
  }
  // A re-created segment never keeps the epoch of the one it replaced.
  const epoch = wanted !== undefined && wanted !== replaced?.epoch
    ? wanted
    : newRunEpoch(replaced?.epoch);
  return {
    segment,
    epoch,
    replaced: replaced && { pid: replaced.pid, reason: replaced.reason },
  };
}

/**
 * The name is taken by something that is not a segment (a directory, a
 * symbolic link): creating fails as for any name taken (`EEXIST`), saying
 * what is there and what to do.
 */
function nameTaken(name: string, problem: RingFormatError): OsError {
  const error = new OsError(`shm_open ${segmentPath(name)}`, EEXIST);
  error.message =
    `${problem.message}: remove it, or give this data_manager another transport.ipc.shm_path_prefix`;
  return error;
}

/**
 * Clears the way for a new segment when the name is taken: refuses if a live
 * producer holds it, otherwise marks the old one closed (so attached
 * consumers notice at once) and unlinks it.
 */
function retire(name: string): ReplacedSegment & { epoch: number } {
  let old: Segment;
  try {
    old = openSegment(name, {
      mapBytes: RING_HEADER_SIZE,
      ownerRemedy: `remove it (rm ${
        segmentPath(name)
      }, as its owner or root) or give this data_manager another transport.ipc.shm_path_prefix`,
    });
  } catch (error) {
    if (error instanceof RingOwnerError && error.uid === effectiveUid()) {
      // Ours, but others could write it (or we cannot open it): replace it
      // with an owner-only one.
      unlinkSegment(name);
      const mode = (error.mode & 0o777).toString(8).padStart(4, "0");
      return {
        pid: undefined,
        reason: (error.mode & 0o022) !== 0
          ? `writable by group or others (mode ${mode})`
          : `not readable and writable by its owner (mode ${mode})`,
        epoch: 0,
      };
    }
    if (error instanceof RingFormatError) throw nameTaken(name, error);
    if (!(error instanceof RingNotFoundError)) throw error;
    unlinkSegment(name);
    return { pid: undefined, reason: HALF_CREATED, epoch: 0 };
  }
  let replaced: ReplacedSegment & { epoch: number };
  try {
    replaced = inspect(name, old);
  } finally {
    unmapSegment(old);
  }
  unlinkSegment(name);
  return replaced;
}

/** What the producer of a segment left in header lines 0 and 1, whose offsets every layout version shares. */
interface LeftBy {
  pid: number;
  state: RingState;
  epoch: number;
  version: number;
}

/** Bytes up to the end of the wake word (header lines 0 to 2, as in every layout version). */
const WAKE_END = Header.WakeSequence + 4;

/** What the producer of a segment left, if its magic is right (whatever its version). */
function leftBy(old: Segment): LeftBy | undefined {
  if (old.mappedSize < WAKE_END) return undefined;
  const words = new Int32Array(old.buffer, 0, WAKE_END >> 2);
  if (loadWord(words, Header.Magic) >>> 0 !== RING_MAGIC) return undefined;
  return {
    pid: loadWord(words, Header.ProducerPid),
    state: readState(words),
    epoch: loadWord(words, Header.Epoch) >>> 0,
    version: loadWord(words, Header.LayoutVersion) >>> 0,
  };
}

/**
 * Judges the segment found under the name: refuses it while a live producer
 * publishes into it, whatever its layout version (an older producer's ring
 * must not be taken from under it); otherwise marks it closed, so that its
 * consumers notice at once, and says what it was.
 *
 * @throws {RingInUseError} when a live producer holds it.
 */
function inspect(
  name: string,
  old: Segment,
): ReplacedSegment & { epoch: number } {
  let problem = "";
  try {
    readHeader(old);
  } catch (error) {
    if (error instanceof RingNotFoundError) {
      return { pid: undefined, reason: HALF_CREATED, epoch: 0 };
    }
    if (!(error instanceof RingFormatError)) throw error;
    problem = `not a usable ring (${error.message})`;
  }
  const left = leftBy(old);
  if (left === undefined) return { pid: undefined, reason: problem, epoch: 0 };
  const { pid, state, version } = left;
  if (state === RingState.Open && pid !== Deno.pid && processAlive(pid)) {
    throw new RingInUseError(name, pid, version);
  }
  markClosed(new Int32Array(old.buffer, 0, WAKE_END >> 2), wakeWordOf(old));
  const who = state === RingState.Closed
    ? "closed by its producer"
    : pid === Deno.pid
    ? "left open by this process"
    : `its producer (pid ${pid}) is gone`;
  const reason = version !== RING_LAYOUT_VERSION
    ? `${who} (layout version ${version})`
    : problem === ""
    ? who
    : `${who}; ${problem}`;
  return { pid, reason, epoch: left.epoch };
}

/**
 * Retires segment `name` when its producer is `pid`, a process that lives
 * but that the symbol registry fenced (its lease ended and this process took
 * its symbols over): marks it closed, so its consumers move on at once, and
 * unlinks it, so that the new producer can create its own. Returns what it
 * retired; undefined when the name is free or another producer holds it
 * (then creating the ring judges it as usual).
 */
export function retireFenced(
  name: string,
  pid: number,
): ReplacedSegment | undefined {
  let old: Segment;
  try {
    old = openSegment(name, { mapBytes: RING_HEADER_SIZE });
  } catch (error) {
    // Absent, or not one it could take: creating the ring judges it.
    if (
      error instanceof RingNotFoundError || error instanceof RingOwnerError ||
      error instanceof RingFormatError
    ) return undefined;
    throw error;
  }
  try {
    if (leftBy(old)?.pid !== pid) return undefined;
    markClosed(new Int32Array(old.buffer, 0, WAKE_END >> 2), wakeWordOf(old));
  } finally {
    unmapSegment(old);
  }
  unlinkSegment(name);
  return { pid, reason: `its producer (pid ${pid}) lost its registry lease` };
}
