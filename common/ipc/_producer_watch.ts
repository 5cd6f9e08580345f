/**
 * What a reader knows about its producer: the ring's state and the
 * heartbeat's progress, judged on the reader's periodic checks.
 *
 * @module
 */

import { processAlive } from "../os/libc.ts";
import { readState, W_HEARTBEAT } from "./_header.ts";
import { RingState } from "./layout.ts";

/** What a reader knows about its producer. */
export type ProducerStatus =
  /** Heartbeat moving. */
  | "alive"
  /** Closed the ring (clean shutdown, or replaced by a new producer). */
  | "closed"
  /** No heartbeat for the stale period, but the process exists (stopped or overloaded). */
  | "stalled"
  /** No heartbeat for the stale period and the process is gone. */
  | "dead";

/** One reader's watch on its producer's heartbeat. */
export class ProducerWatch {
  #lastHeartbeat = -1;
  #lastHeartbeatAt = 0;

  /**
   * Judges the producer `pid` of the ring `words`: closed, alive (heartbeat
   * moved within `staleAfterMs`), or silent for that long and then stalled
   * (process exists) or dead. `nowMs` is a monotonic time.
   */
  status(
    words: Int32Array,
    pid: number,
    nowMs: number,
    staleAfterMs: number,
  ): ProducerStatus {
    if (readState(words) === RingState.Closed) return "closed";
    const beat = Atomics.load(words, W_HEARTBEAT);
    if (beat !== this.#lastHeartbeat) {
      this.#lastHeartbeat = beat;
      this.#lastHeartbeatAt = nowMs;
      return "alive";
    }
    if (nowMs - this.#lastHeartbeatAt < staleAfterMs) return "alive";
    return processAlive(pid) ? "stalled" : "dead";
  }

  /** How long the heartbeat has not moved, ms, as of the last {@linkcode status}. */
  silentFor(nowMs: number): number {
    return nowMs - this.#lastHeartbeatAt;
  }
}
