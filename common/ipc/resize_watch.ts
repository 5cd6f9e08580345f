/**
 * Noticing that a mapped segment was modified by another process (truncated,
 * or written with write(2)), without a `statx` per ring: one inotify
 * instance with a watch on each mapped segment's file. A producer writes
 * through its mapping, which raises no event, so an event means someone
 * else changed the file; the consumer then checks that ring's size before
 * touching it again.
 *
 * @module
 */

import { cString, libc, NONBLOCK_CLOEXEC } from "../os/libc.ts";
import {
  IN_IGNORED,
  IN_MODIFY,
  IN_Q_OVERFLOW,
  InotifyReader,
} from "./_inotify.ts";

/** A watch on mapped segments, each known by a key `K` (e.g. its reader): which were modified since it was last asked. */
export class ResizeWatch<K> {
  #fd: number;
  #events: InotifyReader;
  #keys = new Map<number, K>();
  #watches = new Map<K, number>();
  /** A segment could not be watched, or events were lost: every name must be checked. */
  #blind = false;

  private constructor(fd: number) {
    this.#fd = fd;
    this.#events = new InotifyReader(fd, "inotify watch on mapped segments");
  }

  /** Starts an (empty) watch, or returns undefined when inotify is not available: check every ring. */
  static open<K>(): ResizeWatch<K> | undefined {
    const fd = libc().inotify_init1(NONBLOCK_CLOEXEC);
    return fd < 0 ? undefined : new ResizeWatch<K>(fd);
  }

  /**
   * Watches the segment `key` maps through the open file `fd` (the watch is
   * on that very file, through /proc/self/fd, whatever its name points to
   * now). When it cannot (no /proc, the per-user watch limit reached),
   * {@linkcode changed} reports "unknown" from then on. A watch pins the
   * file: {@linkcode remove} it (or close) once it is unmapped.
   */
  add(key: K, fd: number): void {
    if (this.#fd < 0) return;
    const wd = libc().inotify_add_watch(
      this.#fd,
      cString(`/proc/self/fd/${fd}`),
      IN_MODIFY,
    );
    if (wd < 0) {
      this.#blind = true;
      return;
    }
    this.#watches.set(key, wd);
    this.#keys.set(wd, key);
  }

  /** Is `key` watched? */
  has(key: K): boolean {
    return this.#watches.has(key);
  }

  /** The keys watched. */
  keys(): IterableIterator<K> {
    return this.#watches.keys();
  }

  /** Stops watching the segment of `key`. */
  remove(key: K): void {
    const wd = this.#watches.get(key);
    if (wd === undefined) return;
    this.#watches.delete(key);
    this.#keys.delete(wd);
    libc().inotify_rm_watch(this.#fd, wd);
  }

  /**
   * The keys of the segments modified since the last call, or undefined when
   * that is not known (a segment could not be watched, events were lost):
   * check them all.
   *
   * @throws {OsError} when reading the watch fails other than "nothing new".
   */
  changed(): Set<K> | undefined {
    if (this.#fd < 0) return undefined;
    const keys = new Set<K>();
    let lost = this.#blind;
    this.#events.drain((wd, mask) => {
      if (mask & IN_Q_OVERFLOW) lost = true;
      if (mask & IN_IGNORED) return; // removed
      const key = this.#keys.get(wd);
      if (key !== undefined) keys.add(key);
    });
    return lost ? undefined : keys;
  }

  /** Stops watching. Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    libc().close(this.#fd);
    this.#fd = -1;
    this.#keys.clear();
    this.#watches.clear();
  }
}
