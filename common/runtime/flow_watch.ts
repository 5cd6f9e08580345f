/**
 * Tells whether a counter is still moving: how long since it last grew,
 * sampled on a timer so that the answer does not depend on how often it is
 * asked (a `/healthz` probe every 10 s or every 100 ms).
 *
 * @module
 */

/** How often the counter is sampled, ms. */
export const FLOW_SAMPLE_MS = 250;

/** Watches a counter read by `read`; {@linkcode FlowWatch.close} stops it. */
export class FlowWatch {
  #read: () => number;
  #now: () => number;
  #last: number;
  #changedAt: number | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Starts sampling `read()` (`now` is for tests; default performance.now). */
  constructor(
    read: () => number,
    options: { now?: () => number; sampleMs?: number } = {},
  ) {
    this.#read = read;
    this.#now = options.now ?? (() => performance.now());
    this.#last = read();
    const sampleMs = options.sampleMs ?? FLOW_SAMPLE_MS;
    if (sampleMs > 0) {
      this.#timer = setInterval(() => this.sample(), sampleMs);
      Deno.unrefTimer(this.#timer);
    }
  }

  /** Reads the counter now. */
  sample(): void {
    const value = this.#read();
    if (value !== this.#last) {
      this.#last = value;
      this.#changedAt = this.#now();
    }
  }

  /** Ms since the counter last grew, or undefined if it never did. */
  sinceChange(): number | undefined {
    this.sample();
    return this.#changedAt === undefined
      ? undefined
      : this.#now() - this.#changedAt;
  }

  /** Stops sampling. */
  close(): void {
    clearInterval(this.#timer);
  }
}
