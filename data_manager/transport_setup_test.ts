// Tests of serve's transport set-up with real rings: the [transport.ipc]
// settings reach the rings (waiting for tethered readers holds the source,
// and says so), and which transports pace the source (the rings; NATS only
// without them). Every test has its own segment prefix and removes what is
// left under it.

import assert from "node:assert/strict";
import { parseConfig } from "../common/config/mod.ts";
import { RingPublisher } from "../common/ipc/ring_publisher.ts";
import type { TradePublisher } from "../common/transport/publisher.ts";
import { captureLog } from "../tests/_capture_log.ts";
import { shmScope } from "../tests/_ipc_roles.ts";
import { ffiTest } from "../tests/_permissions.ts";
import {
  closeAll,
  openTransports,
  pacingTransports,
} from "./transport_setup.ts";

/** NATS, by name only: which transports pace is all the tests ask. */
const NATS = { name: "nats" } as TradePublisher;

/** Opens serve's transports for `ipc` (TOML lines of [transport.ipc]) under `prefix`. */
async function open(prefix: string, ipc: string) {
  const config = parseConfig(
    `[data_manager]\nsymbols = ["BTCUSDT"]\n[transport.ipc]\nshm_path_prefix = "${prefix}"\ncapacity = 64\n${ipc}`,
    { file: "x.toml", env: {} },
  );
  const { log, lines } = captureLog();
  const transports = await openTransports(config, log);
  assert.ok(Array.isArray(transports), `exit status ${transports}`);
  return { transports, lines };
}

ffiTest(
  "rings waiting for tethered readers hold the source until then, and say so",
  async () => {
    using shm = shmScope();
    const { transports, lines } = await open(
      shm.prefix,
      "wait_for_readers = 2\n",
    );
    try {
      const [ring] = transports;
      assert.ok(ring instanceof RingPublisher);
      assert.deepEqual(pacingTransports(transports), [ring]);
      assert.deepEqual(pacingTransports([NATS, ring]), [ring], "NATS paced");
      assert.ok(ring.room() !== undefined, "no reader, yet room");
      assert.ok(
        lines.some((line) => /waiting for 2 tethered readers/.test(line)),
        `not said through serve's log:\n${lines.join("\n")}`,
      );
    } finally {
      await closeAll(transports);
    }
  },
);

ffiTest("rings that wait for nobody have room at once", async () => {
  using shm = shmScope();
  const { transports } = await open(shm.prefix, "");
  try {
    assert.equal(transports[0].room?.(), undefined);
  } finally {
    await closeAll(transports);
  }
});

Deno.test("without the rings NATS paces the source", () => {
  assert.deepEqual(pacingTransports([NATS]), [NATS]);
});
