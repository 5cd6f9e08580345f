/**
 * NATS JetStream, both ends: the connection (options from the configuration,
 * state changes logged), the stream's setup, the publisher
 * ({@linkcode NatsPublisher}) and the feed ({@linkcode NatsFeed}).
 *
 * @module
 */

// Connecting with the configuration's servers, auth and TLS; the errors of a
// refused connection or a denied subject.
export {
  connectNats,
  type ConnectNatsOptions,
  NatsAuthError,
  type NatsConnectionCounters,
  NatsPermissionError,
  natsPermissionError,
  requireNetPermission,
} from "./connection.ts";
// The stream: created, or brought to the configuration when allowed.
export {
  ensureStream,
  StreamConfigError,
  type StreamSetupAction,
} from "./stream_setup.ts";
// data_manager's end: the publisher, its stats and the losses it reports.
export {
  ACK_TIMEOUT_MS,
  type NatsLoss,
  NatsPublisher,
  type NatsPublisherOptions,
  type NatsPublisherStats,
} from "./publisher.ts";
// trading_core's end: the feed, its durable consumer's saved positions, and
// the error of a consumer configured otherwise on the server.
export {
  ConsumerConflictError,
  NatsFeed,
  type NatsFeedOptions,
  POSITIONS_KEY,
} from "./feed.ts";
// `stream_per_exchange`: one consumer per exchange stream, merged.
export {
  EXCHANGE_STREAMS_POLL_MS,
  ExchangeStreamsFeed,
} from "./exchange_feed.ts";
// `live --snapshot`: each stream's latest stored trade, by direct get.
export {
  latestTrades,
  type LatestTradesOptions,
  MAX_DIRECT_SUBJECTS,
  natsSnapshot,
  type NatsSnapshotOptions,
  SnapshotError,
} from "./snapshot.ts";
