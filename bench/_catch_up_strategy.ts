/**
 * bench/catch_up.ts's strategy (`--latency`): samples the one-way latency
 * (ts_recv to onTrade) of every 16th trade in three parts per symbol:
 * before its `onCaughtUp` (the history), the first second after it (the
 * held live trades delivered at the switch, which carry the time they were
 * held) and from then on (the ring), and logs each part's median and 99th
 * percentile when it stops.
 *
 * @module
 */

import type { CaughtUp, Strategy, Trade } from "../mod.ts";

/** How long after a symbol's switch its samples count as the held trades. */
const HELD_MS = 1000;

const before: number[] = [];
const held: number[] = [];
const after: number[] = [];
const caughtAt = new Map<string, number>();
let seen = 0;

function percentile(values: number[], p: number): string {
  if (values.length === 0) return "-";
  const sorted = [...values].sort((a, b) => a - b);
  const ns = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
  return ns >= 1e6
    ? `${(ns / 1e6).toFixed(1)}ms`
    : `${(ns / 1e3).toFixed(1)}µs`;
}

function part(name: string, values: number[]): string {
  return `${name} p50 ${percentile(values, 0.5)} p99 ${
    percentile(values, 0.99)
  } (${values.length})`;
}

/** The sampling strategy; see the module documentation. */
const strategy: Strategy = {
  onTrade(trade: Trade) {
    if ((++seen & 15) !== 0) return;
    const nowMs = performance.timeOrigin + performance.now();
    const latency = nowMs * 1e6 - Number(trade.tsRecv);
    const switched = caughtAt.get(trade.symbol);
    if (switched === undefined) before.push(latency);
    else (nowMs - switched < HELD_MS ? held : after).push(latency);
  },
  onBar() {},
  onCaughtUp(event: CaughtUp) {
    caughtAt.set(event.symbol, performance.timeOrigin + performance.now());
  },
  onStop(context) {
    context.log.info(
      `latency before the switch: ${part("history", before)}; ${
        part("first second after it", held)
      }; ${part("after", after)}`,
    );
  },
};

export default strategy;
