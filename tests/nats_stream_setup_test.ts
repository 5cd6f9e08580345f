// ensureStream against a real nats-server: creates the stream, leaves an
// identical one alone, updates what may change and refuses what may not.

import assert from "node:assert/strict";
import { jetstreamManager, type StreamConfig } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { type JetStreamConfig, parseConfig } from "../common/config/mod.ts";
import {
  ensureStream,
  StreamConfigError,
} from "../common/nats/stream_setup.ts";
import { gatedTest, harnessPermissions } from "./_permissions.ts";
import { startNatsServer } from "./nats_server.ts";
import { captureLog } from "./_capture_log.ts";

const STREAM = "SETUP_TEST";

function streamConfig(
  overrides: Partial<JetStreamConfig> = {},
): JetStreamConfig {
  return {
    ...parseConfig(undefined).transport.nats.jetstream,
    streamName: STREAM,
    streamExchange: undefined,
    subjectPrefix: "setup.market",
    ...overrides,
  };
}

/** Runs `fn` with a JetStream manager on a fresh server. */
function setupTest(
  name: string,
  fn: (jsm: Awaited<ReturnType<typeof jetstreamManager>>) => Promise<void>,
): void {
  gatedTest({
    name: `ensureStream: ${name}`,
    permissions: harnessPermissions(),
    async fn() {
      await using server = await startNatsServer();
      const nc = await connect({ servers: server.url, noAsyncTraces: true });
      try {
        await fn(await jetstreamManager(nc));
      } finally {
        await nc.close();
      }
    },
  });
}

async function configOf(
  jsm: Awaited<ReturnType<typeof jetstreamManager>>,
): Promise<StreamConfig> {
  return (await jsm.streams.info(STREAM)).config;
}

setupTest(
  "creates a missing stream with the configured settings",
  async (jsm) => {
    const { log, lines } = captureLog();
    const config = streamConfig({
      maxAgeMs: 30 * 60_000,
      duplicateWindowMs: 60_000,
      maxMsgsPerSubject: 1000,
      maxBytes: 64 * 1024 * 1024,
    });
    assert.equal(await ensureStream(jsm, config, { log }), "created");
    const created = await configOf(jsm);
    assert.deepEqual(created.subjects, ["setup.market.>"]);
    assert.equal(created.retention, "limits");
    assert.equal(created.storage, "file");
    assert.equal(created.max_age, nanos(30 * 60_000));
    assert.equal(created.duplicate_window, nanos(60_000));
    assert.equal(created.max_msgs_per_subject, 1000);
    assert.equal(created.max_bytes, 64 * 1024 * 1024);
    assert.equal(created.num_replicas, 1);
    assert.equal(created.discard, "old");
    assert.equal(created.allow_direct, true);
    assert.equal(lines.length, 1);
    assert.match(
      lines[0],
      /^info: created stream SETUP_TEST: subjects setup\.market\.>, retention limits, storage file, max_age 30m, max_msgs_per_subject 1000, .*duplicate_window 1m/,
    );
  },
);

setupTest("an identical second call changes nothing", async (jsm) => {
  const config = streamConfig(); // max_msgs_per_subject and max_bytes unlimited
  assert.equal(
    await ensureStream(jsm, config, { log: captureLog().log }),
    "created",
  );
  const before = await jsm.streams.info(STREAM);
  const { log, lines } = captureLog();
  assert.equal(await ensureStream(jsm, config, { log }), "unchanged");
  assert.deepEqual(lines, [
    "debug: stream SETUP_TEST exists with the configured settings",
  ]);
  const after = await jsm.streams.info(STREAM);
  assert.deepEqual(after.config, before.config);
  // 0 is how nats-server spells unlimited too
  assert.equal(
    await ensureStream(
      jsm,
      streamConfig({ maxMsgsPerSubject: 0, maxBytes: 0 }),
      {
        log,
      },
    ),
    "unchanged",
  );
});

setupTest(
  "changed max_age and max_msgs_per_subject are updated and logged",
  async (jsm) => {
    await ensureStream(jsm, streamConfig(), { log: captureLog().log });
    const { log, lines } = captureLog();
    const changed = streamConfig({
      maxAgeMs: 30 * 60_000,
      maxMsgsPerSubject: 500,
    });
    assert.equal(await ensureStream(jsm, changed, { log }), "updated");
    assert.deepEqual(lines, [
      "info: updated stream SETUP_TEST: max_age 1h → 30m",
      "info: updated stream SETUP_TEST: max_msgs_per_subject unlimited → 500",
    ]);
    const updated = await configOf(jsm);
    assert.equal(updated.max_age, nanos(30 * 60_000));
    assert.equal(updated.max_msgs_per_subject, 500);
    assert.equal(await ensureStream(jsm, changed, { log }), "unchanged");
  },
);

setupTest(
  "a stream stored in another way is refused with what to do",
  async (jsm) => {
    await ensureStream(jsm, streamConfig({ storage: "file" }), {
      log: captureLog().log,
    });
    const { log, lines } = captureLog();
    await assert.rejects(
      ensureStream(jsm, streamConfig({ storage: "memory", maxAgeMs: 60_000 }), {
        log,
      }),
      (error: Error) => {
        assert.ok(error instanceof StreamConfigError, String(error));
        assert.equal(error.stream, STREAM);
        assert.deepEqual(error.fields, ["storage"]);
        for (
          const part of [
            "Stream SETUP_TEST exists with storage file, but the configuration wants memory",
            "nats stream rm SETUP_TEST",
            "transport.nats.jetstream.storage to match file",
          ]
        ) {
          assert.ok(error.message.includes(part), error.message);
        }
        return true;
      },
    );
    assert.deepEqual(lines, []);
    const kept = await configOf(jsm);
    assert.equal(kept.storage, "file");
    assert.equal(kept.max_age, nanos(3_600_000), "nothing else changed either");
  },
);

setupTest(
  "a retention change the server refuses is a StreamConfigError",
  async (jsm) => {
    await ensureStream(jsm, streamConfig({ retention: "limits" }), {
      log: captureLog().log,
    });
    await assert.rejects(
      ensureStream(jsm, streamConfig({ retention: "workqueue" }), {
        log: captureLog().log,
      }),
      (error: Error) => {
        assert.ok(error instanceof StreamConfigError, String(error));
        assert.deepEqual(error.fields, ["retention"]);
        assert.ok(
          error.message.includes(
            "Stream SETUP_TEST: the server refused to change retention limits → workqueue",
          ),
          error.message,
        );
        assert.ok(error.message.includes("nats stream rm SETUP_TEST"));
        return true;
      },
    );
    assert.equal((await configOf(jsm)).retention, "limits");
    // limits → interest is allowed
    const { log, lines } = captureLog();
    assert.equal(
      await ensureStream(jsm, streamConfig({ retention: "interest" }), { log }),
      "updated",
    );
    assert.deepEqual(lines, [
      "info: updated stream SETUP_TEST: retention limits → interest",
    ]);
  },
);
