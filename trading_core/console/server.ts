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
  attempt,
  HttpListenError,
  listenHttp,
  methodNotAllowed,
  textResponse,
  urlHost,
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

/** The `Retry-After` of a 503 when the console has all the clients it takes, s. */
export const RETRY_AFTER_S = 5;

/** Longest exchange or symbol a query may name, in characters. */
const MAX_NAME = 128;

/** A control character: never in an exchange or symbol name. */
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;

/** Options of {@linkcode serveConsole}. */
export interface ServeConsoleOptions {
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Interface to bind. */
  hostname: string;
  /** The intervals charted, in order (`?interval=` names one). */
  intervals: readonly string[];
  /** Whether live has met this stream (its names are then accepted whatever their length). @default {none} */
  known?: (exchange: string, symbol: string) => boolean;
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
  const served: Parameters<typeof respond>[1] = {
    broadcaster,
    intervals: options.intervals,
    known: options.known,
  };
  const server = listenHttp(
    (request) =>
      attempt(() => respond(request, served), { headers: PLAIN_HEADERS }),
    {
      port: options.port,
      hostname: options.hostname,
      what: "the console",
      setting: "--console-port (trading_core.console.port)",
      hostSetting: "trading_core.console.host",
    },
  );
  served.hosts = allowedHosts(options.hostname, server.addr.port); // before any request: nothing awaited since listening
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
    /** Whether live has met a stream (see {@linkcode chartRequest}). */
    known?: (exchange: string, symbol: string) => boolean;
    /** The `Host` values answered (see {@linkcode allowedHosts}); any when absent. */
    hosts?: ReadonlySet<string>;
  },
): Response {
  const { broadcaster, intervals } = served;
  const { method } = request;
  const refused = refusedOrigin(request, served.hosts) ??
    methodNotAllowed(request, { headers: PLAIN_HEADERS });
  if (refused) return refused;
  const url = new URL(request.url);
  const head = method === "HEAD";
  if (url.pathname === "/") return file(PAGE, request, { noStore: true });
  if (url.pathname.startsWith("/assets/")) {
    const found = ASSETS.get(url.pathname.slice("/assets/".length));
    if (found) return file(found, request, { noStore: false });
  }
  if (url.pathname === "/events") {
    const chart = chartRequest(url.searchParams, intervals, {
      known: served.known,
    });
    if (typeof chart === "string") return text(400, `${chart}\n`);
    if (!head && broadcaster.full) {
      return text(
        503,
        `Too many console pages open (trading_core.console.max_clients): try again later\n`,
        { "retry-after": String(RETRY_AFTER_S) },
      );
    }
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
 * The `Host` values a console bound to `hostname`:`port` answers, against
 * DNS rebinding (a page of another site that resolves its name to
 * 127.0.0.1 would otherwise be same-origin with the console): on loopback,
 * `127.0.0.1:P`, `localhost:P`, `[::1]:P` and the configured host; bound
 * to a wildcard (`0.0.0.0`, `::`), `undefined` (any host: the names it is
 * reached by are unknown).
 */
export function allowedHosts(
  hostname: string,
  port: number,
): ReadonlySet<string> | undefined {
  if (hostname === "0.0.0.0" || hostname === "::") return undefined;
  const named = urlHost(hostname);
  return new Set(
    ["127.0.0.1", "localhost", "[::1]", named.toLowerCase()].map((h) =>
      `${h}:${port}`
    ),
  );
}

/** A 421 for a `Host` not in `hosts`, a 403 for a cross-site `/events`; `undefined` when the request may go on. */
function refusedOrigin(
  request: Request,
  hosts: ReadonlySet<string> | undefined,
): Response | undefined {
  const url = new URL(request.url);
  if (hosts) {
    const host = (request.headers.get("host") ?? url.host).toLowerCase();
    if (!hosts.has(host) || !hosts.has(url.host.toLowerCase())) {
      return text(
        421,
        `Misdirected request: host ${
          JSON.stringify(host.slice(0, 64))
        } is not this console's (expected one of ${[...hosts].join(", ")})\n`,
      );
    }
  }
  if (
    url.pathname === "/events" &&
    request.headers.get("sec-fetch-site") === "cross-site"
  ) {
    return text(403, "Forbidden: /events is not served to other sites\n");
  }
  return undefined;
}

/**
 * The chart `/events` asks for, or why the query is refused: `exchange`
 * and `symbol` together (1 to 128 characters, no control characters,
 * unless `options.known` says live has met them: a stream the table lists
 * is always accepted) or neither, `interval` any (one not among
 * `intervals` gives the first, with a `note` saying so: a page bookmarked
 * before live restarted with other intervals still opens), nothing else.
 */
export function chartRequest(
  query: URLSearchParams,
  intervals: readonly string[],
  options: {
    /** Whether live has met the stream `exchange`/`symbol`. @default {none} */
    known?: (exchange: string, symbol: string) => boolean;
  } = {},
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
  const met = exchange !== undefined && symbol !== undefined &&
    options.known?.(exchange, symbol) === true;
  for (const [key, value] of [["exchange", exchange], ["symbol", symbol]]) {
    if (value === undefined || met) continue;
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
    const note = `Interval ${
      JSON.stringify(interval.slice(0, 32))
    } is not charted by this live (${intervals.join(", ")}): showing ${
      intervals[0]
    }`;
    return { exchange, symbol, k: 0, note };
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

/** The headers of a plain-text answer: the security ones, never cached. */
const PLAIN_HEADERS: Readonly<Record<string, string>> = {
  ...SECURITY_HEADERS,
  "cache-control": "no-store",
};

function text(
  status: number,
  body: string,
  headers: Record<string, string> = {},
): Response {
  return textResponse(status, body, {
    headers: { ...PLAIN_HEADERS, ...headers },
  });
}
