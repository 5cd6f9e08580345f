/**
 * The two ends of a transport, as the roles see them: a
 * {@linkcode TradePublisher} takes data_manager's records (the ring's
 * `RingPublisher`, NATS's `NatsPublisher`), a {@linkcode TradeFeed} delivers
 * trades to trading_core (`RingFeed`, `NatsFeed`), and a
 * {@linkcode SnapshotFeed} puts each stream's latest stored trade before
 * either one's (`live --snapshot`).
 *
 * @module
 */

export type {
  PublisherLoss,
  PublisherStats,
  TradePublisher,
} from "./publisher.ts";
export type {
  CaughtUp,
  FeedEvent,
  FeedStatus,
  LossCause,
  OnCaughtUp,
  OnEpoch,
  OnStream,
  OnTick,
  SkipTrade,
  StreamStats,
  SubscribeOptions,
  TradeFeed,
  TradePlace,
} from "./feed.ts";
export { type EventSubject, streamEvent, streamName } from "./feed_events.ts";
export {
  type LoadSnapshot,
  SnapshotFeed,
  type SnapshotFeedOptions,
  type SnapshotTrade,
} from "./snapshot_feed.ts";
