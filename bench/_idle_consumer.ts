/**
 * The consumer process of bench/idle_rings.ts: follows `rings` rings with an
 * {@linkcode RingFeed} configured as `live` runs it (`backoff`, blocking
 * sleeps of at most 10 ms), and reports its own CPU while every ring idles,
 * then the delivery latency of the trades the bench publishes on the last ring.
 *
 * ```sh
 * deno run --allow-ffi bench/_idle_consumer.ts '{"prefix":"/mbbench_…_","rings":500,"warmupMs":2000,"measureMs":10000,"trades":20}'
 * ```
 *
 * Prints one JSON line per step on stdout: `{"event":"ready"}` once every ring
 * is attached (or announced missing), `{"event":"cpu","cpuPercent":…,"sleeps":…}`
 * after the measured window, `{"event":"latency","latenciesUs":[…]}` after
 * `trades` deliveries; then it exits.
 *
 * @module
 */

import process from "node:process";
import { readWallClock } from "../common/runtime/clock.ts";
import { RingFeed } from "../common/ipc/ring_feed.ts";

/** What the bench asks of this consumer. */
export interface IdleConsumerConfig {
  /** Segment name prefix; the rings are `{prefix}bench_S0` … `S{rings − 1}`. */
  prefix: string;
  /** Rings followed. */
  rings: number;
  /** Idle time before the measured window, ms (JIT, attach). */
  warmupMs: number;
  /** The measured idle window, ms. */
  measureMs: number;
  /** Trades to await on the last ring after the window. */
  trades: number;
  /** Heartbeat silence after which a producer is declared dead, ms (default: live's). */
  staleAfterMs?: number;
}

/** The symbols of ring `i` of a bench: `S0`, `S1`, … */
export function benchSymbols(rings: number): string[] {
  return Array.from({ length: rings }, (_, i) => `S${i}`);
}

/** The exchange the bench's segments are named after. */
export const BENCH_EXCHANGE = "bench";

function say(event: Record<string, unknown>): void {
  console.log(JSON.stringify(event));
}

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

async function main(config: IdleConsumerConfig): Promise<void> {
  const symbols = benchSymbols(config.rings);
  const feed = new RingFeed({
    exchange: BENCH_EXCHANGE,
    shmPathPrefix: config.prefix,
    ...(config.staleAfterMs === undefined
      ? {}
      : { staleAfterMs: config.staleAfterMs }),
  });
  const controller = new AbortController();
  const clock = { seconds: 0, nanos: 0 };
  const latencies: number[] = [];
  let announced = 0;
  let ready: () => void;
  const allAnnounced = new Promise<void>((resolve) => ready = resolve);
  const done = feed.subscribeTrades(
    symbols,
    (trade) => {
      readWallClock(clock);
      latencies.push(trade.recvAgeNanos(clock.seconds, clock.nanos) / 1000);
      if (latencies.length >= config.trades) controller.abort();
    },
    {
      signal: controller.signal,
      onEvent: (event) => {
        if (event.kind === "attached" || event.kind === "waiting") {
          if (++announced === config.rings) ready();
        }
      },
    },
  );
  await Promise.race([allAnnounced, done]);
  say({ event: "ready" });
  await new Promise((resolve) => setTimeout(resolve, config.warmupMs));
  const cpu0 = cpuMicros();
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, config.measureMs));
  const cpu = cpuMicros() - cpu0;
  const wallMs = performance.now() - t0;
  say({
    event: "cpu",
    cpuPercent: cpu / 10 / wallMs,
    delivered: latencies.length,
  });
  if (config.trades > 0) await done;
  else controller.abort();
  await done;
  say({ event: "latency", latenciesUs: latencies });
}

if (import.meta.main) {
  await main(JSON.parse(Deno.args[0]) as IdleConsumerConfig);
}
