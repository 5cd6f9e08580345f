/**
 * Peers side by side (issue 16, "How it is measured"): marketbus and Go's
 * `nats bench` (natscli, the version pinned in bench/_natscli.ts, installed with
 * `go install` when missing) against ONE nats-server (file storage, R1,
 * random loopback port), interleaved round by round, each measurement on a
 * fresh stream (deleted afterwards):
 *
 * - JetStream publish, 48 B with a Msg-Id on every message: our
 *   NatsPublisher at `batch_max_trades = 1` (bench/nats_publish.ts's round)
 *   vs `nats bench js pub async --size 48 --dedup --batch 256`;
 * - publish batched: ours at 64 trades per message vs Go 3072 B `--dedup`,
 *   Go's msgs/s × 64 as trades/s;
 * - durable consume at 48 B and 3 KB (1 and 64 trades per message): ours
 *   (bench/nats_consume.ts's round, NatsFeed with AckAll) vs
 *   `nats bench js consume --acks all --batch 1000`, in msgs/s.
 *
 * And the shared-memory ring against the C ring of bench/c/ring.c (same
 * layout, 64-byte slots and seqlock; built with `cc`, skipped without it),
 * ours through bench/ring.ts's scenarios and workers, one kept round (after
 * its warm-up) per round of the table:
 *
 * - throughput: producer free-running → 1 spinning reader in another
 *   process (`throughput-spin-free`), trades/s received;
 * - one-way latency, spinning reader, producer sleeping 15 µs between
 *   trades on both sides (`latency-spin`), 1 M trades per round: p50
 *   (goal ≤ 1.3× C), p99 (≤ 2 µs), p99.9 (≤ 20 µs), max.
 *
 * Odd rounds run ours first, even rounds the peer first. Prints every
 * measurement, then a markdown table: median (min–max) per side, the ratio
 * of the medians (ours/peer), the issue's goal and whether it is met.
 *
 *   deno task bench:peers [--rounds 5] [--quick] [--only nats|ring]
 *
 * The ring's latency needs the machine to itself: `--only ring` runs it
 * alone (the full run does the NATS part first, then the ring part).
 *
 * Without Go (and no `nats` binary) the Go rows are skipped with one line
 * saying why. Ctrl-C stops nats-server and removes its temp dir.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { formatRate } from "../common/runtime/format.ts";
import type { NatsServer } from "../tests/nats_server.ts";
import { median, spread } from "./_process.ts";
import { killWorkers } from "./ring.ts";
import { loadavg, natsRows } from "./_peers_nats.ts";
import { removeSegments, ringRows } from "./_peers_ring.ts";

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
}

/** Parses `--rounds N`, `--quick`, `--only nats|ring`. */
function parseFlags(): { rounds: number; quick: boolean; only?: string } {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rounds: { type: "string", default: "5" },
      quick: { type: "boolean", default: false },
      only: { type: "string" },
    },
  });
  const only = values.only;
  if (only !== undefined && only !== "nats" && only !== "ring") {
    throw new RangeError(`Invalid --only ${only}: expected nats or ring`);
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
    removeSegments(run.segments);
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

const flags = parseFlags();
const abort = new AbortController();
const run: PeersRun = {
  rounds: flags.rounds,
  quick: flags.quick,
  signal: abort.signal,
  segments: [],
};
stopOnSignals(run, abort);
try {
  const rows: PeerRow[] = [];
  if (flags.only !== "ring") rows.push(...await natsRows(run));
  if (flags.only !== "nats") rows.push(...await ringRows(run));

  console.log(`\nload ${loadavg()}\n`);
  printTable(rows);
} finally {
  await run.server?.stop();
  killWorkers();
  removeSegments(run.segments);
}
