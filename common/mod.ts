/**
 * The shared core of both roles: the trade record and its codec, NATS
 * subjects, durations and the configuration loader.
 *
 * @module
 */

export * from "./trade.ts";
export * from "./fixed_point.ts";
export * from "./epoch_nanos.ts";
export * from "./codec.ts";
export * from "./trade_view.ts";
export * from "./subjects.ts";
export * from "./message_id.ts";
export * from "./duration.ts";
export * from "./byte_size.ts";
export * from "./config/mod.ts";
