/**
 * Futexes through libc's `syscall` (FFI): wake, wait on one word, and wait
 * on up to {@linkcode FUTEX_WAITV_MAX} words at once (futex_waitv), blocking
 * the thread or on Deno's blocking pool. Shared futexes (no
 * `FUTEX_PRIVATE_FLAG`): the ring's wake-ups cross processes.
 *
 * @module
 */

import {
  CLOCK_MONOTONIC,
  EINTR,
  ENOSYS,
  errno,
  EWOULDBLOCK as EAGAIN,
  libc,
  OsError,
} from "./libc.ts";

/** syscall number of futex. */
const futexNr = Deno.build.arch === "x86_64" ? 202n : 98n;
const FUTEX_WAIT = 0;
const FUTEX_WAKE = 1;
/** futex_waitv flag: the word is 32 bits (FUTEX2_SIZE_U32); not private, so it works across processes. */
const FUTEX2_SIZE_U32 = 0x02;
/** futex_waitv is 449 on every Linux architecture (since 5.16). */
const SYS_FUTEX_WAITV = 449n;
/** The most words one futex_waitv call takes (the kernel's FUTEX_WAITV_MAX; more is EINVAL). */
export const FUTEX_WAITV_MAX = 128;
/** errno of a futex wait: the timeout expired. */
const ETIMEDOUT = 110;

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
  if (!looksAgain(code)) throw new OsError(call, code);
}

/** Is `code` the errno of a wait that ended normally (changed, timed out, signalled)? */
function looksAgain(code: number): boolean {
  return code === EAGAIN || code === ETIMEDOUT || code === EINTR;
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
    if (result < 0n && !looksAgain(errno())) {
      // Confirmed by a probe, as in FutexVector.wait.
      const probe = lib.futex_wait(...args(EXPIRED));
      if (probe < 0n) checkWaitErrno("futex wait", errno());
    }
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
    // An errno other than "look again" is confirmed by a probe first: one
    // timed-out wait in serve read ENOENT (2) once, never reproduced alone.
    if (result < 0n && !looksAgain(errno())) this.check(result);
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
