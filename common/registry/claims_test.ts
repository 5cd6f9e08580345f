// Claims under trouble: a heartbeat whose put timed out although the server
// stored it (a NATS stall) is adopted, not taken for a loss; a loss whose
// new owner cannot be read now is not forgotten; the lease runs down
// without confirmed heartbeats; a standby takes all of its symbols or none,
// and two processes claiming together never each hold a part.

import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { natsTest } from "../../tests/_permissions.ts";
import { entryKey, type StoredEntry, type SymbolEntry } from "./entry.ts";
import {
  leaseMarginMs,
  type PublisherIdentity,
  RegistryBucket,
  RevisionConflictError,
  SymbolClaims,
} from "./mod.ts";

const TTL_MS = 2000;
const PREFIX = "market";

function identity(pid: number): PublisherIdentity {
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

function keyOf(symbol: string): string {
  return entryKey({ prefix: PREFIX, exchange: "binance", symbol });
}

async function withBucket(
  url: string,
  fn: (bucket: RegistryBucket) => Promise<void>,
): Promise<void> {
  const nc = await connect({ servers: url });
  const name = `mbt_claims_${crypto.randomUUID().slice(0, 8)}`;
  try {
    await fn(
      await RegistryBucket.open(nc, {
        bucket: name,
        createWithMaxAgeMs: 60_000,
      }),
    );
  } finally {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(`KV_${name}`).catch(() => {});
    await nc.close();
  }
}

/** Re-puts the stored entry unchanged: what a heartbeat put that timed out on the client but reached the server leaves. */
async function lateOwnWrite(bucket: RegistryBucket, key: string) {
  const stored = (await bucket.get(key))!;
  await bucket.put(key, { ...stored.entry, heartbeatAt: Date.now() }, {
    revision: stored.revision,
  });
}

natsTest({
  name:
    "claims: a heartbeat whose earlier put was stored after its timeout (a NATS stall) adopts its own revision and keeps the claim",
  fn: async (_t, url) => {
    await withBucket(url, async (bucket) => {
      const owner = claimsOf(bucket, 101);
      await owner.claimFree();
      assert.ok(owner.complete);
      await lateOwnWrite(bucket, keyOf("BTCUSDT"));
      const before = owner.leaseUntil;
      assert.deepEqual(await owner.heartbeat(), [], "not lost");
      assert.ok(owner.complete, "still held");
      assert.ok(owner.leaseUntil > before, "lease renewed");
      assert.deepEqual(await owner.heartbeat(), [], "and renewed from there");
      assert.equal((await bucket.get(keyOf("BTCUSDT")))?.entry.pid, 101);
    });
  },
});

natsTest({
  name:
    "claims: a claim whose put timed out although stored is this process's own: not a live owner, and claimFree adopts it",
  fn: async (_t, url) => {
    await withBucket(url, async (bucket) => {
      const first = claimsOf(bucket, 101);
      await first.claimFree();
      // The same process (same identity) that did not learn its put landed.
      const again = claimsOf(bucket, 101);
      assert.deepEqual(await again.liveOwners(), []);
      assert.deepEqual(
        await again.claimFree(),
        [],
        "nothing taken from another",
      );
      assert.ok(again.complete);
      assert.deepEqual(await again.heartbeat(), []);
    });
  },
});

natsTest({
  name:
    "claims: all or none: a standby covering two owners' symbols takes none while one owner is alive",
  fn: async (_t, url) => {
    await withBucket(url, async (bucket) => {
      const a = claimsOf(bucket, 101, ["BTCUSDT"]);
      await a.claimFree();
      const c = claimsOf(bucket, 303, ["ETHUSDT"]);
      await c.claimFree();
      const standby = claimsOf(bucket, 202);
      const lease = TTL_MS + leaseMarginMs(TTL_MS);
      // A first look: both owners judged alive (a first look cannot tell).
      const t0 = performance.now();
      assert.deepEqual(await standby.claimFree(t0), []);
      // C heartbeats, A does not: a lease later A is past it, C is not.
      await c.heartbeat();
      const t1 = t0 + lease + 100;
      assert.deepEqual(await standby.claimFree(t1), []);
      assert.deepEqual(standby.held, [], "BTCUSDT not held without ETHUSDT");
      assert.equal((await bucket.get(keyOf("BTCUSDT")))?.entry.pid, 101);
      // Both quiet for a lease: both taken.
      const taken = await standby.claimFree(t1 + lease + 100);
      assert.deepEqual(taken.map((t) => [t.symbol, t.reason]), [
        ["BTCUSDT", "expired"],
        ["ETHUSDT", "expired"],
      ]);
      assert.ok(standby.complete);
    });
  },
});

natsTest({
  name:
    "claims: two processes claiming the same symbols together: one holds all, the other none (never a part each)",
  fn: async (_t, url) => {
    await withBucket(url, async (bucket) => {
      for (let round = 0; round < 10; round++) {
        const symbols = [`S${round}A`, `S${round}B`, `S${round}C`];
        const x = claimsOf(bucket, 1000 + round, symbols);
        const y = claimsOf(bucket, 2000 + round, [...symbols].reverse());
        await Promise.all([x.claimFree(), y.claimFree()]);
        const held = [x.held.length, y.held.length].sort();
        assert.deepEqual(held, [0, 3], `round ${round}`);
      }
    });
  },
});

/** A bucket whose every put conflicts and whose get answers `get`. */
function conflictingBucket(get: () => Promise<StoredEntry | undefined>) {
  let puts = 0;
  return {
    bucket: {
      put(key: string, _entry: SymbolEntry, options: { revision: number }) {
        puts++;
        if (puts === 1) return Promise.resolve(7); // the claim
        return Promise.reject(new RevisionConflictError(key, options.revision));
      },
      get,
    } as unknown as RegistryBucket,
  };
}

Deno.test("claims: a conflict whose new owner cannot be read now keeps the claim unconfirmed (its lease runs down) and reports the loss once it can", async () => {
  let answer: () => Promise<StoredEntry | undefined> = () =>
    Promise.resolve(undefined);
  const { bucket } = conflictingBucket(() => answer());
  const owner = claimsOf(bucket, 101, ["BTCUSDT"]);
  await owner.claimFree(); // the stub's first put succeeds
  answer = () => Promise.reject(new Error("timeout"));
  assert.ok(owner.complete);
  const lease = owner.leaseUntil;
  await assert.rejects(owner.heartbeat(), /timeout/);
  assert.ok(owner.complete, "not forgotten");
  assert.equal(owner.leaseUntil, lease, "not renewed");
  const other: StoredEntry = {
    revision: 9,
    storedAt: Date.now(),
    entry: {
      prefix: PREFIX,
      exchange: "binance",
      symbol: "BTCUSDT",
      ring: undefined,
      epoch: undefined,
      source: "synthetic",
      startedAt: 5,
      host: "elsewhere",
      pid: 202,
      rate: 0,
      heartbeatAt: 0,
      ttlMs: TTL_MS,
      state: "publishing",
    },
  };
  answer = () => Promise.resolve(other);
  const lost = await owner.heartbeat();
  assert.deepEqual(lost.map((l) => l.stored?.entry.pid), [202]);
  assert.equal(owner.held.length, 0);
  assert.equal(owner.leaseUntil, -Infinity);
});

Deno.test("claims: a first look judges a fresh entry alive (no clock compared), but one stored far past its lease by the wall clock expired at once", async () => {
  const entryAt = (storedAt: number): StoredEntry => ({
    revision: 4,
    storedAt,
    entry: {
      prefix: PREFIX,
      exchange: "binance",
      symbol: "BTCUSDT",
      ring: undefined,
      epoch: undefined,
      source: "synthetic",
      startedAt: 5,
      host: "elsewhere",
      pid: 202,
      rate: 0,
      heartbeatAt: 0,
      ttlMs: TTL_MS,
      state: "publishing",
    },
  });
  const bucketOf = (stored: StoredEntry) =>
    ({
      get: () => Promise.resolve(stored),
      put: () => Promise.resolve(5),
    }) as unknown as RegistryBucket;
  const fresh = claimsOf(bucketOf(entryAt(Date.now())), 101, ["BTCUSDT"]);
  assert.deepEqual(await fresh.claimFree(), []);
  const owners = await fresh.liveOwners();
  assert.deepEqual(owners.map((o) => [o.stored.entry.pid, o.proven]), [
    [202, false],
  ]);
  const old = claimsOf(bucketOf(entryAt(Date.now() - 120_000)), 101, [
    "BTCUSDT",
  ]);
  const taken = await old.claimFree();
  assert.deepEqual(taken.map((t) => t.reason), ["expired"]);
  assert.ok(taken[0].quietMs >= 120_000);
});

/** A bucket of one purged key: the claim's put succeeds, a renewal at its revision conflicts, a create (revision 0) succeeds; get finds nothing. */
function purgedBucket() {
  const creates: number[] = [];
  let puts = 0;
  const bucket = {
    put(key: string, _entry: SymbolEntry, options: { revision: number }) {
      puts++;
      if (puts === 1) return Promise.resolve(7); // the claim
      if (options.revision !== 0) {
        return Promise.reject(new RevisionConflictError(key, options.revision));
      }
      creates.push(puts);
      return Promise.resolve(20 + puts);
    },
    get: () => Promise.resolve(undefined),
  } as unknown as RegistryBucket;
  return { bucket, creates };
}

Deno.test("claims: a purged key within the lease is created again (nobody could have published meanwhile); past the lease it is lost (a standby may have published, its entry gone too), not resumed", async () => {
  const within = purgedBucket();
  const owner = claimsOf(within.bucket, 101, ["BTCUSDT"]);
  await owner.claimFree();
  assert.deepEqual(await owner.heartbeat(), []);
  assert.equal(within.creates.length, 1, "created again at revision 0");
  assert.ok(owner.complete);

  const past = purgedBucket();
  const suspended = claimsOf(past.bucket, 102, ["BTCUSDT"]);
  await suspended.claimFree();
  const wait = suspended.leaseUntil - performance.now() + 20;
  await new Promise((resolve) => setTimeout(resolve, wait));
  const lost = await suspended.heartbeat();
  assert.deepEqual(lost, [{ symbol: "BTCUSDT", stored: undefined }]);
  assert.equal(past.creates.length, 0, "not created again");
  assert.equal(suspended.complete, false);
  assert.equal(suspended.leaseUntil, -Infinity);
});
