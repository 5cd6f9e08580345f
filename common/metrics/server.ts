/**
 * The HTTP endpoint of a role: `GET /metrics` (Prometheus text format 0.0.4,
 * rendered from a {@linkcode MetricsRegistry} on each scrape) and
 * `GET /healthz` (JSON, 200 when healthy, 503 when not), on `Deno.serve`.
 * Nothing is logged per request.
 *
 * @module
 */

import { EXPOSITION_CONTENT_TYPE } from "./exposition.ts";
import type { MetricsRegistry } from "./registry.ts";
import {
  attempt,
  HttpListenError,
  listenHttp,
  methodNotAllowed,
  textResponse,
} from "../runtime/http_listen.ts";

/** One named health check. */
export interface HealthCheck {
  /** What was checked, e.g. `nats`. */
  name: string;
  /** Whether it passed. */
  ok: boolean;
  /** Human-readable state, e.g. `connected to 127.0.0.1:4222`. */
  detail: string;
}

/** The health of a process: `ok` decides the `/healthz` status code. */
export interface HealthReport {
  /** Healthy overall. */
  ok: boolean;
  /** The individual checks, shown in the body. */
  checks: HealthCheck[];
}

/** Options of {@linkcode serveMetrics}. */
export interface ServeMetricsOptions {
  /** TCP port; 0 picks a free one (see {@linkcode MetricsServer.port}). */
  port: number;
  /** Interface to bind; default `127.0.0.1`. */
  hostname?: string;
  /** Called on each `/healthz`; default: always healthy with no checks. */
  health?: () => HealthReport;
  /** Closes the server when aborted. */
  signal?: AbortSignal;
  /** Called once listening, with the bound address. */
  onListen?: (addr: Deno.NetAddr) => void;
  /** What sets the port, for error messages (default `"--metrics-port"`). */
  setting?: string;
}

/** A running metrics endpoint. */
export interface MetricsServer extends AsyncDisposable {
  /** The bound port (the actual one when 0 was asked for). */
  readonly port: number;
  /** The bound interface. */
  readonly hostname: string;
  /** Settles when the server has closed (by {@linkcode close} or the signal). */
  readonly finished: Promise<void>;
  /** Stops accepting, finishes in-flight requests, and resolves when closed. */
  close(): Promise<void>;
}

/** The metrics endpoint could not listen on the asked address. */
export class MetricsServerError extends HttpListenError {
  /** Creates the error; `cause` is the underlying `Deno.serve` error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MetricsServerError";
  }
}

const INDEX =
  "marketbus\n/metrics  Prometheus metrics\n/healthz  health (JSON)\n";

const HEALTHY: HealthReport = { ok: true, checks: [] };

/**
 * Serves `/metrics` and `/healthz` for `registry` until closed or aborted.
 *
 * @throws {MetricsServerError} when the address cannot be bound (in use,
 * not permitted, unavailable).
 */
export function serveMetrics(
  registry: MetricsRegistry,
  options: ServeMetricsOptions,
): MetricsServer {
  const hostname = options.hostname ?? "127.0.0.1";
  const health = options.health ?? (() => HEALTHY);
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = listenHttp((request) => respond(request, registry, health), {
      port: options.port,
      hostname,
      signal: options.signal,
      onListen: options.onListen,
      what: "metrics",
      setting: options.setting ?? "--metrics-port",
      hostSetting: "the metrics host",
    });
  } catch (error) {
    if (!(error instanceof HttpListenError)) throw error;
    throw new MetricsServerError(error.message, { cause: error.cause });
  }
  return {
    port: server.addr.port,
    hostname: server.addr.hostname,
    finished: server.finished,
    async close() {
      if (!options.signal?.aborted) await server.shutdown();
      await server.finished;
    },
    [Symbol.asyncDispose]() {
      return this.close();
    },
  };
}

function respond(
  request: Request,
  registry: MetricsRegistry,
  health: () => HealthReport,
): Response {
  const refused = methodNotAllowed(request);
  if (refused) return refused;
  switch (new URL(request.url).pathname) {
    case "/metrics":
      return attempt(() =>
        new Response(registry.render(), {
          headers: { "content-type": EXPOSITION_CONTENT_TYPE },
        })
      );
    case "/healthz":
      return attempt(() => {
        const report = health();
        return Response.json(
          { status: report.ok ? "ok" : "unavailable", checks: report.checks },
          { status: report.ok ? 200 : 503 },
        );
      });
    case "/":
      return text(200, INDEX);
    default:
      return text(404, "Not found: try /metrics or /healthz\n");
  }
}

function text(
  status: number,
  body: string,
): Response {
  return textResponse(status, body);
}
