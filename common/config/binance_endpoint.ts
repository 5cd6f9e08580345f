/**
 * The rule for a Binance combined-stream endpoint, shared by the config key
 * `data_manager.binance.endpoint` (which also takes the names of
 * {@linkcode BINANCE_ENDPOINTS}) and the stream client's `endpoint` option,
 * and the silence timeout both default to
 * ({@linkcode DEFAULT_SILENCE_TIMEOUT_MS}).
 *
 * @module
 */

/** Binance combined-stream endpoints by name, for `data_manager.binance.endpoint`. */
export const BINANCE_ENDPOINTS: Readonly<Record<string, string>> = Object
  .freeze({
    binance: "wss://stream.binance.com:9443",
    "binance.us": "wss://stream.binance.us:9443",
    testnet: "wss://stream.testnet.binance.vision",
  });

/** Binance's default spot market-data endpoint. */
export const DEFAULT_BINANCE_ENDPOINT: string = BINANCE_ENDPOINTS.binance;

/**
 * Default silence timeout of the Binance watchdog, ms: of the config key
 * `data_manager.binance.silence_timeout` and of the stream client's
 * `silenceTimeoutMs` option.
 *
 * @default 30000
 */
export const DEFAULT_SILENCE_TIMEOUT_MS = 30_000;

/** Options of {@linkcode checkBinanceEndpoint}. */
export interface CheckBinanceEndpointOptions {
  /** Also take a name of {@linkcode BINANCE_ENDPOINTS} (the config key does). @default false */
  names?: boolean;
}

/** `ws://` or `wss://` and a host, as written (before URL normalisation). */
const WS_URL = /^wss?:\/\/[^\s/]+/;

/**
 * Checks a Binance endpoint and returns its URL without trailing slashes:
 * a `ws://` or `wss://` URL with a host and without query or fragment, or,
 * with `options.names`, a name of {@linkcode BINANCE_ENDPOINTS}.
 *
 * @example
 * ```ts
 * import { checkBinanceEndpoint } from "./binance_endpoint.ts";
 *
 * checkBinanceEndpoint("testnet", { names: true }); // "wss://stream.testnet.binance.vision"
 * checkBinanceEndpoint("ws://127.0.0.1:9000/"); // "ws://127.0.0.1:9000"
 * ```
 *
 * @throws {RangeError} `Invalid endpoint "…": expected …`, the "expected"
 * part listing the names when they are taken, else giving an example URL.
 */
export function checkBinanceEndpoint(
  endpoint: string,
  options: CheckBinanceEndpointOptions = {},
): string {
  const names = options.names ?? false;
  if (names && Object.hasOwn(BINANCE_ENDPOINTS, endpoint)) {
    return BINANCE_ENDPOINTS[endpoint];
  }
  const refuse = (extra: string) => {
    const expected = names
      ? `${
        Object.keys(BINANCE_ENDPOINTS).map((name) => JSON.stringify(name))
          .join(", ")
      } or a ws:// or wss:// URL${extra}`
      : `a ws:// or wss:// URL${extra} such as "${DEFAULT_BINANCE_ENDPOINT}"`;
    return new RangeError(
      `Invalid endpoint ${JSON.stringify(endpoint)}: expected ${expected}`,
    );
  };
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw refuse("");
  }
  const ws = url.protocol === "ws:" || url.protocol === "wss:";
  // Another scheme: the named form says "URL", the option form (as it always has) the whole rule.
  if (!ws) throw refuse(names ? "" : " without query or fragment");
  if (!WS_URL.test(endpoint)) throw refuse("");
  // `url.search` is "" for an empty query too ("wss://host/?"): look at the text.
  if (/[?#]/.test(endpoint)) {
    throw refuse(" without query or fragment");
  }
  return url.href.replace(/\/+$/, "");
}
