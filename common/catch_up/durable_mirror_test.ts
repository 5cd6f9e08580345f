// The ring durable's NATS mirror, against a real nats-server: the positions
// written at close are read back by a durable whose /dev/shm file is gone
// (a reboot), only for the streams /dev/shm lacks; an unreachable server
// leaves the run unmirrored with a warning, within the timeout, or refuses
// it when /dev/shm holds no position (its position is unknown); a NATS
// restart after the open timeout does not end the mirror; with NATS down,
// close() ends within its 2 s.

import assert from "node:assert/strict";
import { parseConfig } from "../config/mod.ts";
import { captureLog } from "../../tests/_capture_log.ts";
import { natsTest } from "../../tests/_permissions.ts";
import { freePort } from "../../tests/_metrics_scrape.ts";
import { startNatsServer } from "../../tests/nats_server.ts";
import { delay } from "../runtime/delay.ts";
import { jetstreamManager } from "@nats-io/jetstream";
import { connectNats } from "../nats/connection.ts";
import {
  DURABLE_MIRROR_STREAM,
  DurableMirror,
  DurableMirrorUnreadableError,
  DurablePosition,
  removeDurable,
} from "./mod.ts";

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
    subjectPrefix: `mbt${run}`, // a trade stream per exchange: `${streamName}_DURABLE`
  };
}

natsTest({
  name:
    "durable mirror: positions written at close are taken by a durable that lost its /dev/shm file; a /dev/shm position is kept, even one older by ts_recv; a trade stream of an exchange named 'durable' neither hides nor gets them",
  permissions: [{ name: "ffi" }],
  fn: async (_t, url) => {
    const { name, streamName, subjectPrefix } = names();
    const { log, lines } = captureLog();
    // stream_per_exchange's stream and subjects for the exchange "durable".
    const nc = await connectNats(connectionTo(url), { log });
    const jsm = await jetstreamManager(nc);
    const exchangeStream = `${streamName}_DURABLE`;
    await jsm.streams.add({
      name: exchangeStream,
      subjects: [`${subjectPrefix}_durable.>`],
    });
    const options = {
      connection: connectionTo(url),
      streamName,
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
      // Another run whose clock is behind: /dev/shm's still wins.
      second.store(second.slot("binance", "ETHUSDT"), 9, 3, 3_000n);
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
        tsRecv: 3_000n,
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
      const info = await jsm.streams.info(exchangeStream);
      assert.equal(info.state.messages, 0);
      const mirrorStream = await jsm.streams.info(DURABLE_MIRROR_STREAM);
      assert.deepEqual(mirrorStream.config.subjects, [
        "marketbus_ring_durable.>",
      ]);
      assert.equal(mirrorStream.config.max_msgs_per_subject, 1);
    } finally {
      await nc.close();
      removeDurable(name);
    }
  },
});

natsTest({
  name:
    "durable mirror: no server answering within the timeout leaves a run with a /dev/shm position unmirrored, with one warning; with none (a reboot), the start is refused: its position is unknown",
  permissions: [{ name: "ffi" }],
  fn: async () => {
    const { name, streamName } = names();
    const { log, lines } = captureLog();
    const options = {
      connection: connectionTo(`nats://127.0.0.1:${freePort()}`),
      streamName,
      log,
      openTimeoutMs: 300,
    };
    const store = DurablePosition.open(name);
    try {
      const started = performance.now();
      await assert.rejects(
        DurableMirror.open(store, options),
        (error: Error) =>
          error instanceof DurableMirrorUnreadableError &&
          error.message.startsWith(
            `Durable ${name} has no position in /dev/shm and its NATS mirror ${DURABLE_MIRROR_STREAM} (subject marketbus_ring_durable.${streamName}.${name}) could not be read (`,
          ) && error.message.includes("start it again once NATS answers") &&
          !error.message.includes("\n"),
      );
      assert.ok(performance.now() - started < 5000);
      assert.equal(lines.length, 0, lines.join("\n"));
      store.store(store.slot("binance", "BTCUSDT"), 7, 1, 1n);
      const mirror = await DurableMirror.open(store, options);
      assert.equal(mirror, undefined);
      assert.ok(
        lines.some((line) =>
          line.includes(
            `durable ${name}: the NATS mirror ${DURABLE_MIRROR_STREAM} could not be read`,
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

natsTest({
  name:
    "durable mirror: a NATS restart after the open timeout does not end it: the positions are written again",
  permissions: [{ name: "ffi" }, { name: "run" }, { name: "write" }],
  fn: async () => {
    await using server = await startNatsServer();
    const { name, streamName } = names();
    const { log, lines } = captureLog();
    const options = {
      connection: connectionTo(server.url),
      streamName,
      log,
      intervalMs: 50,
      openTimeoutMs: 300,
    };
    const store = DurablePosition.open(name);
    try {
      const mirror = await DurableMirror.open(store, options);
      assert.ok(mirror, lines.join("\n"));
      store.store(store.slot("binance", "BTCUSDT"), 7, 1, 1n);
      await delay(600); // past the open timeout
      await server.restart();
      store.store(store.slot("binance", "BTCUSDT"), 7, 2, 2n);
      // Reconnected (every 500 ms) within the wait: the close's write goes.
      const deadline = Date.now() + 10_000;
      while (!server.running && Date.now() < deadline) await delay(50);
      await delay(2000);
      store.store(store.slot("binance", "BTCUSDT"), 7, 3, 3n);
      await mirror.close();
      assert.ok(
        !lines.some((line) => line.includes("aborted")),
        lines.join("\n"),
      );
      store.close();
      removeDurable(name); // a reboot
      const again = DurablePosition.open(name);
      const reader = await DurableMirror.open(again, options);
      await reader?.close();
      assert.deepEqual(again.get("binance", "BTCUSDT"), {
        epoch: 7,
        seq: 3,
        tsRecv: 3n,
      }, lines.join("\n"));
      again.close();
    } finally {
      removeDurable(name);
    }
  },
});

natsTest({
  name:
    "durable mirror: with NATS down and the positions moving every tick, close() ends within its 2 s",
  permissions: [{ name: "ffi" }, { name: "run" }, { name: "write" }],
  fn: async () => {
    await using server = await startNatsServer();
    const { name, streamName } = names();
    const { log, lines } = captureLog();
    const store = DurablePosition.open(name);
    try {
      const mirror = await DurableMirror.open(store, {
        connection: connectionTo(server.url),
        streamName,
        log,
        intervalMs: 20,
      });
      assert.ok(mirror, lines.join("\n"));
      await server.halt();
      for (let seq = 1; seq <= 100; seq++) {
        store.store(store.slot("binance", "BTCUSDT"), 7, seq, BigInt(seq));
        await delay(30); // a new position every tick, for 3 s
      }
      const started = performance.now();
      await mirror.close();
      const took = performance.now() - started;
      assert.ok(took < 3000, `close() took ${took.toFixed(0)} ms`);
    } finally {
      store.close();
      removeDurable(name);
    }
  },
});

natsTest({
  name:
    "durable mirror: one write in flight at most: with JetStream not answering (1 s per write) and the positions moving every 20 ms tick, about one write per second goes out, not one per tick",
  permissions: [{ name: "ffi" }, { name: "run" }, { name: "write" }],
  fn: async () => {
    await using server = await startNatsServer();
    const { name, streamName } = names();
    const { log, lines } = captureLog();
    const nc = await connectNats(connectionTo(server.url), { log });
    const store = DurablePosition.open(name);
    let mirror: DurableMirror | undefined;
    try {
      mirror = await DurableMirror.open(store, {
        connection: connectionTo(server.url),
        streamName,
        log,
        intervalMs: 20,
      });
      assert.ok(mirror, lines.join("\n"));
      // The stream gone and a subscriber that never replies: each write
      // waits its whole 1 s timeout.
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(DURABLE_MIRROR_STREAM);
      let writes = 0;
      nc.subscribe(`marketbus_ring_durable.${streamName}.${name}`, {
        callback: () => {
          writes++;
        },
      });
      await nc.flush();
      for (let seq = 1; seq <= 50; seq++) {
        store.store(store.slot("binance", "BTCUSDT"), 7, seq, BigInt(seq));
        await delay(30); // a new position every tick, for 1.5 s
      }
      await nc.flush();
      // One write per second at most (2 in 1.5 s, plus one on the edge);
      // without the guard, one per tick: about 75.
      assert.ok(writes <= 3, `${writes} writes went out in 1.5 s`);
      assert.ok(writes >= 1, "no write went out");
    } finally {
      await mirror?.close(); // before the file is unmapped
      await nc.close();
      store.close();
      removeDurable(name);
    }
  },
});
