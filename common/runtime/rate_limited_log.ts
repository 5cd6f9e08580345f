/**
 * A log that writes at most one line per key per interval, for events that
 * can come thousands of times a second (bad frames, publish retries,
 * rejections by reason).
 *
 * @module
 */

/** At most one line per key per interval, with a count of those left out. */
export class RateLimitedLog {
  readonly #interval: number;
  readonly #write: (message: string) => void;
  readonly #next = new Map<string, number>();
  readonly #suppressed = new Map<string, number>();

  /** Writes through `write`, at most once per key per `intervalMs`. */
  constructor(write: (message: string) => void, intervalMs: number) {
    this.#write = write;
    this.#interval = intervalMs;
  }

  /** Writes `message` unless a line of `key` was written within the interval (then counts it for the next line). */
  log(key: string, message: string): void {
    const now = performance.now();
    const next = this.#next.get(key) ?? -Infinity;
    if (now < next) {
      this.#suppressed.set(key, (this.#suppressed.get(key) ?? 0) + 1);
      return;
    }
    const suppressed = this.#suppressed.get(key) ?? 0;
    this.#suppressed.set(key, 0);
    this.#next.set(key, now + this.#interval);
    this.#write(
      suppressed > 0
        ? `${message} (${suppressed} more like it not logged)`
        : message,
    );
  }
}
