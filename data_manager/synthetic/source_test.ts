// The synthetic source paced trade by trade (thread sleeps between trades):
// the count is exact, the event loop keeps running between trades, and an
// abort stops it. Needs --allow-ffi for the thread sleeps (timers without).

import assert from "node:assert/strict";
import type { TradeSink } from "../source.ts";
import { SyntheticSource } from "./source.ts";

/** A sink that counts, calling `onPublish` with the count after each trade. */
function countingSink(onPublish: (count: number) => void = () => {}) {
  const sink = {
    count: 0,
    publish() {
      onPublish(++sink.count);
    },
    room: () => undefined,
    gap() {},
  } satisfies TradeSink & { count: number };
  return sink;
}

Deno.test("a paced feed publishes exactly maxTrades and lets timers run between trades", async () => {
  const source = new SyntheticSource(["BTCUSDT", "ETHUSDT"], {
    rate: 2000,
    maxTrades: 100,
  });
  let ticks = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = () => {
    ticks++;
    timer = setTimeout(tick, 0);
  };
  tick();
  ticks = 0;
  const sink = countingSink();
  try {
    await source.run(sink, { signal: new AbortController().signal });
  } finally {
    clearTimeout(timer);
  }
  assert.equal(sink.count, 100);
  assert.equal(source.produced, 100);
  assert.ok(ticks > 0, "no timer ran while the feed was paced");
});

Deno.test("an abort stops a paced feed within 64 trades (at once when it keeps pace)", async () => {
  const source = new SyntheticSource(["BTCUSDT"], { rate: 1000 });
  const controller = new AbortController();
  const sink = countingSink((count) => {
    if (count === 10) controller.abort();
  });
  await source.run(sink, { signal: controller.signal });
  // Trades due together (a late wake-up) are checked every 64.
  assert.ok(sink.count >= 10 && sink.count < 10 + 64, `${sink.count}`);
});

Deno.test("a paced feed whose flush never settles (a stalled NATS socket) still stops on abort", async () => {
  const source = new SyntheticSource(["BTCUSDT"], { rate: 1000 });
  const stop = new AbortController();
  let flushes = 0;
  let published = 0;
  const sink = Object.assign(countingSink(), {
    flush: () => {
      flushes++;
      published = sink.count;
      setTimeout(() => stop.abort(), 20);
      return new Promise<void>(() => {});
    },
  });
  await source.run(sink, { signal: stop.signal });
  assert.equal(flushes, 1, "the feed went on past a flush that never settled");
  assert.equal(sink.count, published);
});
