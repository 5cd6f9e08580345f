/**
 * bench/catch_up.ts's strategy (`--latency`): samples the one-way latency
 * (ts_recv to onTrade) of every 16th trade, split at each symbol's
 * `onCaughtUp`, and logs both medians and 99th percentiles when it stops.
 *
 * @module
 */

import type { CaughtUp, Strategy, Trade } from "../mod.ts";

const before: number[] = [];
const after: number[] = [];
const live = new Set<string>();
let seen = 0;

function percentile(values: number[], p: number): string {
  if (values.length === 0) return "-";
  const sorted = [...values].sort((a, b) => a - b);
  const ns = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
  return ns >= 1e6
    ? `${(ns / 1e6).toFixed(1)}ms`
    : `${(ns / 1e3).toFixed(1)}µs`;
}

/** The sampling strategy; see the module documentation. */
const strategy: Strategy = {
  onTrade(trade: Trade) {
    if ((++seen & 15) !== 0) return;
    const now = (performance.timeOrigin + performance.now()) * 1e6;
    const latency = now - Number(trade.tsRecv);
    (live.has(trade.symbol) ? after : before).push(latency);
  },
  onBar() {},
  onCaughtUp(event: CaughtUp) {
    live.add(event.symbol);
  },
  onStop(context) {
    context.log.info(
      `latency before the switch p50 ${percentile(before, 0.5)} p99 ${
        percentile(before, 0.99)
      }; after p50 ${percentile(after, 0.5)} p99 ${percentile(after, 0.99)}`,
    );
  },
};

export default strategy;
