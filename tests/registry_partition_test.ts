// The symbol registry against a partitioned owner, with real processes
// (issue 17, D2 of the registry review): the owner's NATS path (registry and
// stream alike) goes through a TCP forwarder that freezes both directions
// without resetting anything. The standby takes the symbol over; the owner's
// lease ends while frozen, so it closes its connection, and once thawed it
// fences and exits 1 while the standby goes on. What this does NOT close: the
// owner's frames already in the OS socket buffer or the forwarder land in the
// stream after the standby's (duplicate ids, going backwards; no consumer
// fence drops them yet, docs/nats.md "The takeover window is OPEN"). The test
// measures and prints them instead of asserting there are none.

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
import { REGISTRY, registryConfig, storedTrades } from "./_registry_roles.ts";
import { freePort } from "./_metrics_scrape.ts";

/** Spawning the roles (deno) and nats-server, temp files, loopback NATS. */
const PERMISSIONS: Deno.PermissionDescriptor[] = [
  ...ROLE_PERMISSIONS,
  ...harnessPermissions(),
];

/** Trade ids seen twice, and times an id did not pass the previous one. */
function disorder(ids: readonly number[]): { twice: number; back: number } {
  const seen = new Set<number>();
  let twice = 0;
  let back = 0;
  ids.forEach((id, i) => {
    if (seen.has(id)) twice++;
    seen.add(id);
    if (i > 0 && id <= ids[i - 1]) back++;
  });
  return { twice, back };
}

natsTest({
  name:
    "registry partition: an owner whose NATS path freezes (no reset) is taken over: it closes its connection at its lease end and exits 1 fenced, the standby goes on and no trade id is missing from the stream; the duplicates its held frames still store (ids backwards) are measured and printed",
  permissions: PERMISSIONS,
  loopbackOnly: true,
  fn: async () => {
    await using server = await startNatsServer();
    // A buffer that covers the takeover: the standby loses nothing.
    await using config = await registryConfig(server.url, {
      symbols: ["BTCUSDT"],
      registry: REGISTRY.replace(
        "standby_buffer = 50",
        "standby_buffer = 100000",
      ),
    });
    const port = freePort();
    const path = `${config.dir}/partitioned.toml`;
    await Deno.writeTextFile(
      path,
      (await Deno.readTextFile(config.path)).replaceAll(
        server.url,
        `nats://127.0.0.1:${port}`,
      ),
    );
    await using link = startForwarder(port, server.port);
    const args = ["--nats", "--no-ipc", "--rate", "2000"];
    await using owner = new RoleProcess("serve", { ...config, path }, args);
    await owner.waitFor(/publishing to stream/);
    await using standby = new RoleProcess("serve", config, [
      ...args,
      "--standby",
    ]);
    await standby.waitFor(/standing by: published binance BTCUSDT/);
    link.freeze();
    await standby.waitFor(/took over binance BTCUSDT/);
    await standby.waitFor(/resuming after trade/);
    // The standby publishes a while before the path thaws.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    link.thaw();
    const fenced = await owner.finish();
    assert.equal(fenced.code, 1, output(fenced));
    // Its lease ended while frozen: what the client still held was dropped.
    assert.match(fenced.stderr, /registry lease ended: connection closed/);
    assert.match(fenced.stderr, /was taken over by host \S+ pid \d+/);
    assert.doesNotMatch(output(fenced), /\n\s+at /, "no stack trace");
    await new Promise((resolve) => setTimeout(resolve, 500));
    standby.kill("SIGINT");
    assertCleanExit(await standby.finish(), "standby");

    // The standby's trades complete: every id from the first stored to the
    // last, none missing (its buffer covered the takeover).
    const ids = ((await storedTrades(config)).get("BTCUSDT") ?? [])
      .map((t) => t.id);
    const unique = [...new Set(ids)].sort((a, b) => a - b);
    assert.ok(unique.length > 2000, `too few trades stored: ${unique.length}`);
    const first = unique[0];
    const last = unique[unique.length - 1];
    assert.equal(
      unique.length,
      last - first + 1,
      `ids missing between ${first} and ${last}`,
    );
    // The window still open (docs/nats.md): measured, not asserted away.
    const { twice, back } = disorder(ids);
    console.log(
      `partition: ${ids.length} trades stored, ${unique.length} distinct ids; ${twice} duplicates, ids backwards ${back} times (the open takeover window)`,
    );
  },
});
