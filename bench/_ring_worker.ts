/**
 * One side of a ring benchmark, run as a child process by bench/ring.ts
 * (never on its own): `deno run --allow-ffi bench/_ring_worker.ts '<json WorkerConfig>'`.
 *
 * Protocol: one JSON object per line on stdout ({@linkcode WorkerEvent}),
 * commands one per line on stdin. A producer creates the ring, says `ready`,
 * then for each round waits for `go`, writes `perRound` trades and reports;
 * it closes the ring (removing the segment) on `close` or when stdin ends. A
 * consumer opens the ring from its first position, says `ready`, reads
 * `rounds × perRound` trades reporting after each round, and exits. A `noise`
 * worker spins on the clock and reports how long it was kept off the CPU.
 *
 * Records are real 48-byte wire records; the benchmark reuses three fields:
 * `seq` holds the position and the high word of `trade_id` holds `~seq` (the
 * consumer checks both: torn, duplicated or out-of-order records count as
 * corrupt, and seq gaps are compared with `reader.lost`), and in latency runs
 * bytes 16..23 (`ts_recv`) hold the producer's CLOCK_MONOTONIC stamp as a
 * float64 (ns), taken before the slot is touched.
 *
 * @module
 */

import process from "node:process";
import { encodeTrade } from "../common/wire/codec.ts";
import { LIBC_PATHS } from "../common/os/mod.ts";
import {
  RingReader,
  RingState,
  RingWaiter,
  RingWriter,
  type WaitStrategy,
} from "../common/ipc/mod.ts";
import { monotonicNanos } from "../common/runtime/clock.ts";
import type { LatencySummary as HistogramSummary } from "../common/metrics/latency_histogram.ts";
import { Side, TRADE_RECORD_SIZE } from "../common/wire/trade.ts";

/** How the producer publishes. */
export type ProducerApi = "write" | "writeMany";

/** How the consumer waits: a {@linkcode WaitStrategy} through RingWaiter, or `raw-spin` (a bare `while (!read())` loop, for comparison). */
export type ConsumerWait = WaitStrategy | "raw-spin";

/** Producer settings. */
export interface ProducerConfig {
  /** Role. */
  role: "producer";
  /** Segment name. */
  ring: string;
  /** Slots. */
  capacity: number;
  /** Rounds, the first being warm-up (the parent decides what to keep). */
  rounds: number;
  /** Trades per round. */
  perRound: number;
  /** `write` (one record per call) or `writeMany` of `batch` records. */
  api: ProducerApi;
  /** Records per writeMany call. */
  batch: number;
  /**
   * 0: as fast as possible. Otherwise one trade every `paceNs` on average:
   * the producer waits for CLOCK_MONOTONIC to reach the due time of each
   * block of `paceBlock` trades.
   */
  paceNs: number;
  /** Trades per clock check when pacing (1 for latency runs). */
  paceBlock: number;
  /**
   * How the producer waits for the due time: spin on the clock, or sleep
   * (absolute clock_nanosleep, timer slack 1 ns, which wakes ~15-25 µs late
   * on a VM) until `sleepMarginNs` before it and spin the rest.
   */
  pacing: "spin" | "sleep";
  /** With `sleep` pacing: wake this long before the due time and spin (0: pure sleep, rate a little lower). */
  sleepMarginNs: number;
  /** Put the CLOCK_MONOTONIC stamp (float64 ns) in each record, read just before writing. */
  stamp: boolean;
}

/** Consumer settings. */
export interface ConsumerConfig {
  /** Role. */
  role: "consumer";
  /** Segment name. */
  ring: string;
  /** Rounds (same as the producer's). */
  rounds: number;
  /** Trades per round (same as the producer's). */
  perRound: number;
  /** Wait strategy. */
  wait: ConsumerWait;
  /** RingWaiter spinMs for backoff (undefined: the library default). */
  spinMs?: number;
  /** RingWaiter blockingSleepMs (undefined: the library default, 0 = async sleeps). */
  blockingSleepMs?: number;
  /** Measure one-way latency from the stamp in each record. */
  latency: boolean;
  /** 1: `read`; more: `readMany(batch)`. */
  batch: number;
}

/** A lone process spinning on the clock: how much the machine takes the CPU away. */
export interface NoiseConfig {
  /** Role. */
  role: "noise";
  /** Rounds. */
  rounds: number;
  /** Seconds per round. */
  seconds: number;
}

/** What the parent passes as the single argument (JSON). */
export type WorkerConfig = ProducerConfig | ConsumerConfig | NoiseConfig;

/** One round as measured by the producer. */
export interface ProducerRound {
  /** Event kind. */
  event: "round";
  /** Round index (0 = warm-up). */
  round: number;
  /** Trades written. */
  written: number;
  /** Wall time of the round, ns (CLOCK_MONOTONIC). */
  elapsedNs: number;
  /** Futex wakes the writer paid. */
  wakeups: number;
  /** CPU time of the whole process over the round, µs (user + system). */
  cpuMicros: number;
}

/** One round as measured by the consumer. */
export interface ConsumerRound {
  /** Event kind. */
  event: "round";
  /** Round index (0 = warm-up). */
  round: number;
  /** Trades read in the round. */
  received: number;
  /** Trades overwritten before they were read (producer lapped us). */
  lost: number;
  /** Records torn (check word does not match seq) or out of order: must be 0. */
  corrupt: number;
  /** Trades missing from the sequence the consumer saw in the round (a resync at a round's end shows up in the next). */
  gaps: number;
  /** Since the start: seq gaps seen minus reader.lost; 0 unless the reader miscounts. */
  gapsMinusLost: number;
  /** First read to last read, ns (CLOCK_MONOTONIC). */
  elapsedNs: number;
  /** CPU time of the whole consumer process over the same span, µs. */
  cpuMicros: number;
  /** Times the consumer slept (backoff). */
  sleeps: number;
  /** Latency percentiles, ns, when measuring latency. */
  latency?: LatencySummary;
}

/** Percentiles of one round's one-way latencies, ns (exact, from the sorted samples), and the smallest. */
export type LatencySummary = Omit<HistogramSummary, "negative"> & {
  /** Smallest. */
  min: number;
};

/** One round of the noise probe. */
export interface NoiseRound {
  /** Event kind. */
  event: "round";
  /** Round index. */
  round: number;
  /** Wall time, ns. */
  elapsedNs: number;
  /** Time lost in gaps longer than 20 µs between two clock readings, ns. */
  stalledNs: number;
  /** Gaps longer than 20 µs. */
  stalls: number;
  /** Longest gap, ns. */
  maxStallNs: number;
}

/** Every line a worker prints. */
export type WorkerEvent =
  | { event: "ready"; pid: number }
  | ProducerRound
  | ConsumerRound
  | NoiseRound
  | { event: "closed" }
  | { event: "error"; message: string };

const encoder = new TextEncoder();

function emit(event: WorkerEvent): void {
  const bytes = encoder.encode(`${JSON.stringify(event)}\n`);
  let done = 0;
  while (done < bytes.length) {
    done += Deno.stdout.writeSync(bytes.subarray(done));
  }
}

/** Lines from stdin; `undefined` at end of input. */
class StdinLines {
  #reader = Deno.stdin.readable.getReader();
  #decoder = new TextDecoder();
  #pending = "";

  async next(): Promise<string | undefined> {
    for (;;) {
      const newline = this.#pending.indexOf("\n");
      if (newline >= 0) {
        const line = this.#pending.slice(0, newline);
        this.#pending = this.#pending.slice(newline + 1);
        return line.trim();
      }
      const { value, done } = await this.#reader.read();
      if (done) return undefined;
      this.#pending += this.#decoder.decode(value, { stream: true });
    }
  }
}

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** A batch of realistic records, 4-byte aligned, seq to be overwritten. */
function sampleRecords(count: number): Uint8Array {
  const bytes = new Uint8Array(count * TRADE_RECORD_SIZE);
  for (let i = 0; i < count; i++) {
    encodeTrade(
      {
        side: i % 2 === 0 ? Side.Buy : Side.Sell,
        flags: 0,
        seq: i,
        tsEvent: 1_764_000_000_000_000_000n + BigInt(i),
        tsRecv: 1_764_000_000_000_100_000n + BigInt(i),
        priceFixed: 67_123_450_000_000n + BigInt(i) * 10_000_000n,
        size: 0.001 * (i + 1),
        tradeId: 4_294_967_297n + BigInt(i),
      },
      bytes,
      { offset: i * TRADE_RECORD_SIZE },
    );
  }
  return bytes;
}

/**
 * Word index of `seq`, of the check word (high half of `trade_id`, set to
 * `~seq`: a record mixing two writes fails the check) and float64 index of
 * `ts_recv` within a record.
 */
const SEQ_WORD = 1;
const CHECK_WORD = 11;
const STAMP_F64 = 2;
const RECORD_WORDS = TRADE_RECORD_SIZE / 4;
const RECORD_F64 = TRADE_RECORD_SIZE / 8;

/**
 * Opens libc's `clock_nanosleep` (timer slack set to 1 ns) and returns a
 * function that sleeps until CLOCK_MONOTONIC reaches `times[index]` ns,
 * without allocating (the time goes through a Float64Array, the timespec
 * through an Int32Array: no BigInt, no boxed double per sleep).
 */
function openSleeper(): (times: Float64Array, index: number) => void {
  let lib;
  for (const path of LIBC_PATHS) {
    try {
      lib = Deno.dlopen(path, {
        clock_nanosleep: {
          parameters: ["i32", "i32", "buffer", "pointer"],
          result: "i32",
        },
        prctl: {
          parameters: ["i32", "u64", "u64", "u64", "u64"],
          result: "i32",
        },
      }).symbols;
      break;
    } catch {
      // next path
    }
  }
  if (lib === undefined) {
    throw new Error("libc not found for clock_nanosleep");
  }
  const PR_SET_TIMERSLACK = 29;
  lib.prctl(PR_SET_TIMERSLACK, 1n, 0n, 0n, 0n); // default slack is 50 µs
  const { clock_nanosleep } = lib;
  // tv_sec and tv_nsec as little-endian i64 words: no BigInt per sleep.
  const timespec = new Int32Array(4);
  const bytes = new Uint8Array(timespec.buffer);
  const CLOCK_MONOTONIC = 1;
  const TIMER_ABSTIME = 1;
  return (times, index) => {
    const at = times[index];
    const seconds = Math.floor(at / 1e9);
    timespec[0] = seconds % 2 ** 32;
    timespec[1] = Math.floor(seconds / 2 ** 32);
    timespec[2] = at - seconds * 1e9;
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, bytes, null);
  };
}

/**
 * Writes positions `position` to `end` of a paced round, each trade at its
 * due time (see {@linkcode ProducerConfig.paceNs}). The due time and the
 * clock live in a Float64Array: kept in locals, a loop of this shape made V8
 * box a double per iteration (~30 bytes of garbage a trade in a test loop).
 */
function writePaced(
  writer: RingWriter,
  records: Uint8Array,
  config: ProducerConfig,
  sleep: ((times: Float64Array, index: number) => void) | undefined,
  position: number,
  end: number,
): void {
  const words = new Uint32Array(records.buffer);
  const stamps = new Float64Array(records.buffer);
  const block = Math.max(1, config.paceBlock);
  const period = config.paceNs * block;
  const margin = config.sleepMarginNs;
  const t = new Float64Array(3); // due, now, wake-up time
  const DUE = 0;
  const NOW = 1;
  const WAKE = 2;
  t[DUE] = monotonicNanos();
  while (position < end) {
    t[DUE] += period;
    t[NOW] = monotonicNanos();
    if (sleep !== undefined && t[NOW] < t[DUE] - margin) {
      t[WAKE] = t[DUE] - margin;
      sleep(t, WAKE);
      t[NOW] = monotonicNanos();
    }
    while (t[NOW] < t[DUE]) t[NOW] = monotonicNanos();
    // Fell behind: one trade at a time never bursts (latency runs); blocks
    // catch up unless a whole millisecond was lost.
    if (t[NOW] - t[DUE] > (block === 1 ? period : 1e6)) t[DUE] = t[NOW];
    const count = Math.min(block, end - position);
    for (let i = 0; i < count; i++) {
      words[SEQ_WORD] = position;
      words[CHECK_WORD] = ~position;
      // Stamped before the slot is touched (a fresh reading per trade).
      if (config.stamp) stamps[STAMP_F64] = monotonicNanos();
      writer.write(records);
      position++;
    }
  }
}

async function produce(config: ProducerConfig): Promise<void> {
  const writer = RingWriter.create(config.ring, { capacity: config.capacity });
  const lines = new StdinLines();
  try {
    const batch = config.api === "writeMany" ? config.batch : 1;
    const records = sampleRecords(batch);
    const words = new Uint32Array(records.buffer);
    const sleep = config.pacing === "sleep" && config.paceNs > 0
      ? openSleeper()
      : undefined;
    emit({ event: "ready", pid: Deno.pid });
    for (let round = 0; round < config.rounds; round++) {
      const command = await lines.next();
      if (command !== "go") return; // stdin closed or told to stop early
      const wakeups0 = writer.wakeups;
      const cpu0 = cpuMicros();
      const t0 = monotonicNanos();
      let position = writer.position;
      const end = position + config.perRound;
      if (config.paceNs > 0) {
        writePaced(writer, records, config, sleep, position, end);
      } else if (batch === 1) {
        while (position < end) {
          words[SEQ_WORD] = position;
          words[CHECK_WORD] = ~position;
          writer.write(records);
          position++;
        }
      } else {
        while (position < end) {
          const count = Math.min(batch, end - position);
          for (let i = 0; i < count; i++) {
            words[i * RECORD_WORDS + SEQ_WORD] = position + i;
            words[i * RECORD_WORDS + CHECK_WORD] = ~(position + i);
          }
          writer.writeMany(records, count);
          position += count;
        }
      }
      const elapsedNs = monotonicNanos() - t0;
      emit({
        event: "round",
        round,
        written: config.perRound,
        elapsedNs,
        wakeups: writer.wakeups - wakeups0,
        cpuMicros: cpuMicros() - cpu0,
      });
    }
    await lines.next(); // "close", or end of input
  } finally {
    writer.close();
    emit({ event: "closed" });
  }
}

function summarize(samples: Float64Array, count: number): LatencySummary {
  const sorted = samples.slice(0, count).sort();
  const at = (q: number) =>
    sorted[Math.min(count - 1, Math.max(0, Math.ceil(q * count) - 1))];
  return {
    count,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    p999: at(0.999),
    max: sorted[count - 1],
    min: sorted[0],
  };
}

async function consume(config: ConsumerConfig): Promise<void> {
  const reader = RingReader.open(config.ring, { from: "first" });
  const readers = [reader];
  const waiter = config.wait === "raw-spin" ? undefined : new RingWaiter(
    config.wait,
    { spinMs: config.spinMs, blockingSleepMs: config.blockingSleepMs },
  );
  const batch = Math.max(1, config.batch);
  const target = new Uint8Array(batch * TRADE_RECORD_SIZE);
  const words = new Uint32Array(target.buffer);
  const stamps = new Float64Array(target.buffer);
  const samples = new Float64Array(config.latency ? config.perRound : 0);
  let previousSeq = reader.firstPosition - 1;
  let totalGaps = 0;
  emit({ event: "ready", pid: Deno.pid });
  try {
    for (let round = 0; round < config.rounds; round++) {
      const end = reader.firstPosition + (round + 1) * config.perRound;
      const received0 = reader.received;
      const lost0 = reader.lost;
      const sleeps0 = waiter?.sleeps ?? 0;
      let corrupt = 0;
      let gaps = 0;
      let count = 0;
      let t0 = 0;
      let cpu0 = 0;
      let idlePolls = 0;
      while (reader.position < end) {
        const before = reader.position;
        const got = batch === 1
          ? (reader.read(target) ? 1 : 0)
          : reader.readMany(target, Math.min(batch, end - before));
        if (got > 0) {
          // Throughput runs read the clock at the first and last read only.
          const now = config.latency || t0 === 0 ? monotonicNanos() : 0;
          if (t0 === 0) {
            t0 = now;
            cpu0 = cpuMicros();
          }
          for (let i = 0; i < got; i++) {
            const seq = words[i * RECORD_WORDS + SEQ_WORD];
            if (words[i * RECORD_WORDS + CHECK_WORD] !== (~seq >>> 0)) {
              corrupt++; // torn: words of two different trades
            } else if (seq <= previousSeq) {
              corrupt++; // duplicate or out of order
            } else {
              gaps += seq - previousSeq - 1;
              previousSeq = seq;
            }
            if (config.latency && count < samples.length) {
              samples[count++] = now - stamps[i * RECORD_F64 + STAMP_F64];
            }
          }
          waiter?.busy();
          continue;
        }
        if (waiter === undefined) {
          // raw-spin: look at the ring's state now and then, never yield.
          if (
            (++idlePolls & 0xfffff) === 0 && reader.state() !== RingState.Open
          ) {
            throw new Error(
              `Ring ${config.ring} closed before round ${round} ended`,
            );
          }
          continue;
        }
        const pause = waiter.idle(readers);
        if (pause !== undefined) {
          await pause;
          if (reader.state() !== RingState.Open && !reader.hasData()) {
            throw new Error(
              `Ring ${config.ring} closed before round ${round} ended`,
            );
          }
        }
      }
      const t1 = monotonicNanos();
      const cpu1 = cpuMicros();
      emit({
        event: "round",
        round,
        received: reader.received - received0,
        lost: reader.lost - lost0,
        corrupt,
        gaps,
        gapsMinusLost: (totalGaps += gaps) - reader.lost,
        elapsedNs: t1 - t0,
        cpuMicros: cpu1 - cpu0,
        sleeps: (waiter?.sleeps ?? 0) - sleeps0,
        latency: config.latency && count > 0
          ? summarize(samples, count)
          : undefined,
      });
    }
  } finally {
    reader.close();
  }
}

function noise(config: NoiseConfig): void {
  emit({ event: "ready", pid: Deno.pid });
  for (let round = 0; round < config.rounds; round++) {
    const t0 = monotonicNanos();
    const until = t0 + config.seconds * 1e9;
    let last = t0;
    let stalledNs = 0;
    let stalls = 0;
    let maxStallNs = 0;
    for (;;) {
      const now = monotonicNanos();
      const gap = now - last;
      last = now;
      if (gap > 20_000) {
        stalls++;
        stalledNs += gap;
        if (gap > maxStallNs) maxStallNs = gap;
      }
      if (now >= until) break;
    }
    emit({
      event: "round",
      round,
      elapsedNs: last - t0,
      stalledNs,
      stalls,
      maxStallNs,
    });
  }
}

if (import.meta.main) {
  try {
    const config = JSON.parse(Deno.args[0] ?? "{}") as WorkerConfig;
    if (config.role === "producer") await produce(config);
    else if (config.role === "consumer") await consume(config);
    else if (config.role === "noise") noise(config);
    else throw new Error(`Unknown role in ${Deno.args[0]}`);
  } catch (error) {
    emit({ event: "error", message: String((error as Error)?.stack ?? error) });
    Deno.exit(1);
  }
}
