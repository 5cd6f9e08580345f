/**
 * The C library through Deno FFI (`--allow-ffi`): the calls the ring and the
 * system clocks need, loaded on first use, with {@linkcode OsError} for a
 * failed call and {@linkcode LibcUnavailableError} when libc cannot be opened.
 *
 * @module
 */

export { LIBC_PATHS, LibcUnavailableError, OsError } from "./libc.ts";
