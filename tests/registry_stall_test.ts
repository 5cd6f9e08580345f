// The symbol registry against NATS trouble, with real processes (issue 17,
// item 6): a nats-server that stalls (SIGSTOP) longer than a registry
// request's timeout but shorter than the lease does not kill a healthy
// publisher: the heartbeat put that timed out on the client was stored by
// the server once it resumed, and the next heartbeat adopts that revision
// (its own entry) instead of taking itself for taken over. A serve started
// while NATS is down suspends NATS publishing until registered, says so (a failing `registry`
// check, marketbus_registry_registered 0), and registers once NATS is up.
// A NATS outage longer than the lease suspends NATS publishing (the ring
// goes on) and, with nobody else publishing, resumes it with all it queued.

import assert from "node:assert/strict";
import { harnessPermissions, natsTest } from "./_permissions.ts";
import {
  assertCleanExit,
  output,
  ROLE_PERMISSIONS,
  RoleProcess,
  streamOf,
  summaryOf,
} from "./_ipc_roles.ts";
import { startNatsServer } from "./nats_server.ts";
import { startForwarder } from "./_forwarder.ts";
import { registryConfig, storedTrades } from "./_registry_roles.ts";
import {
  check,
  freePort,
  healthz,
  scrape,
  value,
  waitUntil,
} from "./_metrics_scrape.ts";

const PERMISSIONS: Deno.PermissionDescriptor[] = [
  ...ROLE_PERMISSIONS,
  ...harnessPermissions(),
];

/** Requests time out after ttl / 2 = 3 s; the lease lasts ttl - ttl / 5 = 4.8 s. */
const REGISTRY = `
[registry]
heartbeat_interval = "250ms"
ttl = "6s"
`;

/** How long nats-server is stopped: past the 3 s request timeout, ~1 s short of the lease. */
const STALL_MS = 3300;

natsTest({
  name:
    "registry stall: nats-server stopped past a registry request's timeout (the heartbeat put stored late): serve adopts its own revision and keeps publishing, not 'taken over by' itself",
  permissions: PERMISSIONS,
  loopbackOnly: true,
  fn: async () => {
    // Its own server: this test pauses it.
    await using server = await startNatsServer();
    await using config = await registryConfig(server.url, {
      symbols: ["BTCUSDT"],
      registry: REGISTRY,
    });
    await using owner = new RoleProcess("serve", config, [
      "--nats",
      "--no-ipc",
      "--rate",
      "200",
    ]);
    await owner.waitFor(/publishing synthetic/);
    await new Promise((resolve) => setTimeout(resolve, 500));
    Deno.kill(server.pid, "SIGSTOP");
    try {
      await new Promise((resolve) => setTimeout(resolve, STALL_MS));
    } finally {
      Deno.kill(server.pid, "SIGCONT");
    }
    await owner.waitFor(/registry heartbeat failed/);
    // A few heartbeats after the stall.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    owner.kill("SIGINT");
    const stopped = await owner.finish();
    assert.doesNotMatch(stopped.stderr, /taken over|fenced/, output(stopped));
    assertCleanExit(stopped, "owner");
  },
});

natsTest({
  name:
    "registry stall: serve started while NATS is down suspends NATS publishing until registered (registry check failing, marketbus_registry_registered 0), keeps trying, and registers once NATS is up: a second serve is then refused naming it",
  permissions: PERMISSIONS,
  loopbackOnly: true,
  fn: async () => {
    await using server = await startNatsServer();
    await using config = await registryConfig(server.url, {
      symbols: ["BTCUSDT"],
    });
    await server.halt();
    const port = freePort();
    await using owner = new RoleProcess("serve", config, [
      "--nats",
      "--no-ipc",
      "--rate",
      "100",
      "--metrics-port",
      String(port),
    ]);
    await owner.waitFor(
      /registry \S+ unreachable .*NATS publishing is suspended \(trades queue\) until registered/,
    );
    const unregistered = await waitUntil("serve's endpoint", async () => {
      try {
        return await healthz(port);
      } catch {
        return undefined;
      }
    });
    assert.equal(check(unregistered, "registry").ok, false);
    assert.equal(unregistered.code, 503);
    const registered = async () =>
      value(await scrape(port), "marketbus_registry_registered");
    assert.equal(await registered(), 0);

    await server.start();
    await owner.waitFor(
      /registered binance BTCUSDT in registry \S+ \(late: unreachable at start\)/,
    );
    assert.equal(await registered(), 1);
    const guarded = await healthz(port);
    assert.ok(
      !guarded.checks.some((c) => c.name === "registry"),
      JSON.stringify(guarded),
    );
    await using second = new RoleProcess("serve", config, [
      "--nats",
      "--no-ipc",
    ]);
    const refused = await second.finish();
    assert.equal(refused.code, 1, output(refused));
    assert.match(
      refused.stderr,
      new RegExp(
        `already published: binance BTCUSDT by host \\S+ pid ${owner.pid} `,
      ),
    );
    owner.kill("SIGINT");
    assertCleanExit(await owner.finish(), "owner");
  },
});

natsTest({
  name:
    "registry outage: nats-server down 6 s (past the 1.6 s lease) with no standby: serve suspends NATS publishing while the ring goes on, resumes with what it queued once its claims are confirmed again, and exits 0; the stream holds every trade once, in order; the ring consumer saw no gap",
  permissions: PERMISSIONS,
  loopbackOnly: true,
  fn: async () => {
    await using server = await startNatsServer();
    await using config = await registryConfig(server.url);
    await using ring = new RoleProcess("live", config, ["--summary-json"]);
    await ring.waitFor(/waiting for ring/, config.symbols.length);
    await using owner = new RoleProcess("serve", config, [
      "--nats",
      "--rate",
      "1000",
    ]);
    await owner.waitFor(/publishing to stream/);
    await ring.waitFor(/attached to/, config.symbols.length);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await server.halt();
    await owner.waitFor(/NATS publishing is suspended/);
    await new Promise((resolve) => setTimeout(resolve, 6000));
    await server.start();
    const [resumed] = await owner.waitFor(
      /claims confirmed again after [\d.]+ s/,
    );
    await new Promise((resolve) => setTimeout(resolve, 1500));
    owner.kill("SIGINT");
    const stopped = await owner.finish();
    assertCleanExit(stopped, "owner");
    assert.doesNotMatch(stopped.stderr, /taken over|fenced/, output(stopped));

    await ring.waitFor(/producer closed/, config.symbols.length);
    ring.kill("SIGINT");
    const read = await ring.finish();
    assertCleanExit(read, "live (ring)");
    const summary = summaryOf(read);
    assert.equal(summary.gaps, 0, JSON.stringify(summary));
    assert.equal(summary.lost, 0, JSON.stringify(summary));

    const stored = await storedTrades(config);
    for (const symbol of config.symbols) {
      const trades = stored.get(symbol) ?? [];
      const figures = streamOf(summary, symbol);
      // Every trade once, in order: seqs 1..n, as many as the ring had.
      assert.equal(trades.length, figures.received, symbol);
      assert.equal(figures.lastSeq, figures.received, symbol);
      trades.forEach((trade, i) => assert.equal(trade.seq, i + 1, symbol));
    }
    console.log(
      `outage: ${
        resumed[0]
      }; ${summary.received} trades, each stored once in order and read from the ring without a gap`,
    );
  },
});

natsTest({
  name:
    "registry late refusal: a serve whose NATS path is down at start while another serve owns the symbols keeps NATS suspended (queued), is refused once it reaches the registry, fences (nothing flushed, counted 'fenced') and exits 1: no duplicate trade id in the stream",
  permissions: PERMISSIONS,
  loopbackOnly: true,
  fn: async () => {
    await using server = await startNatsServer();
    await using config = await registryConfig(server.url, {
      symbols: ["BTCUSDT"],
    });
    await using owner = new RoleProcess("serve", config, [
      "--nats",
      "--no-ipc",
      "--rate",
      "500",
    ]);
    await owner.waitFor(/publishing to stream/);
    // The same config but NATS through a port nothing listens on yet.
    const port = freePort();
    const text = await Deno.readTextFile(config.path);
    const path = `${config.dir}/late.toml`;
    await Deno.writeTextFile(
      path,
      text.replaceAll(server.url, `nats://127.0.0.1:${port}`),
    );
    await using late = new RoleProcess("serve", { ...config, path }, [
      "--nats",
      "--no-ipc",
      "--rate",
      "700",
    ]);
    await late.waitFor(/NATS publishing is suspended \(trades queue\)/);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // it queues
    await using _forwarder = startForwarder(port, server.port);
    const refused = await late.finish();
    assert.equal(refused.code, 1, output(refused));
    assert.match(refused.stderr, /already published: binance BTCUSDT/);
    assert.match(refused.stderr, /given up on \(fenced\)/, output(refused));
    owner.kill("SIGINT");
    assertCleanExit(await owner.finish(), "owner");
    const trades = (await storedTrades(config)).get("BTCUSDT") ?? [];
    assert.ok(trades.length > 0);
    for (let i = 1; i < trades.length; i++) {
      assert.ok(
        trades[i].id > trades[i - 1].id,
        `trade id ${trades[i].id} after ${trades[i - 1].id} at ${i}`,
      );
    }
  },
});
