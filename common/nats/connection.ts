/**
 * Connecting to NATS: the client options a configuration asks for (servers,
 * auth, TLS, reconnect policy), and a connect that logs state changes and
 * reports rejected credentials as a {@linkcode NatsAuthError} instead of
 * retrying them forever.
 *
 * @module
 */

import {
  type Authenticator,
  type ConnectionOptions,
  credsAuthenticator,
  errors,
  jwtAuthenticator,
  type NatsConnection,
  nkeyAuthenticator,
  nkeys,
  type TlsOptions,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
} from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { canUseDenoTransport, connectDeno } from "./_deno_transport.ts";
import { ConfigError } from "../config/error.ts";
import type { NatsAuth, NatsConnectionConfig, NatsTls } from "../config/mod.ts";
import type { Logger } from "../runtime/log.ts";

/** Time between reconnect attempts to one server, ms, before jitter. */
export const RECONNECT_WAIT_MS = 500;
/** Upper bound of the random delay added to {@linkcode RECONNECT_WAIT_MS}, ms (plain connections). */
export const RECONNECT_JITTER_MS = 500;
/** Upper bound of the random delay added to {@linkcode RECONNECT_WAIT_MS}, ms (TLS connections). */
export const RECONNECT_JITTER_TLS_MS = 1000;

/**
 * The servers rejected the credentials (authorization violation or expired
 * credentials), twice in a row: the client stopped trying. The message names
 * the servers and the kind of auth, never a secret.
 */
export class NatsAuthError extends Error {
  /** Server(s) that refused. */
  readonly server: string;
  /** The configured kind of auth. */
  readonly authKind: NatsAuth["kind"];

  /** Creates the error for `server` and the auth kind of `auth`. */
  constructor(
    server: string,
    auth: NatsAuth,
    options: ErrorOptions & { reason?: string } = {},
  ) {
    super(
      `NATS server ${server} rejected the credentials (${describeAuth(auth)})${
        options.reason ? `: ${options.reason}` : ""
      }; check the configured auth and the server's users`,
      options,
    );
    this.name = "NatsAuthError";
    this.server = server;
    this.authKind = auth.kind;
  }
}

/** What the auth is, without its secret: `token`, `user "alice" + password`, `nkey UAB…`. */
function describeAuth(auth: NatsAuth): string {
  switch (auth.kind) {
    case "none":
      return "no credentials configured";
    case "token":
      return "token";
    case "user":
      return `user ${JSON.stringify(auth.user)} + password`;
    case "nkey":
      return `nkey ${publicKeyOf(auth.seed)}`;
    case "jwt":
      return `JWT + nkey ${publicKeyOf(auth.seed)}`;
    case "creds":
      return `creds file ${JSON.stringify(auth.file)}`;
  }
}

function publicKeyOf(seed: string): string {
  try {
    return nkeys.fromSeed(new TextEncoder().encode(seed)).getPublicKey();
  } catch {
    return "(invalid seed)";
  }
}

/**
 * The {@linkcode NatsAuthError} for `error` when it is an authentication or
 * authorization failure of the connection, `undefined` for anything else.
 */
export function natsAuthError(
  error: unknown,
  config: NatsConnectionConfig,
  options: { server?: string } = {},
): NatsAuthError | undefined {
  if (error instanceof NatsAuthError) return error;
  if (
    !(error instanceof errors.AuthorizationError) &&
    !(error instanceof errors.UserAuthenticationExpiredError)
  ) {
    return undefined;
  }
  return new NatsAuthError(
    options.server ?? config.servers.join(", "),
    config.auth,
    { reason: error.message, cause: error },
  );
}

async function readConfigFile(what: string, path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new ConfigError([
      `NATS ${what} ${JSON.stringify(path)} cannot be read (${
        error instanceof Error ? error.message : String(error)
      }): expected a readable file${
        error instanceof Deno.errors.NotCapable
          ? `; run with --allow-read=${path}`
          : ""
      }`,
    ]);
  }
}

async function authenticatorFor(
  auth: NatsAuth,
): Promise<Authenticator | undefined> {
  const encode = (text: string) => new TextEncoder().encode(text);
  switch (auth.kind) {
    case "none":
      return undefined;
    case "token":
      return tokenAuthenticator(auth.token);
    case "user":
      return usernamePasswordAuthenticator(auth.user, auth.password);
    case "nkey":
      return checked(nkeyAuthenticator(encode(auth.seed)), "nkey seed");
    case "jwt":
      return checked(
        jwtAuthenticator(auth.jwt, encode(auth.seed)),
        "nkey seed",
      );
    case "creds": {
      const creds = await readConfigFile("creds file", auth.file);
      return checked(
        credsAuthenticator(encode(creds)),
        `creds file ${JSON.stringify(auth.file)}`,
      );
    }
  }
}

/** Signs a test nonce, so a seed or creds file that cannot sign fails now, not on every connect attempt. */
function checked(authenticator: Authenticator, what: string): Authenticator {
  try {
    authenticator("marketbus-check");
  } catch (error) {
    throw new ConfigError([
      `Invalid NATS ${what}: ${
        error instanceof Error ? error.message : String(error)
      }; expected a user seed (SU…) or a .creds file holding a user JWT and seed`,
    ]);
  }
  return authenticator;
}

async function tlsOptionsFor(tls: NatsTls): Promise<TlsOptions> {
  const options: TlsOptions = { handshakeFirst: tls.handshakeFirst };
  if (tls.caFile !== undefined) {
    options.ca = await readConfigFile("TLS CA file", tls.caFile);
  }
  if (tls.certFile !== undefined) {
    options.cert = await readConfigFile("TLS certificate file", tls.certFile);
  }
  if (tls.keyFile !== undefined) {
    options.key = await readConfigFile("TLS key file", tls.keyFile);
  }
  return options;
}

/**
 * The nats.js client options for `config`: servers, name, auth, TLS, no async
 * traces, one attempt at most `connectTimeoutMs`, and reconnecting forever
 * (also before the first connection succeeds) every
 * {@linkcode RECONNECT_WAIT_MS} plus jitter. nats.js gives up after the same
 * auth error twice in a row (`ignoreAuthErrorAbort: false`). Reads the creds
 * and TLS files.
 *
 * @throws {ConfigError} when a creds or TLS file cannot be read, or a seed or
 * creds file cannot sign.
 */
export async function natsConnectionOptions(
  config: NatsConnectionConfig,
): Promise<ConnectionOptions> {
  const authenticator = await authenticatorFor(config.auth);
  const options: ConnectionOptions = {
    servers: [...config.servers],
    name: config.name,
    noAsyncTraces: true,
    timeout: config.connectTimeoutMs,
    reconnect: true,
    maxReconnectAttempts: -1,
    waitOnFirstConnect: true,
    reconnectTimeWait: RECONNECT_WAIT_MS,
    reconnectJitter: RECONNECT_JITTER_MS,
    reconnectJitterTLS: RECONNECT_JITTER_TLS_MS,
    ignoreAuthErrorAbort: false,
  };
  if (authenticator !== undefined) options.authenticator = authenticator;
  if (config.tls !== undefined) options.tls = await tlsOptionsFor(config.tls);
  return options;
}

let resetsIgnored = false;

/**
 * When nats.js's node transport (still used with a TLS client certificate
 * without `handshakeFirst`) gives up on a socket (after an authorization
 * violation, for one) it removes the socket's listeners first; the server's
 * TCP reset that can follow then surfaces in Deno as an uncaught
 * `read ECONNRESET` and would end the process. Such resets belong to sockets
 * nats.js has already closed, so they are ignored; any other uncaught error
 * stays fatal.
 */
function ignoreResetsOfClosedSockets(): void {
  if (resetsIgnored) return;
  resetsIgnored = true;
  globalThis.addEventListener("error", (event) => {
    const error = event.error as { code?: unknown; syscall?: unknown } | null;
    if (error?.code === "ECONNRESET" && error.syscall === "read") {
      event.preventDefault();
    }
  });
}

/**
 * Throws when the process may not connect to a configured server (a host
 * outside `--allow-net`): nats.js would count each denied dial as a failed
 * attempt and retry forever. {@linkcode connectNats} checks it; a role calls
 * it earlier to refuse before it creates anything (serve: its rings).
 * Requests each server's permission, so where Deno may prompt, it prompts now
 * (a query would only say "prompt", even under `--no-prompt`). Names only
 * `host:port`, never a URL's credentials.
 *
 * @throws {ConfigError} naming the denied `host:port`s and the flag to add.
 */
export function requireNetPermission(servers: readonly string[]): void {
  const denied = servers.map((server) => {
    const url = new URL(server.includes("://") ? server : `nats://${server}`);
    return `${url.hostname}:${url.port || "4222"}`;
  }).filter((host) =>
    Deno.permissions.requestSync({ name: "net", host }).state === "denied"
  );
  if (denied.length === 0) return;
  throw new ConfigError([
    `NATS server ${
      denied.join(", ")
    } is outside this process's network permissions: add ${
      denied.join(",")
    } to its --allow-net (the task's flags in deno.json, or those of deno task compile)`,
  ]);
}

/** What {@linkcode connectNats} counts about a connection, for metrics and health. */
export interface NatsConnectionCounters {
  /** Connected now (not disconnected or reconnecting). */
  connected: boolean;
  /** Times the connection was lost. */
  disconnects: number;
  /** Times it was re-established. */
  reconnects: number;
}

/** Counters of a connection not made yet. */
export function newConnectionCounters(): NatsConnectionCounters {
  return { connected: false, disconnects: 0, reconnects: 0 };
}

/**
 * The server refused this user an operation (a subject outside its
 * permissions): retrying cannot help. The message names the operation and
 * subject, which is the permission to add.
 */
export class NatsPermissionError extends Error {
  /** `"publish"` or `"subscription"`. */
  readonly operation: string;
  /** The subject refused. */
  readonly subject: string;

  /** Creates the error for a refused `operation` on `subject`. */
  constructor(operation: string, subject: string, options?: ErrorOptions) {
    super(
      `NATS refused ${operation} to "${subject}": the user lacks that permission; add "${subject}" to its ${
        operation === "publish" ? "publish" : "subscribe"
      } allow list in the server's authorization (see docs/operations.md, least-privilege permissions)`,
      options,
    );
    this.name = "NatsPermissionError";
    this.operation = operation;
    this.subject = subject;
  }
}

/**
 * A {@linkcode NatsPermissionError} when `error` is (or was caused by) the
 * server refusing a permission, else undefined.
 */
export function natsPermissionError(
  error: unknown,
): NatsPermissionError | undefined {
  for (let e = error; e instanceof Error; e = e.cause) {
    if (e instanceof errors.PermissionViolationError) {
      return new NatsPermissionError(e.operation, e.subject, { cause: error });
    }
    if (e.cause === e) break;
  }
  return undefined;
}

/**
 * Connects nats.js with `options` over Deno's own sockets
 * (`_deno_transport.ts`: ~25% less CPU per round trip than the Node compat
 * socket), or over `@nats-io/transport-node` when the options hold a TLS
 * client certificate without `handshakeFirst` (Deno's TLS upgrade cannot
 * present one). Without logging or auth mapping: {@linkcode connectNats}
 * does those. nats.js keeps one transport per process: reconnects of every
 * connection use the transport of the last connect.
 */
export function connectClient(
  options: ConnectionOptions,
): Promise<NatsConnection> {
  return canUseDenoTransport(options) ? connectDeno(options) : connect(options);
}

/** Options of {@linkcode connectNats}. */
export interface ConnectNatsOptions {
  /** Kept up to date with the connection's state. */
  counters?: NatsConnectionCounters;
  /** Where connection state changes are logged. */
  log: Logger;
  /** Who connects, for the log lines (e.g. `"publisher"`). */
  role?: string;
  /** Gives up connecting (before the first connection) when aborted. */
  signal?: AbortSignal;
}

/**
 * Connects to NATS with {@linkcode natsConnectionOptions}, waiting for a
 * server as long as it takes (or until `signal` aborts), and logs the
 * connection's state changes once each: disconnected, reconnecting (once
 * until reconnected), reconnected to which server, errors, and the close.
 * Connects through {@linkcode connectClient}.
 *
 * @throws {NatsAuthError} when the servers reject the credentials.
 * @throws {ConfigError} as {@linkcode natsConnectionOptions}, or when
 * `--allow-net` denies a configured server.
 * @throws {Error} the abort reason (or an `AbortError`) when `signal` aborts first.
 */
export async function connectNats(
  config: NatsConnectionConfig,
  options: ConnectNatsOptions,
): Promise<NatsConnection> {
  const { log, signal } = options;
  const label = options.role ? `NATS ${options.role}` : "NATS";
  requireNetPermission(config.servers);
  const connectionOptions = await natsConnectionOptions(config);
  let attempts = 0;
  let connected = false;
  // Called before every dial: the only hook that can stop nats.js from
  // retrying a first connection forever. Once connected, the signal no
  // longer counts (a connection's owner closes it): an open timeout must
  // not end its reconnects later.
  connectionOptions.reconnectToServer = () => {
    if (!connected) signal?.throwIfAborted();
    if (!connected && ++attempts === 2) {
      log.warn(
        `${label}: not connected yet to ${
          config.servers.join(", ")
        }, retrying every ${RECONNECT_WAIT_MS} ms`,
      );
    }
    return null;
  };
  signal?.throwIfAborted();
  ignoreResetsOfClosedSockets();
  let nc: NatsConnection;
  try {
    nc = await untilAborted(connectClient(connectionOptions), signal);
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw natsAuthError(error, config) ?? error;
  }
  connected = true; // later dials are reconnects, logged by watchConnection
  log.info(`${label}: connected to ${nc.getServer()}`);
  const counters = options.counters ?? newConnectionCounters();
  counters.connected = true;
  watchConnection(nc, config, { log, label, counters });
  return nc;
}

/**
 * `connecting`, or the abort reason as soon as `signal` aborts: a server
 * that accepts the socket but never sends INFO would otherwise hold the
 * first SIGINT for `connect_timeout`. A connection made after the abort is
 * closed.
 */
function untilAborted(
  connecting: Promise<NatsConnection>,
  signal: AbortSignal | undefined,
): Promise<NatsConnection> {
  if (signal === undefined) return connecting;
  return new Promise((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener("abort", abort, { once: true });
    connecting.then((nc) => {
      signal.removeEventListener("abort", abort);
      if (signal.aborted) nc.close().catch(() => {});
      else resolve(nc);
    }, (error) => {
      signal.removeEventListener("abort", abort);
      reject(error);
    });
  });
}

function watchConnection(
  nc: NatsConnection,
  config: NatsConnectionConfig,
  options: { log: Logger; label: string; counters: NatsConnectionCounters },
): void {
  const { log, label, counters } = options;
  (async () => {
    let reconnecting = false;
    let lastError = "";
    for await (const status of nc.status()) {
      switch (status.type) {
        case "disconnect":
          counters.connected = false;
          counters.disconnects++;
          log.warn(`${label}: disconnected from ${status.server}`);
          break;
        case "reconnecting":
          if (!reconnecting) log.info(`${label}: reconnecting`);
          reconnecting = true;
          break;
        case "reconnect":
          counters.connected = true;
          counters.reconnects++;
          reconnecting = false;
          lastError = "";
          log.info(`${label}: reconnected to ${status.server}`);
          break;
        case "error": {
          const error = natsAuthError(status.error, config, {
            server: nc.getServer(),
          }) ?? status.error;
          if (error.message !== lastError) {
            log.error(`${label}: ${error.message}`);
          }
          lastError = error.message;
          break;
        }
        case "ldm":
          log.warn(
            `${label}: server ${status.server} is entering lame duck mode`,
          );
          break;
        case "staleConnection":
          log.warn(`${label}: connection to ${nc.getServer()} went stale`);
          break;
      }
    }
  })();
  nc.closed().then((error) => {
    counters.connected = false;
    if (error) {
      const auth = natsAuthError(error, config, { server: nc.getServer() });
      log.error(`${label}: connection closed: ${(auth ?? error).message}`);
    } else {
      log.info(`${label}: connection closed`);
    }
  });
}
