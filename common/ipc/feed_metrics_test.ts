// The ring feed's metric families from a real RingFeed reading real rings:
// marketbus_ring_capacity_trades is the size of the ring each stream reads
// (what the monitoring profile's "lag above half a ring" alert divides by),
// present only once its ring is attached.

import assert from "node:assert/strict";
import { RingWriter } from "./mod.ts";
import type { MetricFamily } from "../metrics/exposition.ts";
import { ffiTest } from "../../tests/_permissions.ts";
import { shmScope } from "../../tests/_ipc_roles.ts";
import {
  publish,
  subscribe,
  until,
} from "../../tests/_ring_feed_subscription.ts";

/** `[symbol, value]` of each sample of family `name`. */
function values(families: MetricFamily[], name: string): [string, number][] {
  const family = families.find((f) => f.name === name);
  assert.ok(family, `no family ${name}`);
  return family.samples.map((s) => [
    String(s.labels?.symbol),
    "value" in s ? Number(s.value) : NaN,
  ]);
}

ffiTest(
  "ring feed metrics: marketbus_ring_capacity_trades is each attached ring's size, beside its lag; none for a ring not there yet",
  async () => {
    using shm = shmScope();
    const btc = RingWriter.create(shm.ring("BTCUSDT"), { capacity: 512 });
    const sub = subscribe(shm, ["BTCUSDT", "ETHUSDT"], { from: "oldest" });
    const labels = ["BTCUSDT", "ETHUSDT"].map((symbol) => ({
      transport: "ipc",
      exchange: "binance",
      symbol,
    }));
    let eth: RingWriter | undefined;
    try {
      publish(btc, 1, 10);
      await until(() => sub.seqs(0).length === 10, "10 BTCUSDT trades");
      let families = sub.feed.metrics(labels);
      assert.deepEqual(values(families, "marketbus_ring_capacity_trades"), [
        ["BTCUSDT", 512],
      ]);
      assert.deepEqual(values(families, "marketbus_ring_lag_trades"), [
        ["BTCUSDT", 0],
        ["ETHUSDT", 0],
      ]);
      eth = RingWriter.create(shm.ring("ETHUSDT"), { capacity: 64 });
      publish(eth, 1, 3);
      await until(() => sub.seqs(1).length === 3, "3 ETHUSDT trades");
      families = sub.feed.metrics(labels);
      assert.deepEqual(values(families, "marketbus_ring_capacity_trades"), [
        ["BTCUSDT", 512],
        ["ETHUSDT", 64],
      ]);
      const family = families.find((f) =>
        f.name === "marketbus_ring_capacity_trades"
      );
      assert.equal(family?.type, "gauge");
      assert.deepEqual(family?.samples[1].labels, labels[1]);
    } finally {
      await sub.stop();
      btc.close();
      eth?.close();
    }
  },
);
