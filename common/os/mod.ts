/**
 * The C library through Deno FFI (`--allow-ffi`): the calls the ring and the
 * system clocks need, loaded on first use. The ring (common/ipc) and the
 * clocks (common/runtime/clock.ts) import those bindings from libc.ts and
 * the futex calls from futex.ts; what
 * callers handle is exported here: {@linkcode OsError} for a failed call and
 * {@linkcode LibcUnavailableError} when libc cannot be opened from any of
 * {@linkcode LIBC_PATHS}.
 *
 * @module
 */

// Where libc is looked for, and the errors of opening it and of a failed call.
export { LIBC_PATHS, LibcUnavailableError, OsError } from "./libc.ts";
// What a ring reader hands to its wait strategy: the futex word to sleep on.
export type { FutexWaiter } from "./futex.ts";
