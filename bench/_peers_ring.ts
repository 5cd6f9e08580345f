/**
 * The ring part of bench/peers.ts: our shared-memory ring (bench/ring.ts's
 * scenarios and workers) vs the C ring of bench/c/ring.c, interleaved round
 * by round: throughput, then one-way latency.
 *
 * @module
 */

import { formatRate } from "../common/runtime/format.ts";
import {
  type BenchContext,
  type Figure,
  killWorkers,
  type Scenario,
  SECTIONS as RING_SECTIONS,
} from "./ring.ts";
import {
  buildCRing,
  type CRingLatency,
  type CRingResult,
  cRingRound,
} from "./_c_ring.ts";
import {
  formatNs,
  interleave,
  removeSegments,
  roundsAndLoad,
} from "./_peers_shared.ts";
import type { PeerRow, PeersRun } from "./peers.ts";

/** The latency figures of one round, ns. */
type Latency = Pick<CRingLatency, "p50" | "p99" | "p999" | "max">;

/** The table's ring rows: throughput and the four latency figures. */
interface RingTable {
  rate: PeerRow;
  p50: PeerRow;
  p99: PeerRow;
  p999: PeerRow;
  max: PeerRow;
}

/** What the ring rounds need. */
interface RingContext {
  /** The C ring's binary; `undefined`: the C side is skipped. */
  binary: string | undefined;
  /** bench/ring.ts's `throughput-spin-free`. */
  throughput: Scenario;
  /** bench/ring.ts's `latency-spin`. */
  latency: Scenario;
  /** For our scenarios: options and segment names. */
  bench: BenchContext;
  /** Where the figures go. */
  rows: RingTable;
  /** Trades per throughput round (as bench/ring.ts) and per latency round. */
  throughputTrades: number;
  latencyTrades: number;
  /** Our segments, removed after each of our rounds. */
  segments: string[];
}

/** bench/ring.ts's scenario `id`. */
function ringScenario(id: string): Scenario {
  const found = RING_SECTIONS.flatMap((s) => s.scenarios).find((s) =>
    s.id === id
  );
  if (!found) throw new Error(`bench/ring.ts has no scenario ${id}`);
  return found;
}

/** The first value of the figure `metric`. */
function pick(figures: Figure[], metric: string): number {
  const figure = figures.find((f) => f.metric === metric);
  if (!figure) throw new Error(`bench/ring.ts reported no "${metric}"`);
  return figure.values[0];
}

/** `lost N, corrupt M` from bench/ring.ts's loss figures; "" when both are 0. */
function lossOf(figures: Figure[]): string {
  return figures.filter((f) => /^(lost|corrupt)/.test(f.metric) && f.values[0])
    .map((f) => `${f.metric.split(" ")[0]} ${f.values[0]}`).join(", ");
}

/** `lost N, corrupt M` from a C ring round; "" when both are 0. */
function cLossOf(r: CRingResult): string {
  return [
    r.lost ? `lost ${r.lost}` : "",
    r.corrupt ? `corrupt ${r.corrupt}` : "",
  ].filter(Boolean).join(", ");
}

/** " (loss)", or "" without loss. */
function withLoss(loss: string): string {
  return loss ? ` (${loss})` : "";
}

/** "p50 …, p99 …, p99.9 …, max …". */
function describe(l: Latency): string {
  return `p50 ${formatNs(l.p50)}, p99 ${formatNs(l.p99)}, p99.9 ${
    formatNs(l.p999)
  }, max ${formatNs(l.max)}`;
}

/** The five ring rows, empty. */
function ringTable(hasC: boolean, latencyTrades: number): RingTable {
  const peer = "C ring (bench/c/ring.c)";
  const theirs = (): number[] | undefined => (hasC ? [] : undefined);
  const trades = `${latencyTrades / 1e6} M trades/round`;
  const latencyRow = (what: string, goal: Partial<PeerRow>): PeerRow => ({
    scenario:
      `ring one-way latency ${what}, spin reader, producer sleeps 15 µs between trades, ${trades}`,
    unit: "ns",
    ours: [],
    peer,
    theirs: theirs(),
    lowerIsBetter: true,
    format: formatNs,
    ...goal,
  });
  return {
    rate: {
      scenario:
        "ring, producer write() free-running → 1 spin reader, other process",
      unit: "trades/s",
      ours: [],
      peer,
      theirs: theirs(),
    },
    p50: latencyRow("p50", { goal: 1.3 }),
    p99: latencyRow("p99", { limit: 2_000 }),
    p999: latencyRow("p99.9", { limit: 20_000 }),
    max: latencyRow("max", {}),
  };
}

/** Our throughput round. */
async function oursThroughput(ctx: RingContext): Promise<string> {
  const figures = await ctx.throughput.run(ctx.bench);
  removeSegments(ctx.segments);
  const v = pick(figures, "trades/s received (consumer)");
  ctx.rows.rate.ours.push(v);
  return `marketbus ${formatRate(v)}${withLoss(lossOf(figures))}`;
}

/** One C ring throughput run of `trades`: trades/s received and its description, e.g. "C 11.1M/s (lost 3)". */
export async function cThroughputRound(
  binary: string,
  trades: number,
): Promise<{ rate: number; shown: string }> {
  const r = await cRingRound(binary, { mode: "throughput", trades });
  if (r.mode !== "throughput") throw new Error("C ring: wrong mode");
  return {
    rate: r.rate,
    shown: `C ${formatRate(r.rate)}${withLoss(cLossOf(r))}`,
  };
}

/** The C ring's throughput round. */
async function cThroughput(ctx: RingContext): Promise<string> {
  if (!ctx.binary) return "C skipped";
  const { rate, shown } = await cThroughputRound(
    ctx.binary,
    ctx.throughputTrades,
  );
  ctx.rows.rate.theirs!.push(rate);
  return shown;
}

/** Appends one round's latencies to ours (`side` "ours") or the C ring's. */
function pushLatency(rows: RingTable, side: "ours" | "theirs", l: Latency) {
  rows.p50[side]!.push(l.p50);
  rows.p99[side]!.push(l.p99);
  rows.p999[side]!.push(l.p999);
  rows.max[side]!.push(l.max);
}

/** Our latency round. */
async function oursLatency(ctx: RingContext): Promise<string> {
  const figures = await ctx.latency.run(ctx.bench);
  removeSegments(ctx.segments);
  const l = {
    p50: pick(figures, "p50 one-way latency"),
    p99: pick(figures, "p99 one-way latency"),
    p999: pick(figures, "p99.9 one-way latency"),
    max: pick(figures, "max one-way latency"),
  };
  pushLatency(ctx.rows, "ours", l);
  return `marketbus ${describe(l)}, ${
    formatRate(pick(figures, "trades/s offered (producer)"))
  } offered${withLoss(lossOf(figures))}`;
}

/** The C ring's latency round. */
async function cLatency(ctx: RingContext): Promise<string> {
  if (!ctx.binary) return "C skipped";
  const r = await cRingRound(ctx.binary, {
    mode: "latency",
    trades: ctx.latencyTrades,
  });
  if (r.mode !== "latency") throw new Error("C ring: wrong mode");
  pushLatency(ctx.rows, "theirs", r);
  return `C ${describe(r)}, ${formatRate(r.offered)} offered${
    withLoss(cLossOf(r))
  }`;
}

/** Round `i`: throughput, then latency, each side interleaved; prints both. */
async function ringRound(ctx: RingContext, i: number): Promise<void> {
  const shown = await interleave(i, [
    () => oursThroughput(ctx),
    () => cThroughput(ctx),
  ]);
  const rate = ctx.rows.rate;
  console.log(
    `  round ${i + 1}, ${rate.scenario}: ${shown.join(", ")} (${rate.unit})`,
  );
  const latencyShown = await interleave(i, [
    () => oursLatency(ctx),
    () => cLatency(ctx),
  ]);
  console.log(
    `  round ${i + 1}, ring one-way latency: ${latencyShown.join("; ")}`,
  );
}

/** The ring rows: ours (bench/ring.ts's workers) vs the C ring, interleaved. */
export async function ringRows(run: PeersRun): Promise<PeerRow[]> {
  const binary = await buildCRing();
  const latencyTrades = Math.round(1_000_000 * (run.quick ? 0.1 : 1));
  const prefix = `marketbus_bench_${Deno.pid}_`;
  const ctx: RingContext = {
    binary,
    throughput: ringScenario("throughput-spin-free"),
    latency: ringScenario("latency-spin"),
    bench: {
      options: { quick: run.quick, json: false, rounds: 1, only: undefined },
      segmentName() {
        const name = `/${prefix}${run.segments.length}`;
        run.segments.push(name);
        return name;
      },
      latencyTrades,
    },
    rows: ringTable(Boolean(binary), latencyTrades),
    throughputTrades: run.quick ? 2_000_000 : 8_000_000,
    latencyTrades,
    segments: run.segments,
  };
  console.log(
    `\nring: ours (bench/ring.ts workers, 1 warm-up + 1 kept round per round) vs ${
      binary ? `C ${binary}` : "no C ring"
    }; ${roundsAndLoad(run)}`,
  );
  try {
    for (let i = 0; i < run.rounds; i++) await ringRound(ctx, i);
  } finally {
    killWorkers();
    removeSegments(run.segments);
  }
  const { rate, p50, p99, p999, max } = ctx.rows;
  return [rate, p50, p99, p999, max];
}
