// The symbol registry against NATS trouble, with real processes (issue 17,
// item 6): a nats-server that stalls (SIGSTOP) longer than a registry
// request's timeout but shorter than the lease does not kill a healthy
// publisher: the heartbeat put that timed out on the client was stored by
// the server once it resumed, and the next heartbeat adopts that revision
// (its own entry) instead of taking itself for taken over. A serve started
// while NATS is down publishes unguarded, says so (a failing `registry`
// check, marketbus_registry_registered 0), and registers once NATS is up.

import assert from "node:assert/strict";
import { harnessPermissions, natsTest } from "./_permissions.ts";
import {
  assertCleanExit,
  output,
  ROLE_PERMISSIONS,
  RoleProcess,
} from "./_ipc_roles.ts";
import { startNatsServer } from "./nats_server.ts";
import { registryConfig } from "./_registry_roles.ts";
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
    "registry stall: serve started while NATS is down publishes unguarded (registry check failing, marketbus_registry_registered 0), keeps trying, and registers once NATS is up: a second serve is then refused naming it",
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
    await owner.waitFor(/registry \S+ unreachable .*: publishing unguarded/);
    const unguarded = await waitUntil("serve's endpoint", async () => {
      try {
        return await healthz(port);
      } catch {
        return undefined;
      }
    });
    assert.equal(check(unguarded, "registry").ok, false);
    assert.equal(unguarded.code, 503);
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
