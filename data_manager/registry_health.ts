/**
 * serve's place in the symbol registry as `/healthz` and `/metrics` show
 * it: a hot standby waiting (healthy), a serve that could not register at
 * start and keeps trying (NATS suspended when the registry was unreachable,
 * publishing unguarded when it was unavailable), or one whose lease ended
 * (heartbeats unconfirmed: NATS suspended), each a failing `registry`
 * check, and `marketbus_registry_registered`,
 * `marketbus_registry_suspended`.
 *
 * @module
 */

import {
  gauge,
  type HealthCheck,
  type HealthReport,
  type MetricFamily,
} from "../common/metrics/mod.ts";
import type { Registration } from "./registration.ts";

/** Where serve stands in the registry. */
export interface RegistryStanding {
  /** Its registration, once it has one. */
  registration: Registration | undefined;
  /** It registers but has not managed to yet (the registry was unreachable or unavailable at start): it keeps trying. */
  registering: boolean;
  /** Why it publishes to NATS unregistered while it keeps trying (the registry unavailable at start: a permission, a JetStream error); undefined when NATS waits for the registration (unreachable at start) or it is registered. */
  unguarded: string | undefined;
}

/** The standing with what it publishes: the exchange and symbols named by the check and the gauge. */
export interface RegistryScope extends RegistryStanding {
  /** The exchange. */
  exchange: string;
  /** The symbols serve publishes. */
  symbols: readonly string[];
}

/** Holding its claims but past its lease (heartbeats unconfirmed): NATS publishing is suspended. */
function leaseEnded(standing: RegistryStanding): boolean {
  const claims = standing.registration?.claims;
  return claims !== undefined && claims.complete &&
    performance.now() >= claims.leaseUntil;
}

/** A hot standby is healthy while it waits: publishing is not its job yet. */
export function standbyHealth(
  registration: Registration,
  symbols: number,
): HealthReport {
  return {
    ok: true,
    checks: [{
      name: "registry",
      ok: true,
      detail:
        `hot standby, ${registration.claims.held.length} of ${symbols} symbols held`,
    }],
  };
}

/**
 * `report` with a failing `registry` check while serve is not registered
 * but means to (NATS suspended, or publishing unguarded), or its lease
 * ended (heartbeats unconfirmed: NATS suspended), naming the symbols.
 */
export function registryHealth(
  report: HealthReport,
  scope: RegistryScope,
): HealthReport {
  let detail: string;
  if (scope.registering && scope.unguarded !== undefined) {
    detail =
      `not registered: the registry was unavailable at start (${scope.unguarded}); NATS publishing of ${scope.exchange} ${
        scope.symbols.join(",")
      } goes on unguarded (another serve of these symbols is not refused) while registering keeps being tried`;
  } else if (scope.registering) {
    detail =
      "not registered: the registry was unreachable at start; NATS publishing suspended (trades queue, the rings go on) while registering keeps being tried";
  } else if (leaseEnded(scope)) {
    detail = `NATS publishing of ${scope.exchange} ${
      scope.symbols.join(",")
    } suspended by the registry lease: heartbeats unconfirmed past registry.ttl less its margin (trades queue, the rings go on) until the registry confirms the claims`;
  } else return report;
  const check: HealthCheck = { name: "registry", ok: false, detail };
  return { ok: false, checks: [...report.checks, check] };
}

/**
 * `marketbus_registry_registered`: 1 while serve holds its claims, 0 while
 * it is not registered yet; `marketbus_registry_suspended` per symbol: 1
 * while NATS publishing is suspended by the registry (unregistered and not
 * unguarded, or past the lease). None when serve does not register.
 */
export function registryFamilies(scope: RegistryScope): MetricFamily[] {
  if (scope.registration === undefined && !scope.registering) return [];
  const waiting = scope.registering && scope.unguarded === undefined;
  const suspended = waiting || leaseEnded(scope) ? 1 : 0;
  return [
    gauge({
      name: "marketbus_registry_registered",
      help:
        "1 while serve holds its symbols' claims in the registry, 0 while it is not registered yet (the registry was unreachable at start: NATS suspended; or unavailable: NATS unguarded) and keeps trying.",
    }, scope.registering ? 0 : 1),
    gauge(
      {
        name: "marketbus_registry_suspended",
        help:
          "1 while NATS publishing of the symbol is suspended by the registry (its lease ended: heartbeats unconfirmed; or not registered yet, the registry unreachable at start): trades queue, the rings go on; 0 while it publishes (unguarded too: see marketbus_registry_registered).",
      },
      scope.symbols.map((symbol) => ({
        labels: { exchange: scope.exchange, symbol },
        value: suspended,
      })),
    ),
  ];
}
