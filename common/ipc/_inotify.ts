/**
 * Reading an inotify instance without blocking: what the /dev/shm watch
 * (segment_watch.ts) and the watch on mapped segments (resize_watch.ts)
 * share.
 *
 * @module
 */

import { errno, EWOULDBLOCK, libc, OsError } from "../os/libc.ts";

/** inotify event bits. */
export const IN_MODIFY = 0x2;
export const IN_ATTRIB = 0x4;
export const IN_MOVED_TO = 0x80;
export const IN_CREATE = 0x100;
export const IN_UNMOUNT = 0x2000;
export const IN_Q_OVERFLOW = 0x4000;
export const IN_IGNORED = 0x8000;

/** `struct inotify_event` before the name: wd, mask, cookie, len. */
const EVENT_HEADER = 16;

/** One event: its watch, its mask, and the name (empty for a watch on a file). */
export type InotifyEvent = (wd: number, mask: number, name: string) => void;

/** Reads the events queued on one inotify instance into a buffer made once. */
export class InotifyReader {
  #fd: number;
  #what: string;
  #buffer = new Uint8Array(new ArrayBuffer(16384));
  #view = new DataView(this.#buffer.buffer);
  #decoder = new TextDecoder();

  /** Reads instance `fd` (non-blocking); `what` names it in errors. */
  constructor(fd: number, what: string) {
    this.#fd = fd;
    this.#what = what;
  }

  /**
   * Hands every queued event to `onEvent`, until none is left.
   *
   * @throws {OsError} when reading fails other than "nothing new".
   */
  drain(onEvent: InotifyEvent): void {
    for (;;) {
      const length = Number(
        libc().read(this.#fd, this.#buffer, BigInt(this.#buffer.byteLength)),
      );
      if (length < 0) {
        const code = errno();
        if (code === EWOULDBLOCK) return;
        throw new OsError(`read ${this.#what}`, code);
      }
      for (let at = 0; at + EVENT_HEADER <= length;) {
        const wd = this.#view.getInt32(at, true);
        const mask = this.#view.getUint32(at + 4, true);
        const nameLength = this.#view.getUint32(at + 12, true);
        let name = "";
        if (nameLength > 0) {
          const bytes = this.#buffer.subarray(
            at + EVENT_HEADER,
            at + EVENT_HEADER + nameLength,
          );
          const end = bytes.indexOf(0);
          name = this.#decoder.decode(end < 0 ? bytes : bytes.subarray(0, end));
        }
        onEvent(wd, mask, name);
        at += EVENT_HEADER + nameLength;
      }
    }
  }
}
