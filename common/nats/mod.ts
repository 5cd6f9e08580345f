/**
 * NATS JetStream, both ends: the connection (options from the configuration,
 * state changes logged), the stream's setup, the publisher
 * ({@linkcode NatsPublisher}) and the feed ({@linkcode NatsFeed}).
 *
 * @module
 */

export * from "./connection.ts";
export * from "./stream_setup.ts";
export * from "./publisher.ts";
export * from "./feed.ts";
