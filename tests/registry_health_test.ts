// live's publishers check after a clean stop, with real processes (issue
// 17, item 7): a NATS consumer reading the history of a serve that stopped
// cleanly stays healthy (200, the publisher said to be stopped), since its
// trades stay readable; only a dead publisher (heartbeat expired, no
// standby) turns it 503 (tests/registry_roles_test.ts).

import assert from "node:assert/strict";
import { harnessPermissions, natsTest } from "./_permissions.ts";
import {
  assertCleanExit,
  ROLE_PERMISSIONS,
  RoleProcess,
} from "./_ipc_roles.ts";
import { check, freePort, healthz, waitUntil } from "./_metrics_scrape.ts";
import { registryConfig } from "./_registry_roles.ts";

const PERMISSIONS: Deno.PermissionDescriptor[] = [
  ...ROLE_PERMISSIONS,
  ...harnessPermissions(),
];

natsTest({
  name:
    "registry health: live --nats --deliver all reading the history of a cleanly stopped serve is healthy (200), its publisher said to be stopped",
  permissions: PERMISSIONS,
  loopbackOnly: true,
  fn: async (_t, url) => {
    await using config = await registryConfig(url, { symbols: ["BTCUSDT"] });
    await using serve = new RoleProcess("serve", config, [
      "--nats",
      "--no-ipc",
      "--rate",
      "200",
    ]);
    await serve.waitFor(/publishing synthetic/);
    await new Promise((resolve) => setTimeout(resolve, 500));
    serve.kill("SIGINT");
    assertCleanExit(await serve.finish(), "serve");
    const port = freePort();
    await using live = new RoleProcess("live", config, [
      "--nats",
      "--deliver",
      "all",
      "--metrics-port",
      String(port),
    ]);
    const health = await waitUntil("publishers check read", async () => {
      const health = await healthz(port);
      return check(health, "publishers").detail.includes("stopped")
        ? health
        : undefined;
    });
    const publishers = check(health, "publishers");
    assert.equal(publishers.ok, true, publishers.detail);
    assert.match(
      publishers.detail,
      new RegExp(
        `^binance BTCUSDT: publisher host \\S+ pid ${serve.pid} since \\S+ stopped \\(a clean exit\\): its history stays readable$`,
      ),
    );
    live.kill("SIGINT");
    assertCleanExit(await live.finish(), "live");
  },
});
