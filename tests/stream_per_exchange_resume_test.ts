// `stream_per_exchange = true` over every exchange, against a real
// nats-server: where each per-exchange durable starts is decided per durable
// (a stream new to a durable that has run before is read from its start), a
// durable made that way restarts, no trade is lost or read twice across
// restarts; a user who may not list streams is told so (exit 1); a start
// sequence is refused (exit 2); an edited stream is logged as not read; one
// part failing stops live (exit 1).

import assert from "node:assert/strict";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { AckPolicy, jetstreamManager } from "@nats-io/jetstream";
import { gatedTest } from "./_permissions.ts";
import { output, roleConfig, RoleProcess } from "./_ipc_roles.ts";
import { PROJECT_ROOT, startNatsServer } from "./nats_server.ts";
import {
  dataFile,
  liveArgs,
  liveSeqs,
  PERMISSIONS,
  publish,
  range,
  readSeqs,
  SYMBOL,
} from "./_stream_per_exchange.ts";

/** Waits until the durables `{durable}_{EXCHANGE}` of `exchanges` exist. */
async function durablesExist(
  url: string,
  stream: string,
  durable: string,
  exchanges = ["AUDX", "AUDY"],
): Promise<void> {
  const nc = await connect({ servers: url, noAsyncTraces: true });
  try {
    const jsm = await jetstreamManager(nc);
    for (const exchange of exchanges) {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const info = await jsm.consumers
          .info(`${stream}_${exchange}`, `${durable}_${exchange}`)
          .catch(() => undefined);
        if (info !== undefined) break;
        assert.ok(Date.now() < deadline, `no durable ${durable}_${exchange}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } finally {
    await nc.close();
  }
}

gatedTest({
  name:
    "stream_per_exchange: a durable (deliver new) that read a stream created after it started restarts, and reads from its start a stream created while it was down; nothing lost or read twice",
  permissions: PERMISSIONS,
  async fn() {
    await using server = await startNatsServer();
    await using config = await roleConfig({
      symbols: [SYMBOL],
      nats: { url: server.url, streamPerExchange: true },
    });
    const durable = ["--durable", "rs", "--deliver", "new"];
    // 1. Started before any stream: audx's durable is created at `all`.
    const recording = await dataFile("first.ndjson");
    try {
      await using live = new RoleProcess(
        "live",
        config,
        liveArgs(recording, [...durable, "--max-trades", "20"]),
      );
      await live.waitFor(/no stream \S+ yet \(stream_per_exchange\)/);
      await publish(config, { audx: 20 });
      const exit = await live.finish(30_000);
      assert.equal(exit.code, 0, output(exit));
      assert.deepEqual((await readSeqs(recording)).audx, range(1, 20));
    } finally {
      await Deno.remove(join(PROJECT_ROOT, recording)).catch(() => {});
    }
    // 2. While it is down: audx goes on, audy's stream appears.
    await publish(config, { audx: 30, audy: 50 });
    // The durable at `all` resumes (not refused for `new`); audy's, new to
    // a durable that ran before, starts at the stream's start.
    const second = await liveSeqs(config, [...durable, "--max-trades", "80"]);
    assert.deepEqual(second.seqs.audx, range(1, 30), output(second.exit));
    assert.deepEqual(second.seqs.audy, range(1, 50));
    assert.match(
      output(second.exit),
      /durable "rs_AUDY" is created at deliver all \(stream_per_exchange\): stream \S+_AUDY was created after this durable set started, \S+ \(when "rs_AUDX" was created\), so it appeared while live was down; if "rs_AUDY" was removed instead, the trades it acknowledged are delivered again/,
    );
    // 3. Both resume where they acknowledged: nothing twice.
    await publish(config, { audx: 5, audy: 7 });
    const third = await liveSeqs(config, [...durable, "--max-trades", "12"]);
    assert.deepEqual(third.seqs.audx, range(1, 5), output(third.exit));
    assert.deepEqual(third.seqs.audy, range(1, 7));
  },
});

gatedTest({
  name:
    "stream_per_exchange: a durable (deliver new) the rule made at all on every exchange resumes on one exchange (--exchange audx), not refused",
  permissions: PERMISSIONS,
  async fn() {
    await using server = await startNatsServer();
    await using config = await roleConfig({
      symbols: [SYMBOL],
      nats: { url: server.url, streamPerExchange: true },
    });
    const durable = ["--durable", "rs", "--deliver", "new"];
    const recording = await dataFile("narrowed.ndjson");
    try {
      // Started before any stream: rs_AUDX is created at `all`.
      await using live = new RoleProcess(
        "live",
        config,
        liveArgs(recording, [...durable, "--max-trades", "10"]),
      );
      await live.waitFor(/no stream \S+ yet \(stream_per_exchange\)/);
      await publish(config, { audx: 10 });
      const exit = await live.finish(30_000);
      assert.equal(exit.code, 0, output(exit));
    } finally {
      await Deno.remove(join(PROJECT_ROOT, recording)).catch(() => {});
    }
    await publish(config, { audx: 5 });
    const narrowed = await liveSeqs(
      config,
      [...durable, "--max-trades", "5"],
      "audx",
    );
    assert.deepEqual(narrowed.seqs.audx, range(1, 5), output(narrowed.exit));
  },
});

gatedTest({
  name:
    "stream_per_exchange: a stream that existed when the durable set started but has no durable of it is read from the set's start (by_start_time, WARN), and that durable resumes",
  permissions: PERMISSIONS,
  async fn() {
    await using server = await startNatsServer();
    await using config = await roleConfig({
      symbols: [SYMBOL],
      nats: { url: server.url, streamPerExchange: true },
    });
    const { stream } = config.nats!;
    const durable = ["--durable", "rb", "--deliver", "new"];
    // Before the set starts: audy's stream holds 10 trades.
    await publish(config, { audy: 10, audx: 1 });
    // The set starts on audx only (rb_AUDX created at `new`).
    const recording = await dataFile("one.ndjson");
    try {
      await using live = new RoleProcess(
        "live",
        config,
        liveArgs(recording, [...durable, "--max-trades", "2"], "audx"),
      );
      await durablesExist(server.url, stream, "rb", ["AUDX"]);
      await publish(config, { audx: 2 });
      const exit = await live.finish(30_000);
      assert.equal(exit.code, 0, output(exit));
    } finally {
      await Deno.remove(join(PROJECT_ROOT, recording)).catch(() => {});
    }
    await publish(config, { audx: 3, audy: 4 });
    // Every exchange: audy's 4 trades after the set's start, not its 10
    // before (deliver all would give 14).
    const wide = await liveSeqs(config, [...durable, "--max-trades", "7"]);
    const text = output(wide.exit);
    assert.deepEqual(wide.seqs.audx, range(1, 3), text);
    assert.deepEqual(wide.seqs.audy, range(1, 4), text);
    assert.match(
      text,
      new RegExp(
        `durable "rb_AUDY" is created at deliver by_start_time \\S+ \\(when "rb_AUDX" was created\\) \\(stream_per_exchange\\): stream ${stream}_AUDY existed then`,
      ),
    );
    // rb_AUDY, at by_start_time while new is configured, resumes.
    await publish(config, { audy: 2 });
    const again = await liveSeqs(config, [...durable, "--max-trades", "2"]);
    assert.deepEqual(again.seqs.audy, range(1, 2), output(again.exit));
    assert.deepEqual(again.seqs.audx, []);
  },
});

gatedTest({
  name:
    "stream_per_exchange: a first run of a durable (deliver new) over streams that exist skips what they hold",
  permissions: PERMISSIONS,
  async fn() {
    await using server = await startNatsServer();
    await using config = await roleConfig({
      symbols: [SYMBOL],
      nats: { url: server.url, streamPerExchange: true },
    });
    await publish(config, { audx: 10, audy: 10 });
    const recording = await dataFile("fresh.ndjson");
    try {
      await using live = new RoleProcess(
        "live",
        config,
        liveArgs(recording, ["--durable", "fresh", "--max-trades", "6"]),
      );
      await durablesExist(server.url, config.nats!.stream, "fresh");
      await publish(config, { audx: 3, audy: 3 });
      const exit = await live.finish(30_000);
      assert.equal(exit.code, 0, output(exit));
      const seqs = await readSeqs(recording);
      assert.deepEqual([seqs.audx, seqs.audy], [range(1, 3), range(1, 3)]);
    } finally {
      await Deno.remove(join(PROJECT_ROOT, recording)).catch(() => {});
    }
  },
});

gatedTest({
  name:
    "stream_per_exchange: live over every exchange as a user who may not list streams exits 1 naming $JS.API.STREAM.NAMES, without a stack trace",
  permissions: PERMISSIONS,
  async fn() {
    await using server = await startNatsServer({
      config: {
        authorization: {
          users: [{
            user: "tc",
            password: "tc-pass-5a1c",
            permissions: { publish: { deny: ["$JS.API.STREAM.NAMES"] } },
          }],
        },
      },
    });
    await using config = await roleConfig({
      symbols: [SYMBOL],
      nats: { url: server.url, streamPerExchange: true },
    });
    await Deno.writeTextFile(
      config.path,
      `\n[data_source.nats.connection.auth]\nuser = "tc"\npassword = "tc-pass-5a1c"\n`,
      { append: true },
    );
    await using live = new RoleProcess("live", config, [
      "--nats",
      "--exchange",
      "*",
      "--symbols",
      SYMBOL,
    ]);
    const exit = await live.finish(20_000);
    const text = output(exit);
    assert.ok(!exit.timedOut, `live still ran:\n${text}`);
    assert.equal(exit.code, 1, text);
    assert.match(
      exit.stderr,
      /NATS refused publish to "\$JS\.API\.STREAM\.NAMES": the user lacks that permission/,
    );
    assert.doesNotMatch(text, /^\s+at /m);
  },
});

gatedTest({
  name:
    "stream_per_exchange: live over every exchange with a start sequence is refused in one line naming the key (exit 2)",
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
      "--deliver",
      "by_start_sequence",
      "--start-sequence",
      "5",
    ]);
    const exit = await live.finish(20_000);
    const text = output(exit);
    assert.equal(exit.code, 2, text);
    assert.match(
      text,
      /data_source\.nats\.consumer\.start_sequence.*: cannot start every exchange's stream/,
    );
    assert.doesNotMatch(text, /^\s+at /m);
  },
});

gatedTest({
  name:
    "stream_per_exchange: a stream {stream}_{EXCHANGE} whose subjects are not exactly its exchange's is logged once as not read; the others are read",
  permissions: PERMISSIONS,
  async fn() {
    await using server = await startNatsServer();
    await using config = await roleConfig({
      symbols: [SYMBOL],
      nats: { url: server.url, streamPerExchange: true },
    });
    const { stream, subjectPrefix } = config.nats!;
    await publish(config, { audx: 4 });
    const nc = await connect({ servers: server.url, noAsyncTraces: true });
    try {
      await (await jetstreamManager(nc)).streams.add({
        name: `${stream}_AUDY`,
        subjects: [`${subjectPrefix}.audy.>`, "elsewhere.>"],
      });
    } finally {
      await nc.close();
    }
    const recording = await dataFile("edited.ndjson");
    try {
      await using live = new RoleProcess(
        "live",
        config,
        liveArgs(recording, ["--deliver", "all"]),
      );
      await live.waitFor(
        new RegExp(
          `stream ${stream}_AUDY is not read \\(stream_per_exchange\\): its subjects \\["${subjectPrefix}\\.audy\\.>","elsewhere\\.>"\\]`,
        ),
      );
      // Two more looks (every 2 s): no second line.
      await new Promise((resolve) => setTimeout(resolve, 4500));
      live.kill("SIGINT");
      const exit = await live.finish(20_000);
      assert.equal(exit.code, 0, output(exit));
      assert.equal(output(exit).match(/AUDY is not read/g)?.length, 1);
      assert.deepEqual((await readSeqs(recording)).audx, range(1, 4));
    } finally {
      await Deno.remove(join(PROJECT_ROOT, recording)).catch(() => {});
    }
  },
});

gatedTest({
  name:
    "stream_per_exchange: one exchange stream's consumer failing (a durable at odds) stops the others; live exits 1 in one line",
  permissions: PERMISSIONS,
  async fn() {
    await using server = await startNatsServer();
    await using config = await roleConfig({
      symbols: [SYMBOL],
      nats: { url: server.url, streamPerExchange: true },
    });
    const { stream } = config.nats!;
    await publish(config, { audx: 3, audy: 3 });
    const nc = await connect({ servers: server.url, noAsyncTraces: true });
    try {
      await (await jetstreamManager(nc)).consumers.add(`${stream}_AUDY`, {
        durable_name: "pf_AUDY",
        ack_policy: AckPolicy.Explicit,
      });
    } finally {
      await nc.close();
    }
    await using live = new RoleProcess("live", config, [
      "--nats",
      "--exchange",
      "*",
      "--symbols",
      SYMBOL,
      "--durable",
      "pf",
    ]);
    const exit = await live.finish(20_000);
    const text = output(exit);
    assert.ok(!exit.timedOut, `live still ran:\n${text}`);
    assert.equal(exit.code, 1, text);
    assert.match(
      exit.stderr,
      new RegExp(
        `Durable consumer "pf_AUDY" on stream "${stream}_AUDY" exists with ack_policy "explicit", configured "all"`,
      ),
    );
    assert.doesNotMatch(text, /^\s+at /m);
  },
});
