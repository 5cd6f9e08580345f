/**
 * Prometheus metrics for both roles, collected at scrape time: the text
 * exposition format, a registry of collectors with family helpers, latency
 * histograms, and the `/metrics` + `/healthz` HTTP endpoint.
 *
 * @module
 */

// The exposition format: metric families, their samples and labels, as text.
export {
  type HistogramBucket,
  type HistogramFamily,
  type HistogramSample,
  type Labels,
  type MetricFamily,
  type MetricType,
  renderExposition,
  type Sample,
  type ScalarFamily,
} from "./exposition.ts";
// Building families: counters, gauges, latency histograms, and the registry
// of collectors read at each scrape.
export {
  type Collector,
  counter,
  gauge,
  latencyFamily,
  type LatencyFamilyOptions,
  type LatencyRow,
  type MetricInfo,
  MetricsRegistry,
} from "./registry.ts";
// Latency recorded on the hot path, summarized for summaries and histograms.
export {
  LatencyHistogram,
  type LatencyMark,
  latencyMark,
  type LatencySummary,
} from "./latency_histogram.ts";
// The `/metrics` and `/healthz` endpoint, and what every role serves on it.
export {
  type HealthCheck,
  type HealthReport,
  type MetricsServer,
  MetricsServerError,
  serveMetrics,
  type ServeMetricsOptions,
} from "./server.ts";
// The endpoint a role starts, and the process families every role exports.
export {
  type MetricsEndpointOptions,
  processFamilies,
  startMetricsEndpoint,
} from "./role_metrics.ts";
