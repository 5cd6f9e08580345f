/**
 * What an idle `backoff` consumer costs with many rings: one consumer process
 * (bench/_idle_consumer.ts, an RingFeed configured as `live` runs it)
 * follows 1, 128, 129 or 500 rings whose producer (this process) publishes
 * nothing, or waits for 500 rings that do not exist, for the successor of a
 * producer killed with SIGKILL (its ring left behind), or beside 100 foreign
 * segments under the rings' names; its CPU over the window is printed as % of
 * one core. Afterwards the bench publishes trades on the last ring, 20 ms
 * apart, and prints their delivery latency (when the ring did not exist, or
 * held a dead or foreign segment: the last ring is created then, so its first
 * trade measures how soon a new ring is found).
 *
 * ```sh
 * deno run --allow-read --allow-run --allow-env --allow-ffi bench/idle_rings.ts [--seconds N] [--rounds N] [--only TEXT]
 * ```
 *
 * Rounds are interleaved (round 1 of every scenario, then round 2, …) and the
 * table gives the median and the range. Figures are printed, never asserted;
 * the exit status is 1 only when a scenario could not run. Segments are named
 * `/mbbench_<pid>_bench_S<i>` and removed at the end, even on failure.
 *
 * @module
 */

import { encodeTrade } from "../common/wire/codec.ts";
import {
  createSegment,
  RingWriter,
  segmentName,
  unlinkSegment,
  unmapSegment,
} from "../common/ipc/mod.ts";
import { readWallClock } from "../common/runtime/clock.ts";
import { TRADE_RECORD_SIZE } from "../common/wire/trade.ts";
import { numberedTrade } from "../tests/_ring_helpers.ts";
import {
  BENCH_EXCHANGE,
  benchSymbols,
  type IdleConsumerConfig,
} from "./_idle_consumer.ts";
import { median } from "./_process.ts";

/**
 * What is under the rings' names while the consumer idles: live rings of this
 * process, nothing, the ring of a producer killed with SIGKILL (followed, then
 * declared dead), or foreign segments (not rings, created after the consumer
 * started waiting, so it reports them and waits on).
 */
type Setup = "idle" | "missing" | "dead" | "foreign";

/** One setup: how many rings, and what is under their names. */
interface Scenario {
  id: string;
  setup: string;
  rings: number;
  kind: Setup;
}

const SCENARIOS: readonly Scenario[] = [
  { id: "1", setup: "1 ring, idle", rings: 1, kind: "idle" },
  { id: "128", setup: "128 rings, idle", rings: 128, kind: "idle" },
  { id: "129", setup: "129 rings, idle", rings: 129, kind: "idle" },
  { id: "500", setup: "500 rings, idle", rings: 500, kind: "idle" },
  {
    id: "500-missing",
    setup: "500 rings that do not exist yet",
    rings: 500,
    kind: "missing",
  },
  {
    id: "1-dead",
    setup: "1 dead producer's ring",
    rings: 1,
    kind: "dead",
  },
  {
    id: "100-foreign",
    setup: "100 foreign segments",
    rings: 100,
    kind: "foreign",
  },
];

/** Heartbeat silence after which the consumer declares the killed producer dead, ms (well inside the warm-up). */
const DEAD_STALE_MS = 300;
/** Bytes of a foreign segment: one page, first byte not the ring magic. */
const FOREIGN_SIZE = 4096;

/** Trades published on the last ring after the window. */
const TRADES = 20;
/** Between those trades, ms: each finds the consumer asleep. */
const TRADE_GAP_MS = 20;
/** Idle time before the window. */
const WARMUP_MS = 2000;
/** A step of the consumer taking longer than this fails the scenario. */
const STEP_TIMEOUT_MS = 120_000;

interface Options {
  seconds: number;
  rounds: number;
  only: string | undefined;
}

function parseOptions(args: readonly string[]): Options {
  const options: Options = { seconds: 10, rounds: 3, only: undefined };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split("=", 2);
    const value = () => inline ?? args[++i] ?? "";
    switch (flag) {
      case "--seconds":
        options.seconds = Number(value());
        if (!(options.seconds > 0 && options.seconds <= 600)) {
          throw new RangeError(`--seconds: expected a number from 0 to 600`);
        }
        break;
      case "--rounds":
        options.rounds = Number(value());
        if (!Number.isInteger(options.rounds) || options.rounds < 1) {
          throw new RangeError(`--rounds: expected an integer ≥ 1`);
        }
        break;
      case "--only":
        options.only = value();
        break;
      default:
        throw new TypeError(
          `Unknown argument "${
            args[i]
          }": expected --seconds N, --rounds N, --only TEXT`,
        );
    }
  }
  return options;
}

/** What one round of one scenario measured. */
interface Round {
  cpuPercent: number;
  latencyUs: number[];
}

/** Reads the consumer's JSON lines. */
class Events {
  #lines: AsyncIterator<string>;
  constructor(stdout: ReadableStream<Uint8Array>) {
    this.#lines = stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
      new LineSplitter(),
    )[Symbol.asyncIterator]();
  }

  async next(event: string): Promise<Record<string, unknown>> {
    for (;;) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no "${event}" from the consumer`)),
          STEP_TIMEOUT_MS,
        );
      });
      const line = await Promise.race([this.#lines.next(), late]).finally(
        () => clearTimeout(timer),
      );
      if (line.done) throw new Error(`consumer exited before "${event}"`);
      const parsed = JSON.parse(line.value);
      if (parsed.event === event) return parsed;
    }
  }
}

class LineSplitter extends TransformStream<string, string> {
  constructor() {
    let pending = "";
    super({
      transform(chunk, controller) {
        pending += chunk;
        const lines = pending.split("\n");
        pending = lines.pop()!;
        for (const line of lines) if (line.trim()) controller.enqueue(line);
      },
      flush(controller) {
        if (pending.trim()) controller.enqueue(pending);
      },
    });
  }
}

const record = new Uint8Array(TRADE_RECORD_SIZE);
const clock = { seconds: 0, nanos: 0 };

function publishOne(writer: RingWriter, seq: number): void {
  readWallClock(clock);
  const now = BigInt(clock.seconds) * 1_000_000_000n + BigInt(clock.nanos);
  encodeTrade(numberedTrade(seq, now), record);
  writer.write(record);
}

async function runRound(
  scenario: Scenario,
  options: Options,
  prefix: string,
): Promise<Round> {
  const names = benchSymbols(scenario.rings).map((symbol) =>
    segmentName(prefix, BENCH_EXCHANGE, symbol)
  );
  const writers: RingWriter[] = [];
  let child: Deno.ChildProcess | undefined;
  let producer: Deno.ChildProcess | undefined;
  try {
    if (scenario.kind === "idle") {
      for (const name of names) {
        writers.push(RingWriter.create(name, { capacity: 64 }));
      }
    }
    if (scenario.kind === "dead") producer = await startProducer(names[0]);
    const config: IdleConsumerConfig = {
      prefix,
      rings: scenario.rings,
      warmupMs: WARMUP_MS,
      measureMs: options.seconds * 1000,
      trades: TRADES,
      staleAfterMs: scenario.kind === "dead" ? DEAD_STALE_MS : undefined,
    };
    child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-ffi",
        new URL("./_idle_consumer.ts", import.meta.url).pathname,
        JSON.stringify(config),
      ],
      stdout: "piped",
      stderr: "inherit",
      stdin: "null",
    }).spawn();
    const events = new Events(child.stdout);
    await events.next("ready");
    // During the warm-up: the consumer declares the producer dead, or
    // reports the foreign segments, and then waits beside them.
    if (producer) {
      producer.kill("SIGKILL");
      await producer.status;
      producer = undefined;
    }
    if (scenario.kind === "foreign") {
      for (const name of names) {
        const segment = createSegment(name, FOREIGN_SIZE);
        new Uint8Array(segment.buffer)[0] = 0x41;
        unmapSegment(segment);
      }
    }
    const cpu = await events.next("cpu");
    const last = writers.at(-1) ??
      (writers[0] = RingWriter.create(names.at(-1)!, { capacity: 64 }));
    const latency = events.next("latency");
    latency.catch(() => {}); // awaited below; a consumer that dies meanwhile fails the round there
    for (let seq = 1; seq <= TRADES; seq++) {
      publishOne(last, seq);
      await new Promise((resolve) => setTimeout(resolve, TRADE_GAP_MS));
    }
    const reported = await latency;
    await child.status;
    child = undefined;
    return {
      cpuPercent: cpu.cpuPercent as number,
      latencyUs: reported.latenciesUs as number[],
    };
  } finally {
    for (const running of [child, producer]) {
      if (!running) continue;
      try {
        running.kill("SIGKILL");
      } catch { /* already gone */ }
      await running.status;
    }
    for (const writer of writers) writer.close();
    for (const name of names) unlinkSegment(name);
  }
}

/** Starts a producer of ring `name` in its own process (to be killed): tests/ipc/ring_producer.ts. */
async function startProducer(name: string): Promise<Deno.ChildProcess> {
  const producer = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-ffi",
      new URL("../tests/ipc/ring_producer.ts", import.meta.url).pathname,
      "--name",
      name,
      "--capacity",
      "64",
    ],
    stdin: "piped", // kept open: the producer closes its ring at EOF
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = producer.stdout.getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  if (!new TextDecoder().decode(value).includes('"ready"')) {
    producer.kill("SIGKILL");
    await producer.status;
    throw new Error(`the producer of ${name} did not start`);
  }
  return producer;
}

function fmt(value: number, digits = 1): string {
  return value.toFixed(digits);
}

async function main(): Promise<number> {
  const options = parseOptions(Deno.args);
  const scenarios = SCENARIOS.filter((s) =>
    options.only === undefined || s.id === options.only ||
    s.setup.includes(options.only)
  );
  const prefix = `/mbbench_${Deno.pid}_`;
  const results = new Map<string, Round[]>(scenarios.map((s) => [s.id, []]));
  let failed = false;
  for (let round = 1; round <= options.rounds; round++) {
    for (const scenario of scenarios) {
      try {
        const result = await runRound(scenario, options, prefix);
        results.get(scenario.id)!.push(result);
        console.error(
          `round ${round}: ${scenario.setup}: CPU ${
            fmt(result.cpuPercent, 2)
          } % of a core, latency p50 ${
            fmt(median(result.latencyUs))
          } µs (first ${fmt(result.latencyUs[0])} µs)`,
        );
      } catch (error) {
        failed = true;
        console.error(
          `round ${round}: ${scenario.setup}: failed: ${
            (error as Error).message
          }`,
        );
      }
    }
  }
  console.log(
    `\nidle backoff consumer, ${options.seconds} s windows, ${options.rounds} interleaved rounds (median, min – max)\n`,
  );
  console.log(
    "| setup | consumer CPU, % of one core | latency of a trade on the last ring, p50 | first trade on the last ring |",
  );
  console.log("| --- | --- | --- | --- |");
  for (const scenario of scenarios) {
    const rounds = results.get(scenario.id)!;
    if (rounds.length === 0) continue;
    const cpu = rounds.map((r) => r.cpuPercent);
    const p50 = rounds.map((r) => median(r.latencyUs));
    const first = rounds.map((r) => r.latencyUs[0]);
    console.log(
      `| ${scenario.setup} | ${fmt(median(cpu), 2)} % (${
        fmt(Math.min(...cpu), 2)
      } – ${fmt(Math.max(...cpu), 2)}) | ${fmt(median(p50))} µs (${
        fmt(Math.min(...p50))
      } – ${fmt(Math.max(...p50))}) | ${fmt(median(first))} µs (${
        fmt(Math.min(...first))
      } – ${fmt(Math.max(...first))}) |`,
    );
  }
  return failed ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
