/**
 * The libc functions the ring needs, loaded once through `Deno.dlopen`.
 *
 * libc is opened by absolute path, the first of {@linkcode LIBC_PATHS} that
 * opens. The permission must be unscoped `--allow-ffi`: Deno 2.9.6 admits a
 * dlopen under `--allow-ffi=<path>` but then refuses the pointer APIs that
 * mapping shared memory needs.
 *
 * @module
 */

/** Where glibc lives on the distributions we know of. */
export const LIBC_PATHS: readonly string[] = [
  "/lib/x86_64-linux-gnu/libc.so.6",
  "/usr/lib/x86_64-linux-gnu/libc.so.6",
  "/lib/aarch64-linux-gnu/libc.so.6",
  "/usr/lib/aarch64-linux-gnu/libc.so.6",
  "/usr/lib64/libc.so.6",
  "/lib64/libc.so.6",
  "/usr/lib/libc.so.6",
];

/** open(2) and mmap(2) constants (identical on Linux x86_64 and aarch64). Open for reading only. */
export const O_RDONLY = 0;
/** Open for reading and writing. */
export const O_RDWR = 2;
/** Create the file if missing. */
export const O_CREAT = 0o100;
/** Fail if the file exists. */
export const O_EXCL = 0o200;
/** Pages may be read. */
export const PROT_READ = 1;
/** Pages may be written. */
export const PROT_WRITE = 2;
/** Changes are shared with every process that maps the file. */
export const MAP_SHARED = 1;
/** Fault the pages in now rather than on first touch. */
export const MAP_POPULATE = 0x8000;
/** errno: no such file. */
export const ENOENT = 2;
/** errno: no such process. */
export const ESRCH = 3;
/** errno: permission denied. */
export const EACCES = 13;
/** errno: operation not permitted. */
export const EPERM = 1;
/** errno: file exists. */
export const EEXIST = 17;
/** errno: invalid argument. */
export const EINVAL = 22;
/** errno: function not implemented. */
export const ENOSYS = 38;
/** errno: interrupted by a signal (segment space: posix_fallocate). */
export const EINTR = 4;
/** errno: no space left on device. */
export const ENOSPC = 28;
/** statx: stat the fd itself (empty path). */
export const AT_EMPTY_PATH = 0x1000;
/** statx: stat a symbolic link itself, not what it points to. */
export const AT_SYMLINK_NOFOLLOW = 0x100;
/** statx dirfd: relative to the working directory (unused for absolute paths). */
export const AT_FDCWD = -100;
/** statx mask: type, mode, uid and size (STATX_TYPE | STATX_MODE | STATX_UID | STATX_SIZE). */
export const STATX_TYPE_MODE_UID_SIZE = 0x1 | 0x2 | 0x8 | 0x200;
/** clock id of the wall clock. */
export const CLOCK_REALTIME = 0;
/** clock id of the system-wide monotonic clock. */
export const CLOCK_MONOTONIC = 1;
/** errno of a futex wait: the word no longer held the expected value. */
const EAGAIN = 11;
/** errno of a non-blocking read with nothing to read. */
export const EWOULDBLOCK = EAGAIN;
/** inotify_init1 and eventfd flags: non-blocking, close-on-exec. */
export const NONBLOCK_CLOEXEC = 0o4000 | 0o2000000;

const SYMBOLS = {
  shm_open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  shm_unlink: { parameters: ["buffer"], result: "i32" },
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  mmap: {
    parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"],
    result: "pointer",
  },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  sched_yield: { parameters: [], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  // Segments: ownership, size, space, listing /dev/shm (../ipc/segment.ts).
  statx: {
    parameters: ["i32", "buffer", "i32", "u32", "buffer"],
    result: "i32",
  },
  posix_fallocate: { parameters: ["i32", "i64", "i64"], result: "i32" },
  fstatvfs: { parameters: ["i32", "buffer"], result: "i32" },
  statvfs: { parameters: ["buffer", "buffer"], result: "i32" },
  geteuid: { parameters: [], result: "u32" },
  opendir: { parameters: ["buffer"], result: "pointer" },
  readdir: { parameters: ["pointer"], result: "pointer" },
  closedir: { parameters: ["pointer"], result: "i32" },
  // syscall(2) is variadic; FFI needs fixed signatures, one per use.
  futex_wait: {
    name: "syscall",
    parameters: ["i64", "pointer", "i32", "i32", "buffer", "pointer", "i32"],
    result: "i64",
  },
  futex_wake: {
    name: "syscall",
    parameters: ["i64", "pointer", "i32", "i32", "pointer", "pointer", "i32"],
    result: "i64",
  },
  futex_waitv_probe: {
    name: "syscall",
    parameters: ["i64", "pointer", "u32", "u32", "pointer", "i32"],
    result: "i64",
  },
  futex_waitv: {
    name: "syscall",
    parameters: ["i64", "buffer", "u32", "u32", "buffer", "i32"],
    result: "i64",
    nonblocking: true,
  },
  futex_waitv_sync: {
    name: "syscall",
    parameters: ["i64", "buffer", "u32", "u32", "buffer", "i32"],
    result: "i64",
  },
  futex_wait_async: {
    name: "syscall",
    parameters: ["i64", "pointer", "i32", "i32", "buffer", "pointer", "i32"],
    result: "i64",
    nonblocking: true,
  },
  // Waiting for segments to appear (../ipc/segment_watch.ts), noticing a
  // mapped one modified (../ipc/resize_watch.ts).
  inotify_init1: { parameters: ["i32"], result: "i32" },
  inotify_add_watch: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  inotify_rm_watch: { parameters: ["i32", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  poll_async: {
    name: "poll",
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** libc could not be loaded: wrong OS, missing FFI permission, or an unknown libc path. */
export class LibcUnavailableError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LibcUnavailableError";
  }
}

/** A libc call failed; `errno` says why. */
export class OsError extends Error {
  /** The errno value. */
  readonly errno: number;

  /** Creates the error for `call` failing with `errno`. */
  constructor(call: string, errno: number) {
    super(`${call} failed: ${errnoText(errno)}`);
    this.name = "OsError";
    this.errno = errno;
  }
}

let loaded: Libc | undefined;
/** A view of this thread's errno, made once: reading it allocates nothing. */
let errnoView: Deno.UnsafePointerView | undefined;

/** The loaded libc symbols; loads libc on first use. */
export function libc(): Libc {
  return loaded ?? load();
}

function load(): Libc {
  if (Deno.build.os !== "linux") {
    throw new LibcUnavailableError(
      `The shared-memory ring needs Linux (shm_open, mmap, futex); this is ${Deno.build.os}: use the NATS transport instead`,
    );
  }
  const failures: string[] = [];
  for (const path of LIBC_PATHS) {
    let symbols: Libc;
    try {
      symbols = Deno.dlopen(path, SYMBOLS).symbols;
      // Probe a pointer API now, so that a scoped --allow-ffi fails here and
      // not halfway through creating a segment.
      Deno.UnsafePointer.value(symbols.__errno_location());
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) {
        throw new LibcUnavailableError(
          `The shared-memory ring needs FFI permission: run with --allow-ffi (unscoped: Deno refuses the pointer APIs under --allow-ffi=<path>; the deno tasks grant it)`,
          { cause: error },
        );
      }
      failures.push(`${path}: ${(error as Error).message.split("\n")[0]}`);
      continue;
    }
    loaded = symbols;
    errnoView = new Deno.UnsafePointerView(symbols.__errno_location()!);
    return loaded;
  }
  throw new LibcUnavailableError(
    `Could not load libc from any known path:\n  ${failures.join("\n  ")}`,
  );
}

/**
 * The errno of the last failed libc call on this thread (read it right after
 * the call). Nothing runs in between: an allocation there could start a GC
 * whose own system calls overwrite errno (an `EAGAIN` from a futex, say).
 */
export function errno(): number {
  if (errnoView === undefined) libc();
  return errnoView!.getInt32();
}

/** `strerror(code)` plus the symbolic code, e.g. `"No such file or directory (errno 2)"`. */
export function errnoText(code: number): string {
  const text = Deno.UnsafePointerView.getCString(libc().strerror(code)!);
  return `${text} (errno ${code})`;
}

/** A NUL-terminated copy of `text` for `buffer` parameters. */
export function cString(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${text}\0`);
}

/** Is process `pid` alive? (`kill(pid, 0)`: EPERM still means it exists.) */
export function processAlive(pid: number): boolean {
  if (pid <= 0) return false;
  if (libc().kill(pid | 0, 0) === 0) return true;
  return errno() === EPERM;
}
