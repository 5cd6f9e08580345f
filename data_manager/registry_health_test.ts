import assert from "node:assert/strict";
import type { Registration } from "./registration.ts";
import {
  registryFamilies,
  registryHealth,
  type RegistryScope,
} from "./registry_health.ts";

/** A scope holding its claims with a lease ending `leftMs` from now. */
function holding(leftMs: number): RegistryScope {
  const claims = { complete: true, leaseUntil: performance.now() + leftMs };
  return {
    registration: { claims } as unknown as Registration,
    registering: false,
    exchange: "binance",
    symbols: ["BTCUSDT", "ETHUSDT"],
  };
}

const HEALTHY = { ok: true, checks: [] };

/** `marketbus_registry_suspended`'s samples as `symbol=value`. */
function suspended(scope: RegistryScope): string[] {
  const family = registryFamilies(scope).find((f) =>
    f.name === "marketbus_registry_suspended"
  );
  return (family?.samples ?? []).map((s) =>
    `${s.labels?.symbol}=${"value" in s ? s.value : "?"}`
  );
}

Deno.test("registryHealth: within the lease, no registry check", () => {
  assert.deepEqual(registryHealth(HEALTHY, holding(10_000)), HEALTHY);
  assert.deepEqual(suspended(holding(10_000)), ["BTCUSDT=0", "ETHUSDT=0"]);
});

Deno.test("registryHealth: past the lease, a failing check names the lease and the symbols, and the gauge is 1 per symbol", () => {
  const report = registryHealth(HEALTHY, holding(-1));
  assert.equal(report.ok, false);
  assert.equal(report.checks.length, 1);
  const [check] = report.checks;
  assert.equal(check.name, "registry");
  assert.equal(check.ok, false);
  assert.match(
    check.detail ?? "",
    /^NATS publishing of binance BTCUSDT,ETHUSDT suspended by the registry lease: heartbeats unconfirmed/,
  );
  assert.deepEqual(suspended(holding(-1)), ["BTCUSDT=1", "ETHUSDT=1"]);
});

Deno.test("registryHealth: not registered yet, suspended too; no gauges without the registry", () => {
  const scope: RegistryScope = {
    registration: undefined,
    registering: true,
    exchange: "binance",
    symbols: ["BTCUSDT"],
  };
  assert.match(
    registryHealth(HEALTHY, scope).checks[0].detail ?? "",
    /^not registered/,
  );
  assert.deepEqual(suspended(scope), ["BTCUSDT=1"]);
  assert.deepEqual(registryFamilies({ ...scope, registering: false }), []);
});
