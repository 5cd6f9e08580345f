/**
 * Catch-up then live: a feed that replays a stream's history from JetStream
 * and switches it to the ring with no gap and no duplicate, telling when
 * each stream caught up (docs/nats.md, "Catch-up then live").
 *
 * @module
 */

export {
  CatchUpFeed,
  type CatchUpFeedOptions,
  DEFAULT_HOLD,
} from "./catch_up_feed.ts";
export {
  DurableInUseError,
  durablePath,
  DurablePosition,
  DurablePositionError,
  MAX_DURABLE_STREAMS,
  type Position,
  removeDurable,
} from "./durable_position.ts";
export {
  DURABLE_MARGIN_MS,
  DurableRecorder,
  type DurableStart,
  durableStart,
  type PositionSource,
} from "./durable_start.ts";
export {
  DURABLE_MIRROR_STREAM,
  DURABLE_MIRROR_SUBJECTS,
  DurableMirror,
  type DurableMirrorOptions,
  DurableMirrorUnreadableError,
  takeMissing,
} from "./durable_mirror.ts";
