/**
 * The shared-memory broadcast ring: one producer, any number of consumers per
 * (exchange, symbol) segment, through POSIX shared memory and Deno FFI (see
 * docs/ipc_ring.md). Needs `--allow-ffi` for libc.
 *
 * The transport's two ends are {@linkcode RingPublisher} (data_manager) and
 * {@linkcode RingFeed} (trading_core); {@linkcode RingWriter},
 * {@linkcode RingReader} and the segment functions are the single ring they
 * are built on, for tools, benchmarks and tests.
 *
 * @module
 */

// The transport's two ends: one ring per symbol, published and followed.
export {
  DROPPED_HELD,
  type ReplacedRing,
  RingPublisher,
  type RingPublisherOptions,
} from "./ring_publisher.ts";
export { RingFeed, type RingFeedOptions } from "./ring_feed.ts";
// One ring: its producer, its consumers, and how a consumer waits.
export {
  type EvictionCounts,
  type ReaderEntry,
  type ReaderEvictionInfo,
  type ReplacedSegment,
  RingWriter,
  type RingWriterOptions,
  type TetherStats,
} from "./ring_writer.ts";
export {
  type Delivery,
  type Eviction,
  type ProducerStatus,
  type ReaderStart,
  RingReader,
  type RingReaderOptions,
  type RingTrustOptions,
} from "./ring_reader.ts";
export {
  RingWaiter,
  type RingWaiterOptions,
  WAIT_STRATEGIES,
  type WaitStrategy,
} from "./wait_strategy.ts";
// Looking at a ring without touching it: `deno task rings`, serve's metrics.
export {
  type EvictionCauseName,
  readerIdHex,
  type ReaderPolicy,
  readerPolicy,
  type ReaderStatus,
  type RingActivity,
  ringActivity,
  type RingSnapshot,
  ringSnapshot,
  type RingSnapshotOptions,
  ringSnapshots,
  type RingStateName,
  segmentSnapshot,
  type SegmentStatus,
  type UnreadableSegment,
} from "./ring_status.ts";
// The shared-memory segments (under /dev/shm) that hold the rings.
export {
  createSegment,
  listShm,
  openSegment,
  type OpenSegmentOptions,
  type Segment,
  shmFreeBytes,
  unlinkSegment,
  unmapSegment,
} from "./segment.ts";
// A fenced producer's ring, retired by the serve that took its symbols over.
export { retireFenced } from "./_ring_replace.ts";
// Ring names: `{prefix}{exchange}_{SYMBOL}` (defined with the wire format).
export { segmentName, segmentPath } from "../wire/mod.ts";
// The ring layout of docs/ipc_ring.md: magic, version, sizes, capacity,
// state, and the reader registry (its slots, what a reader is, why evicted).
export {
  checkCapacity,
  EvictionCause,
  MAX_CAPACITY,
  MIN_CAPACITY,
  ReaderState,
  REGISTRY_OFFSET,
  REGISTRY_SLOT_SIZE,
  REGISTRY_SLOTS,
  RING_HEADER_SIZE,
  RING_LAYOUT_VERSION,
  RING_MAGIC,
  RingState,
  segmentSize,
  SLOT_PAYLOAD_SIZE,
  SLOT_SIZE,
} from "./layout.ts";
// Errors: the ring's own, and those of the libc calls it makes.
export {
  RingFormatError,
  RingInUseError,
  RingNotFoundError,
  type RingNotFoundReason,
  RingOwnerError,
  RingReadersFullError,
  RingSpaceError,
  RingTruncatedError,
  type SegmentOwnership,
} from "./errors.ts";
// The errors of the libc calls under the ring (no FFI, a failed call).
export { LibcUnavailableError, OsError } from "../os/mod.ts";
