/**
 * The shared-memory broadcast ring: one producer, any number of consumers per
 * (exchange, symbol) segment, through POSIX shared memory and Deno FFI (see
 * docs/ipc_ring.md). Needs `--allow-ffi` for libc.
 *
 * @module
 */

export * from "./layout.ts";
export * from "./errors.ts";
export * from "./segment.ts";
export * from "./ring_writer.ts";
export * from "./ring_reader.ts";
export * from "./wait_strategy.ts";
export * from "../runtime/clock.ts";
export { LIBC_PATHS, LibcUnavailableError, OsError } from "../os/mod.ts";
export * from "./ring_publisher.ts";
export * from "./ring_feed.ts";
