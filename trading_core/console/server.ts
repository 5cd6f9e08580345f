/**
 * The console's HTTP side: `/` (the page), `/assets/<name>` (its script,
 * stylesheet and the pinned chart files) and `/events` (the one
 * Server-Sent Events path), GET and HEAD only, with a strict
 * Content-Security-Policy on every response. Nothing is logged per request
 * nor when a browser goes away. Listening errors are one line
 * ({@linkcode HttpListenError}), as for the metrics endpoint.
 *
 * @module
 */

import {
  HttpListenError,
  listenHttp,
} from "../../common/runtime/http_listen.ts";
import { delay } from "../../common/runtime/delay.ts";
import { ASSETS, PAGE } from "./assets.ts";
import type { Broadcaster } from "./broadcaster.ts";
import type { ChartRequest } from "./events.ts";
import type { ChartAsset } from "../charts/mod.ts";

export { HttpListenError };

/** The Content-Security-Policy of every response: scripts, styles and connections to this origin only, no inline code. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Headers every response carries. */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-resource-policy": "same-origin",
  "x-frame-options": "DENY",
};

/** How long {@linkcode ConsoleServer.close} waits for the connections to finish, ms. */
export const CLOSE_WAIT_MS = 500;

/** Longest exchange or symbol a query may name, in characters. */
const MAX_NAME = 128;

/** A control character: never in an exchange or symbol name. */
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

/** Options of {@linkcode serveConsole}. */
export interface ServeConsoleOptions {
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Interface to bind. */
  hostname: string;
  /** The intervals charted, in order (`?interval=` names one). */
  intervals: readonly string[];
}

/** A running console server. */
export interface ConsoleServer {
  /** The bound port. */
  readonly port: number;
  /** The bound interface. */
  readonly hostname: string;
  /**
   * Ends every SSE stream, stops accepting, and waits up to
   * {@linkcode CLOSE_WAIT_MS} for the connections to finish (a stalled
   * browser's never does: the process exits past it).
   */
  close(): Promise<void>;
}

/**
 * Serves the console of `broadcaster` on `options.hostname`:`options.port`.
 *
 * @throws {HttpListenError} when the address cannot be bound.
 */
export function serveConsole(
  broadcaster: Broadcaster,
  options: ServeConsoleOptions,
): ConsoleServer {
  const server = listenHttp(
    (request) =>
      respond(request, { broadcaster, intervals: options.intervals }),
    {
      port: options.port,
      hostname: options.hostname,
      what: "the console",
      setting: "--console-port (trading_core.console.port)",
      hostSetting: "trading_core.console.host",
    },
  );
  return {
    port: server.addr.port,
    hostname: server.addr.hostname,
    async close() {
      broadcaster.close();
      await Promise.race([server.shutdown(), delay(CLOSE_WAIT_MS)]);
    },
  };
}

/** The response to `request`, from the console `served`: its broadcaster and intervals. */
export function respond(
  request: Request,
  served: {
    /** Where an `/events` client connects. */
    broadcaster: Broadcaster;
    /** The intervals charted, in order. */
    intervals: readonly string[];
  },
): Response {
  const { broadcaster, intervals } = served;
  const { method } = request;
  if (method !== "GET" && method !== "HEAD") {
    return text(405, `Method ${method} not allowed: expected GET or HEAD\n`, {
      allow: "GET, HEAD",
    });
  }
  const url = new URL(request.url);
  const head = method === "HEAD";
  if (url.pathname === "/") return file(PAGE, request, { noStore: true });
  if (url.pathname.startsWith("/assets/")) {
    const found = ASSETS.get(url.pathname.slice("/assets/".length));
    if (found) return file(found, request, { noStore: false });
  }
  if (url.pathname === "/events") {
    const chart = chartRequest(url.searchParams, intervals);
    if (typeof chart === "string") return text(400, `${chart}\n`);
    const body = head ? null : broadcaster.connect(chart);
    return new Response(body, {
      headers: {
        ...SECURITY_HEADERS,
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
      },
    });
  }
  return text(404, "Not found: the console is at /, its events at /events\n");
}

/**
 * The chart `/events` asks for, or why the query is refused: `exchange`
 * and `symbol` together (1 to 128 characters, no control characters) or
 * neither, `interval` one of `intervals`, nothing else.
 */
export function chartRequest(
  query: URLSearchParams,
  intervals: readonly string[],
): ChartRequest | string {
  for (const key of new Set(query.keys())) {
    if (!["exchange", "symbol", "interval"].includes(key)) {
      return `Invalid query parameter ${
        JSON.stringify(key)
      }: expected exchange, symbol and interval`;
    }
    if (query.getAll(key).length > 1) {
      return `Invalid query: ${key} is given more than once`;
    }
  }
  const exchange = query.get("exchange") ?? undefined;
  const symbol = query.get("symbol") ?? undefined;
  if ((exchange === undefined) !== (symbol === undefined)) {
    return "Invalid query: give exchange and symbol together, or neither (the first stream)";
  }
  for (const [key, value] of [["exchange", exchange], ["symbol", symbol]]) {
    if (value === undefined) continue;
    if (
      value.length === 0 || value.length > MAX_NAME || CONTROL.test(value)
    ) {
      return `Invalid ${key} ${
        JSON.stringify(value.slice(0, MAX_NAME))
      }: expected 1 to ${MAX_NAME} characters, no control characters`;
    }
  }
  const interval = query.get("interval") ?? intervals[0];
  const k = intervals.indexOf(interval);
  if (k < 0) {
    return `Invalid interval ${
      JSON.stringify(interval.slice(0, 32))
    }: expected one of ${intervals.join(", ")}`;
  }
  return { exchange, symbol, k };
}

/** A file of the page, with its ETag (a 304 when the browser has it). */
function file(
  asset: ChartAsset,
  request: Request,
  options: { noStore: boolean },
): Response {
  const etag = `"${asset.sha256}"`;
  const headers = {
    ...SECURITY_HEADERS,
    "content-type": asset.contentType,
    "cache-control": options.noStore ? "no-store" : "no-cache",
    etag,
  };
  if (!options.noStore && request.headers.get("if-none-match") === etag) {
    return new Response(null, { status: 304, headers });
  }
  const body = request.method === "HEAD" ? null : asset.text;
  return new Response(body, { headers });
}

function text(
  status: number,
  body: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(body, {
    status,
    headers: {
      ...SECURITY_HEADERS,
      "content-type": "text/plain; charset=utf-8",
      "cache-control": "no-store",
      ...headers,
    },
  });
}
