/**
 * The NATS part of bench/peers.ts: marketbus vs Go's `nats bench` on one
 * nats-server, interleaved round by round, each measurement on a fresh stream
 * (deleted afterwards).
 *
 * @module
 */

import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { formatRate } from "../common/runtime/format.ts";
import { startNatsServer } from "../tests/nats_server.ts";
import { round as publishRound } from "./nats_publish.ts";
import { fill, round as consumeRound } from "./nats_consume.ts";
import {
  findOrInstallNatscli,
  natsBench,
  NATSCLI_VERSION,
} from "./_natscli.ts";
import type { PeerRow, PeersRun } from "./peers.ts";
import { interleave, roundsAndLoad } from "./_peers_shared.ts";

/** Trades per message in the batched modes (64 × 48 B = 3072 B). */
const BATCH = 64;

/** Message counts per measurement, the same for both sides. */
interface MessageCounts {
  publish48: number;
  publishBatched: number;
  consume48: number;
  consume3k: number;
}

/** What the NATS scenarios need: the server, natscli and the counts. */
interface NatsContext {
  run: PeersRun;
  url: string;
  /** Path of the `nats` binary; `undefined`: the Go side is skipped. */
  nats: string | undefined;
  msgs: MessageCounts;
}

/** One measurement: the table row and how each side runs round `i`. */
interface Scenario {
  row: PeerRow;
  ours(round: number): Promise<number>;
  go(round: number): Promise<number>;
}

/** Message counts for the run (a tenth with `--quick`). */
function messageCounts(quick: boolean): MessageCounts {
  const scale = quick ? 0.1 : 1;
  return {
    publish48: Math.round(300_000 * scale),
    publishBatched: Math.round(78_125 * scale), // 5 M trades, as bench/nats_publish.ts
    consume48: Math.round(300_000 * scale),
    consume3k: Math.round(46_875 * scale), // 3 M trades, as bench/nats_consume.ts
  };
}

/** Deletes the stream `stream` on the server at `url`. */
async function deleteStream(url: string, stream: string): Promise<void> {
  const nc = await connect({ servers: url, noAsyncTraces: true });
  try {
    await (await jetstreamManager(nc)).streams.delete(stream);
  } finally {
    await nc.close();
  }
}

/** Runs `run`, then deletes the stream `name` (errors ignored). */
async function withStream<T>(
  url: string,
  name: string,
  run: () => Promise<T>,
): Promise<T> {
  try {
    return await run();
  } finally {
    await deleteStream(url, name).catch(() => {});
  }
}

/** Go `js pub async` into a new stream on a unique subject; msgs/s. */
function goPublish(
  ctx: NatsContext,
  name: string,
  size: number,
  msgs: number,
  dedup: boolean,
): Promise<number> {
  return natsBench(ctx.nats!, ctx.url, [
    "js",
    "pub",
    "async",
    `peers.${name.toLowerCase()}`,
    "--size",
    String(size),
    "--msgs",
    String(msgs),
    "--batch",
    "256",
    "--create",
    "--storage",
    "file",
    "--replicas",
    "1",
    "--stream",
    name,
    ...(dedup ? ["--dedup"] : []),
  ], ctx.run.signal);
}

/** Go fills the stream `name`, then `js consume --acks all`; msgs/s. */
async function goConsume(
  ctx: NatsContext,
  name: string,
  size: number,
  msgs: number,
): Promise<number> {
  await goPublish(ctx, name, size, msgs, false);
  return await natsBench(ctx.nats!, ctx.url, [
    "js",
    "consume",
    "--stream",
    name,
    "--msgs",
    String(msgs),
    "--size",
    String(size),
    "--acks",
    "all",
    "--batch",
    "1000",
  ], ctx.run.signal);
}

/** The Go side's figures: empty, or `undefined` without natscli. */
function goRow(ctx: NatsContext): number[] | undefined {
  return ctx.nats ? [] : undefined;
}

/** JetStream publish, 1 trade (48 B) per message, Msg-Id on. */
function publish48(ctx: NatsContext): Scenario {
  return {
    row: {
      scenario: "JetStream publish, 1 trade (48 B) per message, Msg-Id on",
      unit: "trades/s = msgs/s",
      ours: [],
      peer: "Go `js pub async --dedup`",
      theirs: goRow(ctx),
      goal: 1,
    },
    ours: async (i) =>
      (await publishRound(ctx.url, {
        batchMaxTrades: 1,
        trades: ctx.msgs.publish48,
        rate: 0,
      }, 1000 + i)).rate,
    go: (i) =>
      withStream(
        ctx.url,
        `PEERS_GO_PUB48_${i}`,
        () =>
          goPublish(ctx, `PEERS_GO_PUB48_${i}`, 48, ctx.msgs.publish48, true),
      ),
  };
}

/** JetStream publish, {@linkcode BATCH} trades per message vs Go's msgs/s × BATCH. */
function publishBatched(ctx: NatsContext): Scenario {
  return {
    row: {
      scenario: `JetStream publish, ${BATCH} trades (${
        BATCH * 48
      } B) per message, Msg-Id on`,
      unit: `trades/s (Go: msgs/s × ${BATCH})`,
      ours: [],
      peer: `Go \`js pub async --size ${BATCH * 48} --dedup\` × ${BATCH}`,
      theirs: goRow(ctx),
      goal: 1,
    },
    ours: async (i) =>
      (await publishRound(ctx.url, {
        batchMaxTrades: BATCH,
        trades: ctx.msgs.publishBatched * BATCH,
        rate: 0,
      }, 1000 + i)).rate,
    go: (i) =>
      withStream(
        ctx.url,
        `PEERS_GO_PUB3K_${i}`,
        async () =>
          BATCH * await goPublish(
            ctx,
            `PEERS_GO_PUB3K_${i}`,
            BATCH * 48,
            ctx.msgs.publishBatched,
            true,
          ),
      ),
  };
}

/** JetStream durable consume of `perMessage` trades per message, in msgs/s. */
function consume(ctx: NatsContext, perMessage: number): Scenario {
  const msgs = perMessage === 1 ? ctx.msgs.consume48 : ctx.msgs.consume3k;
  const size = perMessage * 48;
  return {
    row: {
      scenario: `JetStream durable consume, ${size} B messages`,
      unit: "msgs/s",
      ours: [],
      peer: "Go `js consume --acks all`",
      theirs: goRow(ctx),
      goal: 1,
    },
    ours: (i) =>
      withStream(ctx.url, `PEERS_C${perMessage}_${i}`, async () => {
        const stream = `PEERS_C${perMessage}_${i}`;
        await fill(ctx.url, msgs * perMessage, perMessage, stream);
        const trades = await consumeRound(
          ctx.url,
          msgs * perMessage,
          `peers-${i}`,
          stream,
        );
        return trades / perMessage;
      }),
    go: (i) =>
      withStream(
        ctx.url,
        `PEERS_GO_C${perMessage}_${i}`,
        () => goConsume(ctx, `PEERS_GO_C${perMessage}_${i}`, size, msgs),
      ),
  };
}

/** Round `i` of one scenario, both sides interleaved; prints the figures. */
async function scenarioRound(scenario: Scenario, i: number): Promise<void> {
  const { row, ours, go } = scenario;
  const shown = await interleave(i, [
    async () => {
      const v = await ours(i);
      row.ours.push(v);
      return `marketbus ${formatRate(v)}`;
    },
    async () => {
      if (!row.theirs) return "Go skipped";
      const v = await go(i);
      row.theirs.push(v);
      return `Go ${formatRate(v)}`;
    },
  ]);
  console.log(
    `  round ${i + 1}, ${row.scenario}: ${shown.join(", ")} (${row.unit})`,
  );
}

/** The header line: server, Deno, natscli, rounds and load. */
function natsHeader(
  url: string,
  natscli: { version: string; path: string } | undefined,
  run: PeersRun,
): string {
  return `nats-server ${url} (file storage, R1); Deno ${Deno.version.deno}; ${
    natscli
      ? `natscli ${natscli.version}${
        natscli.version === NATSCLI_VERSION
          ? ""
          : ` (not the pinned ${NATSCLI_VERSION})`
      } at ${natscli.path}`
      : "no natscli"
  }; ${roundsAndLoad(run)}`;
}

/** The NATS rows: ours vs Go `nats bench` on one nats-server. */
export async function natsRows(run: PeersRun): Promise<PeerRow[]> {
  const natscli = await findOrInstallNatscli(run.signal);
  const server = await startNatsServer();
  run.server = server;
  const ctx: NatsContext = {
    run,
    url: server.url,
    nats: natscli?.path,
    msgs: messageCounts(run.quick),
  };
  console.log(natsHeader(ctx.url, natscli, run));

  const scenarios = [
    publish48(ctx),
    publishBatched(ctx),
    ...[1, BATCH].map((perMessage) => consume(ctx, perMessage)),
  ];
  for (let i = 0; i < run.rounds; i++) {
    for (const scenario of scenarios) await scenarioRound(scenario, i);
  }

  await server.stop();
  run.server = undefined;
  return scenarios.map((s) => s.row);
}
