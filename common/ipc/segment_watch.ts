/**
 * Noticing segments that appear, without probing every missing name: one
 * inotify watch on /dev/shm, drained without blocking, and waited on by a
 * thread of Deno's blocking pool so that an idle consumer sleeps until
 * /dev/shm changes.
 *
 * @module
 */

import {
  cString,
  EINTR,
  errno,
  libc,
  NONBLOCK_CLOEXEC,
  OsError,
} from "../os/libc.ts";
import {
  IN_ATTRIB,
  IN_CREATE,
  IN_IGNORED,
  IN_MOVED_TO,
  IN_Q_OVERFLOW,
  IN_UNMOUNT,
  InotifyReader,
} from "./_inotify.ts";

/** Where glibc's shm_open keeps segments. */
const SHM_DIR = "/dev/shm";
/**
 * What can turn a name into a ring: created, moved in, or its owner or mode
 * changed. Not IN_CLOSE_WRITE: every look at a ring (shm_open O_RDWR, then
 * close) raises it, so a consumer waiting beside a dead producer's ring or a
 * refused segment would wake itself in a loop. A producer writes its header
 * through its mapping, which raises no event at all: a segment found being
 * created (empty, or no magic yet) is looked at again on the search's
 * back-off, as is one rewritten in place.
 */
const WATCHED = IN_CREATE | IN_MOVED_TO | IN_ATTRIB;
/** poll(2): data to read. */
const POLLIN = 1;

/** A watch on /dev/shm: which names changed since it was last asked. */
export class SegmentWatch {
  #fd: number;
  /** An eventfd that ends a {@linkcode wait} early. */
  #wakeFd: number;
  #events: InotifyReader;
  /** Two `struct pollfd` (fd, events | revents << 16): the watch, the eventfd. */
  #pollFds = new Int32Array(new ArrayBuffer(16));
  #pollBytes = new Uint8Array(this.#pollFds.buffer);
  #counter = new Uint8Array(new ArrayBuffer(8));
  #waiting: Promise<void> | undefined;
  #ended = false;

  private constructor(fd: number, wakeFd: number) {
    this.#fd = fd;
    this.#wakeFd = wakeFd;
    this.#events = new InotifyReader(fd, `inotify watch on ${SHM_DIR}`);
    this.#pollFds.set([fd, POLLIN, wakeFd, POLLIN]);
  }

  /**
   * Starts watching /dev/shm, or returns undefined when inotify is not
   * available (no such call, the per-user limit of instances or watches is
   * reached): the caller then polls each name.
   */
  static open(): SegmentWatch | undefined {
    const lib = libc();
    const fd = lib.inotify_init1(NONBLOCK_CLOEXEC);
    if (fd < 0) return undefined;
    const wakeFd = lib.eventfd(0, NONBLOCK_CLOEXEC);
    if (
      wakeFd < 0 || lib.inotify_add_watch(fd, cString(SHM_DIR), WATCHED) < 0
    ) {
      if (wakeFd >= 0) lib.close(wakeFd);
      lib.close(fd);
      return undefined;
    }
    return new SegmentWatch(fd, wakeFd);
  }

  /** False once the watch ended (closed, /dev/shm removed or unmounted): poll instead. */
  get active(): boolean {
    return !this.#ended;
  }

  /**
   * The segment names (`/name`) that changed since the last call, or
   * undefined when that is not known (events were lost, or the watch ended):
   * look at every name.
   *
   * @throws {OsError} when reading the watch fails other than "nothing new".
   */
  changed(): Set<string> | undefined {
    if (this.#ended) return undefined;
    const names = new Set<string>();
    let all = false;
    this.#events.drain((_wd, mask, name) => {
      if (mask & (IN_IGNORED | IN_UNMOUNT)) this.#end();
      if (mask & IN_Q_OVERFLOW) all = true;
      if (name !== "") names.add(`/${name}`);
    });
    return all || this.#ended ? undefined : names;
  }

  /**
   * Sleeps until the watch has news, `timeoutMs` passed or
   * {@linkcode cancel}, on Deno's blocking pool: the event loop stays free.
   * One wait at a time.
   *
   * @throws {OsError} (rejects with it) when poll fails other than by a signal.
   */
  wait(timeoutMs: number): Promise<void> {
    if (this.#ended) return Promise.resolve();
    if (this.#waiting) throw new Error("SegmentWatch.wait: already waiting");
    const ms = Math.max(0, Math.min(Math.ceil(timeoutMs), 0x7fff_ffff));
    const lib = libc();
    this.#waiting = lib.poll_async(this.#pollBytes, 2n, ms).then((result) => {
      this.#waiting = undefined;
      // errno belongs to the pool thread: ask again here, without waiting.
      if (result < 0 && lib.poll(this.#pollBytes, 2n, 0) < 0) {
        const code = errno();
        if (code !== EINTR) {
          throw new OsError(`poll inotify watch on ${SHM_DIR}`, code);
        }
      }
      // Reset the eventfd if cancel() rang it (EAGAIN when it did not).
      lib.read(this.#wakeFd, this.#counter, 8n);
    });
    return this.#waiting;
  }

  /** Ends a {@linkcode wait} in progress (or the next one) at once. */
  cancel(): void {
    if (this.#wakeFd < 0) return;
    new DataView(this.#counter.buffer).setBigUint64(0, 1n, true);
    if (libc().write(this.#wakeFd, this.#counter, 8n) < 0n) {
      throw new OsError("write eventfd", errno());
    }
  }

  /** Stops watching, once a wait in progress has ended. Idempotent. */
  async close(): Promise<void> {
    if (this.#waiting) {
      this.cancel();
      await this.#waiting.catch(() => {});
    }
    this.#end();
    if (this.#fd < 0) return;
    const lib = libc();
    lib.close(this.#fd);
    lib.close(this.#wakeFd);
    this.#fd = -1;
    this.#wakeFd = -1;
  }

  /** The watch ended (or is closing): every name must be looked at from now on. */
  #end(): void {
    this.#ended = true;
  }
}
