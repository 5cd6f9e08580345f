// The registry lease through serve's shutdown (issue 17, item 6): the
// heartbeats go on until the NATS publisher's drain has ended, so a queue
// that takes longer than the lease to flush (a slow link, a short
// registry.ttl) is flushed whole and serve exits 0; it used to be cut
// where the lease ended (heartbeats stopped at SIGINT): the rest counted
// unflushed, exit 1.

import assert from "node:assert/strict";
import { harnessPermissions, natsTest } from "./_permissions.ts";
import {
  assertCleanExit,
  output,
  ROLE_PERMISSIONS,
  RoleProcess,
} from "./_ipc_roles.ts";
import { startNatsServer } from "./nats_server.ts";
import { startForwarder } from "./_forwarder.ts";
import { registryConfig, storedTrades } from "./_registry_roles.ts";
import { freePort } from "./_metrics_scrape.ts";

/** A lease of 0.8 s (ttl 1 s less its fifth); one ack at a time of 8 trades at most. */
const SETTINGS = `
[registry]
heartbeat_interval = "100ms"
ttl = "1s"

[transport.nats.publish]
max_in_flight = 1
batch_max_trades = 8
flush_timeout = "20s"
`;

natsTest({
  name:
    "registry drain: a queue that takes several leases to flush (slow link, ttl 1 s) is flushed whole at SIGINT: the heartbeats last until the drain ended; exit 0, every trade stored once",
  permissions: [...ROLE_PERMISSIONS, ...harnessPermissions()],
  loopbackOnly: true,
  fn: async () => {
    await using server = await startNatsServer();
    const port = freePort();
    // Each chunk 10 ms each way: 8 trades per ack, a few hundred per second.
    await using _link = startForwarder(port, server.port, { latencyMs: 10 });
    await using config = await registryConfig(`nats://127.0.0.1:${port}`, {
      symbols: ["BTCUSDT"],
      registry: SETTINGS,
    });
    await using owner = new RoleProcess("serve", config, [
      "--nats",
      "--no-ipc",
      "--rate",
      "1000",
    ]);
    await owner.waitFor(/publishing to stream/);
    // 1 s at 1000/s, faster than the link: a queue of hundreds of trades that
    // takes several leases (0.8 s) to flush.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const signalledAt = performance.now();
    owner.kill("SIGINT");
    const stopped = await owner.finish();
    const flushMs = performance.now() - signalledAt;
    assert.doesNotMatch(stopped.stderr, /unflushed|suspended/, output(stopped));
    assertCleanExit(stopped, "owner");
    assert.ok(
      flushMs > 800,
      `the flush took ${flushMs} ms, not past the lease`,
    );
    const trades = (await storedTrades(config)).get("BTCUSDT") ?? [];
    for (let i = 0; i < trades.length; i++) {
      assert.equal(trades[i].id, i + 1, `trade ${i} of ${trades.length}`);
    }
    console.log(
      `drain: ${trades.length} trades flushed in ${
        (flushMs / 1000).toFixed(1)
      } s after SIGINT with a 0.8 s lease`,
    );
  },
});
