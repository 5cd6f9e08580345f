// The symbol registry against a partitioned owner, with real processes
// (issue 17, D2 of the registry review): the owner's NATS path (registry and
// stream alike) goes through a TCP forwarder that freezes both directions
// without resetting anything. The standby takes the symbol over; thawed, the
// owner's frames held on the way land in the stream after the standby's
// (stored: no header can refuse them) and the owner fences and exits 1. A
// `live --nats` consumer reading the whole stream then delivers each trade id
// once, never going backwards: the old run's late messages are fenced by
// their run epoch, counted and told.

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
    "registry partition: an owner whose NATS path freezes (no reset) is taken over; thawed, its held frames are stored after the standby's, and live --nats delivers each trade id once, in order, the old run's late messages fenced and told",
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
    await new Promise((resolve) => setTimeout(resolve, 500));
    standby.kill("SIGINT");
    assertCleanExit(await standby.finish(), "standby");

    const stored = (await storedTrades(config)).get("BTCUSDT") ?? [];
    const inStream = disorder(stored.map((t) => t.id));
    // The scenario: the owner's held frames were stored after the standby's.
    assert.ok(inStream.back > 0, `nothing stored late: ${output(fenced)}`);
    const unique = new Set(stored.map((t) => t.id)).size;
    const record = `${config.dir}/delivered.ndjson`;
    await using live = new RoleProcess("live", config, [
      "--nats",
      "--deliver",
      "all",
      "--max-trades",
      String(unique),
      "--record",
      record,
    ], { write: [record] });
    const read = await live.finish();
    assert.equal(read.code, 0, output(read));
    const ids = (await Deno.readTextFile(record)).trim().split("\n")
      .map((line) => JSON.parse(line))
      .filter((row) => row.type === undefined)
      .map((row) => Number(row.tradeId));
    assert.equal(ids.length, unique, output(read));
    assert.deepEqual(disorder(ids), { twice: 0, back: 0 });
    assert.match(
      read.stderr,
      /BTCUSDT: message \d+ dropped \(\d+ trades\): of run epoch \d+, after messages of run epoch \d+/,
      output(read),
    );
  },
});
