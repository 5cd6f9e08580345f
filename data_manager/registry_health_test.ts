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
    unguarded: undefined,
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

/** `marketbus_registry_registered`'s value, or undefined without the gauge. */
function registered(scope: RegistryScope): number | undefined {
  const family = registryFamilies(scope).find((f) =>
    f.name === "marketbus_registry_registered"
  );
  const sample = family?.samples[0];
  return sample && "value" in sample ? sample.value : undefined;
}

Deno.test("registryHealth: not registered yet (unreachable at start), suspended too", () => {
  const scope: RegistryScope = {
    registration: undefined,
    registering: true,
    unguarded: undefined,
    exchange: "binance",
    symbols: ["BTCUSDT"],
  };
  const report = registryHealth(HEALTHY, scope);
  assert.equal(report.ok, false);
  assert.match(
    report.checks[0].detail ?? "",
    /^not registered: the registry was unreachable/,
  );
  assert.deepEqual(suspended(scope), ["BTCUSDT=1"]);
  assert.equal(registered(scope), 0);
});

Deno.test("registryHealth: unavailable at start, publishing unguarded: a failing check says so, registered 0, not suspended", () => {
  const scope: RegistryScope = {
    registration: undefined,
    registering: true,
    unguarded: 'NATS refused publish to "$KV.marketbus_symbols.x"',
    exchange: "binance",
    symbols: ["BTCUSDT"],
  };
  const report = registryHealth(HEALTHY, scope);
  assert.equal(report.ok, false);
  assert.equal(report.checks[0].name, "registry");
  assert.match(
    report.checks[0].detail ?? "",
    /^not registered: the registry was unavailable at start \(NATS refused .*\); NATS publishing of binance BTCUSDT goes on unguarded/,
  );
  assert.deepEqual(suspended(scope), ["BTCUSDT=0"]);
  assert.equal(registered(scope), 0);
});

Deno.test("registryHealth: serve that does not register (registry.register = false): no check, no gauges", () => {
  const scope: RegistryScope = {
    registration: undefined,
    registering: false,
    unguarded: undefined,
    exchange: "binance",
    symbols: ["BTCUSDT"],
  };
  assert.deepEqual(registryHealth(HEALTHY, scope), HEALTHY);
  assert.deepEqual(registryFamilies(scope), []);
});
