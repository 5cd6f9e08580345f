/**
 * The failover scenario of a 3-node JetStream cluster (tests/nats_server.ts
 * `startNatsCluster`) with the real roles, shared by
 * tests/nats_cluster_test.ts (correctness) and bench/nats_failover.ts
 * (figures): a config whose stream has 3 replicas, `serve --nats --no-ipc`
 * publishing to every node with its metrics sampled, a durable `live` placed
 * on chosen nodes, stopping both, and {@linkcode leaderFailover}: the stream
 * leader SIGKILLed while serve publishes, with the publish stall, election,
 * consumer stall, queued trades, retries and duplicate acks it caused.
 *
 * Permissions: those of tests/nats_server.ts plus `--allow-run` for deno
 * (the roles run with their tasks' own flags) and `--allow-ffi` (disposing a
 * config removes its ring segments through libc).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  assertCleanExit,
  LIVENESS_MS,
  output,
  parseCount,
  publishedTrades,
  type RoleConfig,
  roleConfig,
  type RoleNats,
  RoleProcess,
  summaryOf,
} from "./_ipc_roles.ts";
import { freePort, waitUntil } from "./_metrics_scrape.ts";
import type { NatsCluster, NodeRestart } from "./nats_server.ts";
import type { LiveSummary } from "../trading_core/live_report.ts";

/** How often the publisher's metrics are sampled, ms. */
const SAMPLE_MS = 50;

/** A {@linkcode RoleConfig} with NATS names, its stream of 3 replicas. */
export type ClusterConfig = RoleConfig & { nats: RoleNats };

/** A temp config for both roles whose stream has 3 replicas; the servers come from `--nats-url`. */
export async function clusterConfig(
  cluster: NatsCluster,
): Promise<ClusterConfig> {
  const config = await roleConfig({
    nats: { url: cluster.urls[0], publish: { flush_timeout: "20s" } },
  });
  assert.ok(config.nats);
  const text = await Deno.readTextFile(config.path);
  const section = "[transport.nats.jetstream]\n";
  assert.ok(text.includes(section), text);
  await Deno.writeTextFile(
    config.path,
    text.replace(section, `${section}replicas = 3\n`),
  );
  return config as ClusterConfig;
}

/** The sum of the samples of metric `name` (labels matching `labels`, a substring) in exposition `text`. */
function metricSum(text: string, name: string, labels = ""): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name) || !line.includes(labels)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== " " && rest[0] !== "{") continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

async function metricsText(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return text;
}

/** Trades the `live` with metrics on `port` received so far. */
export async function liveReceived(port: number): Promise<number> {
  return metricSum(
    await metricsText(port),
    "marketbus_trades_received_total",
  );
}

/** Resolves once the `live` with metrics on `port` received more than `count` trades. */
export async function liveReceivedAbove(
  port: number,
  count: number,
): Promise<void> {
  await waitUntil(
    `live to receive more than ${count} trades`,
    async () => await liveReceived(port) > count ? true : undefined,
  );
}

/** One sample of the publisher's metrics. */
export interface PublisherSample {
  /** performance.now(). */
  at: number;
  /** Trades acknowledged by the stream. */
  sent: number;
  /** Trades queued, not yet published. */
  queued: number;
  /** Publish retries so far. */
  retries: number;
  /** Duplicate acks so far. */
  duplicates: number;
  /** Trades `live` received (0 until a live port is given). */
  received: number;
}

/** Samples `serve`'s NATS metrics every {@linkcode SAMPLE_MS} until stopped. */
export class PublisherSampler {
  /** The samples so far, oldest first. */
  readonly samples: PublisherSample[] = [];
  /** `live`'s metrics port, once it runs. */
  livePort: number | undefined;
  #port: number;
  #stopped = false;
  #loop: Promise<void>;

  /** Starts sampling the metrics endpoint on `port`. */
  constructor(port: number) {
    this.#port = port;
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const next = performance.now() + SAMPLE_MS;
      try {
        const text = await metricsText(this.#port);
        this.samples.push({
          at: performance.now(),
          sent: metricSum(
            text,
            "marketbus_trades_sent_total",
            'transport="nats"',
          ),
          queued: metricSum(text, "marketbus_nats_queued_trades"),
          retries: metricSum(text, "marketbus_nats_publish_retries_total"),
          duplicates: metricSum(text, "marketbus_nats_duplicate_acks_total"),
          received: this.livePort === undefined
            ? 0
            : await liveReceived(this.livePort),
        });
      } catch {
        // not listening yet, or gone: try again
      }
      await new Promise((r) =>
        setTimeout(r, Math.max(next - performance.now(), 0))
      );
    }
  }

  /** The latest sample. */
  get last(): PublisherSample | undefined {
    return this.samples.at(-1);
  }

  /** Resolves once the acknowledged count exceeds `sent`; `what` names the wait in a timeout. */
  sentAbove(sent: number, what: string): Promise<PublisherSample> {
    return waitUntil(what, () => {
      const last = this.last;
      return Promise.resolve(last && last.sent > sent ? last : undefined);
    });
  }

  /** Stops sampling. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }
}

/** Failover figures from the publisher's samples around a kill. */
export interface Failover {
  /** Longest time without a newly acknowledged trade, over the samples from 1 s before the kill, ms. */
  stallMs: number;
  /** Longest time without a trade received by `live`, likewise, ms. */
  consumerStallMs: number;
  /** Most trades queued at once after the kill. */
  maxQueued: number;
  /** Publish retries of the whole run. */
  retries: number;
  /** Duplicate acks of the whole run. */
  duplicates: number;
}

/** Longest time, ms, between two samples where `count` grew. */
function longestStall(
  samples: readonly PublisherSample[],
  count: (sample: PublisherSample) => number,
): number {
  let stallMs = 0;
  let lastProgress = samples[0].at;
  for (let i = 1; i < samples.length; i++) {
    if (count(samples[i]) > count(samples[i - 1])) {
      stallMs = Math.max(stallMs, samples[i].at - lastProgress);
      lastProgress = samples[i].at;
    }
  }
  return Math.round(stallMs);
}

/** {@linkcode Failover} figures of `samples` around a kill at `killedAt` (performance.now()). */
function failover(
  samples: readonly PublisherSample[],
  killedAt: number,
): Failover {
  const around = samples.filter((s) => s.at >= killedAt - 1000);
  const last = samples.at(-1)!;
  return {
    stallMs: longestStall(around, (s) => s.sent),
    consumerStallMs: longestStall(around, (s) => s.received),
    maxQueued: Math.max(
      ...samples.filter((s) => s.at >= killedAt).map((s) => s.queued),
    ),
    retries: last.retries,
    duplicates: last.duplicates,
  };
}

/** A running `serve` with its metrics port and their sampler. */
export type SampledServe = RoleProcess & {
  /** Samples its metrics; stop it when done. */
  sampler: PublisherSampler;
  /** Its metrics port. */
  port: number;
};

/** `serve --no-ipc` at `options.rate` trades/s to every node of `cluster`, sampled through its metrics. */
export function clusterServe(
  cluster: NatsCluster,
  config: ClusterConfig,
  options: { rate: number },
): SampledServe {
  const port = freePort();
  const serve = new RoleProcess("serve", config, [
    "--nats-url",
    cluster.urls.join(","),
    "--no-ipc",
    "--rate",
    String(options.rate),
    "--metrics-port",
    String(port),
  ]);
  return Object.assign(serve, { sampler: new PublisherSampler(port), port });
}

/** What a stopped `serve` reported in its final line. */
export interface ServeExit {
  /** Trades the stream acknowledged. */
  acknowledged: number;
  /** Trades handed to the transports. */
  published: number;
  /** Trades still queued at the end. */
  queued: number;
  /** Trades dropped. */
  dropped: number;
  /** Publish errors. */
  errors: number;
  /** Everything it printed. */
  output: string;
}

/** SIGTERMs `serve`, checks it exited 0 by itself and returns its final figures. */
export async function stopServe(serve: RoleProcess): Promise<ServeExit> {
  serve.kill("SIGTERM");
  const exit = await serve.finish(LIVENESS_MS);
  assertCleanExit(exit, "serve");
  const text = output(exit);
  const line = text.split("\n").find((l) => /stopped after [\d.]+s: /.test(l));
  assert.ok(line, `no final "stopped after" line in:\n${text}`);
  const nats = line.match(
    /\| nats ([\d,]+) trades in .*? queued ([\d,]+) \(\d+%\) dropped ([\d,]+) retries \d+ errors (\d+)/,
  );
  assert.ok(nats, `no NATS figures in serve's final line: ${line}`);
  return {
    acknowledged: parseCount(nats[1]),
    published: publishedTrades(text),
    queued: parseCount(nats[2]),
    dropped: parseCount(nats[3]),
    errors: parseCount(nats[4]),
    output: text,
  };
}

/** A running durable `live --nats`, the node it connected to and its metrics port. */
export interface ClusterLive {
  /** The process. */
  process: RoleProcess;
  /** Its metrics port. */
  port: number;
  /** Index of the node it connected to. */
  node: number;
}

/**
 * Starts a durable `live --deliver all --summary-json` given the URLs of
 * `options.nodes` only, waits until it connected and checks its connection
 * is on that node (`/connz`).
 */
export async function startClusterLive(
  cluster: NatsCluster,
  config: ClusterConfig,
  options: { nodes: readonly number[]; durable: string },
): Promise<ClusterLive> {
  const port = freePort();
  const process = new RoleProcess("live", config, [
    "--nats-url",
    options.nodes.map((i) => cluster.urls[i]).join(","),
    "--durable",
    options.durable,
    "--deliver",
    "all",
    "--summary-json",
    "--metrics-port",
    String(port),
  ]);
  try {
    const [connected] = await process.waitFor(
      /NATS consumer: connected to (\S+)/,
    );
    const node = nodeOfLine(cluster, connected[1]);
    assert.ok(options.nodes.includes(node), `live connected to node ${node}`);
    assert.ok(
      (await connectionNames(cluster, node)).includes(
        "marketbus-trading-core",
      ),
      `live's connection not in /connz of ${cluster.servers[node].name}`,
    );
    return { process, port, node };
  } catch (error) {
    await process[Symbol.asyncDispose]();
    throw error;
  }
}

/**
 * Waits (at most {@linkcode LIVENESS_MS}) until `live` received `total`
 * trades, stops it (SIGINT), checks it exited 0 and returns its summary,
 * which tells whether everything arrived.
 */
export async function drainLive(
  live: ClusterLive,
  total: number,
): Promise<LiveSummary> {
  const deadline = performance.now() + LIVENESS_MS;
  while (
    performance.now() < deadline && await liveReceived(live.port) < total
  ) {
    await new Promise((r) => setTimeout(r, SAMPLE_MS));
  }
  live.process.kill("SIGINT");
  const exit = await live.process.finish(LIVENESS_MS);
  assertCleanExit(exit, "live");
  return summaryOf(exit);
}

/** The index of the node whose client port is in `live`'s "connected to" or "reconnected to" line. */
export function nodeOfLine(cluster: NatsCluster, line: string): number {
  const port = Number(line.match(/:(\d+)\s*$/)?.[1]);
  const i = cluster.servers.findIndex((s) => s.port === port);
  assert.ok(i >= 0, `no node on the port of "${line}"`);
  return i;
}

/** The last sequence of `stream` in node `i`'s store, 0 when it has none. */
async function lastSeq(
  cluster: NatsCluster,
  stream: string,
  i: number,
): Promise<number> {
  return (await cluster.streamState(stream, i))?.last_seq ?? 0;
}

/** Names of the client connections node `i` has now (monitoring `/connz`). */
async function connectionNames(
  cluster: NatsCluster,
  i: number,
): Promise<string[]> {
  const connz = await cluster.servers[i].monitor<
    { connections?: { name?: string }[] }
  >("/connz");
  return (connz.connections ?? []).map((c) => c.name ?? "");
}

/** One {@linkcode leaderFailover}: the figures and what both roles ended with. */
export interface LeaderFailoverRun extends Failover {
  /** Index of the node that led the stream and was killed (and restarted). */
  leader: number;
  /** From the SIGKILL until a running node reported itself the stream's leader, ms. */
  electionMs: number;
  /** The killed node's return: process up and rejoined the cluster, ms from its start. */
  restart: NodeRestart;
  /** From the killed node's start until it held the stream up to date (as the leader saw it then), ms. */
  catchUpMs: number;
  /** Stream messages the killed node lacked when it started again: the leader's last sequence then, minus the node's own just before the kill. */
  behindMessages: number;
  /** `serve`'s final figures. */
  serve: ServeExit;
  /** `live`'s summary. */
  summary: LiveSummary;
}

/**
 * Runs `serve` at `options.rate` trades/s into the R3 stream of `config`,
 * a durable `live` on the nodes that do not lead it, 2 s of flow, then
 * SIGKILLs the stream leader's node; waits for 3 s of acknowledged trades
 * and live receiving again, restarts the node until it caught up, stops
 * serve and drains live. Returns the figures; checks nothing about the
 * trades (callers do, from {@linkcode LeaderFailoverRun.serve} and
 * {@linkcode LeaderFailoverRun.summary}).
 */
export async function leaderFailover(
  cluster: NatsCluster,
  config: ClusterConfig,
  options: { rate: number },
): Promise<LeaderFailoverRun> {
  const { rate } = options;
  const { stream } = config.nats;
  await using serve = clusterServe(cluster, config, { rate });
  const { sampler } = serve;
  try {
    await sampler.sentAbove(0, "serve's first acknowledged trades");
    const leader = await cluster.streamLeader(stream);

    // live on the followers only: it is never attached to the leader
    const live = await startClusterLive(cluster, config, {
      nodes: [0, 1, 2].filter((i) => i !== leader),
      durable: `failover-${crypto.randomUUID().slice(0, 8)}`,
    });
    await using _live = live.process;
    sampler.livePort = live.port;
    await liveReceivedAbove(live.port, 0);

    // a few seconds of flow, then the leader crashes
    await sampler.sentAbove(sampler.last!.sent + 2 * rate, "2 s of flow");
    const heldAtKill = await lastSeq(cluster, stream, leader);
    const killedAt = performance.now();
    await cluster.killNode(leader);
    const newLeader = await cluster.streamLeader(stream);
    const electionMs = Math.round(performance.now() - killedAt);
    assert.notEqual(newLeader, leader, "the killed node still leads");
    const receivedAtKill = await liveReceived(live.port);

    // the publisher rides through; the consumer keeps receiving
    await sampler.sentAbove(
      sampler.last!.sent + 3 * rate,
      "3 s of acknowledged trades after the kill",
    );
    await liveReceivedAbove(live.port, receivedAtKill + rate);

    // the dead node comes back and catches up while serve goes on
    const storedBefore = await lastSeq(
      cluster,
      stream,
      await cluster.streamLeader(stream),
    );
    const restartedAt = performance.now();
    const restart = await cluster.startNode(leader);
    await cluster.waitStreamCurrent(stream, leader);
    const catchUpMs = Math.round(performance.now() - restartedAt);

    const serveExit = await stopServe(serve);
    const figures = failover(sampler.samples, killedAt);
    const summary = await drainLive(live, serveExit.acknowledged);
    return {
      ...figures,
      leader,
      electionMs,
      restart,
      catchUpMs,
      behindMessages: Math.max(storedBefore - heldAtKill, 0),
      serve: serveExit,
      summary,
    };
  } finally {
    await sampler.stop();
  }
}
