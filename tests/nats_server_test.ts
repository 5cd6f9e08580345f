import assert from "node:assert/strict";
import { dirname } from "node:path";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, StorageType } from "@nats-io/jetstream";
import {
  findNatsServer,
  NatsServerStartError,
  PROJECT_ROOT,
  startNatsCluster,
  startNatsServer,
} from "./nats_server.ts";
import type { NatsServer } from "./nats_server.ts";
import {
  gatedTest,
  harnessPermissions,
  natsTest,
  permissionFlags,
} from "./_permissions.ts";

const encoder = new TextEncoder();
const harness = harnessPermissions();

function connectTo(url: string): Promise<NatsConnection> {
  return connect({
    servers: url,
    noAsyncTraces: true,
    ignoreClusterUpdates: true,
  });
}

/** Asserts the server process is gone and its temp dir removed. */
async function assertCleanedUp(server: NatsServer): Promise<void> {
  assert.equal(server.running, false);
  assert.ok(server.exitStatus, "the process exit status was awaited");
  await assert.rejects(Deno.stat(server.dir), Deno.errors.NotFound);
  // exitStatus means the process was reaped; double-check where Deno.kill is
  // allowed (it needs unscoped --allow-run). SIGCONT is harmless to a reused pid.
  if (
    Deno.build.os !== "windows" &&
    Deno.permissions.querySync({ name: "run" }).state === "granted"
  ) {
    assert.throws(() => Deno.kill(server.pid, "SIGCONT"), Deno.errors.NotFound);
  }
}

Deno.test("permissionFlags merges scoped flags per kind", () => {
  assert.deepEqual(
    permissionFlags([
      { name: "env", variable: "NATS_SERVER_BIN" },
      { name: "run" },
      { name: "env", variable: "PATH" },
      { name: "net", host: "127.0.0.1" },
      { name: "read", path: "/a" },
      { name: "read" },
    ]),
    [
      "--allow-env=NATS_SERVER_BIN,PATH",
      "--allow-run",
      "--allow-net=127.0.0.1",
      "--allow-read",
    ],
  );
  assert.deepEqual(permissionFlags([]), []);
});

gatedTest({
  name: "findNatsServer: a set but missing NATS_SERVER_BIN throws naming it",
  permissions: [{ name: "read" }],
  fn() {
    const missing = "/nonexistent/marketbus/nats-server";
    assert.throws(
      () =>
        findNatsServer({
          env: (k) => k === "NATS_SERVER_BIN" ? missing : undefined,
        }),
      (err: Error) => {
        assert.match(err.message, /NATS_SERVER_BIN is set to/);
        assert.ok(err.message.includes(missing), err.message);
        assert.ok(err.message.includes("deno task nats:install"));
        return true;
      },
    );
    // an existing but non-executable file is rejected too
    const notExecutable = new URL(import.meta.url).pathname;
    assert.throws(
      () =>
        findNatsServer({
          env: (k) => k === "NATS_SERVER_BIN" ? notExecutable : undefined,
        }),
      /not an executable file/,
    );
  },
});

gatedTest({
  name: "findNatsServer: says how to get nats-server when none is found",
  permissions: [{ name: "read" }],
  fn() {
    assert.throws(
      () =>
        findNatsServer({
          env: () => undefined,
          projectRoot: "/nonexistent/marketbus",
        }),
      (err: Error) => {
        assert.match(err.message, /^nats-server not found/);
        assert.ok(err.message.includes("deno task nats:install"));
        assert.ok(err.message.includes("scripts/install_nats_server.sh"));
        assert.ok(err.message.includes("NATS_SERVER_BIN"));
        assert.ok(err.message.includes("/nonexistent/marketbus/.tools/bin"));
        return true;
      },
    );
  },
});

gatedTest({
  name: "findNatsServer: walks PATH and resolves .tools/bin",
  permissions: harness,
  fn() {
    const bin = findNatsServer();
    const env = (k: string) =>
      k === "PATH" ? `/nonexistent:${dirname(bin)}` : undefined;
    assert.equal(findNatsServer({ env, projectRoot: "/nonexistent" }), bin);
    // with nothing on PATH the project-local copy is used, if installed
    let local: string | undefined;
    try {
      local = findNatsServer({ env: () => undefined });
    } catch {
      // not installed
    }
    if (local) assert.equal(local, `${PROJECT_ROOT}.tools/bin/nats-server`);
  },
});

gatedTest({
  name:
    "startNatsServer: JetStream round trip, then stop() ends the process and removes the temp dir",
  permissions: harness,
  async fn() {
    const server = await startNatsServer({ config: { max_payload: 65536 } });
    try {
      assert.match(server.url, /^nats:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(server.url, `nats://127.0.0.1:${server.port}`);
      assert.equal(server.monitorUrl, `http://127.0.0.1:${server.httpPort}`);
      assert.ok(server.storeDir?.startsWith(server.dir));
      assert.ok(server.running);

      const nc = await connectTo(server.url);
      try {
        assert.equal(nc.info?.server_name, server.name);
        assert.equal(nc.info?.max_payload, 65536);
        const jsm = await jetstreamManager(nc);
        await jsm.streams.add({
          name: "HARNESS",
          subjects: ["harness.>"],
          storage: StorageType.File,
        });
        const payload = encoder.encode("one message");
        const ack = await jsm.jetstream().publish("harness.one", payload);
        assert.equal(ack.stream, "HARNESS");
        assert.equal(ack.seq, 1);

        const msg = await jsm.streams.getMessage("HARNESS", { seq: ack.seq });
        assert.ok(msg);
        assert.equal(msg.subject, "harness.one");
        assert.deepEqual(Uint8Array.from(msg.data), payload);
      } finally {
        await nc.close();
      }
    } finally {
      await server.stop();
    }
    await assertCleanedUp(server);
    await server.stop(); // idempotent
  },
});

gatedTest({
  name: "startNatsServer: jetstream off, raw config lines appended",
  permissions: harness,
  async fn() {
    await using server = await startNatsServer({
      jetstream: false,
      config: ["max_payload: 4096"],
    });
    assert.equal(server.storeDir, undefined);
    const nc = await connectTo(server.url);
    try {
      assert.equal(nc.info?.max_payload, 4096);
      assert.equal(nc.info?.jetstream, undefined);
    } finally {
      await nc.close();
    }
  },
});

gatedTest({
  name: "startNatsServer: a bad config fails with the server log and cleans up",
  permissions: harness,
  async fn() {
    const err = await startNatsServer({ config: "this_is { not valid" })
      .then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof NatsServerStartError, String(err));
    assert.match(err.message, /did not start/);
    assert.match(err.message, /server log/);
    assert.match(err.message, /this_is \{ not valid/, "the config is shown");
    assert.equal(err.dirs.length, 1);
    await assert.rejects(Deno.stat(err.dirs[0]), Deno.errors.NotFound);
  },
});

gatedTest({
  name:
    "startNatsServer: a start timeout fails with the server log and cleans up",
  permissions: harness,
  async fn() {
    const err = await startNatsServer({ timeoutMs: 1 })
      .then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof NatsServerStartError, String(err));
    assert.match(err.message, /timed out after 1 ms/);
    assert.doesNotMatch(err.message, /server\.conf ---/);
    await assert.rejects(Deno.stat(err.dirs[0]), Deno.errors.NotFound);
  },
});

gatedTest({
  name: "startNatsCluster: a failing node stops the others and cleans up",
  permissions: harness,
  async fn() {
    const err = await startNatsCluster({ config: { cluster: { bogus: 1 } } })
      .then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof NatsServerStartError, String(err));
    assert.equal(err.dirs.length, 3);
    for (const dir of err.dirs) {
      await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
    }
  },
});

gatedTest({
  name: "NatsServer.restart keeps the client port and JetStream data",
  permissions: harness,
  async fn() {
    await using server = await startNatsServer();
    const { port, storeDir, pid } = server;
    const payload = encoder.encode("survives a restart");

    let nc = await connectTo(server.url);
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: "DURABLE", subjects: ["durable.>"] });
      await jsm.jetstream().publish("durable.x", payload);
    } finally {
      await nc.close();
    }

    await server.restart();
    assert.equal(server.port, port);
    assert.equal(server.storeDir, storeDir);
    assert.notEqual(server.pid, pid);
    assert.ok(server.running);

    nc = await connectTo(server.url);
    try {
      const jsm = await jetstreamManager(nc);
      const msg = await jsm.streams.getMessage("DURABLE", { seq: 1 });
      assert.ok(msg);
      assert.equal(msg.subject, "durable.x");
      assert.deepEqual(Uint8Array.from(msg.data), payload);
    } finally {
      await nc.close();
    }
  },
});

gatedTest({
  name:
    "startNatsCluster: R3 stream, publish on one node, read on another, node restart",
  permissions: harness,
  async fn() {
    const cluster = await startNatsCluster();
    try {
      assert.equal(cluster.servers.length, 3);
      assert.equal(new Set(cluster.servers.map((s) => s.name)).size, 3);
      assert.equal(new Set(cluster.urls).size, 3);
      const leaders = await Promise.all(
        cluster.servers.map(async (s) =>
          (await s.monitor<{ meta_cluster: { leader: string } }>("/jsz"))
            .meta_cluster.leader
        ),
      );
      assert.equal(new Set(leaders).size, 1);
      assert.ok(cluster.servers.some((s) => s.name === leaders[0]));

      const payload = encoder.encode("replicated");
      const a = await connectTo(cluster.urls[0]);
      const b = await connectTo(cluster.urls[1]);
      try {
        assert.equal(a.info?.server_name, cluster.servers[0].name);
        assert.equal(b.info?.server_name, cluster.servers[1].name);
        const jsmA = await jetstreamManager(a);
        const info = await jsmA.streams.add({
          name: "R3",
          subjects: ["r3.>"],
          num_replicas: 3,
        });
        assert.equal(info.config.num_replicas, 3);
        // The add answers once the stream is assigned; it takes messages once
        // its group elected a leader and that leader's interest in r3.> has
        // crossed the routes to A (a few ms later: "no responders" until then).
        await cluster.streamLeader("R3");
        const ack = await jsmA.jetstream().publish("r3.x", payload, {
          retries: 5,
        });

        const jsmB = await jetstreamManager(b);
        const msg = await jsmB.streams.getMessage("R3", { seq: ack.seq });
        assert.ok(msg);
        assert.equal(msg.subject, "r3.x");
        assert.deepEqual(Uint8Array.from(msg.data), payload);

        const si = await jsmB.streams.info("R3");
        const names = cluster.servers.map((s) => s.name);
        assert.ok(si.cluster?.leader, "stream has a leader");
        assert.ok(names.includes(si.cluster.leader));
        assert.equal(si.cluster.replicas?.length, 2);
        for (const r of si.cluster.replicas ?? []) {
          assert.ok(names.includes(r.name));
          assert.notEqual(r.name, si.cluster.leader);
        }

        // restart a node that leads neither the meta group nor the stream
        const i = names.findIndex((n) =>
          n !== leaders[0] && n !== si.cluster?.leader
        );
        const node = cluster.servers[i];
        const nodePort = node.port;
        await cluster.stopNode(i);
        assert.equal(node.running, false);
        await cluster.startNode(i);
        assert.equal(node.port, nodePort);
        // back in the cluster; reading through it needs its stream current
        await cluster.waitStreamCurrent("R3", i);
        const c = await connectTo(node.url);
        try {
          const jsmC = await jetstreamManager(c);
          const again = await jsmC.streams.getMessage("R3", { seq: ack.seq });
          assert.deepEqual(Uint8Array.from(again?.data ?? []), payload);
        } finally {
          await c.close();
        }
      } finally {
        await a.close();
        await b.close();
      }
    } finally {
      await cluster.stop();
    }
    for (const server of cluster.servers) await assertCleanedUp(server);
  },
});

natsTest({
  name: "natsTest: provides a reachable server",
  async fn(_t, url) {
    const nc = await connectTo(url);
    try {
      const rtt = await nc.rtt();
      assert.ok(rtt >= 0);
    } finally {
      await nc.close();
    }
  },
});
