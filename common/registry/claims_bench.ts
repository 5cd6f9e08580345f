// The registry lease as serve's pipeline asks it before every trade
// (registry_guard.ts: `performance.now() < claims.leaseUntil`), for 1, 10
// and 100 symbols held. Figures in docs/benchmarks.md.

import type { RegistryBucket } from "./_bucket.ts";
import { SymbolClaims } from "./claims.ts";

/** A bucket where every key is free and every put is stored. */
const FREE_BUCKET = {
  get: () => Promise.resolve(undefined),
  put: () => Promise.resolve(1),
} as unknown as RegistryBucket;

for (const count of [1, 10, 100]) {
  const symbols = Array.from({ length: count }, (_, i) => `SYM${i}USDT`);
  const claims = new SymbolClaims(FREE_BUCKET, {
    prefix: "bench",
    exchange: "binance",
    symbols,
    identity: { host: "bench", pid: 1, source: "synthetic", startedAt: 0 },
    ttlMs: 5000,
  });
  await claims.claimFree();
  if (!claims.complete) throw new Error("bench: the claims were not taken");
  Deno.bench({
    name: `lease check per trade, ${count} symbols held (1000 trades)`,
    group: "lease",
    fn() {
      let held = 0;
      for (let t = 0; t < 1000; t++) {
        if (performance.now() < claims.leaseUntil) held++;
      }
      if (held !== 1000) throw new Error("bench: the lease ended");
    },
  });
}
