/**
 * Which symbols' queued trades go out next: round robin over the lanes,
 * keeping each symbol's order, while the publish window has a free slot.
 *
 * @module
 */

import type { Chunk, Lane } from "./_publish_lane.ts";
import type { PublishWindow } from "./_publish_window.ts";

/**
 * A symbol whose oldest unacknowledged message has waited this long gets no
 * new message until that one is acknowledged or retried, ms. A message lost
 * with a dying stream leader is retried only after ACK_TIMEOUT_MS; without
 * this fence, later messages of its symbol sent to a newly elected leader
 * would be stored before it. An election takes seconds (nats-server's
 * minimum election timeout is 4 s), far longer than this.
 */
export const FENCE_MS = 1000;

/** What one round of {@linkcode pumpLanes} reads and moves on. */
export interface PumpState {
  /** The per-symbol queues. */
  lanes: Lane[];
  /** Where the next round starts. */
  nextLane: number;
  /** Trades queued over all lanes. */
  queued: number;
  /** Messages allowed to await their ack. */
  maxInFlight: number;
  /** Spare chunks taken trades go back to. */
  spare: Chunk[];
}

/** Publishes queued trades, symbol after symbol, while the window has room; updates `state`. */
export function pumpLanes(state: PumpState, window: PublishWindow): void {
  const lanes = state.lanes;
  const fence = performance.now() - FENCE_MS;
  while (state.queued > 0 && window.unacked < state.maxInFlight) {
    let built = false;
    for (
      let n = 0;
      n < lanes.length && window.unacked < state.maxInFlight;
      n++
    ) {
      const lane = lanes[state.nextLane];
      state.nextLane = (state.nextLane + 1) % lanes.length;
      if (lane.queued === 0 || lane.waiting > 0 || lane.splitting > 0) {
        continue;
      }
      // Keep the symbol's order: nothing new behind a message that may be lost.
      if (lane.unacked.length > 0 && lane.unacked[0].sentAt < fence) continue;
      const slot = window.build(lane, state.spare);
      state.queued -= slot.count;
      window.publish(slot);
      built = true;
    }
    if (!built) break;
  }
}
