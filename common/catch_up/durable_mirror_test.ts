// The ring durable's NATS mirror, against a real nats-server: the positions
// written at close are read back by a durable whose /dev/shm file is gone
// (a reboot), each stream taking the newer of the two; an unreachable
// server leaves the run unmirrored with a warning, within the timeout.

import assert from "node:assert/strict";
import { parseConfig } from "../config/mod.ts";
import { captureLog } from "../../tests/_capture_log.ts";
import { natsTest } from "../../tests/_permissions.ts";
import { freePort } from "../../tests/_metrics_scrape.ts";
import { DurableMirror, DurablePosition, removeDurable } from "./mod.ts";

/** The `[data_source.nats.connection]` of a server at `url`. */
function connectionTo(url: string) {
  return parseConfig(
    `[data_source.nats.connection]\nservers = [${JSON.stringify(url)}]\n`,
  ).dataSource.nats.connection;
}

/** A fresh durable name, stream and prefix for one test. */
function names() {
  const run = crypto.randomUUID().slice(0, 8);
  return {
    name: `test-${run}`,
    streamName: `MBT_${run.toUpperCase()}`,
    subjectPrefix: `mbt${run}`,
  };
}

natsTest({
  name:
    "durable mirror: positions written at close are taken by a durable that lost its /dev/shm file; a newer /dev/shm position is kept",
  permissions: [{ name: "ffi" }],
  fn: async (_t, url) => {
    const { name, streamName, subjectPrefix } = names();
    const { log, lines } = captureLog();
    const options = {
      connection: connectionTo(url),
      streamName,
      subjectPrefix,
      log,
      intervalMs: 50,
    };
    try {
      const first = DurablePosition.open(name);
      const mirror = await DurableMirror.open(first, options);
      assert.ok(mirror, lines.join("\n"));
      first.store(first.slot("binance", "BTCUSDT"), 7, 500, 5_000n);
      first.store(first.slot("binance", "ETHUSDT"), 7, 80, 4_000n);
      await mirror.close();
      first.close();
      removeDurable(name); // a reboot
      const second = DurablePosition.open(name);
      second.store(second.slot("binance", "ETHUSDT"), 9, 3, 6_000n); // newer
      const again = await DurableMirror.open(second, options);
      assert.ok(again);
      assert.deepEqual(second.get("binance", "BTCUSDT"), {
        epoch: 7,
        seq: 500,
        tsRecv: 5_000n,
      });
      assert.deepEqual(second.get("binance", "ETHUSDT"), {
        epoch: 9,
        seq: 3,
        tsRecv: 6_000n,
      });
      assert.ok(
        lines.some((line) =>
          line.includes(
            `durable ${name}: binance:BTCUSDT: resuming from the NATS mirror`,
          )
        ),
        lines.join("\n"),
      );
      await again.close();
      second.close();
    } finally {
      removeDurable(name);
    }
  },
});

natsTest({
  name:
    "durable mirror: no server answering within the timeout leaves the run unmirrored, with one warning",
  permissions: [{ name: "ffi" }],
  fn: async () => {
    const { name, streamName, subjectPrefix } = names();
    const { log, lines } = captureLog();
    const store = DurablePosition.open(name);
    try {
      const started = performance.now();
      const mirror = await DurableMirror.open(store, {
        connection: connectionTo(`nats://127.0.0.1:${freePort()}`),
        streamName,
        subjectPrefix,
        log,
        openTimeoutMs: 300,
      });
      assert.equal(mirror, undefined);
      assert.ok(performance.now() - started < 5000);
      assert.ok(
        lines.some((line) =>
          line.includes(
            `durable ${name}: the NATS mirror ${streamName}_DURABLE could not be read`,
          )
        ),
        lines.join("\n"),
      );
    } finally {
      store.close();
      removeDurable(name);
    }
  },
});
