/**
 * The shared core of both roles: the trade record and its codec, NATS
 * subjects, durations and the configuration loader.
 *
 * @module
 */

export * from "./wire/mod.ts";
export * from "./config/mod.ts";
