/**
 * Configuration: TOML files validated into typed objects, with `NATS_URL`
 * and command-line overrides (see docs/configuration.md).
 *
 * @module
 */

export * from "./types.ts";
export * from "./error.ts";
export * from "./load.ts";
export * from "./stream_limits.ts";
