// The registry's watch (BucketFeed): what a consumer's poll reads, kept up
// to date by an ordered push consumer on the bucket's stream, costs one
// JetStream API request per poll (the stream info) instead of one plus a
// get per key, and sees every put, a new key, and a purged one.

import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { natsTest } from "../../tests/_permissions.ts";
import { startNatsServer } from "../../tests/nats_server.ts";
import { RegistryBucket, SymbolClaims } from "./mod.ts";

const SYMBOLS = Array.from({ length: 20 }, (_, i) => `SYM${i}USDT`);

natsTest({
  name:
    "registry feed: a poll of 20 keys costs 1 JetStream API request (stream info) instead of 21, and sees each put and purge",
  fn: async () => {
    await using server = await startNatsServer();
    const nc = await connect({ servers: server.url });
    try {
      const bucket = await RegistryBucket.open(nc, {
        bucket: "feed",
        createWithMaxAgeMs: 60_000,
      });
      const claims = new SymbolClaims(bucket, {
        prefix: "market",
        exchange: "binance",
        symbols: SYMBOLS,
        identity: { host: "h", pid: 7, source: "synthetic", startedAt: 1 },
        ttlMs: 5000,
      });
      await claims.claimFree();
      const feed = bucket.feed();
      const first = await feed.read();
      assert.equal(first.size, 20);

      // Every JetStream API request, as a subscriber of $JS.API.> sees it.
      const spy = await connect({ servers: server.url });
      let requests = 0;
      spy.subscribe("$JS.API.>", {
        callback: () => {
          requests++;
        },
      });
      await spy.flush();
      const counted = async (poll: () => Promise<unknown>) => {
        requests = 0;
        for (let i = 0; i < 5; i++) await poll();
        await spy.flush();
        return requests / 5;
      };
      const perRead = await counted(() => feed.read());
      const perList = await counted(() => bucket.list());
      await spy.close();
      console.log(
        `JetStream API requests per poll of 20 keys: watch ${perRead}, list ${perList}`,
      );
      assert.equal(perRead, 1);
      assert.equal(perList, 21);

      await claims.heartbeat();
      const renewed = await feed.read();
      const listed = await bucket.list();
      assert.deepEqual(
        [...renewed].map(([k, s]) => [k, s.revision]),
        [...listed].map(([k, s]) => [k, s.revision]).sort(),
      );
      const jsm = await (await import("@nats-io/jetstream")).jetstreamManager(
        nc,
      );
      const [key] = renewed.keys();
      await jsm.streams.purge("KV_feed", { filter: `$KV.feed.${key}` });
      const purged = await feed.read();
      assert.equal(purged.size, 19);
      assert.equal(purged.has(key), false);
      feed.close();
    } finally {
      await nc.close();
    }
  },
});
