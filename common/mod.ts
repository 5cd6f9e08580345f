/**
 * The shared core of both roles: the trade record and its codec, NATS
 * subjects, durations and the configuration loader.
 *
 * @module
 */

export * from "./wire/mod.ts";
export * from "./duration.ts";
export * from "./byte_size.ts";
export * from "./config/mod.ts";
