/**
 * Metric families and the endpoint start-up both roles share: build and
 * process info, and `--metrics-port` itself.
 *
 * @module
 */

import type { MetricsConfig } from "../config/mod.ts";
import { FlowWatch } from "../runtime/flow_watch.ts";
import type { Logger } from "../runtime/log.ts";
import { urlHost } from "../runtime/http_listen.ts";
import type { MetricFamily } from "./exposition.ts";
import { buildInfo, gauge, MetricsRegistry } from "./registry.ts";
import {
  type HealthReport,
  type MetricsServer,
  serveMetrics,
} from "./server.ts";

const startedAt = Date.now() / 1000;

/** Build info and the process's start time and resident memory. */
export function processFamilies(role: string): MetricFamily[] {
  return [
    buildInfo(role),
    gauge({
      name: "process_start_time_seconds",
      help: "Start time of the process since the Unix epoch, seconds.",
    }, startedAt),
    gauge({
      name: "process_resident_memory_bytes",
      help: "Resident memory size of the process, bytes.",
    }, Deno.memoryUsage().rss),
  ];
}

/** Options of {@linkcode startMetricsEndpoint}. */
export interface MetricsEndpointOptions {
  /** The config section of the endpoint, e.g. `trading_core.metrics`, for messages. */
  section: string;
  /** The role's metric families, collected on each scrape. */
  collect: () => MetricFamily[];
  /** The count whose growth means data flows (trades published, received). */
  flowing: () => number;
  /** The role's health on each `/healthz`, told how long that count has stood still. */
  health: (flow: FlowWatch) => HealthReport;
  /** Where the address is logged. */
  log: Logger;
}

/**
 * Serves `/metrics` and `/healthz` as `config` says (nothing when its port
 * is 0, and nothing watched) and logs where.
 *
 * @throws {MetricsServerError} when the address cannot be bound.
 */
export function startMetricsEndpoint(
  config: MetricsConfig,
  options: MetricsEndpointOptions,
): MetricsServer | undefined {
  if (config.port === 0) return undefined;
  const registry = new MetricsRegistry();
  registry.register(options.collect);
  const flow = new FlowWatch(options.flowing);
  let server: MetricsServer;
  try {
    server = serveMetrics(registry, {
      port: config.port,
      hostname: config.host,
      health: () => options.health(flow),
      setting: `--metrics-port (${options.section}.port)`,
    });
  } catch (error) {
    flow.close();
    throw error;
  }
  const host = urlHost(server.hostname);
  options.log.info(
    `metrics on http://${host}:${server.port}/metrics, health on /healthz`,
  );
  return {
    port: server.port,
    hostname: server.hostname,
    finished: server.finished,
    async close() {
      flow.close();
      await server.close();
    },
    [Symbol.asyncDispose]() {
      return this.close();
    },
  };
}
