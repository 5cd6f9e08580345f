// A 3-node JetStream cluster (real nats-server processes from the harness)
// under `serve --nats --no-ipc` publishing continuously into a stream of 3
// replicas, with a durable `live --nats` reading:
//
// A. The stream leader's server is killed (SIGKILL): the publisher rides
//    through the election, the consumer (on another node) keeps receiving;
//    the killed node is restarted and catches up. The stream, read back from
//    the restarted node once it leads, holds every acknowledged trade exactly
//    once, per symbol seqs 1..N; live received every one with no gap. Prints
//    one line of failover figures (the scenario is tests/cluster_failover.ts;
//    bench/nats_failover.ts measures it over rounds).
// B. The server the consumer (given all three URLs) is connected to is
//    killed: it reconnects to another node, keeps receiving, and ends with
//    every trade and no gap.

import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { decodeTrades } from "../common/wire/codec.ts";
import { parseTradeSubject } from "../common/wire/subjects.ts";
import {
  gatedTest,
  harnessPermissions,
  OWN_SERVER_REASON,
} from "./_permissions.ts";
import {
  assertComplete,
  LIVENESS_MS,
  ROLE_PERMISSIONS,
  type RoleNats,
  streamOf,
} from "./_ipc_roles.ts";
import { waitUntil } from "./_metrics_scrape.ts";
import {
  clusterConfig,
  clusterServe,
  drainLive,
  leaderFailover,
  liveReceived,
  liveReceivedAbove,
  nodeOfLine,
  type ServeExit,
  startClusterLive,
  stopServe,
} from "./cluster_failover.ts";
import { type NatsCluster, startNatsCluster } from "./nats_server.ts";

/** Spawning the roles (deno) and nats-server, temp files, loopback NATS. */
const PERMISSIONS: Deno.PermissionDescriptor[] = [
  ...ROLE_PERMISSIONS,
  ...harnessPermissions(),
];

/** Synthetic trades per second: continuous flow over the 3 default symbols. */
const RATE = 10_000;

// ---------------------------------------------------------------------------
// helpers

/** Checks `serve` flushed everything, dropped nothing, had no errors and every trade it handed over was acknowledged. */
function assertServeComplete(serve: ServeExit): void {
  assert.match(
    serve.output,
    /NATS publisher: flushed everything before closing/,
  );
  assert.deepEqual(
    [serve.queued, serve.dropped, serve.errors],
    [0, 0, 0],
    `queued, dropped, errors: ${serve.output}`,
  );
  assert.equal(
    serve.acknowledged,
    serve.published,
    `acked vs handed over: ${serve.output}`,
  );
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
    // Short pulls, as live uses: an ordered consumer's pull that dies with a
    // killed node otherwise stalls for nats.js's default 30 s.
    const messages = await consumer.consume({ expires: 3000 });
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

// ---------------------------------------------------------------------------
// A. the stream leader dies

gatedTest({
  name:
    "cluster of 3, stream R3: SIGKILL of the stream leader while serve publishes; every acknowledged trade stored once, live on another node gets all, the restarted node catches up",
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  async fn() {
    const started = performance.now();
    await using cluster = await startNatsCluster();
    await using config = await clusterConfig(cluster);
    const { stream } = config.nats;
    const run = await leaderFailover(cluster, config, { rate: RATE });
    const { leader, summary } = run;
    assertServeComplete(run.serve);
    const total = run.serve.acknowledged;
    assertComplete(summary, config.symbols, total);

    // the restarted node holds the same stream: make it the leader, so the
    // read-back below comes from its store
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
      assert.equal(streamOf(summary, symbol).lastSeq, n, symbol);
      sum += n;
    }
    assert.equal(sum, total, "trades in the stream vs acknowledged");
    assert.equal(
      (await cluster.waitStreamCurrent(stream, leader)).messages,
      state.messages,
    );
    console.log(
      `leader failover (R3, ${RATE} trades/s, ${total} trades): publish stall ${run.stallMs} ms, consumer stall ${run.consumerStallMs} ms, election ${run.electionMs} ms, ` +
        `max queued ${run.maxQueued} trades, retries ${run.retries}, duplicates ${run.duplicates}; ` +
        `restarted node: up ${run.restart.upMs} ms, rejoined ${run.restart.rejoinedMs} ms, caught up ${run.catchUpMs} ms (${run.behindMessages} messages behind); ` +
        `test ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  },
});

// ---------------------------------------------------------------------------
// B. the consumer's server dies

gatedTest({
  name:
    "cluster of 3: live --nats with all three URLs fails over when its server is killed, and ends with every trade, no gap",
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  async fn() {
    await using cluster = await startNatsCluster();
    await using config = await clusterConfig(cluster);
    await using serve = clusterServe(cluster, config, { rate: RATE });
    const { sampler } = serve;
    try {
      await sampler.sentAbove(0, "serve's first acknowledged trades");
      const live = await startClusterLive(cluster, config, {
        nodes: [0, 1, 2],
        durable: `follow-${crypto.randomUUID().slice(0, 8)}`,
      });
      await using _live = live.process;
      await liveReceivedAbove(live.port, RATE);

      await cluster.killNode(live.node);
      const [reconnected] = await live.process.waitFor(
        /NATS consumer: reconnected to (\S+)/,
      );
      assert.notEqual(nodeOfLine(cluster, reconnected[1]), live.node);
      const receivedAtReconnect = await liveReceived(live.port);
      await liveReceivedAbove(live.port, receivedAtReconnect + RATE);
      // back to 3 nodes (the JetStream API needs a meta leader to read back)
      await cluster.startNode(live.node);
      await cluster.waitStreamCurrent(config.nats.stream, live.node);

      const serveExit = await stopServe(serve);
      assertServeComplete(serveExit);
      const total = serveExit.acknowledged;
      const summary = await drainLive(live, total);
      assertComplete(summary, config.symbols, total);
      const counts = await assertStreamExact(
        cluster.urls[live.node],
        config.nats,
        config.symbols,
      );
      assert.equal([...counts.values()].reduce((a, b) => a + b), total);
    } finally {
      await sampler.stop();
    }
  },
});
