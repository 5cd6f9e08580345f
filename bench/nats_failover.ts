/**
 * Leader failover of a 3-node JetStream cluster (nats-server processes from
 * tests/nats_server.ts on loopback), the scenario of tests/cluster_failover.ts
 * per round: a stream of 3 replicas, `serve --nats --no-ipc --rate N` over 3
 * symbols to all nodes, a durable `live` on the two nodes that do not lead
 * the stream, 2 s of flow, SIGKILL of the leader's node, 3 s of flow after,
 * the node restarted until it caught up, serve stopped, live drained.
 *
 *   deno run --allow-read --allow-write --allow-run --allow-env --allow-ffi --allow-net=127.0.0.1,localhost bench/nats_failover.ts [--rounds 3] [--rate 10000]
 *
 * Prints, per round and as median (min – max): the publish stall (longest
 * time without a newly acknowledged trade), the election (kill until a node
 * reports itself leader), the consumer stall (longest time without a trade
 * received by live), the restarted node's return (rejoined the cluster,
 * caught up with the stream while serve publishes, and how many messages it
 * lacked), the most trades queued by serve, serve's publish
 * retries and duplicate acks, and whether every trade arrived (live lost 0,
 * gaps 0, received = serve's acknowledged).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startNatsCluster } from "../tests/nats_server.ts";
import {
  clusterConfig,
  leaderFailover,
  type LeaderFailoverRun,
} from "../tests/cluster_failover.ts";
import { formatCount } from "../common/runtime/format.ts";
import { spread } from "./_process.ts";

/** Did every acknowledged trade reach live, once, without a gap? */
function complete(run: LeaderFailoverRun): boolean {
  const { summary } = run;
  return summary.lost === 0 && summary.gaps === 0 &&
    summary.received === run.serve.acknowledged;
}

async function round(rate: number): Promise<LeaderFailoverRun> {
  await using cluster = await startNatsCluster();
  await using config = await clusterConfig(cluster);
  return await leaderFailover(cluster, config, { rate });
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rounds: { type: "string", default: "3" },
      rate: { type: "string", default: "10000" },
    },
  });
  const rounds = Number(values.rounds);
  const rate = Number(values.rate);
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new RangeError(
      `Invalid --rounds "${values.rounds}": expected a positive integer`,
    );
  }
  if (!Number.isInteger(rate) || rate < 1) {
    throw new RangeError(
      `Invalid --rate "${values.rate}": expected trades/s, a positive integer`,
    );
  }
  console.log(
    `NATS leader failover: 3-node cluster, stream R3, serve --rate ${rate}, 3 symbols, ${rounds} rounds`,
  );
  const runs: LeaderFailoverRun[] = [];
  for (let i = 0; i < rounds; i++) {
    const run = await round(rate);
    runs.push(run);
    console.log(
      `  round ${i + 1}: publish stall ${formatCount(run.stallMs)} ms, ` +
        `election ${formatCount(run.electionMs)} ms, consumer stall ${
          formatCount(run.consumerStallMs)
        } ms, max queued ${formatCount(run.maxQueued)} trades, ` +
        `retries ${run.retries}, duplicate acks ${run.duplicates}; ` +
        `restarted node rejoined ${
          formatCount(run.restart.rejoinedMs)
        } ms, caught up ${formatCount(run.catchUpMs)} ms (${
          formatCount(run.behindMessages)
        } messages behind); ` +
        `${formatCount(run.serve.acknowledged)} trades acknowledged, live ` +
        `received ${
          formatCount(run.summary.received)
        }, lost ${run.summary.lost}, gaps ${run.summary.gaps}: ` +
        `every trade arrived ${complete(run) ? "yes" : "NO"}`,
    );
  }
  const figure = (
    what: string,
    value: (run: LeaderFailoverRun) => number,
    unit = "",
  ) =>
    console.log(
      `median ${what}: ${
        spread(runs.map(value), (v) => `${formatCount(v)}${unit}`)
      }`,
    );
  figure("publish stall", (run) => run.stallMs, " ms");
  figure("election", (run) => run.electionMs, " ms");
  figure("consumer stall", (run) => run.consumerStallMs, " ms");
  figure("restarted node rejoined", (run) => run.restart.rejoinedMs, " ms");
  figure("restarted node caught up", (run) => run.catchUpMs, " ms");
  figure("messages the restarted node lacked", (run) => run.behindMessages);
  figure("max queued trades", (run) => run.maxQueued);
  figure("retries", (run) => run.retries);
  figure("duplicate acks", (run) => run.duplicates);
  console.log(
    `every trade arrived: ${runs.filter(complete).length} of ${rounds} rounds`,
  );
}
