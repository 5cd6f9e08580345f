/**
 * The C ring baseline (bench/c/ring.c): the same segment layout, 64-byte
 * slots and seqlock as common/ipc, a producer and a spinning consumer in two
 * processes, built with the system compiler (`cc`) and run as a child
 * process. Needs `--allow-read` (the source) and `--allow-run` (`cc` and the
 * binary); `cc` writes the binary into the system temp directory, named
 * after a hash of the source and the flags, and it is reused while they do
 * not change.
 *
 * ```ts
 * const binary = await buildCRing();
 * if (binary !== undefined) {
 *   console.log(await cRingRound(binary, { mode: "throughput", trades: 2e6 }));
 * }
 * ```
 *
 * @module
 */

const SOURCE = decodeURIComponent(
  new URL("./c/ring.c", import.meta.url).pathname,
);
/** Preferred flags first; the second set for compilers without -march=native. */
const FLAG_SETS = [
  ["-std=c11", "-O2", "-march=native", "-pthread"],
  ["-std=c11", "-O2", "-pthread"],
];
const LIBS = ["-lrt", "-lm"];

/** One run of the C ring, as its JSON line reports it. */
export type CRingResult = CRingThroughput | CRingLatency;

/** `throughput N`: the producer runs free, the consumer spins. */
export interface CRingThroughput {
  /** Mode. */
  mode: "throughput";
  /** Trades the consumer received. */
  trades: number;
  /** Trades/s received by the consumer, first read to last. */
  rate: number;
  /** Trades/s written by the producer. */
  producerRate: number;
  /** Trades overwritten before the consumer read them. */
  lost: number;
  /** Torn or out-of-order records (must be 0). */
  corrupt: number;
}

/** `latency N RATE`: paced producer stamping CLOCK_MONOTONIC, spinning consumer. */
export interface CRingLatency {
  /** Mode. */
  mode: "latency";
  /** Trades the consumer received. */
  trades: number;
  /** Rate asked for, trades/s. */
  rate: number;
  /** Trades/s the producer achieved. */
  offered: number;
  /** Median one-way latency, ns. */
  p50: number;
  /** 99th percentile, ns. */
  p99: number;
  /** 99.9th percentile, ns. */
  p999: number;
  /** Largest, ns. */
  max: number;
  /** Smallest, ns. */
  min: number;
  /** Trades overwritten before the consumer read them. */
  lost: number;
  /** Torn or out-of-order records (must be 0). */
  corrupt: number;
}

/** What to run. */
export interface CRingOptions {
  /** `throughput` (free-running producer) or `latency` (paced, stamped). */
  mode: "throughput" | "latency";
  /** Trades to publish. */
  trades: number;
  /** Latency mode: trades/s the producer paces at (default 66,667: one per 15 µs, as bench/ring.ts). */
  rate?: number;
}

async function hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(text),
  );
  return [...new Uint8Array(digest).slice(0, 8)]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

function tempDir(): string {
  try {
    return Deno.env.get("TMPDIR") || "/tmp";
  } catch {
    return "/tmp"; // no --allow-env
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/**
 * Where a benchmark peer built from sources is cached: `name` and a hash of
 * `key` (the sources and flags) in the temp directory, and whether it is
 * already there (built before from the same `key`).
 */
export async function cachedBinary(
  name: string,
  key: string,
): Promise<{ path: string; built: boolean }> {
  const path = `${tempDir()}/${name}_${await hex(key)}`;
  return { path, built: await exists(path) };
}

/** Compiles bench/c/ring.c with `cc` (once per source version) and returns the binary's path; undefined, after one line on stderr, when it cannot be built. */
export async function buildCRing(): Promise<string | undefined> {
  const source = await Deno.readTextFile(SOURCE);
  let reason = "";
  for (const flags of FLAG_SETS) {
    const { path: binary, built } = await cachedBinary(
      "marketbus_c_ring",
      `${flags.join(" ")}\n${source}`,
    );
    if (built) return binary;
    let output: Deno.CommandOutput;
    try {
      output = await new Deno.Command("cc", {
        args: [...flags, "-o", binary, SOURCE, ...LIBS],
        stdout: "null",
        stderr: "piped",
      }).output();
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        console.error(
          "C ring baseline skipped: no C compiler (cc) on the PATH",
        );
        return undefined;
      }
      throw error;
    }
    if (output.success) return binary;
    reason = new TextDecoder().decode(output.stderr).trim().split("\n")[0];
  }
  console.error(
    `C ring baseline skipped: cc could not build bench/c/ring.c: ${reason}`,
  );
  return undefined;
}

/** Runs the C ring once (producer and consumer, two processes) and returns its JSON line; throws when it fails or takes too long. */
export async function cRingRound(
  binary: string,
  options: CRingOptions,
): Promise<CRingResult> {
  const trades = Math.round(options.trades);
  const rate = options.rate ?? 1e9 / 15_000;
  const args = options.mode === "latency"
    ? ["latency", String(trades), String(rate)]
    : ["throughput", String(trades)];
  // Generous: the run itself, at 1 M/s when free-running, plus 30 s.
  const seconds = options.mode === "latency" ? trades / rate : trades / 1e6;
  const output = await new Deno.Command(binary, {
    args,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(Math.ceil(seconds * 2000) + 30_000),
  }).output();
  const stdout = new TextDecoder().decode(output.stdout).trim();
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr).trim();
    throw new Error(
      `${binary} ${args.join(" ")}: exit ${output.code}${
        output.signal ? ` (${output.signal})` : ""
      }${stderr ? `: ${stderr}` : ""}`,
    );
  }
  const line = stdout.split("\n").at(-1) ?? "";
  const parsed = JSON.parse(line);
  if (parsed.mode === "throughput") {
    return {
      mode: "throughput",
      trades: parsed.trades,
      rate: parsed.rate,
      producerRate: parsed.producer_rate,
      lost: parsed.lost,
      corrupt: parsed.corrupt,
    };
  }
  return {
    mode: "latency",
    trades: parsed.trades,
    rate: parsed.rate,
    offered: parsed.offered,
    p50: parsed.p50,
    p99: parsed.p99,
    p999: parsed.p999,
    max: parsed.max,
    min: parsed.min,
    lost: parsed.lost,
    corrupt: parsed.corrupt,
  };
}

if (import.meta.main) {
  const binary = await buildCRing();
  if (binary !== undefined) {
    console.log(
      JSON.stringify(
        await cRingRound(binary, { mode: "throughput", trades: 2_000_000 }),
      ),
    );
    console.log(
      JSON.stringify(
        await cRingRound(binary, { mode: "latency", trades: 20_000 }),
      ),
    );
  }
}
