// `stream_per_exchange = true`, as real processes against a real
// nats-server: two exchanges publish into their own streams
// ({stream}_{EXCHANGE}, subjects {prefix}.{exchange}.>), a live consumer over
// the cross-exchange wildcard reads both streams (one consumer each, merged)
// and gets every trade exactly once, a durable resumes each stream where it
// acknowledged, the snapshot reads the right stream, and a per-exchange name
// that is no JetStream name is refused in one line.

import assert from "node:assert/strict";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { gatedTest } from "./_permissions.ts";
import {
  assertCleanExit,
  output,
  roleConfig,
  RoleProcess,
  summaryOf,
} from "./_ipc_roles.ts";
import { PROJECT_ROOT, startNatsServer } from "./nats_server.ts";
import { natsSnapshot } from "../common/nats/snapshot.ts";
import { TradeView } from "../common/wire/trade_view.ts";
import {
  dataFile,
  EXCHANGES,
  liveSeqs,
  PERMISSIONS,
  publish,
  range,
  readSeqs,
  SYMBOL,
} from "./_stream_per_exchange.ts";

gatedTest({
  name:
    "stream_per_exchange: two exchanges, two streams {stream}_{EXCHANGE}; live over market.*.AUDA.trades gets every trade once, a durable resumes per stream, the snapshot reads both",
  permissions: PERMISSIONS,
  async fn() {
    await using server = await startNatsServer();
    await using config = await roleConfig({
      symbols: [SYMBOL],
      nats: { url: server.url, streamPerExchange: true },
    });
    const { stream, subjectPrefix } = config.nats!;
    await publish(config, { audx: 300, audy: 200 });

    // Two streams with their own exchange's subjects, and no shared one.
    const nc = await connect({ servers: server.url, noAsyncTraces: true });
    try {
      const jsm = await jetstreamManager(nc);
      for (const exchange of EXCHANGES) {
        const info = await jsm.streams.info(
          `${stream}_${exchange.toUpperCase()}`,
        );
        assert.deepEqual(info.config.subjects, [
          `${subjectPrefix}.${exchange}.>`,
        ]);
        assert.equal(info.state.messages > 0, true);
      }
      await assert.rejects(jsm.streams.info(stream), /stream not found/);
    } finally {
      await nc.close();
    }

    // An ordered consumer per stream, merged: each trade once, in order.
    const ordered = await liveSeqs(config, [
      "--deliver",
      "all",
      "--max-trades",
      "500",
    ]);
    assert.deepEqual(ordered.seqs.audx, range(1, 300), output(ordered.exit));
    assert.deepEqual(ordered.seqs.audy, range(1, 200));
    const summary = summaryOf(ordered.exit);
    assert.deepEqual([summary.received, summary.gaps, summary.lost], [
      500,
      0,
      0,
    ]);

    // A durable ({durable}_{EXCHANGE} on each stream) resumes each stream
    // where it acknowledged.
    const durable = ["--durable", "spx", "--deliver", "all"];
    const first = await liveSeqs(config, [...durable, "--max-trades", "500"]);
    assert.deepEqual(first.seqs.audx, range(1, 300));
    assert.deepEqual(first.seqs.audy, range(1, 200));
    await publish(config, { audx: 40, audy: 60 });
    const second = await liveSeqs(config, [...durable, "--max-trades", "100"]);
    // (each serve run numbers its trades from 1 again)
    assert.deepEqual(second.seqs.audx, range(1, 40), output(second.exit));
    assert.deepEqual(second.seqs.audy, range(1, 60));

    const nc2 = await connect({ servers: server.url, noAsyncTraces: true });
    try {
      const jsm = await jetstreamManager(nc2);
      for (const exchange of EXCHANGES) {
        const name = `spx_${exchange.toUpperCase()}`;
        const info = await jsm.consumers.info(
          `${stream}_${exchange.toUpperCase()}`,
          name,
        );
        assert.equal(info.name, name);
      }
    } finally {
      await nc2.close();
    }

    // The snapshot: the last trade of each exchange, from its own stream.
    const snapshot = async (exchange: string | undefined) => {
      const load = natsSnapshot({
        connection: {
          servers: [server.url],
          name: "stream-per-exchange-test",
          auth: { kind: "none" },
          tls: undefined,
          connectTimeoutMs: 2000,
        },
        streamName: stream,
        streamPerExchange: true,
        subjectPrefix,
        exchange,
        log: { debug() {}, info() {}, warn() {}, error() {} },
      });
      const view = new TradeView();
      return (await load([SYMBOL], undefined)).map((found) => {
        view.wrap(found.record);
        return [found.origin.exchange, found.origin.symbol, view.seq];
      });
    };
    assert.deepEqual(await snapshot(undefined), [
      ["audx", SYMBOL, 40],
      ["audy", SYMBOL, 60],
    ]);
    assert.deepEqual(await snapshot("audy"), [["audy", SYMBOL, 60]]);
  },
});

gatedTest({
  name:
    "stream_per_exchange: live over every exchange started before any stream exists finds each stream as serve creates it and reads it from its start (deliver new)",
  permissions: PERMISSIONS,
  async fn() {
    await using server = await startNatsServer();
    await using config = await roleConfig({
      symbols: [SYMBOL],
      nats: { url: server.url, streamPerExchange: true },
    });
    const recording = await dataFile("early.ndjson");
    try {
      await using live = new RoleProcess("live", config, [
        "--nats",
        "--exchange",
        "*",
        "--symbols",
        SYMBOL,
        "--deliver",
        "new",
        "--summary-json",
        "--max-trades",
        "500",
        "--record",
        recording,
      ]);
      // Its first look found no stream: both are created after it started.
      await live.waitFor(/no stream \S+ yet \(stream_per_exchange\)/);
      await publish(config, { audx: 300, audy: 200 });
      const exit = await live.finish();
      assertCleanExit(exit, "live started first");
      const seqs = await readSeqs(recording);
      assert.deepEqual(seqs.audx, range(1, 300), output(exit));
      assert.deepEqual(seqs.audy, range(1, 200));
    } finally {
      await Deno.remove(join(PROJECT_ROOT, recording)).catch(() => {});
    }
  },
});

gatedTest({
  name:
    "stream_per_exchange: live over every exchange waiting for a first stream stops at the first SIGINT, exit 0",
  permissions: PERMISSIONS,
  async fn() {
    await using server = await startNatsServer();
    await using config = await roleConfig({
      symbols: [SYMBOL],
      nats: { url: server.url, streamPerExchange: true },
    });
    await using live = new RoleProcess("live", config, [
      "--nats",
      "--exchange",
      "*",
      "--durable",
      "waiting",
    ]);
    await live.waitFor(/no stream \S+ yet \(stream_per_exchange\)/);
    const sent = live.kill("SIGINT");
    const exit = await live.finish();
    assertCleanExit(exit, "live waiting for a stream");
    assert.ok(performance.now() - sent < 5000, output(exit));
  },
});

gatedTest({
  name:
    "stream_per_exchange: an exchange whose {stream}_{EXCHANGE} is no JetStream name is refused in one line (exit 2)",
  permissions: PERMISSIONS,
  async fn() {
    await using server = await startNatsServer();
    await using config = await roleConfig({
      symbols: [SYMBOL],
      nats: { url: server.url, streamPerExchange: true },
    });
    for (const role of ["serve", "live"] as const) {
      await using process = new RoleProcess(role, config, [
        "--nats",
        ...(role === "serve" ? ["--no-ipc"] : []),
        "--exchange",
        "aud/x",
      ]);
      const exit = await process.finish();
      assert.equal(exit.code, 2, output(exit));
      const text = output(exit);
      assert.match(
        text,
        /stream_per_exchange.*"MBT_[0-9A-F]+_AUD\/X" \(\{stream_name\}_\{EXCHANGE\}\) is not a valid JetStream name/i,
      );
      assert.doesNotMatch(text, /^\s+at /m);
    }
  },
});
