/**
 * Prometheus metrics for both roles, collected at scrape time: the text
 * exposition format, a registry of collectors with family helpers, and the
 * `/metrics` + `/healthz` HTTP endpoint.
 *
 * @module
 */

export * from "./exposition.ts";
export * from "./registry.ts";
export * from "./server.ts";
export * from "./role_metrics.ts";
export * from "./latency_histogram.ts";
