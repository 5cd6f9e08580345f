/**
 * Configuration: TOML files validated into typed objects, with the NATS
 * variables (`NATS_URL`, `NATS_TOKEN`, `NATS_USER`, `NATS_PASSWORD`,
 * `NATS_CREDS`) and command-line overrides (see docs/configuration.md).
 *
 * @module
 */

export * from "./types.ts";
export * from "./error.ts";
export * from "./load.ts";
export * from "./stream_limits.ts";
export * from "./duration.ts";
export * from "./byte_size.ts";
export * from "./bar_interval.ts";
