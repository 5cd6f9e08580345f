/**
 * Peers side by side (issue 16, "How it is measured"): every goal of the
 * issue against its peer in one run, part by part (`--only` picks parts, in
 * this order):
 *
 * - `nats` (goals 1, 2): marketbus and Go's `nats bench` (natscli, the
 *   version pinned in bench/_natscli.ts, installed with `go install` when
 *   missing) against ONE nats-server (file storage, R1, random loopback
 *   port), each measurement on a fresh stream (deleted afterwards): JetStream
 *   publish, 48 B with a Msg-Id on every message (bench/nats_publish.ts's
 *   round at `batch_max_trades = 1`) vs `js pub async --size 48 --dedup
 *   --batch 256`; 64 trades per message vs Go 3072 B `--dedup`, Go's msgs/s
 *   × 64 as trades/s; durable consume at 48 B and 3 KB (bench/nats_consume.ts's
 *   round, NatsFeed with AckAll) vs `js consume --acks all --batch 1000`,
 *   msgs/s (bench/_peers_nats.ts). Fast-ingest batch publishing (goal 1) is
 *   a place left in {@linkcode PARTS}.
 * - `latency` (goal 3): serve → live callback latency over NATS at 10k
 *   trades/s (bench/nats_path.ts's latency rounds) vs Go PublishAsync →
 *   Consume callback (bench/go/latency), p50 (≤ 1.0× Go) and p99 (≤ 2 ms)
 *   (bench/_peers_latency.ts).
 * - `path` (goal 5): `serve --rate 0` → `live --wait spin` vs the C ring's
 *   free-running throughput in the same round, ≥ 0.8× C
 *   (bench/_peers_path.ts).
 * - `demo` (goal 6): `deno task demo`'s shape (serve 5k/s → live, default
 *   wait), live p50 ≤ 30 µs and live CPU ≤ 25 % of a core, next to the same
 *   with `--wait spin` (bench/_peers_demo.ts).
 * - `ring` (goal 4): the shared-memory ring vs the C ring of bench/c/ring.c
 *   (same layout, 64-byte slots and seqlock; built with `cc`), ours through
 *   bench/ring.ts's scenarios and workers: throughput (producer
 *   free-running → 1 spinning reader in another process), one-way latency
 *   (spinning reader, producer sleeping 15 µs between trades, 1 M trades per
 *   round): p50 (≤ 1.3× C), p99 (≤ 2 µs), p99.9 (≤ 20 µs), max
 *   (bench/_peers_ring.ts).
 *
 * Odd rounds run ours first, even rounds the peer first. Prints every
 * measurement, then a markdown table: median (min–max) per side, the ratio
 * of the medians (ours/peer), the issue's goal and whether it is met.
 *
 *   deno task bench:peers [--rounds 5] [--quick] [--only nats,latency,path,demo,ring]
 *
 * The ring's latency needs the machine to itself: `--only ring` runs it
 * alone. A peer that cannot run (no Go, no C compiler) is skipped with one
 * line saying why, and its rows say "skipped". Ctrl-C stops nats-server and
 * the running processes and removes the run's segments and temp dirs.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { formatRate } from "../common/runtime/format.ts";
import type { NatsServer } from "../tests/nats_server.ts";
import { median, spread } from "./_process.ts";
import { killWorkers } from "./ring.ts";
import { natsRows } from "./_peers_nats.ts";
import { natsLatencyRows } from "./_peers_latency.ts";
import { fullPathRows } from "./_peers_path.ts";
import { demoRows } from "./_peers_demo.ts";
import { ringRows } from "./_peers_ring.ts";
import { cleanUp, loadavg } from "./_peers_shared.ts";

/** One row of the table: per-round figures of both sides and the goal. */
export interface PeerRow {
  /** What is measured. */
  scenario: string;
  /** Unit of the figures, e.g. `"trades/s"`. */
  unit: string;
  /** Our figure per round. */
  ours: number[];
  /** The peer's name, e.g. `"Go nats bench"` or `"C ring"`. */
  peer: string;
  /** The peer's figure per round; `undefined` when the peer was skipped. */
  theirs: number[] | undefined;
  /** The goal for ours/theirs (medians): ≥ goal, or ≤ goal with `lowerIsBetter`; none: the ratio is only reported. */
  goal?: number;
  /** An absolute goal on our median, in the unit (≥, or ≤ with `lowerIsBetter`). */
  limit?: number;
  /** Latencies and the like: the ratio (and our median) must stay at or below the goal. */
  lowerIsBetter?: boolean;
  /** Formats one figure (default {@linkcode formatRate}). */
  format?: (value: number) => string;
}

/** The run's options and what Ctrl-C must clean up, shared with the parts. */
export interface PeersRun {
  /** Interleaved rounds per measurement. */
  rounds: number;
  /** `--quick`: a tenth of the messages. */
  quick: boolean;
  /** Aborted on Ctrl-C. */
  signal: AbortSignal;
  /** nats-server while the NATS part runs. */
  server?: NatsServer;
  /** Segments of our ring workers, removed at the end and on Ctrl-C. */
  segments: string[];
  /** Prefixes of the segments of the roles a part runs (`"/mbpeers…_"`), removed at the end and on Ctrl-C. */
  shmPrefixes: string[];
  /** Temp dirs of the parts (configs), removed at the end and on Ctrl-C. */
  tempDirs: string[];
  /** Child processes running now, killed on Ctrl-C. */
  children: Set<Deno.ChildProcess>;
}

/**
 * The parts, in the order a full run takes them; `--only a,b` picks some.
 * The ring's latency wants the machine to itself: it runs alone with
 * `--only ring`.
 */
const PARTS: Record<string, (run: PeersRun) => Promise<PeerRow[]>> = {
  // Goals 1 and 2: JetStream publish and durable consume vs Go `nats bench`.
  nats: natsRows,
  // PLACE FOR FAST INGEST (goal 1, not implemented here): nats-server 2.14's
  // batch publishing (`allow_batched`), 1 and 64 trades per message, is
  // measured by bench/nats_fast_ingest.ts; once it exports a round, its rows
  // against Go `nats bench js pub fast --dedup` go here as an `ingest` part.
  // Goal 3: serve → live latency over NATS at 10k/s vs Go PublishAsync → Consume.
  latency: natsLatencyRows,
  // Goal 5: serve --rate 0 → live --wait spin vs the C ring's throughput.
  path: fullPathRows,
  // Goal 6: the demo's shape, live p50 and CPU (default wait vs spin).
  demo: demoRows,
  // Goal 4: the bare ring's throughput and latency vs the C ring.
  ring: ringRows,
};

/** Parses `--rounds N`, `--quick`, `--only part,part` (parts of {@linkcode PARTS}). */
function parseFlags(): { rounds: number; quick: boolean; only: string[] } {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rounds: { type: "string", default: "5" },
      quick: { type: "boolean", default: false },
      only: { type: "string" },
    },
  });
  const names = Object.keys(PARTS);
  const only = values.only === undefined
    ? names
    : values.only.split(",").map((part) => part.trim());
  for (const part of only) {
    if (!names.includes(part)) {
      throw new RangeError(
        `Invalid --only ${values.only}: expected one or more of ${
          names.join(", ")
        }, comma-separated`,
      );
    }
  }
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new RangeError(
      `Invalid --rounds ${values.rounds}: expected an integer ≥ 1`,
    );
  }
  return { rounds, quick: values.quick, only };
}

/** On SIGINT/SIGTERM: stops nats-server and the running peer, then exits 130. */
function stopOnSignals(run: PeersRun, abort: AbortController): void {
  let stopping = false;
  const interrupted = (signal: Deno.Signal) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping nats-server and the running peer`);
    abort.abort();
    killWorkers();
    cleanUp(run);
    (run.server?.stop() ?? Promise.resolve()).finally(() => Deno.exit(130));
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => interrupted(signal));
  }
}

/** The goal column and the "met?" column of one row. */
function goalAndMet(row: PeerRow, ratio: number | undefined): [string, string] {
  const format = row.format ?? formatRate;
  const op = row.lowerIsBetter ? "≤" : "≥";
  const passes = (value: number, bound: number) =>
    row.lowerIsBetter ? value <= bound : value >= bound;
  const goals: string[] = [];
  const results: boolean[] = [];
  if (row.goal !== undefined) {
    goals.push(`ratio ${op} ${row.goal.toFixed(1)}`);
    if (ratio !== undefined) results.push(passes(ratio, row.goal));
  }
  if (row.limit !== undefined) {
    goals.push(`ours ${op} ${format(row.limit)}`);
    results.push(passes(median(row.ours), row.limit));
  }
  const met = goals.length === 0
    ? "– (reported)"
    : results.length < goals.length
    ? "not measured"
    : results.every(Boolean)
    ? "met"
    : "**missed**";
  return [goals.join(", ") || "–", met];
}

/** Prints the markdown table: medians, ratio, goal, met. */
function printTable(rows: PeerRow[]): void {
  console.log(
    "| scenario | unit | marketbus median (min – max) | peer median (min – max) | ratio ours/peer | goal | met? |",
  );
  console.log("|---|---|---|---|---|---|---|");
  for (const row of rows) {
    const format = row.format ?? formatRate;
    const theirs = row.theirs && row.theirs.length > 0 ? row.theirs : undefined;
    const ratio = theirs ? median(row.ours) / median(theirs) : undefined;
    const [goal, met] = goalAndMet(row, ratio);
    console.log(
      `| ${row.scenario} | ${row.unit} | ${spread(row.ours, format)} | ${
        theirs
          ? `${row.peer}: ${spread(theirs, format)}`
          : `${row.peer}: skipped`
      } | ${ratio === undefined ? "–" : ratio.toFixed(2)} | ${goal} | ${met} |`,
    );
  }
}

let flags: ReturnType<typeof parseFlags>;
try {
  flags = parseFlags();
} catch (error) {
  console.error(`bench:peers: ${(error as Error).message}`);
  Deno.exit(2);
}
const abort = new AbortController();
const run: PeersRun = {
  rounds: flags.rounds,
  quick: flags.quick,
  signal: abort.signal,
  segments: [],
  shmPrefixes: [],
  tempDirs: [],
  children: new Set(),
};
stopOnSignals(run, abort);
const failed: string[] = [];
try {
  const rows: PeerRow[] = [];
  for (const [name, part] of Object.entries(PARTS)) {
    if (!flags.only.includes(name)) continue;
    try {
      rows.push(...await part(run));
    } catch (error) {
      // One broken part (e.g. a role that does not start) leaves the others' rows.
      if (run.signal.aborted) throw error;
      failed.push(name);
      console.error(`${name}: failed, its rows are left out:`, error);
      await run.server?.stop();
      run.server = undefined;
      killWorkers();
      cleanUp(run);
    }
  }

  console.log(`\nload ${loadavg()}\n`);
  printTable(rows);
  if (failed.length > 0) {
    console.log(`\nfailed parts (see above): ${failed.join(", ")}`);
  }
} finally {
  await run.server?.stop();
  killWorkers();
  cleanUp(run);
}
if (failed.length > 0) Deno.exit(1);
