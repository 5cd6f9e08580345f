// The registry's watch (BucketFeed): what a consumer's poll reads, kept up
// to date by an ordered push consumer on the bucket's stream, costs one
// JetStream API request per poll (the stream info) instead of one plus a
// get per key, and sees every put, a new key, and a purged one; a bucket
// deleted and created again resets it (new entries, none of the old); a
// closed feed leaves no consumer; a refused consumer is tried again only
// after RETRY_MS, every key read meanwhile.

import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { natsTest } from "../../tests/_permissions.ts";
import { startNatsServer } from "../../tests/nats_server.ts";
import { RegistryBucket, SymbolClaims } from "./mod.ts";
import { BucketFeed, RETRY_MS } from "./_bucket_feed.ts";

const SYMBOLS = Array.from({ length: 20 }, (_, i) => `SYM${i}USDT`);

/** `symbols`' claims in `bucket` by pid `pid`, all claimed. */
async function claimed(
  bucket: RegistryBucket,
  symbols: string[],
  pid: number,
): Promise<SymbolClaims> {
  const claims = new SymbolClaims(bucket, {
    prefix: "market",
    exchange: "binance",
    symbols,
    identity: { host: "h", pid, source: "synthetic", startedAt: 1 },
    ttlMs: 5000,
  });
  await claims.claimFree();
  assert.ok(claims.complete);
  return claims;
}

/** The feed's entries as `key pid`, sorted. */
function owners(entries: Map<string, { entry: { pid: number } }>): string[] {
  return [...entries].map(([key, { entry }]) => `${key} ${entry.pid}`).sort();
}

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
      // A key from the middle of the sequence: no marker, and not below the
      // stream's first sequence; the feed sees it gone by the second read.
      const middle = [...purged].sort(([, a], [, b]) =>
        a.revision - b.revision
      )[9][0];
      await jsm.streams.purge("KV_feed", { filter: `$KV.feed.${middle}` });
      await feed.read();
      const again = await feed.read();
      assert.equal(again.has(middle), false);
      assert.deepEqual([...again.keys()].sort(), [
        ...(await bucket.list()).keys(),
      ]);
      await feed.close();
    } finally {
      await nc.close();
    }
  },
});

natsTest({
  name:
    "registry feed: a bucket deleted and created again resets the feed (the new entries, none of the old); a closed feed leaves no consumer",
  fn: async () => {
    await using server = await startNatsServer();
    const nc = await connect({ servers: server.url });
    try {
      const open = () =>
        RegistryBucket.open(nc, { bucket: "feed", createWithMaxAgeMs: 60_000 });
      await claimed(await open(), SYMBOLS, 7);
      const feed = (await open()).feed();
      assert.equal((await feed.read()).size, 20);
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete("KV_feed");
      const bucket = await open();
      await claimed(bucket, ["NEWUSDT", "SYM1USDT"], 8);
      const expected = [
        "market.binance.NEWUSDT 8",
        "market.binance.SYM1USDT 8",
      ];
      assert.deepEqual(owners(await bucket.list()), expected);
      // The old code kept the 20 old entries: the new stream's last
      // sequence (2) was below the feed's (20), so it counted as caught up.
      assert.deepEqual(owners(await feed.read()), expected);
      await claimed(bucket, ["LATERUSDT"], 8);
      assert.equal((await feed.read()).has("market.binance.LATERUSDT"), true);
      await feed.close();
      const left = await jsm.consumers.list("KV_feed").next();
      assert.deepEqual(left.map((c) => c.name), [], "consumers left");
    } finally {
      await nc.close();
    }
  },
});

natsTest({
  name:
    "registry feed: a consumer the server refuses is tried again only after RETRY_MS; every key is read meanwhile",
  fn: async () => {
    await using server = await startNatsServer({
      config: {
        authorization: {
          users: [{
            user: "r",
            password: "r-pass-71f0",
            permissions: { publish: { deny: ["$JS.API.CONSUMER.>"] } },
          }],
        },
        no_auth_user: "r",
      },
    });
    const nc = await connect({ servers: server.url });
    try {
      const bucket = await RegistryBucket.open(nc, {
        bucket: "feed",
        createWithMaxAgeMs: 60_000,
      });
      await claimed(bucket, SYMBOLS.slice(0, 3), 7);
      // The feed's own place, counting its consumer attempts.
      const js = jetstream(nc);
      let attempts = 0;
      const consumers = {
        getPushConsumer: (
          ...args: Parameters<typeof js.consumers.getPushConsumer>
        ) => {
          attempts++;
          return js.consumers.getPushConsumer(...args);
        },
      };
      const feed = new BucketFeed({
        js: { consumers } as unknown as typeof js,
        jsm: await jetstreamManager(nc),
        stream: "KV_feed",
        prefix: "$KV.feed.",
        readAll: () => bucket.list(),
      });
      for (let i = 0; i < 4; i++) {
        assert.equal((await feed.read()).size, 3);
      }
      // The old code asked for the consumer at each read (4 refusals).
      assert.equal(attempts, 1);
      assert.ok(RETRY_MS >= 10_000);
      await feed.close();
    } finally {
      await nc.close();
    }
  },
});
