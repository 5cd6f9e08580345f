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
  /** Gives up connecting when aborted. */
  signal?: AbortSignal;
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
  const { registry, log, signal } = options;
  const nc = await connectNats(
    { ...connection, name: `${connection.name}-registry` },
    { log, role: "registry", signal },
  );
  try {
    const bucket = await RegistryBucket.open(nc, {
      bucket: registry.bucket,
      createWithMaxAgeMs: options.create ? registry.maxAgeMs : undefined,
      // Half a TTL: a heartbeat that cannot get through gives up in time
      // for the next, and a stop during an outage is not held long.
      timeoutMs: Math.max(100, registry.ttlMs / 2),
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
