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
const FUTEX_WAIT = 0;
const FUTEX_WAKE = 1;
/** futex_waitv flag: the word is 32 bits (FUTEX2_SIZE_U32); not private, so it works across processes. */
const FUTEX2_SIZE_U32 = 0x02;
/** futex_waitv is 449 on every Linux architecture (since 5.16). */
const SYS_FUTEX_WAITV = 449n;
/** The most words one futex_waitv call takes (the kernel's FUTEX_WAITV_MAX; more is EINVAL). */
export const FUTEX_WAITV_MAX = 128;
/** errno of a futex wait: the word no longer held the expected value. */
const EAGAIN = 11;
/** errno of a futex wait: the timeout expired. */
const ETIMEDOUT = 110;
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

/**
 * Wakes up to `count` processes sleeping on the 32-bit word at `word`;
 * returns how many woke.
 * @throws {OsError} when the kernel refuses the call (a bad address).
 */
export function futexWake(word: Deno.PointerObject, count: number): number {
  const woken = libc().futex_wake(
    futexNr,
    word,
    FUTEX_WAKE,
    count | 0,
    null,
    null,
    0,
  );
  if (woken < 0n) throw new OsError("futex wake", errno());
  return Number(woken);
}

/** How a futex wait sleeps. */
export interface FutexWaitOptions {
  /** The longest sleep, ms. */
  timeoutMs: number;
  /**
   * Hold the thread (one thread switch per wake-up), or run the wait on
   * Deno's blocking pool and keep the event loop free (about 20 µs more CPU
   * per wake-up in thread hand-offs).
   */
  blocking: boolean;
}

/**
 * A wait that returned -1 with `code`: the word had changed, the time ran
 * out or a signal arrived, all meaning "look again"; anything else (EINVAL,
 * EFAULT, ENOSYS) is a defect that a caller must not take for a wake-up.
 */
function checkWaitErrno(call: string, code: number): void {
  if (code !== EAGAIN && code !== ETIMEDOUT && code !== EINTR) {
    throw new OsError(call, code);
  }
}

/** Timeouts of futex waits running on Deno's blocking pool, kept from the garbage collector. */
const pendingTimeouts = new Set<Uint8Array>();

/** A zero timespec: a relative timeout of 0, or an absolute deadline long past. */
const EXPIRED = new Uint8Array(new ArrayBuffer(16));

function relativeTimeout(timeoutMs: number): Uint8Array<ArrayBuffer> {
  const timeout = new BigInt64Array(2);
  timeout[0] = BigInt(Math.floor(timeoutMs / 1000));
  timeout[1] = BigInt(Math.round((timeoutMs % 1000) * 1e6));
  return new Uint8Array(timeout.buffer);
}

/**
 * Sleeps on one word while it still holds `expected`, at most `timeoutMs`.
 * Returns a promise when not blocking, undefined once a blocking wait ended.
 * Any end (woken, value changed, timeout, signal) means "look again".
 *
 * @throws {OsError} (or rejects with it) when the kernel refuses the wait.
 */
export function futexWait(
  word: Deno.PointerObject,
  expected: number,
  options: FutexWaitOptions,
): Promise<void> | undefined {
  const lib = libc();
  /** syscall(SYS_futex, word, FUTEX_WAIT, expected, timeout, NULL, 0). */
  const args = (timeout: Uint8Array<ArrayBuffer>) =>
    [futexNr, word, FUTEX_WAIT, expected | 0, timeout, null, 0] as const;
  const timeout = relativeTimeout(options.timeoutMs);
  if (options.blocking) {
    const result = lib.futex_wait(...args(timeout));
    if (result < 0n) checkWaitErrno("futex wait", errno());
    return undefined;
  }
  // The pool thread reads `timeout` when the call starts, maybe after this
  // function returned: the pending set keeps it alive until the call settled.
  pendingTimeouts.add(timeout);
  const call = lib.futex_wait_async(...args(timeout)).finally(() =>
    pendingTimeouts.delete(timeout)
  );
  return call.then((result) => {
    if (result >= 0n) return;
    // errno belongs to the pool thread that ran the call: ask again on this
    // thread without sleeping, which fails the same way if the call is bad.
    const probe = lib.futex_wait(...args(EXPIRED));
    if (probe < 0n) checkWaitErrno("futex wait", errno());
  });
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

/** u32 fields per `struct futex_waitv` (u64 val, u64 uaddr, u32 flags, u32 reserved). */
const WAITV_FIELDS = 6;
const TWO_32 = 2 ** 32;

/**
 * A futex_waitv vector over 1 to {@linkcode FUTEX_WAITV_MAX} words, built
 * once; only the expected values change between waits. One wait at a time:
 * the kernel reads the vector when a non-blocking wait starts on the pool.
 */
export class FutexVector {
  /** Words in the vector. */
  readonly length: number;
  #bytes: Uint8Array<ArrayBuffer>;
  #fields: Uint32Array<ArrayBuffer>;
  #deadline = new Uint32Array(4);
  #deadlineBytes = new Uint8Array(this.#deadline.buffer);
  #now = new Int32Array(4);
  #nowBytes = new Uint8Array(this.#now.buffer);

  /**
   * Builds the vector over `words`.
   *
   * @throws {RangeError} for no word or more than {@linkcode FUTEX_WAITV_MAX}.
   */
  constructor(words: readonly Deno.PointerObject[]) {
    if (words.length < 1 || words.length > FUTEX_WAITV_MAX) {
      throw new RangeError(
        `Invalid futex_waitv of ${words.length} words: expected 1 to ${FUTEX_WAITV_MAX} (wait on more in groups)`,
      );
    }
    this.length = words.length;
    this.#fields = new Uint32Array(words.length * WAITV_FIELDS);
    this.#bytes = new Uint8Array(this.#fields.buffer);
    for (let i = 0; i < words.length; i++) {
      const address = Number(Deno.UnsafePointer.value(words[i]));
      const at = i * WAITV_FIELDS;
      this.#fields[at + 2] = address % TWO_32;
      this.#fields[at + 3] = Math.floor(address / TWO_32);
      this.#fields[at + 4] = FUTEX2_SIZE_U32;
    }
  }

  /** Sets the value word `index` must still hold for the next wait to sleep. */
  expect(index: number, value: number): void {
    this.#fields[index * WAITV_FIELDS] = value >>> 0;
  }

  /**
   * Sleeps until any word is woken or no longer holds its expected value, at
   * most `timeoutMs`. Returns a promise when not blocking, undefined once a
   * blocking wait ended.
   *
   * @throws {OsError} (or rejects with it) when the kernel refuses the wait.
   */
  wait(options: FutexWaitOptions): Promise<void> | undefined {
    if (!options.blocking) {
      return this.start(options.timeoutMs).then((result) => this.check(result));
    }
    const result = libc().futex_waitv_sync(
      SYS_FUTEX_WAITV,
      this.#bytes,
      this.length,
      0,
      this.#deadlineIn(options.timeoutMs),
      CLOCK_MONOTONIC,
    );
    if (result < 0n) checkWaitErrno("futex_waitv", errno());
    return undefined;
  }

  /**
   * Starts a non-blocking wait (see {@linkcode wait}) and returns its raw
   * result: the index of the word woken, or -1 (errno unknown: it belongs to
   * the pool thread). {@linkcode check} it while every word is still mapped.
   */
  start(timeoutMs: number): Promise<bigint> {
    return libc().futex_waitv(
      SYS_FUTEX_WAITV,
      this.#bytes,
      this.length,
      0,
      this.#deadlineIn(timeoutMs),
      CLOCK_MONOTONIC,
    );
  }

  /**
   * Judges the result of {@linkcode start}: for -1, asks the kernel again on
   * this thread without sleeping, which fails the same way if the call is bad.
   *
   * @throws {OsError} when the kernel refuses the wait.
   */
  check(result: bigint): void {
    if (result >= 0n) return;
    const probe = libc().futex_waitv_sync(
      SYS_FUTEX_WAITV,
      this.#bytes,
      this.length,
      0,
      EXPIRED,
      CLOCK_MONOTONIC,
    );
    if (probe < 0n) checkWaitErrno("futex_waitv", errno());
  }

  /** futex_waitv takes an absolute deadline on the monotonic clock. */
  #deadlineIn(timeoutMs: number): Uint8Array<ArrayBuffer> {
    if (libc().clock_gettime(CLOCK_MONOTONIC, this.#nowBytes) !== 0) {
      throw new OsError("clock_gettime", errno());
    }
    const now = this.#now;
    let seconds = (now[1] >>> 0) * TWO_32 + (now[0] >>> 0);
    let nanos = now[2] + Math.round(timeoutMs * 1e6);
    seconds += Math.floor(nanos / 1e9);
    nanos %= 1e9;
    this.#deadline[0] = seconds % TWO_32;
    this.#deadline[1] = Math.floor(seconds / TWO_32);
    this.#deadline[2] = nanos;
    this.#deadline[3] = 0;
    return this.#deadlineBytes;
  }
}
