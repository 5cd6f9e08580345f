/**
 * A ring as an observer sees it (`deno task rings`, serve's metrics): its
 * producer, state, positions and registered readers, read through a
 * read-only mapping (`PROT_READ`: the MMU refuses any write), so looking
 * never disturbs the producer or its readers.
 *
 * @module
 */

import { OsError, processAlive } from "../os/libc.ts";
import {
  readHeader,
  readState,
  TWO_32,
  W_EVICTIONS,
  W_HEARTBEAT,
  W_TETHERED,
} from "./_header.ts";
import {
  ageMs,
  isDead,
  monotonicMs,
  readEntries,
  type ReaderEntry,
} from "./_registry.ts";
import { writePosition } from "./_ring_slots.ts";
import { RingFormatError, RingNotFoundError } from "./errors.ts";
import {
  EvictionCause,
  Header,
  ReaderState,
  RING_HEADER_SIZE,
  RING_LAYOUT_VERSION,
  RING_MAGIC,
  RingState,
} from "./layout.ts";
import {
  listShm,
  openSegment,
  type OpenSegmentOptions,
  type Segment,
  unmapSegment,
} from "./segment.ts";

/** A ring's life cycle, by name. */
export type RingStateName = "initialising" | "open" | "closed";

/** How a registered reader is served: lossy, tethered, or tethered and evicted (lossy until it re-tethers). */
export type ReaderPolicy = "lossy" | "tethered" | "evicted";

/** Why the producer last evicted a reader, by name. */
export type EvictionCauseName = "timeout" | "dead" | "backlog full";

/** One registered reader, as {@linkcode ringSnapshot} saw it. */
export interface ReaderStatus extends ReaderEntry {
  /** Its reader id as 8 hex digits, as `deno task rings` and the metrics show it. */
  idHex: string;
  /** Lossy, tethered or evicted. */
  policy: ReaderPolicy;
  /** {@linkcode ReaderEntry.lag} in % of the ring's capacity (over 100 when lapped). */
  lagPercent: number;
  /** How long ago it last beat, ms. */
  heartbeatAgeMs: number;
  /** False once its heartbeat is stale and its pid gone (the producer then frees its slot). */
  alive: boolean;
  /** Why it was last evicted; null if never. */
  lastEviction: EvictionCauseName | null;
}

/** A marketbus ring: what its header and registry say. */
export interface RingSnapshot {
  /** A ring (see {@linkcode UnreadableSegment} for the other case). */
  kind: "ring";
  /** The POSIX shm name, e.g. `/marketbus_binance_BTCUSDT`. */
  name: string;
  /** Layout version: 2, or 1 for an older marketbus (no reader registry: no readers listed). */
  layout: number;
  /** The producer's pid. */
  pid: number;
  /** Whether that process exists (`kill(pid, 0)`). */
  producerAlive: boolean;
  /** The ring's state. */
  state: RingStateName;
  /** This incarnation's epoch (random, non-zero). */
  epoch: number;
  /** Slots. */
  capacity: number;
  /** Trades written since the ring was created. */
  writePosition: number;
  /** The producer's heartbeat counter: it moves every {@linkcode RingSnapshot.heartbeatIntervalMs} while the producer runs. */
  heartbeat: number;
  /** The producer's heartbeat period, ms. */
  heartbeatIntervalMs: number;
  /** Tethered readers the producer saw at its last scan. */
  tethered: number;
  /** Readers the producer evicted since it created the ring. */
  evictions: number;
  /** Total time the producer waited for tethered readers, ms. */
  stalledMs: number;
  /** The registered readers, by slot. */
  readers: ReaderStatus[];
  /** When it was taken (`performance.now()`), for rates. */
  takenAtMs: number;
}

/** A segment under the prefix that cannot be shown as a ring, and why. */
export interface UnreadableSegment {
  /** Not a ring, or not one this marketbus can read. */
  kind: "unreadable";
  /** The POSIX shm name. */
  name: string;
  /** Its layout version when it is a ring of an unknown version, else null. */
  layout: number | null;
  /** Why, in one line: `not a marketbus ring (magic 0x0)`, the owner or format problem. */
  problem: string;
}

/** What {@linkcode ringSnapshot} found under a name. */
export type SegmentStatus = RingSnapshot | UnreadableSegment;

/** How a ring moved between two snapshots ({@linkcode ringActivity}). */
export interface RingActivity {
  /** Time between them, ms. */
  elapsedMs: number;
  /** Trades written per second meanwhile. */
  ratePerSecond: number;
  /** Whether the producer's heartbeat moved meanwhile. */
  heartbeatMoved: boolean;
}

/** Options of {@linkcode ringSnapshot}. */
export interface RingSnapshotOptions {
  /** The uid the segment must belong to (default: this process's effective uid). */
  ownerUid?: number;
}

/** Bytes of the layout version 1 header. */
const V1_HEADER_SIZE = 256;

const STATE_NAMES: Readonly<Record<number, RingStateName>> = {
  [RingState.Initialising]: "initialising",
  [RingState.Open]: "open",
  [RingState.Closed]: "closed",
};

const POLICIES: Readonly<Record<number, ReaderPolicy>> = {
  [ReaderState.Lossy]: "lossy",
  [ReaderState.Tethered]: "tethered",
  [ReaderState.Evicted]: "evicted",
};

const CAUSES: Readonly<Record<number, EvictionCauseName>> = {
  [EvictionCause.Timeout]: "timeout",
  [EvictionCause.Dead]: "dead",
  [EvictionCause.BacklogFull]: "backlog full",
};

/** The name of an eviction cause, as `deno task rings` and the `cause` label of the metrics show it. */
export function evictionCauseName(cause: EvictionCause): EvictionCauseName {
  return CAUSES[cause];
}

/** The policy name of a registered reader's state (lossy, tethered, evicted), or undefined for a free or claimed slot. */
export function readerPolicy(state: number): ReaderPolicy | undefined {
  return POLICIES[state];
}

/** A reader id as `deno task rings` and the metrics show it: 8 hex digits. */
export function readerIdHex(id: number): string {
  return (id >>> 0).toString(16).padStart(8, "0");
}

/** Where the owner problem's remedy points: this tool only looks. */
const OWNER_REMEDY =
  "it is not shown (run deno task rings as the user that publishes)";

/**
 * Maps `name` read-only: `mapBytes` from its start, or all of it. What says
 * the segment is not a usable ring (its type, owner or mode, an OS error,
 * being created) becomes its problem; a missing name is thrown.
 */
function mapReadOnly(
  name: string,
  options: RingSnapshotOptions & { mapBytes?: number },
): Segment | UnreadableSegment {
  const open: OpenSegmentOptions = {
    readOnly: true,
    mapBytes: options.mapBytes,
    ownerUid: options.ownerUid,
    ownerRemedy: OWNER_REMEDY,
  };
  try {
    return openSegment(name, open);
  } catch (error) {
    if (error instanceof RingNotFoundError && error.reason === "absent") {
      throw error;
    }
    return unreadable(name, null, problemOf(name, error));
  }
}

/**
 * The one line an error about segment `name` says, without the ring's name
 * it starts with; throws what is not about the segment (a missing
 * permission, libc unavailable, a bug).
 */
function problemOf(name: string, error: unknown): string {
  if (error instanceof RingNotFoundError) return "being created";
  const about = error instanceof RingFormatError || error instanceof OsError;
  if (!about) throw error;
  return error.message.replace(`Ring ${name} is not usable: `, "");
}

function unreadable(
  name: string,
  layout: number | null,
  problem: string,
): UnreadableSegment {
  return { kind: "unreadable", name, layout, problem };
}

/**
 * What segment `name` holds, read through read-only mappings: its header
 * first (to learn the capacity), then, for a ring of this layout, the whole
 * segment (the exact write position and the readers' lags need the last
 * written slot). A layout 1 ring is listed without readers; anything that is
 * not a ring this marketbus reads is an {@linkcode UnreadableSegment}.
 *
 * @throws {RingNotFoundError} (reason "absent") when no segment has that name.
 * @throws {RangeError} for an invalid name.
 * @throws {LibcUnavailableError} without FFI.
 */
export function ringSnapshot(
  name: string,
  options: RingSnapshotOptions = {},
): SegmentStatus {
  const head = mapReadOnly(name, { ...options, mapBytes: RING_HEADER_SIZE });
  if ("kind" in head) return head;
  let layout: number;
  try {
    const found = headerProblem(head);
    if (typeof found === "object") return found;
    layout = found;
    if (layout === 1) return v1Snapshot(head);
    readHeader(head); // before mapping a large file whole
  } catch (error) {
    return unreadable(name, null, problemOf(name, error));
  } finally {
    unmapSegment(head);
  }
  const whole = mapReadOnly(name, options);
  if ("kind" in whole) return whole;
  try {
    return segmentSnapshot(whole);
  } catch (error) {
    return unreadable(name, layout, problemOf(name, error));
  } finally {
    unmapSegment(whole);
  }
}

/**
 * The layout version of a mapped segment's header, or why it is no ring:
 * too short, no magic (a foreign file, or one being created), a version this
 * marketbus does not know.
 */
function headerProblem(segment: Segment): number | UnreadableSegment {
  const { name, mappedSize } = segment;
  if (mappedSize < 8) {
    return unreadable(
      name,
      null,
      `not a marketbus ring (${segment.size} bytes, no ring header)`,
    );
  }
  const view = new DataView(segment.buffer, 0, 8);
  const magic = view.getUint32(Header.Magic, true);
  if (magic === 0) {
    return unreadable(name, null, "being created (no magic yet)");
  }
  if (magic !== RING_MAGIC) {
    return unreadable(
      name,
      null,
      `not a marketbus ring (magic 0x${magic.toString(16)}, expected 0x${
        RING_MAGIC.toString(16)
      } "MBRG")`,
    );
  }
  const layout = view.getUint32(Header.LayoutVersion, true);
  if (layout === 1 || layout === RING_LAYOUT_VERSION) return layout;
  return unreadable(
    name,
    layout,
    `layout version ${layout}, this marketbus reads 1 and ${RING_LAYOUT_VERSION}: a newer marketbus's ring`,
  );
}

/** A layout 1 ring: the header fields version 2 kept at the same offsets; no registry. */
function v1Snapshot(segment: Segment): SegmentStatus {
  const { name } = segment;
  if (segment.mappedSize < V1_HEADER_SIZE) {
    return unreadable(name, 1, `${segment.size} bytes, no layout 1 header`);
  }
  const view = new DataView(segment.buffer, 0, V1_HEADER_SIZE);
  const u32 = (offset: number) => view.getUint32(offset, true);
  const pid = view.getInt32(Header.ProducerPid, true);
  return {
    kind: "ring",
    name,
    layout: 1,
    pid,
    producerAlive: processAlive(pid),
    state: stateName(view.getInt32(Header.State, true)),
    epoch: u32(Header.Epoch),
    capacity: u32(Header.Capacity),
    // The header's words: the high one may lag the low one for an instant past 2^32.
    writePosition: u32(Header.WritePositionHi) * TWO_32 +
      u32(Header.WritePositionLo),
    heartbeat: u32(Header.Heartbeat),
    heartbeatIntervalMs: u32(Header.HeartbeatIntervalMs),
    tethered: 0,
    evictions: 0,
    stalledMs: 0,
    readers: [],
    takenAtMs: performance.now(),
  };
}

function stateName(state: number): RingStateName {
  return STATE_NAMES[state] ?? "initialising";
}

/**
 * The snapshot of a ring of this layout mapped whole (read-only or not):
 * for callers that already hold its mapping, such as its producer.
 *
 * @throws {RingFormatError} when its header is not a valid ring header of this layout.
 * @throws {RingNotFoundError} while it is being created.
 */
export function segmentSnapshot(segment: Segment): RingSnapshot {
  const info = readHeader(segment);
  if (segment.mappedSize < segment.size) {
    throw new RangeError(
      `Segment ${segment.name} is mapped in part (${segment.mappedSize} of ${segment.size} bytes): expected it mapped whole`,
    );
  }
  const words = new Int32Array(segment.buffer);
  const view = new DataView(segment.buffer, 0, RING_HEADER_SIZE);
  const { capacity } = info;
  const position = writePosition(words, capacity - 1);
  const nowMs = monotonicMs();
  const readers = readEntries(words, position).map((entry) =>
    readerStatus(words, entry, { capacity, nowMs })
  );
  return {
    kind: "ring",
    name: segment.name,
    layout: RING_LAYOUT_VERSION,
    pid: info.pid,
    producerAlive: processAlive(info.pid),
    state: stateName(readState(words)),
    epoch: info.epoch,
    capacity,
    writePosition: position,
    heartbeat: Atomics.load(words, W_HEARTBEAT) >>> 0,
    heartbeatIntervalMs: info.heartbeatIntervalMs,
    tethered: Atomics.load(words, W_TETHERED) >>> 0,
    evictions: Atomics.load(words, W_EVICTIONS) >>> 0,
    stalledMs: view.getFloat64(Header.StalledMs, true),
    readers,
    takenAtMs: performance.now(),
  };
}

function readerStatus(
  words: Int32Array,
  entry: ReaderEntry,
  at: { capacity: number; nowMs: number },
): ReaderStatus {
  return {
    ...entry,
    idHex: readerIdHex(entry.id),
    policy: POLICIES[entry.state] ?? "lossy",
    lagPercent: entry.lag / at.capacity * 100,
    heartbeatAgeMs: ageMs(at.nowMs, entry.heartbeatMs),
    alive: !isDead(words, entry.index, at.nowMs),
    lastEviction: CAUSES[entry.evictionCause] ?? null,
  };
}

/**
 * Every segment whose name starts with `prefix`, in name order: rings and
 * what is not one. Segments removed while it looks are left out.
 *
 * @throws {OsError} when /dev/shm cannot be listed.
 * @throws {LibcUnavailableError} without FFI.
 */
export function ringSnapshots(
  prefix: string,
  options: RingSnapshotOptions = {},
): SegmentStatus[] {
  const statuses: SegmentStatus[] = [];
  for (const name of [...listShm(prefix)].sort()) {
    try {
      statuses.push(ringSnapshot(name, options));
    } catch (error) {
      if (error instanceof RangeError) { // a name shm_open cannot take
        statuses.push(unreadable(name, null, "not a marketbus ring (name)"));
      } else if (!(error instanceof RingNotFoundError)) throw error;
      // else removed meanwhile
    }
  }
  return statuses;
}

/**
 * How a ring moved from `before` to `after` (two snapshots of one ring,
 * taken in that order): trades per second and whether the producer's
 * heartbeat moved. Undefined when they are of different incarnations
 * (epochs) or no time passed.
 */
export function ringActivity(
  before: RingSnapshot,
  after: RingSnapshot,
): RingActivity | undefined {
  const elapsedMs = after.takenAtMs - before.takenAtMs;
  const same = before.name === after.name && before.epoch === after.epoch;
  if (!same || !(elapsedMs > 0)) return undefined;
  return {
    elapsedMs,
    ratePerSecond: (after.writePosition - before.writePosition) /
      (elapsedMs / 1000),
    heartbeatMoved: before.heartbeat !== after.heartbeat,
  };
}
