/**
 * Scraping a running role's `/metrics` (parsed and linted by the real
 * Prometheus parser, {@linkcode checkExposition}) and `/healthz`, a free
 * loopback port for `--metrics-port`, and polling until a condition holds.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  checkExposition,
  type ParsedExposition,
  type ParsedMetric,
} from "./promcheck.ts";
import { LIVENESS_MS } from "./_ipc_roles.ts";

/** A loopback TCP port that was free a moment ago (listened on, then closed). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** `/metrics` of the endpoint on `port`, parsed; throws when it cannot be fetched or parsed. */
export async function scrape(port: number): Promise<ParsedExposition> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await response.text();
  assert.equal(response.status, 200, `/metrics on ${port}: ${text}`);
  return await checkExposition(text);
}

/** One check of a `/healthz` body. */
export interface HealthCheckBody {
  /** Check name, e.g. `ipc`, `nats`, `data`. */
  name: string;
  /** Whether it passed. */
  ok: boolean;
  /** Its state in words. */
  detail: string;
}

/** A `/healthz` answer. */
export interface Health {
  /** HTTP status: 200 healthy, 503 not. */
  code: number;
  /** `"ok"` or `"unavailable"`. */
  status: string;
  /** The checks. */
  checks: HealthCheckBody[];
}

/** `/healthz` of the endpoint on `port`; throws when it cannot be fetched. */
export async function healthz(port: number): Promise<Health> {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`);
  const body = await response.json();
  return { code: response.status, status: body.status, checks: body.checks };
}

/** The check named `name` of `health`, failing when there is none. */
export function check(health: Health, name: string): HealthCheckBody {
  const found = health.checks.find((c) => c.name === name);
  assert.ok(found, `no check "${name}" in ${JSON.stringify(health)}`);
  return found;
}

/**
 * Calls `probe` every 50 ms until it returns something other than
 * `undefined` (a throw counts as `undefined`: the endpoint may not be up
 * yet), and returns that; fails after `timeoutMs` naming `what` and the last
 * thing seen.
 */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: { timeoutMs?: number } = {},
): Promise<T> {
  const deadline = performance.now() + (options.timeoutMs ?? LIVENESS_MS);
  let last: unknown = "nothing";
  while (true) {
    try {
      const result = await probe();
      if (result !== undefined) return result;
      last = "undefined";
    } catch (error) {
      last = error instanceof Error ? error.message : error;
    }
    if (performance.now() > deadline) {
      assert.fail(`timed out waiting for ${what}; last: ${last}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The samples of family `name`, failing when the exposition has no such family. */
export function samples(
  exposition: ParsedExposition,
  name: string,
): ParsedMetric[] {
  const family = exposition.families[name];
  assert.ok(
    family,
    `no family ${name}; families: ${
      Object.keys(exposition.families).join(", ")
    }`,
  );
  return family.metrics;
}

/** The one sample of family `name` whose labels are exactly `labels`. */
export function sample(
  exposition: ParsedExposition,
  name: string,
  labels: Record<string, string> = {},
): ParsedMetric {
  const all = samples(exposition, name);
  const found = all.filter((metric) =>
    JSON.stringify(Object.entries(metric.labels).sort()) ===
      JSON.stringify(Object.entries(labels).sort())
  );
  assert.equal(
    found.length,
    1,
    `${name}${JSON.stringify(labels)}: ${JSON.stringify(all)}`,
  );
  return found[0];
}

/** The value of the one sample of `name` labelled exactly `labels`. */
export function value(
  exposition: ParsedExposition,
  name: string,
  labels: Record<string, string> = {},
): number {
  const found = sample(exposition, name, labels);
  assert.ok(found.value !== undefined, `${name} has no value`);
  return found.value;
}

/** The values of family `name` keyed by label `key` (e.g. per symbol). */
export function valuesBy(
  exposition: ParsedExposition,
  name: string,
  key: string,
): Record<string, number> {
  return Object.fromEntries(
    samples(exposition, name).map((metric) => {
      assert.ok(metric.value !== undefined, `${name} has no value`);
      return [metric.labels[key], metric.value];
    }),
  );
}
