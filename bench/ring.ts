/**
 * Shared-memory ring benchmarks: producer alone, producer → consumer in
 * another process (throughput), and one-way latency per wait strategy. Every
 * cross-process figure comes from child processes (bench/_ring_worker.ts)
 * that map the same segment, as data_manager and trading_core do.
 *
 * ```sh
 * deno run --allow-read --allow-run --allow-env --allow-ffi bench/ring.ts [--quick] [--json] [--rounds N] [--only TEXT] [--worker-flags "FLAGS"]
 * ```
 *
 * - `--quick`: smaller rounds (about 4× shorter), 3 kept rounds by default.
 * - `--rounds N`: kept rounds per scenario (default 5); one warm-up round
 *   more is always run first and discarded.
 * - `--only TEXT`: run the scenarios whose id or setup contains TEXT.
 * - `--json`: machine-readable results on stdout (the table goes to stderr).
 * - `--worker-flags "FLAGS"`: more `deno run` flags for every worker, e.g.
 *   `--v8-flags=--single-threaded-gc` or `--v8-flags=--trace-gc` (V8's
 *   output then goes to the worker's captured stdout, shown on failure).
 *
 * The workers run as `deno run --allow-ffi bench/_ring_worker.ts '<json>'`
 * (see {@linkcode FFI_FLAG}); the parent itself only needs FFI to remove the
 * segments of workers that died.
 *
 * Figures are printed, never asserted: median, min and max over the kept
 * rounds, and whether the median meets the issue's target (counts that must
 * be zero, like lost trades, are judged on the worst round). The exit status
 * is 0 when every scenario ran, whatever the figures; 1 when one could not
 * run (a worker failed or timed out). Segments are named
 * `/marketbus_bench_<pid>_<n>` and removed even on failure or Ctrl-C.
 *
 * Scenarios are grouped in {@linkcode SECTIONS}; add a section (e.g. the full
 * path through `serve`/`live`) by appending a {@linkcode Section} there.
 *
 * @module
 */

import { unlinkSegment } from "../common/ipc/mod.ts";
import type {
  ConsumerConfig,
  ConsumerRound,
  NoiseRound,
  ProducerConfig,
  ProducerRound,
  WorkerConfig,
  WorkerEvent,
} from "./_ring_worker.ts";

// ---------------------------------------------------------------------------
// Options

/** Command-line options. */
export interface BenchOptions {
  /** Shorter rounds. */
  quick: boolean;
  /** Print JSON on stdout. */
  json: boolean;
  /** Kept rounds per scenario. */
  rounds: number;
  /** Filter on scenario id / setup. */
  only: string | undefined;
  /** More `deno run` flags for every worker, e.g. `--v8-flags=--single-threaded-gc` (default: none). */
  workerFlags?: string[];
}

function parseOptions(args: readonly string[]): BenchOptions {
  const options: BenchOptions = {
    quick: false,
    json: false,
    rounds: 0,
    only: undefined,
  };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split("=", 2);
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new TypeError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--quick":
        options.quick = true;
        break;
      case "--json":
        options.json = true;
        break;
      case "--rounds": {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1 || n > 100) {
          throw new RangeError(`--rounds: expected an integer from 1 to 100`);
        }
        options.rounds = n;
        break;
      }
      case "--only":
        options.only = value();
        break;
      case "--worker-flags":
        options.workerFlags = value().split(" ").filter(Boolean);
        break;
      default:
        throw new TypeError(
          `Unknown argument "${
            args[i]
          }": expected --quick, --json, --rounds N, --only TEXT, --worker-flags "FLAGS"`,
        );
    }
  }
  if (options.rounds === 0) options.rounds = options.quick ? 3 : 5;
  return options;
}

// ---------------------------------------------------------------------------
// Figures

/** How a figure is shown. */
export type Unit = "rate" | "ns" | "percent" | "count" | "ratio";

/** A target from the issue. */
export interface Target {
  /** Comparison the figure must pass. */
  op: ">=" | "<=" | "<" | "=";
  /** Threshold, in the figure's unit (trades/s, ns, %, count). */
  value: number;
}

/** One measured quantity over the kept rounds. */
export interface Figure {
  /** What it is, e.g. "p50 one-way latency". */
  metric: string;
  /** How to print it. */
  unit: Unit;
  /** One value per kept round. */
  values: number[];
  /** Target, if the issue sets one. */
  target?: Target;
  /** Judge the median (default) or the worst round (for must-be-zero counts). */
  judge?: "median" | "worst";
}

/** A figure with its statistics, as printed and in the JSON. */
export interface FigureResult extends Figure {
  /** Median over the rounds. */
  median: number;
  /** Smallest. */
  min: number;
  /** Largest. */
  max: number;
  /** Target met (undefined when there is none). */
  met: boolean | undefined;
}

/** Everything the scenarios need. */
export interface BenchContext {
  /** Options. */
  options: BenchOptions;
  /** A new unique segment name, removed at the end of the run. */
  segmentName(): string;
  /** Trades per round of the latency scenarios (default: about a second's worth; bench/peers.ts asks for 1 M). */
  latencyTrades?: number;
}

/** One benchmark setup. */
export interface Scenario {
  /** Short id, for --only. */
  id: string;
  /** The setup, as printed. */
  setup: string;
  /** Runs warm-up + kept rounds and returns the figures. */
  run(context: BenchContext): Promise<Figure[]>;
}

/** A titled group of scenarios. */
export interface Section {
  /** Title. */
  title: string;
  /** Scenarios, run in order. */
  scenarios: Scenario[];
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? sorted[mid]
    : (sorted[mid - 1] + sorted[mid]) / 2;
}

function evaluate(figure: Figure): FigureResult {
  const med = median(figure.values);
  const min = Math.min(...figure.values);
  const max = Math.max(...figure.values);
  let met: boolean | undefined;
  if (figure.target) {
    const judged = figure.judge === "worst"
      ? (figure.target.op === ">=" ? min : max)
      : med;
    const { op, value } = figure.target;
    met = op === ">="
      ? judged >= value
      : op === "<="
      ? judged <= value
      : op === "<"
      ? judged < value
      : judged === value;
  }
  return { ...figure, median: med, min, max, met };
}

function format(unit: Unit, value: number): string {
  if (!Number.isFinite(value)) return String(value);
  switch (unit) {
    case "rate":
      return value >= 1e6
        ? `${(value / 1e6).toFixed(1)} M/s`
        : `${(value / 1e3).toFixed(1)} k/s`;
    case "ns":
      return value < 10_000
        ? `${Math.round(value)} ns`
        : `${(value / 1000).toFixed(1)} µs`;
    case "percent":
      return `${value.toFixed(1)} %`;
    case "ratio":
      return value.toFixed(2);
    case "count":
      return String(Math.round(value));
  }
}

function formatTarget(unit: Unit, target: Target | undefined): string {
  if (!target) return "";
  const op = target.op === ">=" ? "≥" : target.op === "<=" ? "≤" : target.op;
  return `${op} ${format(unit, target.value)}`;
}

// ---------------------------------------------------------------------------
// Worker processes

const WORKER_PATH = decodeURIComponent(
  new URL("./_ring_worker.ts", import.meta.url).pathname,
);
const PROJECT_ROOT = decodeURIComponent(
  new URL("../", import.meta.url).pathname,
);
/**
 * The workers' FFI grant: plain `--allow-ffi`. Deno 2.9.6 admits a
 * `Deno.dlopen` under `--allow-ffi=<path>` but then refuses every
 * `Deno.UnsafePointer` / `UnsafePointerView` call that mapping the segment
 * needs (docs/ipc_ring.md, "Permissions"), so a scoped grant built from
 * LIBC_PATHS cannot work.
 */
const FFI_FLAG = "--allow-ffi";

/** The other `deno run` flags of `context`'s workers (`--worker-flags`). */
function workerFlags(context: BenchContext): readonly string[] {
  return context.options.workerFlags ?? [];
}

const running = new Set<WorkerProcess>();

/** A child running bench/_ring_worker.ts, with its stdout parsed into events. */
class WorkerProcess {
  readonly pid: number;
  readonly role: string;
  #child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #events: WorkerEvent[] = [];
  #waiting: (() => void) | undefined;
  #ended = false;
  #stderr = "";
  #status: Promise<Deno.CommandStatus>;

  constructor(config: WorkerConfig, flags: readonly string[]) {
    this.role = config.role;
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        ...flags,
        FFI_FLAG,
        WORKER_PATH,
        JSON.stringify(config),
      ],
      cwd: PROJECT_ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.#child.pid;
    this.#stdin = this.#child.stdin.getWriter();
    this.#status = this.#child.status;
    running.add(this);
    this.#pumpStdout();
    this.#pumpStderr();
  }

  async #pumpStdout(): Promise<void> {
    const decoder = new TextDecoder();
    let pending = "";
    try {
      for await (const chunk of this.#child.stdout) {
        pending += decoder.decode(chunk, { stream: true });
        let newline;
        while ((newline = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, newline).trim();
          pending = pending.slice(newline + 1);
          if (line === "") continue;
          try {
            this.#events.push(JSON.parse(line) as WorkerEvent);
          } catch {
            this.#stderr += `(stdout) ${line}\n`;
          }
          this.#wake();
        }
      }
    } finally {
      this.#ended = true;
      this.#wake();
    }
  }

  async #pumpStderr(): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of this.#child.stderr) {
      this.#stderr = (this.#stderr + decoder.decode(chunk)).slice(-4000);
    }
  }

  #wake(): void {
    const wake = this.#waiting;
    this.#waiting = undefined;
    wake?.();
  }

  /** The next event of kind `kind`; throws on an error event, exit or timeout. */
  async expect<K extends WorkerEvent["event"]>(
    kind: K,
    timeoutMs: number,
  ): Promise<Extract<WorkerEvent, { event: K }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const event = this.#events.shift();
      if (event !== undefined) {
        if (event.event === kind) {
          return event as Extract<WorkerEvent, { event: K }>;
        }
        if (event.event === "error") {
          throw new Error(`${this.role} (pid ${this.pid}): ${event.message}`);
        }
        continue; // an event we do not need here
      }
      if (this.#ended) {
        const status = await this.#status;
        throw new Error(
          `${this.role} (pid ${this.pid}) exited (code ${status.code}) before "${kind}"${
            this.#stderr ? `:\n${this.#stderr}` : ""
          }`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `${this.role} (pid ${this.pid}): no "${kind}" within ${timeoutMs} ms`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiting = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** Sends one command line. */
  async send(line: string): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(`${line}\n`));
  }

  /** Closes stdin and waits for the exit; kills the process after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    try {
      await this.#stdin.close();
    } catch {
      // already closed, or the process is gone
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      this.#status.then(() => true),
      new Promise<boolean>((r) => timer = setTimeout(() => r(false), graceMs)),
    ]);
    clearTimeout(timer);
    if (!exited) this.kill();
    await this.#status;
    running.delete(this);
  }

  /** SIGKILL, if still running. */
  kill(): void {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already exited
    }
  }
}

/** SIGKILLs every worker still running (for a caller's Ctrl-C handler). */
export function killWorkers(): void {
  for (const worker of running) worker.kill();
}

/** Kept rounds plus one warm-up. */
function totalRounds(context: BenchContext): number {
  return context.options.rounds + 1;
}

/** Producer alone: rounds as reported by the producer (warm-up dropped). */
async function runProducerAlone(
  context: BenchContext,
  config: Omit<ProducerConfig, "role" | "ring" | "rounds">,
): Promise<ProducerRound[]> {
  const producer = new WorkerProcess({
    role: "producer",
    ring: context.segmentName(),
    rounds: totalRounds(context),
    ...config,
  }, workerFlags(context));
  try {
    await producer.expect("ready", 30_000);
    const rounds: ProducerRound[] = [];
    for (let round = 0; round < totalRounds(context); round++) {
      await producer.send("go");
      rounds.push(
        (await producer.expect("round", 120_000)) as ProducerRound,
      );
    }
    await producer.send("close");
    await producer.expect("closed", 30_000);
    return rounds.slice(1);
  } finally {
    await producer.stop();
  }
}

/** Producer and consumer in two processes: per-round reports of both (warm-up dropped). */
async function runPair(
  context: BenchContext,
  producerConfig: Omit<ProducerConfig, "role" | "ring" | "rounds">,
  consumerConfig: Omit<ConsumerConfig, "role" | "ring" | "rounds">,
): Promise<{ producer: ProducerRound[]; consumer: ConsumerRound[] }> {
  const ring = context.segmentName();
  const rounds = totalRounds(context);
  const producer = new WorkerProcess({
    role: "producer",
    ring,
    rounds,
    ...producerConfig,
  }, workerFlags(context));
  let consumer: WorkerProcess | undefined;
  try {
    await producer.expect("ready", 30_000);
    consumer = new WorkerProcess({
      role: "consumer",
      ring,
      rounds,
      ...consumerConfig,
    }, workerFlags(context));
    await consumer.expect("ready", 30_000);
    const produced: ProducerRound[] = [];
    const consumed: ConsumerRound[] = [];
    for (let round = 0; round < rounds; round++) {
      await producer.send("go");
      produced.push(
        (await producer.expect("round", 120_000)) as ProducerRound,
      );
      consumed.push(
        (await consumer.expect("round", 30_000)) as ConsumerRound,
      );
    }
    await producer.send("close");
    await producer.expect("closed", 30_000);
    await consumer.stop(); // it exits after its last round
    return { producer: produced.slice(1), consumer: consumed.slice(1) };
  } finally {
    // On failure the consumer may spin forever: kill it first.
    if (consumer !== undefined && running.has(consumer)) {
      consumer.kill();
      await consumer.stop(0);
    }
    await producer.stop();
  }
}

// ---------------------------------------------------------------------------
// Scenarios: the ring itself

const CAPACITY = 65536;
const BATCH = 64;

/** A producer that writes as fast as it can. */
const FREE_RUNNING = {
  capacity: CAPACITY,
  paceNs: 0,
  paceBlock: 1,
  pacing: "spin",
  sleepMarginNs: 0,
  stamp: false,
} as const;

function producerAlone(api: "write" | "writeMany"): Scenario {
  const label = api === "write" ? "write(record)" : `writeMany(${BATCH})`;
  return {
    id: `producer-alone-${api}`,
    setup:
      `producer alone, ${label}, 48-byte records, ${CAPACITY} slots, no consumer`,
    async run(context) {
      const perRound = context.options.quick ? 5_000_000 : 20_000_000;
      const rounds = await runProducerAlone(context, {
        ...FREE_RUNNING,
        perRound,
        api,
        batch: BATCH,
      });
      return [{
        metric: "trades/s written",
        unit: "rate",
        values: rounds.map((r) => r.written / r.elapsedNs * 1e9),
        target: { op: ">=", value: 20e6 },
      }];
    },
  };
}

interface ThroughputSetup {
  id: string;
  setup: string;
  api: "write" | "writeMany";
  wait: ConsumerConfig["wait"];
  /** Records per writeMany/readMany call (1: write/read). */
  batch: number;
  /** Offered rate, trades/s; 0: the producer runs free. */
  rate: number;
  /** Put the ≥ 10 M/s target on the received rate. */
  rateTarget: boolean;
}

function throughput(t: ThroughputSetup): Scenario {
  return {
    id: t.id,
    setup: t.setup,
    async run(context) {
      // About 0.5 s per round (quick: 0.125 s) at the offered or expected rate.
      const seconds = context.options.quick ? 0.125 : 0.5;
      const perRound = Math.round(seconds * (t.rate > 0 ? t.rate : 16e6));
      const { producer, consumer } = await runPair(context, {
        ...FREE_RUNNING,
        perRound,
        api: t.api,
        batch: t.batch,
        paceNs: t.rate > 0 ? 1e9 / t.rate : 0,
        paceBlock: BATCH,
      }, { perRound, wait: t.wait, latency: false, batch: t.batch });
      return [
        {
          metric: "trades/s received (consumer)",
          unit: "rate",
          values: consumer.map((r) => r.received / r.elapsedNs * 1e9),
          target: t.rateTarget ? { op: ">=", value: 10e6 } : undefined,
        },
        {
          metric: "trades/s written (producer)",
          unit: "rate",
          values: producer.map((r) => r.written / r.elapsedNs * 1e9),
        },
        ...lossFigures(consumer, `${perRound / 1e6} M`),
      ];
    },
  };
}

/** Lost trades (reader.lost), corrupt reads, and any disagreement between reader.lost and the gaps the consumer saw. */
function lossFigures(consumer: ConsumerRound[], of: string): Figure[] {
  const figures: Figure[] = [
    {
      metric: `lost per round (of ${of})`,
      unit: "count",
      values: consumer.map((r) => r.lost),
      target: { op: "=", value: 0 },
      judge: "worst",
    },
    {
      metric: "corrupt reads per round (torn, out of order)",
      unit: "count",
      values: consumer.map((r) => r.corrupt),
      target: { op: "=", value: 0 },
      judge: "worst",
    },
  ];
  // Shown only when the reader's count disagrees with what the consumer saw.
  if (consumer.at(-1)!.gapsMinusLost !== 0) {
    figures.push({
      metric: "seq gaps seen − reader.lost, since the start",
      unit: "count",
      values: consumer.map((r) => r.gapsMinusLost),
      target: { op: "=", value: 0 },
      judge: "worst",
    });
  }
  return figures;
}

/** How much a lone spinning process is kept off the CPU: the noise floor of every tail figure. */
function machineNoise(): Scenario {
  return {
    id: "machine-noise",
    setup:
      "machine noise: 1 process spinning on CLOCK_MONOTONIC, gaps > 20 µs = off CPU",
    async run(context) {
      const seconds = context.options.quick ? 0.3 : 1;
      const worker = new WorkerProcess({
        role: "noise",
        rounds: totalRounds(context),
        seconds,
      }, workerFlags(context));
      try {
        await worker.expect("ready", 30_000);
        const rounds: NoiseRound[] = [];
        for (let i = 0; i < totalRounds(context); i++) {
          rounds.push(
            (await worker.expect(
              "round",
              60_000 + seconds * 1000,
            )) as NoiseRound,
          );
        }
        const kept = rounds.slice(1);
        return [
          {
            metric: "time off CPU (% of wall time)",
            unit: "percent",
            values: kept.map((r) => r.stalledNs / r.elapsedNs * 100),
          },
          {
            metric: "stalls > 20 µs per second",
            unit: "count",
            values: kept.map((r) => r.stalls / r.elapsedNs * 1e9),
          },
          {
            metric: "longest stall",
            unit: "ns",
            values: kept.map((r) => r.maxStallNs),
          },
        ];
      } finally {
        await worker.stop();
      }
    },
  };
}

interface LatencySetup {
  id: string;
  setup: string;
  wait: ConsumerConfig["wait"];
  /** Interval between trades, ns. */
  paceNs: number;
  /** How the producer waits between trades. */
  pacing: "spin" | "sleep";
  /** With sleep pacing: wake this early and spin the rest (0: pure sleep, ~20 µs late). */
  sleepMarginNs?: number;
  /** RingWaiter spinMs (undefined: the library default, 0.02 ms). */
  spinMs?: number;
  /** RingWaiter blockingSleepMs (undefined: 0, async sleeps; `live` uses 10). */
  blockingSleepMs?: number;
  /** Targets: p50 and p99 in ns, CPU in % of one core. */
  targets: { p50?: number; p99?: number; cpu?: number };
}

function latency(t: LatencySetup): Scenario {
  return {
    id: t.id,
    setup: t.setup,
    async run(context) {
      const seconds = context.options.quick ? 0.3 : 1;
      // Pure sleep pacing wakes ~20 µs late: expect a lower rate.
      const margin = t.sleepMarginNs ?? 0;
      const effective = t.pacing === "sleep" && margin === 0
        ? t.paceNs + 20_000
        : t.paceNs;
      const perRound = context.latencyTrades ??
        Math.max(1000, Math.round(seconds * 1e9 / effective));
      const { producer, consumer } = await runPair(context, {
        ...FREE_RUNNING,
        perRound,
        api: "write",
        batch: 1,
        paceNs: t.paceNs,
        paceBlock: 1,
        pacing: t.pacing,
        sleepMarginNs: margin,
        stamp: true,
      }, {
        perRound,
        wait: t.wait,
        latency: true,
        batch: 1,
        spinMs: t.spinMs,
        blockingSleepMs: t.blockingSleepMs,
      });
      const lat = consumer.map((r) => r.latency!);
      const target = (op: Target["op"], value: number | undefined) =>
        value === undefined ? undefined : { op, value };
      const figures: Figure[] = [
        {
          metric: "p50 one-way latency",
          unit: "ns",
          values: lat.map((l) => l.p50),
          target: target("<=", t.targets.p50),
        },
        {
          metric: "p99 one-way latency",
          unit: "ns",
          values: lat.map((l) => l.p99),
          target: target("<=", t.targets.p99),
        },
        {
          metric: "p99.9 one-way latency",
          unit: "ns",
          values: lat.map((l) => l.p999),
        },
        {
          metric: "max one-way latency",
          unit: "ns",
          values: lat.map((l) => l.max),
        },
        {
          metric: "consumer CPU (% of one core)",
          unit: "percent",
          values: consumer.map((r) => r.cpuMicros * 1e3 / r.elapsedNs * 100),
          target: target("<", t.targets.cpu),
        },
        {
          metric: "trades/s offered (producer)",
          unit: "rate",
          values: producer.map((r) => r.written / r.elapsedNs * 1e9),
        },
      ];
      if (t.wait === "backoff") {
        figures.push({
          metric: "consumer sleeps per trade",
          unit: "ratio",
          values: consumer.map((r) => r.sleeps / r.received),
        });
      }
      figures.push(...lossFigures(consumer, String(perRound)));
      return figures;
    },
  };
}

const PACE_FAST_NS = 15_000; // latency, not queueing
const PACE_10K_NS = 100_000; // 10k trades/s
/** Sleep until 30 µs before each due time, then spin: an exact 10k/s without a spinning producer. */
const MARGIN_10K_NS = 30_000;

const RING_SCENARIOS: Scenario[] = [
  machineNoise(),
  producerAlone("write"),
  producerAlone("writeMany"),
  throughput({
    id: "throughput-spin-free",
    setup:
      "producer write() as fast as it can → 1 consumer read(), spin, other process",
    api: "write",
    wait: "spin",
    batch: 1,
    rate: 0,
    rateTarget: true,
  }),
  throughput({
    id: "throughput-spin-11M",
    setup:
      "producer write() paced at 11 M/s → 1 consumer read(), spin, other process",
    api: "write",
    wait: "spin",
    batch: 1,
    rate: 11e6,
    rateTarget: true,
  }),
  throughput({
    id: "throughput-spin-1M",
    setup:
      "producer write() paced at 1 M/s → 1 consumer read(), spin, other process (never lapped: any loss is a reader bug)",
    api: "write",
    wait: "spin",
    batch: 1,
    rate: 1e6,
    rateTarget: false,
  }),
  throughput({
    id: "throughput-spin-batch-free",
    setup:
      `producer writeMany(${BATCH}) as fast as it can → 1 consumer readMany(${BATCH}), spin, other process`,
    api: "writeMany",
    wait: "spin",
    batch: BATCH,
    rate: 0,
    rateTarget: false,
  }),
  latency({
    id: "latency-spin",
    setup:
      "latency, spin (RingWaiter); producer sleeps 15 µs between trades (~35 µs apart)",
    wait: "spin",
    paceNs: PACE_FAST_NS,
    pacing: "sleep",
    targets: { p50: 500, p99: 2000 },
  }),
  latency({
    id: "latency-spin-spinning-producer",
    setup:
      "latency, spin (RingWaiter); producer spins 15 µs between trades (2 spinners on 2 cores)",
    wait: "spin",
    paceNs: PACE_FAST_NS,
    pacing: "spin",
    targets: { p50: 500, p99: 2000 },
  }),
  latency({
    id: "latency-raw-spin",
    setup:
      "latency, bare while (!read()) loop, no RingWaiter; producer sleeps 15 µs between trades",
    wait: "raw-spin",
    paceNs: PACE_FAST_NS,
    pacing: "sleep",
    targets: {},
  }),
  latency({
    id: "latency-backoff",
    setup:
      "latency, backoff as live runs it (adaptive spin ≤ 20 µs, then blocking futex sleeps ≤ 10 ms), 10k trades/s",
    wait: "backoff",
    paceNs: PACE_10K_NS,
    pacing: "sleep",
    sleepMarginNs: MARGIN_10K_NS,
    blockingSleepMs: 10,
    targets: { p50: 60_000, cpu: 10 },
  }),
  latency({
    id: "latency-backoff-async",
    setup:
      "latency, backoff with async sleeps (event loop free while asleep), 10k trades/s",
    wait: "backoff",
    paceNs: PACE_10K_NS,
    pacing: "sleep",
    sleepMarginNs: MARGIN_10K_NS,
    targets: { p50: 60_000 },
  }),
  latency({
    id: "latency-yield",
    setup: "latency, yield (sched_yield), 10k trades/s",
    wait: "yield",
    paceNs: PACE_10K_NS,
    pacing: "sleep",
    sleepMarginNs: MARGIN_10K_NS,
    targets: {},
  }),
];

/** Every section, printed in order. The lead adds the serve/live full path as a second section. */
export const SECTIONS: Section[] = [
  {
    title: "Shared-memory ring (common/ipc), direct",
    scenarios: RING_SCENARIOS,
  },
];

// ---------------------------------------------------------------------------
// Main

/** Results of one scenario. */
export interface ScenarioResult {
  /** Id. */
  id: string;
  /** Setup. */
  setup: string;
  /** Figures, or empty when it failed. */
  figures: FigureResult[];
  /** Why it failed, if it did. */
  error?: string;
  /** Wall time, s. */
  seconds: number;
}

/** The machine, as far as the permissions show it (/proc/cpuinfo needs --allow-all in Deno 2.9.6). */
function machine(): { cpus: number } {
  return { cpus: navigator.hardwareConcurrency };
}

function table(
  sections: { title: string; results: ScenarioResult[] }[],
): string {
  const header = ["setup", "metric", "median", "min", "max", "target", "met?"];
  const out: string[] = [];
  for (const section of sections) {
    const rows: string[][] = [];
    for (const result of section.results) {
      if (result.error) {
        rows.push([
          result.setup,
          `FAILED: ${result.error.split("\n")[0]}`,
          "",
          "",
          "",
          "",
          "",
        ]);
        continue;
      }
      result.figures.forEach((f, i) => {
        rows.push([
          i === 0 ? result.setup : "",
          f.metric,
          format(f.unit, f.median),
          format(f.unit, f.min),
          format(f.unit, f.max),
          formatTarget(f.unit, f.target),
          f.met === undefined ? "" : f.met ? "yes" : "NO",
        ]);
      });
    }
    const widths = header.map((h, c) =>
      Math.max(h.length, ...rows.map((r) => r[c].length))
    );
    const line = (cells: string[]) =>
      `| ${cells.map((cell, c) => cell.padEnd(widths[c])).join(" | ")} |`;
    out.push(`### ${section.title}`, "");
    out.push(line(header));
    out.push(`| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`);
    for (const row of rows) out.push(line(row));
    out.push("");
  }
  return out.join("\n");
}

function leftoverSegments(prefix: string): string[] {
  const found: string[] = [];
  try {
    for (const entry of Deno.readDirSync("/dev/shm")) {
      if (entry.name.startsWith(prefix)) found.push(entry.name);
    }
  } catch {
    // no /dev/shm listing: nothing to report
  }
  return found;
}

async function main(): Promise<number> {
  const options = parseOptions(Deno.args);
  const prefix = `marketbus_bench_${Deno.pid}_`;
  const segments: string[] = [];
  const context: BenchContext = {
    options,
    segmentName() {
      const name = `/${prefix}${segments.length}`;
      segments.push(name);
      return name;
    },
  };
  const cleanup = () => {
    for (const worker of running) worker.kill();
    for (const name of segments) {
      try {
        unlinkSegment(name);
      } catch {
        // reported by the leftover check
      }
    }
  };
  const onSignal = () => {
    cleanup();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);

  const started = new Date();
  const command = [
    "deno run --allow-read --allow-run --allow-env --allow-ffi",
    "bench/ring.ts",
    ...Deno.args,
  ].join(" ");
  const log = (text: string) => console.error(text);
  const print = options.json ? log : (text: string) => console.log(text);
  const host = machine();
  log(
    `ring benchmarks: ${host.cpus} CPUs, Deno ${Deno.version.deno}, ` +
      `${options.rounds} kept rounds + 1 warm-up per scenario${
        options.quick ? ", quick" : ""
      }`,
  );
  const done: { title: string; results: ScenarioResult[] }[] = [];
  let failures = 0;
  try {
    for (const section of SECTIONS) {
      const results: ScenarioResult[] = [];
      for (const scenario of section.scenarios) {
        if (
          options.only !== undefined && !scenario.id.includes(options.only) &&
          !scenario.setup.includes(options.only)
        ) continue;
        log(`- ${scenario.id}: ${scenario.setup} …`);
        const t0 = performance.now();
        try {
          const figures = (await scenario.run(context)).map(evaluate);
          results.push({
            id: scenario.id,
            setup: scenario.setup,
            figures,
            seconds: (performance.now() - t0) / 1000,
          });
        } catch (error) {
          failures++;
          const message = (error as Error).message ?? String(error);
          log(`  FAILED: ${message}`);
          results.push({
            id: scenario.id,
            setup: scenario.setup,
            figures: [],
            error: message,
            seconds: (performance.now() - t0) / 1000,
          });
        }
      }
      if (results.length > 0) done.push({ title: section.title, results });
    }
  } finally {
    cleanup();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }

  const leftovers = leftoverSegments(prefix);
  print("");
  print(
    `${started.toISOString()}, ${host.cpus} CPUs, Deno ${Deno.version.deno}; ` +
      `median, min, max over ${options.rounds} rounds (after 1 warm-up round); ` +
      `"met?" judges the median (lost/corrupt: the worst round)`,
  );
  print("");
  print(table(done));
  print(`command: ${command}`);
  print(
    `segments left in /dev/shm: ${
      leftovers.length === 0 ? "none" : leftovers.join(", ")
    }`,
  );
  if (options.json) {
    console.log(JSON.stringify(
      {
        date: started.toISOString(),
        deno: Deno.version.deno,
        machine: host,
        command,
        workerFfiFlag: FFI_FLAG,
        options,
        sections: done,
        leftoverSegments: leftovers,
      },
      null,
      2,
    ));
  }
  return failures > 0 || leftovers.length > 0 ? 1 : 0;
}

if (import.meta.main) {
  Deno.exit(await main());
}
