/**
 * Listening for HTTP on `Deno.serve`, shared by the role endpoints (the
 * `/metrics` endpoint, the live console): nothing printed on start, and an
 * address that cannot be bound (in use, not permitted, no such host) as one
 * {@linkcode HttpListenError} line naming the address and the setting to
 * change.
 *
 * @module
 */

/** An HTTP endpoint could not listen on the asked address; the message is one line for the user. */
export class HttpListenError extends Error {
  /** Creates the error; `cause` is the underlying `Deno.serve` error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "HttpListenError";
  }
}

/** Options of {@linkcode listenHttp}. */
export interface ListenHttpOptions {
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Interface to bind. */
  hostname: string;
  /** Closes the server when aborted. */
  signal?: AbortSignal;
  /** Called once listening, with the bound address. */
  onListen?: (addr: Deno.NetAddr) => void;
  /** What is served, for messages, e.g. `"metrics"`, `"the console"`. */
  what: string;
  /** What sets the port, for messages, e.g. `"--metrics-port (trading_core.metrics.port)"`. */
  setting: string;
  /** What sets the host, for messages. @default {"the host"} */
  hostSetting?: string;
}

/**
 * Serves `handler` on `options.hostname`:`options.port` with `Deno.serve`,
 * printing nothing ("Listening on" is silenced).
 *
 * @throws {HttpListenError} when the address cannot be bound: in use, not
 * permitted (the message says which `--allow-net`), or unavailable.
 */
export function listenHttp(
  handler: Deno.ServeHandler<Deno.NetAddr>,
  options: ListenHttpOptions,
): Deno.HttpServer<Deno.NetAddr> {
  const { hostname, port } = options;
  try {
    return Deno.serve({
      port,
      hostname,
      signal: options.signal,
      // A handler that throws (a bug) answers one line, no stack trace printed.
      onError: (error) => errorResponse(error),
      onListen: (addr) => options.onListen?.(addr), // also silences "Listening on"
    }, handler);
  } catch (error) {
    throw listenError(error, `${hostname}:${port}`, options);
  }
}

/** The one-line error of a failed bind of `address`; anything not an Error is returned as is. */
function listenError(
  error: unknown,
  address: string,
  options: ListenHttpOptions,
): unknown {
  const cause = { cause: error };
  const what = `Cannot serve ${options.what} on ${address}`;
  if (error instanceof Deno.errors.AddrInUse) {
    return new HttpListenError(
      `${what}: address already in use; pick another ${options.setting}`,
      cause,
    );
  }
  if (
    error instanceof Deno.errors.NotCapable ||
    error instanceof Deno.errors.PermissionDenied
  ) {
    return new HttpListenError(
      `${what}: needs --allow-net=${address}`,
      cause,
    );
  }
  if (error instanceof Error) {
    return new HttpListenError(
      `${what}: ${error.message}; check ${
        options.hostSetting ?? "the host"
      } and ${options.setting}`,
      cause,
    );
  }
  return error;
}

/** `hostname` as a URL's host part: an IPv6 address in brackets. */
export function urlHost(hostname: string): string {
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

/** A plain-text response: `body` (one line, ending in a newline) with `status` and `headers` added. */
export function textResponse(
  status: number,
  body: string,
  options: {
    /** Extra headers. @default {{}} */
    headers?: Record<string, string>;
  } = {},
): Response {
  return new Response(body, {
    status,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      ...options.headers,
    },
  });
}

/** A 405 for any method but GET and HEAD (with `headers` added), `undefined` for those. */
export function methodNotAllowed(
  request: Request,
  options: {
    /** Extra headers. @default {{}} */
    headers?: Record<string, string>;
  } = {},
): Response | undefined {
  const { method } = request;
  if (method === "GET" || method === "HEAD") return undefined;
  return textResponse(
    405,
    `Method ${method} not allowed: expected GET or HEAD\n`,
    { headers: { ...options.headers, allow: "GET, HEAD" } },
  );
}

/** The response of `build`, or a 500 with the error's message on one line when it throws. */
export function attempt(
  build: () => Response,
  options: {
    /** Headers of the 500. @default {{}} */
    headers?: Record<string, string>;
  } = {},
): Response {
  try {
    return build();
  } catch (error) {
    return errorResponse(error, options.headers);
  }
}

/** A 500 saying `error`'s message on one line. */
function errorResponse(
  error: unknown,
  headers: Record<string, string> = {},
): Response {
  const message = error instanceof Error ? error.message : String(error);
  return textResponse(500, `${message.split("\n")[0]}\n`, { headers });
}
