/**
 * serve's place in the symbol registry as `/healthz` and `/metrics` show
 * it: a hot standby waiting (healthy), a serve that could not register at
 * start and keeps NATS suspended while it keeps trying (a failing
 * `registry` check), and `marketbus_registry_registered`.
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
  /** It registers but has not managed to yet (the registry was unreachable at start): it keeps trying. */
  registering: boolean;
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

/** `report` with a failing `registry` check while serve publishes unregistered but means to register. */
export function registryHealth(
  report: HealthReport,
  standing: RegistryStanding,
): HealthReport {
  if (!standing.registering) return report;
  const check: HealthCheck = {
    name: "registry",
    ok: false,
    detail:
      "not registered: the registry was unreachable at start; NATS publishing suspended (trades queue, the rings go on) while registering keeps being tried",
  };
  return { ok: false, checks: [...report.checks, check] };
}

/** `marketbus_registry_registered`: 1 while serve holds its claims, 0 while it publishes unregistered; none when it does not register. */
export function registryFamilies(standing: RegistryStanding): MetricFamily[] {
  if (standing.registration === undefined && !standing.registering) return [];
  return [gauge({
    name: "marketbus_registry_registered",
    help:
      "1 while serve holds its symbols' claims in the registry, 0 while it is not registered yet (the registry was unreachable at start: NATS suspended) and keeps trying.",
  }, standing.registering ? 0 : 1)];
}
