/**
 * The Go peer of issue 16's NATS latency goal (bench/go/latency, nats.go at
 * the version bench/go/go.mod pins): JetStream PublishAsync paced at a rate,
 * 48 B payloads stamped with the send time, a Msg-Id on every message, into
 * a new stream (file storage, R1), and a durable pull consumer (AckAll,
 * deliver new) on a second connection of the same process measuring publish
 * → Consume callback latency. Built with `go build` (modules through the Go
 * module proxy on the first build) into the system temp directory, named
 * after a hash of the sources, and reused while they do not change; run as a
 * child process. Needs `--allow-read` (the sources), `--allow-run` (`go` and
 * the binary) and `--allow-env=PATH,TMPDIR`.
 *
 * ```ts
 * const binary = await buildGoLatency();
 * if (binary !== undefined) {
 *   console.log(await goLatencyRound(binary, { url, stream: "LAT", msgs: 20_000, rate: 10_000 }));
 * }
 * ```
 *
 * @module
 */

import { cachedBinary } from "./_c_ring.ts";
import { findGo } from "./_natscli.ts";

const DIR = decodeURIComponent(new URL("./go/", import.meta.url).pathname);
const SOURCES = ["go.mod", "go.sum", "latency/main.go"];

/** One run of the Go peer, as its JSON line reports it; latencies in ns. */
export interface GoLatency {
  /** Messages the consumer received. */
  received: number;
  /** Messages published. */
  sent: number;
  /** Messages/s the publisher achieved. */
  offered: number;
  /** Median publish → callback latency, ns. */
  p50: number;
  /** 99th percentile, ns. */
  p99: number;
  /** 99.9th percentile, ns. */
  p999: number;
  /** Largest, ns. */
  max: number;
  /** Smallest, ns. */
  min: number;
}

/** What to run. */
export interface GoLatencyOptions {
  /** nats-server URL. */
  url: string;
  /** Stream to create; the program deletes it at the end. */
  stream: string;
  /** Messages to publish. */
  msgs: number;
  /** Messages per second. */
  rate: number;
  /** Kills the program. */
  signal?: AbortSignal;
}

/** Builds bench/go/latency with `go build` (once per source version) and returns the binary's path; undefined, after one line on stderr, without Go or when the build fails. */
export async function buildGoLatency(): Promise<string | undefined> {
  const go = findGo();
  if (!go) {
    console.error("Go latency peer skipped: no Go toolchain (go) found");
    return undefined;
  }
  const texts = await Promise.all(
    SOURCES.map((file) => Deno.readTextFile(`${DIR}${file}`)),
  );
  const { path, built } = await cachedBinary(
    "marketbus_go_latency",
    `${go}\n${texts.join("\n")}`,
  );
  if (built) return path;
  console.log(`Go latency peer: ${go} build ./latency in bench/go…`);
  const output = await new Deno.Command(go, {
    args: ["build", "-o", path, "./latency"],
    cwd: DIR,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (output.success) return path;
  const reason = new TextDecoder().decode(output.stderr).trim().split("\n")
    .at(-1);
  console.error(
    `Go latency peer skipped: go build ./latency in bench/go failed: ${reason}`,
  );
  return undefined;
}

/** Runs the Go peer once and returns its JSON line; throws when it fails. */
export async function goLatencyRound(
  binary: string,
  options: GoLatencyOptions,
): Promise<GoLatency> {
  const args = [
    "-url",
    options.url,
    "-stream",
    options.stream,
    "-msgs",
    String(Math.round(options.msgs)),
    "-rate",
    String(options.rate),
  ];
  const output = await new Deno.Command(binary, {
    args,
    stdout: "piped",
    stderr: "piped",
    signal: options.signal,
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
  return JSON.parse(stdout.split("\n").at(-1) ?? "") as GoLatency;
}
