// A 3-node JetStream cluster (real nats-server processes from the harness)
// under `serve --nats --no-ipc` publishing continuously into a stream of 3
// replicas, with a durable `live --nats` reading:
//
// A. The stream leader's server is killed (SIGKILL): the publisher rides
//    through the election, the consumer (on another node) keeps receiving;
//    the killed node is restarted and catches up. The stream, read back from
//    the restarted node once it leads, holds every acknowledged trade exactly
//    once, per symbol seqs 1..N; live received every one with no gap. Prints
//    the publish stall, the election time, the trades queued meanwhile, the
//    retries and the duplicate acks.
// B. The server the consumer (given all three URLs) is connected to is
//    killed: it reconnects to another node, keeps receiving, and ends with
//    every trade and no gap.

import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { decodeTrades } from "../common/codec.ts";
import { parseTradeSubject } from "../common/subjects.ts";
import { gatedTest, harnessPermissions } from "./_permissions.ts";
import {
  assertCleanExit,
  assertComplete,
  LIVENESS_MS,
  output,
  parseCount,
  publishedTrades,
  ROLE_PERMISSIONS,
  type RoleConfig,
  roleConfig,
  type RoleNats,
  RoleProcess,
  summaryOf,
} from "./_ipc_roles.ts";
import { freePort, waitUntil } from "./_metrics_scrape.ts";
import { type NatsCluster, startNatsCluster } from "./nats_server.ts";

/** Spawning the roles (deno) and nats-server, temp files, loopback NATS. */
const PERMISSIONS: Deno.PermissionDescriptor[] = [
  ...ROLE_PERMISSIONS,
  ...harnessPermissions(),
];

/** Synthetic trades per second: continuous flow over the 3 default symbols. */
const RATE = 10_000;

/** How often the publisher's metrics are sampled, ms. */
const SAMPLE_MS = 50;

// ---------------------------------------------------------------------------
// helpers

/** A temp config for both roles whose stream has 3 replicas; the servers come from `--nats-url`. */
async function clusterConfig(
  cluster: NatsCluster,
): Promise<RoleConfig & { nats: RoleNats }> {
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
  return config as RoleConfig & { nats: RoleNats };
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

/** Trades `live` received so far, from its metrics. */
async function liveReceived(port: number): Promise<number> {
  return metricSum(
    await metricsText(port),
    "marketbus_trades_received_total",
  );
}

/** One sample of the publisher's metrics. */
interface PublisherSample {
  /** performance.now(). */
  at: number;
  /** Trades acknowledged by the stream. */
  sent: number;
  /** Trades queued, not yet published. */
  queued: number;
  retries: number;
  duplicates: number;
  /** Trades `live` received (0 until a live port is given). */
  received: number;
}

/** Samples `serve`'s NATS metrics every {@linkcode SAMPLE_MS} until stopped. */
class PublisherSampler {
  readonly samples: PublisherSample[] = [];
  #port: number;
  /** `live`'s metrics port, once it runs. */
  livePort: number | undefined;
  #stopped = false;
  #loop: Promise<void>;

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

  get last(): PublisherSample | undefined {
    return this.samples.at(-1);
  }

  /** Resolves once the acknowledged count exceeds `sent`. */
  sentAbove(sent: number, what: string): Promise<PublisherSample> {
    return waitUntil(what, () => {
      const last = this.last;
      return Promise.resolve(last && last.sent > sent ? last : undefined);
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }
}

/** Failover figures from the publisher's samples around a kill at `killedAt`. */
interface Failover {
  /** Longest time without a newly acknowledged trade, over the samples from 1 s before the kill, ms. */
  stallMs: number;
  /** Longest time without a trade received by `live`, likewise, ms. */
  consumerStallMs: number;
  /** Most trades queued at once after the kill. */
  maxQueued: number;
  retries: number;
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

/** The acknowledged trades of `serve`'s final line, after checking nothing was dropped or rejected. */
function acknowledged(text: string): number {
  const line = text.split("\n").find((l) => /stopped after [\d.]+s: /.test(l));
  assert.ok(line, `no final "stopped after" line in:\n${text}`);
  const nats = line.match(
    /\| nats ([\d,]+) trades in .*? queued ([\d,]+) \(\d+%\) dropped ([\d,]+) retries \d+ errors (\d+)/,
  );
  assert.ok(nats, `no NATS figures in serve's final line: ${line}`);
  assert.deepEqual(
    [nats[2], nats[3], nats[4]],
    ["0", "0", "0"],
    `queued, dropped, errors: ${line}`,
  );
  return parseCount(nats[1]);
}

/**
 * Reads the whole stream from `url` with an ordered consumer and checks it
 * holds every trade exactly once: per symbol, in stream order, seqs 1..N and
 * consecutive trade ids. Returns the trades per symbol.
 */
async function assertStreamExact(
  url: string,
  nats: RoleNats,
  symbols: readonly string[],
): Promise<Map<string, number>> {
  const nc = await connect({ servers: url, noAsyncTraces: true });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(nats.stream);
    assert.equal(info.config.num_replicas, 3, "stream replicas");
    const total = info.state.messages;
    const counts = new Map<string, number>(symbols.map((s) => [s, 0]));
    const firstIds = new Map<string, bigint>();
    const consumer = await jetstream(nc).consumers.get(nats.stream);
    const messages = await consumer.consume();
    const timer = setTimeout(() => messages.stop(), LIVENESS_MS);
    let read = 0;
    try {
      for await (const message of messages) {
        read++;
        const origin = parseTradeSubject(message.subject, {
          prefix: nats.subjectPrefix,
        });
        const n = counts.get(origin.symbol);
        assert.ok(n !== undefined, `unexpected subject ${message.subject}`);
        const trades = decodeTrades(message.data, origin);
        const firstId = firstIds.get(origin.symbol) ?? trades[0].tradeId;
        firstIds.set(origin.symbol, firstId);
        trades.forEach((trade, i) => {
          const k = n + i;
          if (trade.seq !== k + 1 || trade.tradeId !== firstId + BigInt(k)) {
            assert.fail(
              `${origin.symbol}: stream message ${message.seq} holds seq ${trade.seq} (id ${trade.tradeId}) where seq ${
                k + 1
              } (id ${
                firstId + BigInt(k)
              }) was due: a repeat, a hole or out of order`,
            );
          }
        });
        counts.set(origin.symbol, n + trades.length);
        if (read === total) break;
      }
    } finally {
      clearTimeout(timer);
      await messages.close();
    }
    assert.equal(read, total, "messages read back vs stored");
    return counts;
  } finally {
    await nc.close();
  }
}

/** Makes node `i` the leader of `stream` (a step-down naming it as preferred). */
async function moveStreamLeader(
  cluster: NatsCluster,
  stream: string,
  i: number,
): Promise<void> {
  const name = cluster.servers[i].name;
  await waitUntil(`${name} to lead stream ${stream}`, async () => {
    const leader = await cluster.streamLeader(stream);
    if (leader === i) return true;
    const nc = await connect({ servers: cluster.urls[i] });
    try {
      await nc.request(
        `$JS.API.STREAM.LEADER.STEPDOWN.${stream}`,
        JSON.stringify({ placement: { preferred: name } }),
        { timeout: 5000 },
      );
    } finally {
      await nc.close();
    }
    return undefined;
  });
}

/** The index of the node whose client port is in `live`'s "connected to" or "reconnected to" line. */
function nodeOfLine(cluster: NatsCluster, line: string): number {
  const port = Number(line.match(/:(\d+)\s*$/)?.[1]);
  const i = cluster.servers.findIndex((s) => s.port === port);
  assert.ok(i >= 0, `no node on the port of "${line}"`);
  return i;
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

/** SIGTERMs `serve`, checks it flushed everything and exited 0; returns the acknowledged trades. */
async function stopServe(serve: RoleProcess): Promise<number> {
  serve.kill("SIGTERM");
  const exit = await serve.finish(LIVENESS_MS);
  assertCleanExit(exit, "serve");
  const text = output(exit);
  assert.match(text, /NATS publisher: flushed everything before closing/);
  const acked = acknowledged(text);
  assert.equal(acked, publishedTrades(text), `acked vs handed over: ${text}`);
  return acked;
}

/** Waits until `live` received `total` trades, stops it (SIGINT) and returns its summary. */
async function drainLive(
  live: RoleProcess,
  metricsPort: number,
  total: number,
) {
  await waitUntil(`live to receive ${total} trades`, async () => {
    const received = await liveReceived(metricsPort);
    assert.ok(received <= total, `live received ${received} > ${total}`);
    return received === total ? true : undefined;
  });
  live.kill("SIGINT");
  const exit = await live.finish(LIVENESS_MS);
  assertCleanExit(exit, "live");
  return summaryOf(exit);
}

// ---------------------------------------------------------------------------
// A. the stream leader dies

/** `serve --no-ipc` at RATE to every node of `cluster`, sampled through its metrics. */
function clusterServe(
  cluster: NatsCluster,
  config: RoleConfig,
): RoleProcess & { sampler: PublisherSampler; port: number } {
  const port = freePort();
  const serve = new RoleProcess("serve", config, [
    "--nats-url",
    cluster.urls.join(","),
    "--no-ipc",
    "--rate",
    String(RATE),
    "--metrics-port",
    String(port),
  ]);
  return Object.assign(serve, { sampler: new PublisherSampler(port), port });
}

gatedTest({
  name:
    "cluster of 3, stream R3: SIGKILL of the stream leader while serve publishes; every acknowledged trade stored once, live on another node gets all, the restarted node catches up",
  permissions: PERMISSIONS,
  async fn() {
    const started = performance.now();
    await using cluster = await startNatsCluster();
    await using config = await clusterConfig(cluster);
    const { stream } = config.nats;
    await using serve = clusterServe(cluster, config);
    const { sampler } = serve;
    try {
      await sampler.sentAbove(0, "serve's first acknowledged trades");
      const leader = await cluster.streamLeader(stream);
      const followers = [0, 1, 2].filter((i) => i !== leader);

      // live on the followers only: it is never attached to the leader
      const livePort = freePort();
      await using live = new RoleProcess("live", config, [
        "--nats-url",
        followers.map((i) => cluster.urls[i]).join(","),
        "--durable",
        `failover-${crypto.randomUUID().slice(0, 8)}`,
        "--deliver",
        "all",
        "--summary-json",
        "--metrics-port",
        String(livePort),
      ]);
      const [connected] = await live.waitFor(
        /NATS consumer: connected to (\S+)/,
      );
      sampler.livePort = livePort;
      const liveNode = nodeOfLine(cluster, connected[1]);
      assert.notEqual(liveNode, leader, "live is on the leader's node");
      assert.ok(
        (await connectionNames(cluster, liveNode)).includes(
          "marketbus-trading-core",
        ),
        `live's connection not in /connz of ${cluster.servers[liveNode].name}`,
      );
      await waitUntil(
        "live to receive trades",
        async () => await liveReceived(livePort) > 0 ? true : undefined,
      );

      // a few seconds of flow, then the leader crashes
      const before = sampler.last!.sent;
      await sampler.sentAbove(before + 2 * RATE, "2 s of flow");
      const killedAt = performance.now();
      await cluster.killNode(leader);
      const newLeader = await cluster.streamLeader(stream);
      const electionMs = Math.round(performance.now() - killedAt);
      assert.notEqual(newLeader, leader);
      const receivedAtKill = await liveReceived(livePort);

      // the publisher rides through; the consumer keeps receiving
      const afterKill = sampler.last!.sent;
      await sampler.sentAbove(
        afterKill + 3 * RATE,
        "3 s of acknowledged trades after the kill",
      );
      await waitUntil(
        "live to receive trades after the kill",
        async () =>
          await liveReceived(livePort) > receivedAtKill + RATE
            ? true
            : undefined,
      );

      // the dead node comes back and catches up
      await cluster.startNode(leader);
      await cluster.waitStreamCurrent(stream, leader);

      const total = await stopServe(serve);
      const figures = failover(sampler.samples, killedAt);
      const summary = await drainLive(live, livePort, total);
      assertComplete(summary, config.symbols, total);

      // the restarted node holds the same stream: make it the leader, so
      // the read-back below comes from its store
      const state = await cluster.waitStreamCurrent(stream, leader);
      await moveStreamLeader(cluster, stream, leader);
      const counts = await assertStreamExact(
        cluster.urls[leader],
        config.nats,
        config.symbols,
      );
      let sum = 0;
      for (const symbol of config.symbols) {
        const n = counts.get(symbol)!;
        assert.equal(summary.symbols[symbol].lastSeq, n, symbol);
        sum += n;
      }
      assert.equal(sum, total, "trades in the stream vs acknowledged");
      assert.equal(
        (await cluster.waitStreamCurrent(stream, leader)).messages,
        state.messages,
      );
      console.log(
        `leader failover (R3, ${RATE} trades/s, ${total} trades): publish stall ${figures.stallMs} ms, consumer stall ${figures.consumerStallMs} ms, election ${electionMs} ms, ` +
          `max queued ${figures.maxQueued} trades, retries ${figures.retries}, duplicates ${figures.duplicates}; ` +
          `test ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
    } finally {
      await sampler.stop();
    }
  },
});

// ---------------------------------------------------------------------------
// B. the consumer's server dies

gatedTest({
  name:
    "cluster of 3: live --nats with all three URLs fails over when its server is killed, and ends with every trade, no gap",
  permissions: PERMISSIONS,
  async fn() {
    await using cluster = await startNatsCluster();
    await using config = await clusterConfig(cluster);
    await using serve = clusterServe(cluster, config);
    const { sampler } = serve;
    try {
      await sampler.sentAbove(0, "serve's first acknowledged trades");
      const livePort = freePort();
      await using live = new RoleProcess("live", config, [
        "--nats-url",
        cluster.urls.join(","),
        "--durable",
        `follow-${crypto.randomUUID().slice(0, 8)}`,
        "--deliver",
        "all",
        "--summary-json",
        "--metrics-port",
        String(livePort),
      ]);
      const [connected] = await live.waitFor(
        /NATS consumer: connected to (\S+)/,
      );
      const node = nodeOfLine(cluster, connected[1]);
      assert.ok(
        (await connectionNames(cluster, node)).includes(
          "marketbus-trading-core",
        ),
        `live's connection not in /connz of ${cluster.servers[node].name}`,
      );
      await waitUntil(
        "live to receive trades",
        async () => await liveReceived(livePort) > RATE ? true : undefined,
      );

      await cluster.killNode(node);
      const [reconnected] = await live.waitFor(
        /NATS consumer: reconnected to (\S+)/,
      );
      assert.notEqual(nodeOfLine(cluster, reconnected[1]), node);
      const receivedAtReconnect = await liveReceived(livePort);
      await waitUntil(
        "live to keep receiving",
        async () =>
          await liveReceived(livePort) > receivedAtReconnect + RATE
            ? true
            : undefined,
      );
      // back to 3 nodes (the JetStream API needs a meta leader to read back)
      await cluster.startNode(node);
      await cluster.waitStreamCurrent(config.nats.stream, node);

      const total = await stopServe(serve);
      const summary = await drainLive(live, livePort, total);
      assertComplete(summary, config.symbols, total);
      const counts = await assertStreamExact(
        cluster.urls[node],
        config.nats,
        config.symbols,
      );
      assert.equal([...counts.values()].reduce((a, b) => a + b), total);
    } finally {
      await sampler.stop();
    }
  },
});
