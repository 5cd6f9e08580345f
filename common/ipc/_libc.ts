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

/** open(2) and mmap(2) constants (identical on Linux x86_64 and aarch64). */
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
/** lseek whence: from the end of the file. */
export const SEEK_END = 2;
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
/** clock id of the wall clock. */
export const CLOCK_REALTIME = 0;
/** clock id of the system-wide monotonic clock. */
export const CLOCK_MONOTONIC = 1;

const FUTEX_WAIT = 0;
const FUTEX_WAKE = 1;
/** futex_waitv flag: the word is 32 bits (FUTEX2_SIZE_U32); not private, so it works across processes. */
const FUTEX2_SIZE_U32 = 0x02;
/** futex_waitv is 449 on every Linux architecture (since 5.16). */
const SYS_FUTEX_WAITV = 449n;

const SYMBOLS = {
  shm_open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  shm_unlink: { parameters: ["buffer"], result: "i32" },
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
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
let futexNr = 0n;

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
  futexNr = Deno.build.arch === "x86_64" ? 202n : 98n;
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
    return loaded;
  }
  throw new LibcUnavailableError(
    `Could not load libc from any known path:\n  ${failures.join("\n  ")}`,
  );
}

/** The errno of the last failed libc call on this thread (read it right after the call). */
export function errno(): number {
  const where = libc().__errno_location();
  return new Deno.UnsafePointerView(where!).getInt32();
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

/** Wakes up to `count` processes sleeping on the 32-bit word at `word`. */
export function futexWake(word: Deno.PointerObject, count: number): void {
  libc().futex_wake(futexNr, word, FUTEX_WAKE, count | 0, null, null, 0);
}

function relativeTimeout(timeoutMs: number): Uint8Array<ArrayBuffer> {
  const timeout = new BigInt64Array(2);
  timeout[0] = BigInt(Math.floor(timeoutMs / 1000));
  timeout[1] = BigInt(Math.round((timeoutMs % 1000) * 1e6));
  return new Uint8Array(timeout.buffer);
}

/**
 * Sleeps on one word while it still holds `expected`, at most `timeoutMs`.
 * Any return (woken, value changed, timeout, signal) means "look again".
 * Blocking holds the thread (one thread switch per wake-up); otherwise the
 * wait runs on Deno's blocking pool and the event loop stays free (about
 * 20 µs more CPU per wake-up in thread hand-offs).
 */
export function futexWait(
  word: Deno.PointerObject,
  expected: number,
  options: { timeoutMs: number; blocking: boolean },
): Promise<bigint> | bigint {
  const call = options.blocking ? libc().futex_wait : libc().futex_wait_async;
  return call(
    futexNr,
    word,
    FUTEX_WAIT,
    expected | 0,
    relativeTimeout(options.timeoutMs),
    null,
    0,
  );
}

let waitvSupported: boolean | undefined;

/** Does this kernel have futex_waitv (Linux ≥ 5.16)? Probed once. */
export function futexWaitvSupported(): boolean {
  if (waitvSupported === undefined) {
    // Zero futexes is invalid: EINVAL means the call exists, ENOSYS that it does not.
    const result = libc().futex_waitv_probe(
      SYS_FUTEX_WAITV,
      null,
      0,
      0,
      null,
      0,
    );
    waitvSupported = result !== -1n || errno() !== ENOSYS;
  }
  return waitvSupported;
}

/** One entry of a futex_waitv call: a 32-bit word and the value it must still hold. */
export interface FutexWaiter {
  /** Address of the word. */
  word: Deno.PointerObject;
  /** Sleep only while the word holds this value. */
  expected: number;
}

/**
 * Sleeps until any of `waiters` is woken or no longer holds its expected
 * value, at most `timeoutMs` (futex_waitv); blocking as for {@linkcode futexWait}.
 */
export function futexWaitv(
  waiters: readonly FutexWaiter[],
  options: { timeoutMs: number; blocking: boolean },
): Promise<bigint> | bigint {
  const vector = new BigUint64Array(waiters.length * 3);
  for (let i = 0; i < waiters.length; i++) {
    vector[i * 3] = BigInt(waiters[i].expected >>> 0);
    vector[i * 3 + 1] = BigInt(Deno.UnsafePointer.value(waiters[i].word));
    vector[i * 3 + 2] = BigInt(FUTEX2_SIZE_U32);
  }
  // futex_waitv takes an absolute deadline on the given clock.
  const now = new BigInt64Array(2);
  libc().clock_gettime(CLOCK_MONOTONIC, new Uint8Array(now.buffer));
  const deadline = now[0] * 1_000_000_000n + now[1] +
    BigInt(Math.round(options.timeoutMs * 1e6));
  const timeout = new BigInt64Array([
    deadline / 1_000_000_000n,
    deadline % 1_000_000_000n,
  ]);
  const call = options.blocking ? libc().futex_waitv_sync : libc().futex_waitv;
  return call(
    SYS_FUTEX_WAITV,
    new Uint8Array(vector.buffer),
    waiters.length,
    0,
    new Uint8Array(timeout.buffer),
    CLOCK_MONOTONIC,
  );
}
