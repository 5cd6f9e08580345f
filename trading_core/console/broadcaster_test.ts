// The SSE broadcaster: a snapshot first (after `retry:`), updates from the
// timer only while a client is connected, a client that does not read dropped
// once its unsent bytes pass the bound (the others go on), a cancelled client
// gone, heartbeats, and close() ending every stream. TradeStats reads the
// wall clock through libc, hence ffiTest where real events are built; the
// others use stub events and run under --allow-net.

import assert from "node:assert/strict";
import { ffiTest } from "../../tests/_permissions.ts";
import { consoleEvents } from "../../tests/_console_trades.ts";
import { stubEvents } from "../../tests/_console_stub.ts";
import { delay } from "../../common/runtime/delay.ts";
import { Broadcaster, RETRY_MS } from "./broadcaster.ts";

const decoder = new TextDecoder();

/** Reads what `stream` has queued, without waiting for more. */
async function queued(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  chunks: number,
): Promise<string> {
  let text = "";
  for (let i = 0; i < chunks; i++) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value);
  }
  return text;
}

ffiTest(
  "Broadcaster: retry and the snapshot first, then an update per tick with something new; ticks run only while a client is connected",
  async () => {
    const { events, trade } = consoleEvents();
    let now = 0;
    const broadcaster = new Broadcaster(events, {
      updatesPerSecond: 20,
      now: () => now,
    });
    try {
      const reader = broadcaster.connect({ k: 0 }).getReader();
      assert.equal(broadcaster.clients, 1);
      const first = await queued(reader, 1);
      assert.ok(
        first.startsWith(`retry: ${RETRY_MS}\nevent: snapshot\ndata: {`),
      );
      trade(0, 1_000, 100);
      now = 1_000;
      broadcaster.tick();
      const update = await queued(reader, 1);
      assert.match(update, /^event: update\ndata: \{"table":/);
      await reader.cancel();
      assert.equal(broadcaster.clients, 0, "a cancelled client is gone");
    } finally {
      broadcaster.close();
    }
  },
);

ffiTest(
  "Broadcaster: a client that does not read is dropped past its unsent bytes; one that reads goes on",
  async () => {
    const { events, trade } = consoleEvents();
    let now = 0;
    const broadcaster = new Broadcaster(events, {
      updatesPerSecond: 20,
      maxUnsentBytes: 4_096,
      now: () => now,
    });
    try {
      const stalled = broadcaster.connect({ k: 0 }).getReader();
      const reading = broadcaster.connect({ k: 0 }).getReader();
      await queued(reading, 1);
      for (let i = 1; i <= 40 && broadcaster.clients === 2; i++) {
        for (let j = 0; j < 20; j++) trade(0, i * 1_000 + j, 100 + j);
        now = i * 250;
        broadcaster.tick();
        await queued(reading, 1);
      }
      assert.equal(broadcaster.clients, 1, "the stalled client was dropped");
      assert.equal(broadcaster.dropped, 1);
      // What was queued for it still reads, then its stream ends.
      let text = "";
      for (;;) {
        const { value, done } = await stalled.read();
        if (done) break;
        text += decoder.decode(value);
      }
      assert.ok(text.length <= 4_096 + 2_000, `${text.length} bytes queued`);
      trade(0, 99_000, 1);
      now += 250;
      broadcaster.tick();
      assert.match(await queued(reading, 1), /^event: update/);
    } finally {
      broadcaster.close();
    }
  },
);

Deno.test(
  "Broadcaster: a comment line every heartbeat when nothing changed; close() ends every stream and later ones at once",
  async () => {
    const stub = stubEvents();
    const { events } = stub;
    let now = 0;
    const broadcaster = new Broadcaster(events, {
      updatesPerSecond: 20,
      heartbeatMs: 1_000,
      now: () => now,
    });
    const reader = broadcaster.connect({ k: 0 }).getReader();
    await queued(reader, 1);
    now = 500;
    stub.changed = true;
    broadcaster.tick(); // an update
    await queued(reader, 1);
    stub.changed = false;
    now = 1_200;
    broadcaster.tick();
    assert.equal(await queued(reader, 1), ": keep-alive\n\n");
    broadcaster.close();
    assert.equal((await reader.read()).done, true);
    const late = broadcaster.connect({ k: 0 }).getReader();
    assert.equal((await late.read()).done, true);
    assert.equal(broadcaster.clients, 0);
  },
);

ffiTest(
  "Broadcaster: its timer ticks at updates_per_second and stops with the last client",
  async () => {
    const { events, trade } = consoleEvents();
    const broadcaster = new Broadcaster(events, { updatesPerSecond: 20 });
    try {
      const reader = broadcaster.connect({ k: 0 }).getReader();
      await queued(reader, 1);
      let updates = 0;
      const reading = (async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          if (decoder.decode(value).startsWith("event: update")) updates++;
        }
      })();
      const started = performance.now();
      while (performance.now() - started < 500) {
        trade(0, Date.now(), 100);
        await delay(5);
      }
      assert.ok(
        updates >= 3 && updates <= 12,
        `${updates} updates in 0.5 s at 20/s`,
      );
      await reader.cancel();
      await reading;
      assert.equal(broadcaster.clients, 0);
    } finally {
      broadcaster.close();
    }
  },
);

Deno.test(
  "Broadcaster: an error building the events (a bug) ends the streams and is reported; nothing is thrown at live",
  async () => {
    const { events } = stubEvents();
    const errors: unknown[] = [];
    const broadcaster = new Broadcaster(events, {
      updatesPerSecond: 20,
      onError: (error) => errors.push(error),
    });
    try {
      const reader = broadcaster.connect({ k: 0 }).getReader();
      await queued(reader, 1);
      events.tick = () => {
        throw new Error("a bug");
      };
      assert.equal((await reader.read()).done, true, "its stream ended");
      assert.equal(broadcaster.clients, 0);
      assert.equal((errors[0] as Error).message, "a bug");
      events.snapshot = () => {
        throw new Error("another");
      };
      const late = broadcaster.connect({ k: 0 }).getReader();
      assert.equal((await late.read()).done, true);
      assert.equal((errors[1] as Error).message, "another");
    } finally {
      broadcaster.close();
    }
  },
);
