/**
 * The registry's own NATS connection: separate from the publisher's and the
 * feed's, so heartbeats never queue behind trades.
 *
 * @module
 */

import type { NatsConnection } from "@nats-io/nats-core";
import type { NatsConnectionConfig, RegistryConfig } from "../config/mod.ts";
import { connectNats } from "../nats/connection.ts";
import type { Logger } from "../runtime/log.ts";
import { RegistryBucket } from "./_bucket.ts";

/** The longest one registry request (a get, a put) waits, ms. */
const REQUEST_TIMEOUT_MAX_MS = 5000;

/** No NATS server answered within {@linkcode OpenRegistryOptions.connectWithinMs}. */
export class RegistryUnreachableError extends Error {
  /** Creates the error naming the servers and the time waited. */
  constructor(servers: readonly string[], ms: number) {
    super(`not connected to ${servers.join(", ")} within ${ms} ms`);
    this.name = "RegistryUnreachableError";
  }
}

/** An open registry: its bucket and the connection to close. */
export interface OpenRegistry extends AsyncDisposable {
  /** The bucket. */
  bucket: RegistryBucket;
  /** The connection. */
  nc: NatsConnection;
}

/** Options of {@linkcode openRegistry}. */
export interface OpenRegistryOptions {
  /** The registry's settings (`[registry]`). */
  registry: RegistryConfig;
  /** Where connection state changes are logged. */
  log: Logger;
  /** Create the bucket when it is missing (a publisher). @default {false} */
  create?: boolean;
  /** Replicas of the bucket it creates (the trade stream's). @default {1} */
  replicas?: number;
  /** Gives up connecting when aborted. */
  signal?: AbortSignal;
  /** Gives up connecting after this long, ms (undefined: waits for a server as long as it takes). */
  connectWithinMs?: number;
}

/**
 * Connects to `connection` and binds the registry bucket.
 *
 * @throws as {@linkcode connectNats}, and JetStream errors of the bucket.
 */
export async function openRegistry(
  connection: NatsConnectionConfig,
  options: OpenRegistryOptions,
): Promise<OpenRegistry> {
  const { registry, log } = options;
  // A deadline for the first connection only: the signal stays unaborted
  // once connected, since every later reconnect looks at it too.
  const deadline = new AbortController();
  const within = options.connectWithinMs;
  const timer = within === undefined ? undefined : setTimeout(
    () =>
      deadline.abort(new RegistryUnreachableError(connection.servers, within!)),
    within,
  );
  const signal = options.signal
    ? AbortSignal.any([options.signal, deadline.signal])
    : deadline.signal;
  let nc: NatsConnection;
  try {
    nc = await connectNats(
      { ...connection, name: `${connection.name}-registry` },
      { log, role: "registry", signal },
    );
  } finally {
    clearTimeout(timer);
  }
  try {
    const bucket = await RegistryBucket.open(nc, {
      bucket: registry.bucket,
      createWithMaxAgeMs: options.create ? registry.maxAgeMs : undefined,
      replicas: options.replicas,
      // Half a TTL, at most 5 s: a heartbeat that cannot get through gives
      // up in time for the next, and a stop during an outage is not held
      // long even with a long TTL.
      timeoutMs: Math.min(
        REQUEST_TIMEOUT_MAX_MS,
        Math.max(100, registry.ttlMs / 2),
      ),
    });
    return {
      bucket,
      nc,
      async [Symbol.asyncDispose]() {
        await nc.close();
      },
    };
  } catch (error) {
    await nc.close();
    throw error;
  }
}
