// serve with a registry it cannot use (issue 17, item 6): a user the server
// does not allow to write the bucket's keys. serve warns "publishing without
// it" and must really publish to NATS (it used to queue every trade behind a
// lease it never had: "not flushed ... suspended by the registry lease",
// exit 1), while /healthz says it runs unregistered (a failing registry
// check, marketbus_registry_registered 0; it used to show neither) and it
// keeps trying: once the server allows the bucket, it registers and its
// NATS publishing is guarded by the lease from then on. A SIGINT while that
// late registration waits to judge an owner stops serve within seconds.

import assert from "node:assert/strict";
import {
  gatedTest,
  harnessPermissions,
  OWN_SERVER_REASON,
} from "./_permissions.ts";
import {
  assertCleanExit,
  output,
  ROLE_PERMISSIONS,
  RoleProcess,
} from "./_ipc_roles.ts";
import { check, freePort, healthz, waitUntil } from "./_metrics_scrape.ts";
import { registryConfig, storedTrades } from "./_registry_roles.ts";
import { type NatsServer, startNatsServer } from "./nats_server.ts";

/** The registry's key subjects (default bucket), refused to the user. */
const KEYS = "$KV.marketbus_symbols.>";

/** The bucket's stream info. */
const INFO = "$JS.API.STREAM.INFO.KV_marketbus_symbols";

/** Harmless stand-in for {@linkcode KEYS} in the deny list. */
const NOTHING = "nothing.denied";

/** A server whose clients without credentials are a user denied `deny`. */
function denying(deny: string): Promise<NatsServer> {
  return startNatsServer({
    config: {
      authorization: {
        users: [{
          user: "mb",
          password: "mb-pass-5c1a",
          permissions: { publish: { deny: [deny] } },
        }],
      },
      no_auth_user: "mb",
    },
  });
}

/** Reloads `server`'s config with `from` denied replaced by `to`. */
async function redeny(server: NatsServer, from: string, to: string) {
  const text = await Deno.readTextFile(server.configFile);
  assert.ok(text.includes(from), text);
  await Deno.writeTextFile(server.configFile, text.replace(from, to));
  Deno.kill(server.pid, "SIGHUP");
}

gatedTest({
  name:
    "registry unavailable (the user may not write the bucket): serve publishes to NATS unregistered, /healthz says so, and it registers once the server allows it",
  permissions: [...ROLE_PERMISSIONS, ...harnessPermissions()],
  reason: OWN_SERVER_REASON,
  async fn() {
    await using server = await denying(KEYS);
    await using config = await registryConfig(server.url, {
      symbols: ["BTCUSDT"],
    });
    const port = freePort();
    await using serve = new RoleProcess("serve", config, [
      "--nats",
      "--no-ipc",
      "--rate",
      "200",
      "--metrics-port",
      String(port),
    ]);
    await serve.waitFor(/unavailable .*: publishing without it/);
    const unregistered = await waitUntil("registry check", async () => {
      const health = await healthz(port);
      return health.checks.some((c) => c.name === "registry")
        ? health
        : undefined;
    });
    const registry = check(unregistered, "registry");
    assert.equal(registry.ok, false);
    assert.match(
      registry.detail,
      /^not registered: the registry was unavailable at start .*; NATS publishing of binance BTCUSDT goes on unguarded/,
    );
    // Trades reach the stream while unregistered.
    await waitUntil("trades stored", async () => {
      const stored = (await storedTrades(config)).get("BTCUSDT") ?? [];
      return stored.length > 0 ? true : undefined;
    });
    // The server allows the bucket now (config reload): serve registers.
    await redeny(server, KEYS, NOTHING);
    await serve.waitFor(
      /registered binance BTCUSDT .*\(late: unavailable at start\)/,
    );
    await waitUntil("registry check gone", async () => {
      const health = await healthz(port);
      return health.checks.some((c) => c.name === "registry")
        ? undefined
        : true;
    });
    serve.kill("SIGINT");
    const stopped = await serve.finish();
    assertCleanExit(stopped, "serve");
    assert.doesNotMatch(output(stopped), /not flushed|suspended/);
  },
});

/** A long TTL: a late claim of an owned symbol waits ~37 s for its heartbeat. */
const LONG_TTL = `
[registry]
heartbeat_interval = "250ms"
ttl = "30s"
`;

gatedTest({
  name:
    "registry unavailable: SIGINT while the late registration waits to judge a paused owner stops serve within seconds, exit 0",
  permissions: [...ROLE_PERMISSIONS, ...harnessPermissions()],
  reason: OWN_SERVER_REASON,
  async fn() {
    await using server = await denying(NOTHING);
    await using config = await registryConfig(server.url, {
      symbols: ["BTCUSDT"],
      registry: LONG_TTL,
    });
    // The owner registers, then pauses: its heartbeat does not move.
    await using owner = new RoleProcess("serve", config, [
      "--nats",
      "--no-ipc",
    ]);
    await owner.waitFor(/publishing synthetic/);
    owner.kill("SIGSTOP");
    try {
      // The bucket's info refused: serve cannot open the registry.
      await redeny(server, NOTHING, INFO);
      await using serve = new RoleProcess("serve", config, [
        "--nats",
        "--no-ipc",
      ]);
      await serve.waitFor(/unavailable .*: publishing without it/);
      // Allowed again: the late registration looks at the owner's heartbeat
      // for a lease before judging it.
      await redeny(server, INFO, NOTHING);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const signalled = performance.now();
      serve.kill("SIGINT");
      const stopped = await serve.finish();
      const ms = performance.now() - signalled;
      assert.equal(stopped.code, 0, output(stopped));
      assert.ok(ms < 10_000, `stopped ${ms} ms after SIGINT`);
    } finally {
      owner.kill("SIGCONT");
    }
    owner.kill("SIGINT");
    await owner.finish();
  },
});
