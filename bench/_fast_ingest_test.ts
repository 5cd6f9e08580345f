// Fast-ingest batch publishing against a real nats-server (≥ 2.14): every
// message stored once (Nats-Msg-Id dedup inside the batch), the server's flow
// acks pacing the window, the closing PubAck's count; a stream without
// allow_batched refused with one line naming the setting; bad options.

import assert from "node:assert/strict";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { headers, type MsgHdrs, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { natsTest } from "../tests/_permissions.ts";
import { FastIngest, FastIngestError } from "./_fast_ingest.ts";
import { msgIdHeader } from "./_fast_ingest_header.ts";

const RUN = crypto.randomUUID().slice(0, 8);

async function withStream(
  url: string,
  name: string,
  allowBatched: boolean,
  fn: (nc: NatsConnection, jsm: JetStreamManager, subject: string) => Promise<
    void
  >,
): Promise<void> {
  const nc = await connect({ servers: url, noAsyncTraces: true });
  const jsm = await jetstreamManager(nc);
  const stream = `FI_${name}_${RUN}`;
  const prefix = `fi${name}${RUN}`;
  try {
    await jsm.streams.add({
      name: stream,
      subjects: [`${prefix}.>`],
      storage: "file",
      num_replicas: 1,
      allow_batched: allowBatched,
    });
    await fn(nc, jsm, prefix);
  } finally {
    await jsm.streams.delete(stream).catch(() => {});
    await nc.close();
  }
}

function withId(id: string) {
  const h = headers();
  h.set("Nats-Msg-Id", id);
  return h;
}

natsTest({
  name:
    "FastIngest: every message stored once, paced by flow acks, counted by the PubAck",
  fn: async (_t, url) => {
    await withStream(url, "ok", true, async (nc, jsm, prefix) => {
      const stream = `FI_ok_${RUN}`;
      const info = await jsm.streams.info(stream);
      assert.equal(
        info.config.allow_batched,
        true,
        "server kept allow_batched",
      );
      const total = 3000;
      const symbols = ["a", "b", "c"];
      const payload = (i: number) => new TextEncoder().encode(`m${i}`);
      const batch = await FastIngest.start(
        nc,
        `${prefix}.a`,
        payload(0),
        withId("id-0"),
        { stream, flow: 100 },
      );
      assert.ok(batch.interval >= 1 && batch.interval <= 100);
      let waits = 0;
      for (let i = 1; i < total; i++) {
        // Every 100th message repeats the previous id: the stream must drop it.
        const id = i % 100 === 0 ? `id-${i - 1}` : `id-${i}`;
        if (
          !batch.publish(`${prefix}.${symbols[i % 3]}`, payload(i), withId(id))
        ) {
          waits++;
          await batch.room();
        }
      }
      // The window (≤ 2 × 100 messages) was full many times: only flow acks freed it.
      assert.ok(waits >= 10, `waited for room ${waits} times`);
      assert.ok(batch.acked > total - 300, `acked ${batch.acked} of ${total}`);
      const ack = await batch.end();
      assert.equal(ack.stream, stream);
      assert.equal(ack.count, total);
      assert.equal(batch.gaps, 0);
      const duplicates = Math.floor((total - 1) / 100);
      const state = (await jsm.streams.info(stream)).state;
      assert.equal(state.messages, total - duplicates);
      assert.equal(ack.seq, state.last_seq);
      const last = await jsm.streams.getMessage(stream, {
        last_by_subj: `${prefix}.c`,
      });
      assert.equal(last?.header.get("Nats-Msg-Id"), "id-2999");
      assert.throws(
        () => batch.publish(`${prefix}.a`, payload(0)),
        FastIngestError,
      );
    });
  },
});

/** What nats.js's publish sends of a header block (MsgHdrsImpl's encode). */
function encoded(h: MsgHdrs): Uint8Array {
  return (h as unknown as { encode(): Uint8Array }).encode();
}

Deno.test("msgIdHeader: the bytes nats.js headers() makes; control characters refused", () => {
  for (const id of ["binance:BTCUSDT:123456789:64:1001", "ü-é", "x"]) {
    assert.deepEqual(encoded(msgIdHeader(id)), encoded(withId(id)));
  }
  assert.throws(() => msgIdHeader("a\r\nb"), TypeError);
  assert.throws(
    () => msgIdHeader(""),
    /Invalid Nats-Msg-Id "": expected a non-empty id/,
  );
});

natsTest({
  name:
    "FastIngest: a stream without allow_batched is refused in one line naming the setting",
  fn: async (_t, url) => {
    await withStream(url, "off", false, async (nc, jsm, prefix) => {
      const stream = `FI_off_${RUN}`;
      const err = await FastIngest.start(
        nc,
        `${prefix}.a`,
        new Uint8Array(48),
        undefined,
        { stream, timeoutMs: 2000 },
      ).then(() => undefined, (e) => e);
      assert.ok(err instanceof FastIngestError, String(err));
      assert.match(err.message, /allow_batched = true/);
      assert.match(err.message, new RegExp(`nats-server v${nc.info!.version}`));
      assert.doesNotMatch(err.message, /\n/);
      assert.equal((await jsm.streams.info(stream)).state.messages, 0);
    });
  },
});

natsTest({
  name: "FastIngest: bad options are RangeError/TypeError quoting the value",
  fn: async (_t, url) => {
    await withStream(url, "args", true, async (nc, _jsm, prefix) => {
      const start = (options: Record<string, unknown>) =>
        FastIngest.start(
          nc,
          `${prefix}.a`,
          new Uint8Array(1),
          undefined,
          options,
        );
      await assert.rejects(
        start({ flow: 0 }),
        /Invalid flow 0: expected an integer from 1 to 65535/,
      );
      await assert.rejects(start({ maxOutstandingAcks: 4 }), RangeError);
      await assert.rejects(start({ gap: "maybe" }), /Invalid gap "maybe"/);
    });
  },
});
