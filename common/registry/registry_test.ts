// The symbol registry against a real nats-server (NATS_URL or one the
// harness starts): claims, refusal of a live owner, takeover after expiry or
// a clean stop, fencing of the old owner, compare-and-set races, the
// bucket's NATS KV layout, and the consumer's watch (discovery, publisher
// health). Each test uses its own bucket, so a shared server is fine.
// Expiry is shown by judging entries at a later `now`, not by sleeping.

import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { natsTest } from "../../tests/_permissions.ts";
import {
  decodeEntry,
  encodeEntry,
  entryKey,
  type StoredEntry,
  type SymbolEntry,
} from "./entry.ts";
import {
  leaseMarginMs,
  type PublisherIdentity,
  PublisherWatch,
  RegistryBucket,
  RevisionConflictError,
  sameHost,
  SymbolClaims,
} from "./mod.ts";

const TTL_MS = 2000;
const PREFIX = "market";

function uniqueBucket(): string {
  return `mbt_reg_${crypto.randomUUID().slice(0, 8)}`;
}

function identity(pid: number): PublisherIdentity {
  // Each on its own host: none can look at the others' processes.
  return { host: `host${pid}`, pid, source: "synthetic", startedAt: 1000 };
}

function claimsOf(
  bucket: RegistryBucket,
  pid: number,
  symbols = ["BTCUSDT", "ETHUSDT"],
): SymbolClaims {
  return new SymbolClaims(bucket, {
    prefix: PREFIX,
    exchange: "binance",
    symbols,
    identity: identity(pid),
    ttlMs: TTL_MS,
  });
}

async function withBucket(
  url: string,
  fn: (bucket: RegistryBucket, nc: NatsConnection, name: string) => Promise<
    void
  >,
): Promise<void> {
  const nc = await connect({ servers: url });
  const name = uniqueBucket();
  try {
    const bucket = await RegistryBucket.open(nc, {
      bucket: name,
      createWithMaxAgeMs: 60_000,
    });
    await fn(bucket, nc, name);
  } finally {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(`KV_${name}`).catch(() => {});
    await nc.close();
  }
}

natsTest({
  name:
    "registry: a free symbol is claimed; a second serve finds the live owner; once its heartbeat expired the second takes over and the first finds itself fenced",
  fn: async (_t, url) => {
    await withBucket(url, async (bucket) => {
      const owner = claimsOf(bucket, 101);
      assert.deepEqual(await owner.liveOwners(), []);
      const taken = await owner.claimFree();
      assert.deepEqual(taken.map((t) => [t.symbol, t.reason]), [
        ["BTCUSDT", "free"],
        ["ETHUSDT", "free"],
      ]);
      assert.ok(owner.complete);

      const second = claimsOf(bucket, 202);
      const owners = await second.liveOwners();
      assert.deepEqual(owners.map((o) => [o.symbol, o.stored.entry.pid]), [
        ["BTCUSDT", 101],
        ["ETHUSDT", 101],
      ]);
      assert.deepEqual(await second.claimFree(), [], "alive: nothing taken");

      // Later than the TTL and the lease margin after the owner's last heartbeat.
      const later = performance.now() + TTL_MS + leaseMarginMs(TTL_MS) + 100;
      assert.deepEqual(await second.liveOwners(later), []);
      const over = await second.claimFree(later);
      assert.deepEqual(over.map((t) => [t.symbol, t.reason]), [
        ["BTCUSDT", "expired"],
        ["ETHUSDT", "expired"],
      ]);
      assert.equal(over[0].previous?.entry.pid, 101);

      // The old owner's next heartbeat loses the compare-and-set.
      const lost = await owner.heartbeat();
      assert.deepEqual(lost.map((l) => [l.symbol, l.stored?.entry.pid]), [
        ["BTCUSDT", 202],
        ["ETHUSDT", 202],
      ]);
      assert.equal(owner.held.length, 0);
      assert.deepEqual(await second.heartbeat(), [], "the new owner keeps it");
    });
  },
});

natsTest({
  name:
    "registry: a fresh entry of a process of this host that no longer exists is taken at once (a serve killed and restarted)",
  permissions: [{ name: "ffi" }, { name: "run", command: Deno.execPath() }],
  fn: async (_t, url) => {
    await withBucket(url, async (bucket) => {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["--version"],
        stdout: "null",
      }).spawn();
      await child.status; // gone
      const pid = child.pid;
      const host = "thishost";
      const make = (p: number) =>
        new SymbolClaims(bucket, {
          prefix: PREFIX,
          exchange: "binance",
          symbols: ["BTCUSDT"],
          identity: { ...identity(p), host },
          ttlMs: TTL_MS,
        });
      await make(pid).claimFree();
      const restarted = make(Deno.pid);
      assert.deepEqual(await restarted.liveOwners(), []);
      const taken = await restarted.claimFree();
      assert.deepEqual(taken.map((t) => t.reason), ["gone"]);
    });
  },
});

natsTest({
  name:
    "registry: a clean stop marks the entries stopped, and another serve takes them at once",
  fn: async (_t, url) => {
    await withBucket(url, async (bucket) => {
      const owner = claimsOf(bucket, 101);
      await owner.claimFree();
      owner.describe({ rates: [12.4, 3], rings: ["/r_b", "/r_e"] });
      await owner.heartbeat();
      const stored = await bucket.get(
        entryKey({ prefix: PREFIX, exchange: "binance", symbol: "BTCUSDT" }),
      );
      assert.equal(stored?.entry.rate, 12);
      assert.equal(stored?.entry.ring, "/r_b");
      await owner.release();
      const next = claimsOf(bucket, 303);
      const taken = await next.claimFree();
      assert.deepEqual(taken.map((t) => t.reason), ["stopped", "stopped"]);
    });
  },
});

natsTest({
  name:
    "registry: of two writers naming the same revision, one wins and the other gets RevisionConflictError",
  fn: async (_t, url) => {
    await withBucket(url, async (bucket) => {
      const entry = (pid: number): SymbolEntry => ({
        prefix: PREFIX,
        exchange: "binance",
        symbol: "BTCUSDT",
        ring: undefined,
        epoch: undefined,
        source: "synthetic",
        startedAt: 1,
        host: "h",
        pid,
        rate: 0,
        heartbeatAt: 1,
        ttlMs: TTL_MS,
        state: "publishing",
      });
      const results = await Promise.allSettled([
        bucket.put("k", entry(1), { revision: 0 }),
        bucket.put("k", entry(2), { revision: 0 }),
      ]);
      const won = results.filter((r) => r.status === "fulfilled");
      const lost = results.filter((r) => r.status === "rejected");
      assert.equal(won.length, 1);
      assert.equal(lost.length, 1);
      assert.ok(
        (lost[0] as PromiseRejectedResult).reason instanceof
          RevisionConflictError,
      );
    });
  },
});

natsTest({
  name:
    "registry: the bucket is laid out as NATS KV (stream KV_<bucket>, subjects $KV.<bucket>.>, one value per key)",
  fn: async (_t, url) => {
    await withBucket(url, async (bucket, nc, name) => {
      const claims = claimsOf(bucket, 101, ["BTCUSDT"]);
      await claims.claimFree();
      await claims.heartbeat();
      await claims.heartbeat();
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(`KV_${name}`);
      assert.deepEqual(info.config.subjects, [`$KV.${name}.>`]);
      assert.equal(info.config.max_msgs_per_subject, 1);
      assert.equal(info.state.messages, 1, "one value per key");
      const keys = [...(await bucket.list()).keys()];
      assert.deepEqual(keys, ["market.binance.BTCUSDT"]);
    });
  },
});

natsTest({
  name:
    "registry: each read hands on the live publishers' entries under the watch's prefix (none before its heartbeat moved, no standby's, no stopped one), and the watch says which publishers are dead, on its own clock, naming them, unless a standby is alive",
  fn: async (_t, url) => {
    await withBucket(url, async (bucket) => {
      let found: string[] = [];
      const watch = new PublisherWatch(bucket, {
        prefix: PREFIX,
        pollMs: 50,
        onRead: (entries) =>
          found = entries.map((e) => `${e.exchange} ${e.symbol} ${e.pid}`),
      });
      assert.equal(watch.check("binance", "BTCUSDT").ok, true);
      await watch.poll();
      assert.deepEqual(found, []);
      assert.match(
        watch.check("binance", "BTCUSDT").detail,
        /not in the registry/,
      );

      const owner = claimsOf(bucket, 101);
      await owner.claimFree();
      const other = new SymbolClaims(bucket, {
        prefix: "elsewhere",
        exchange: "binance",
        symbols: ["XRPUSDT"],
        identity: identity(9),
        ttlMs: TTL_MS,
      });
      await other.claimFree();
      await watch.poll();
      assert.deepEqual(found, [], "not handed on before its heartbeat moved");
      await owner.heartbeat();
      await other.heartbeat();
      await watch.poll();
      const ownerSeen = performance.now();
      assert.deepEqual(found, [
        "binance BTCUSDT 101",
        "binance ETHUSDT 101",
      ]);

      const alive = watch.check("binance", "BTCUSDT");
      assert.equal(alive.ok, true);
      assert.match(alive.detail, /host host101 pid 101 .* alive/);

      const later = ownerSeen + TTL_MS + 100;
      const dead = watch.check("binance", "BTCUSDT", later);
      assert.equal(dead.ok, false);
      assert.match(
        dead.detail,
        /^binance BTCUSDT: publisher host host101 pid 101 since .* heartbeat expired \(unchanged for [\d.]+ s\), no standby$/,
      );

      // A standby announced itself later: while its entry is fresh and the
      // owner's expired, health stays ok.
      await new Promise((resolve) => setTimeout(resolve, 400));
      const standby = claimsOf(bucket, 202);
      await standby.announceStandby();
      await watch.poll();
      assert.deepEqual(
        found,
        ["binance BTCUSDT 101", "binance ETHUSDT 101"],
        "a standby's entries are not handed on",
      );
      const covered = watch.check("binance", "BTCUSDT", later);
      assert.equal(covered.ok, true, covered.detail);
      assert.match(
        covered.detail,
        /expired .* standby host host202 pid 202 .* taking over/,
      );

      await owner.release();
      await watch.poll();
      assert.deepEqual(found, [], "stopped publishers are not handed on");
      const stopped = watch.check("binance", "ETHUSDT");
      assert.match(stopped.detail, /stopped; standby/);

      // The standby withdraws (it took over, or stopped): no longer counted on.
      await standby.withdrawStandby();
      await watch.poll();
      const alone = watch.check("binance", "ETHUSDT");
      assert.equal(alone.ok, false);
      assert.match(alone.detail, /stopped, no standby$/);

      // A NATS consumer may read a stopped publisher's history.
      const history = new PublisherWatch(bucket, {
        prefix: PREFIX,
        pollMs: 50,
        stoppedFails: false,
      });
      await history.poll();
      const readable = history.check("binance", "ETHUSDT");
      assert.equal(readable.ok, true, readable.detail);
      assert.match(readable.detail, /stopped \(a clean exit\)/);
    });
  },
});

Deno.test("registry: while the registry cannot be read, a publisher's state is unknown, not dead", async () => {
  let list = (): Promise<Map<string, StoredEntry>> =>
    Promise.resolve(
      new Map([[
        entryKey({ prefix: PREFIX, exchange: "binance", symbol: "BTCUSDT" }),
        {
          revision: 3,
          storedAt: 0,
          entry: {
            prefix: PREFIX,
            exchange: "binance",
            symbol: "BTCUSDT",
            ring: undefined,
            epoch: undefined,
            source: "synthetic",
            startedAt: 1,
            host: "h",
            pid: 1,
            rate: 0,
            heartbeatAt: 0,
            ttlMs: TTL_MS,
            state: "publishing",
          },
        },
      ]]),
    );
  const feed = { read: () => list(), close() {} };
  const bucket = { feed: () => feed } as unknown as RegistryBucket;
  const watch = new PublisherWatch(bucket, { prefix: PREFIX, pollMs: 50 });
  await watch.poll();
  const later = performance.now() + TTL_MS + 100;
  assert.equal(watch.check("binance", "BTCUSDT", later).ok, false);
  list = () => Promise.reject(new Error("timeout"));
  await assert.rejects(watch.poll(), /timeout/);
  const unknown = watch.check("binance", "BTCUSDT", later);
  assert.equal(unknown.ok, true);
  assert.match(unknown.detail, /unknown \(the registry cannot be read now\)/);
});

Deno.test("registry: an entry that is not one (foreign JSON, another shape) decodes to undefined", () => {
  const text = (value: unknown) =>
    new TextEncoder().encode(JSON.stringify(value));
  assert.equal(decodeEntry(new TextEncoder().encode("not json")), undefined);
  assert.equal(decodeEntry(text({ exchange: "binance" })), undefined);
  const entry: SymbolEntry = {
    prefix: PREFIX,
    exchange: "binance",
    symbol: "BTCUSDT",
    ring: "/marketbus_binance_BTCUSDT",
    epoch: 7,
    source: "binance",
    startedAt: 1,
    host: "h",
    pid: 2,
    rate: 3,
    heartbeatAt: 4,
    ttlMs: 5,
    state: "publishing",
  };
  assert.deepEqual(decodeEntry(encodeEntry(entry)), entry);
  assert.equal(
    decodeEntry(text({ ...entry, state: "sleeping" })),
    undefined,
  );
});

Deno.test("sameHost: an unknown host name matches no host, not even another unknown", () => {
  assert.equal(sameHost("vm1", "vm1"), true);
  assert.equal(sameHost("vm1", "vm2"), false);
  assert.equal(sameHost("unknown", "unknown"), false);
  assert.equal(sameHost("vm1", "unknown"), false);
});
