/**
 * Opens `serve`'s enabled transports (the rings, the NATS publisher), each
 * saying where it publishes; a transport that cannot open is reported in one
 * line, and those opened before it are closed again.
 *
 * @module
 */

import { type Config, ConfigError } from "../common/config/mod.ts";
import { formatCount } from "../common/runtime/format.ts";
import {
  LibcUnavailableError,
  OsError,
  RingInUseError,
} from "../common/ipc/mod.ts";
import type { Logger } from "../common/runtime/log.ts";
import { requireNetPermission } from "../common/nats/connection.ts";
import { RingPublisher } from "../common/ipc/ring_publisher.ts";
import { NatsPublisher } from "../common/nats/publisher.ts";
import type { TradePublisher } from "../common/transport/publisher.ts";
import { newRunEpoch } from "../common/wire/run_epoch.ts";

/** The rings, one per symbol, saying which (and which stale ones they replaced). */
function openIpc(config: Config, log: Logger, epoch: number): RingPublisher {
  const { dataManager, transport: { ipc: settings } } = config;
  const ipc = RingPublisher.open(dataManager.symbols, {
    exchange: dataManager.exchange,
    shmPathPrefix: settings.shmPathPrefix,
    capacity: settings.capacity,
    heartbeatIntervalMs: settings.heartbeatIntervalMs,
    maxTetherTimeoutMs: settings.maxTetherTimeoutMs,
    backlog: settings.backlog,
    waitForReaders: settings.waitForReaders,
    log,
    epoch,
  });
  for (const { name, reason } of ipc.replaced) {
    log.warn(`replaced stale ring ${name}: ${reason}`);
  }
  ipc.epochs.forEach((other, i) => {
    if (other === epoch) return;
    log.warn(
      `ring ${
        ipc.segments[i]
      } has epoch ${other}, not the run's ${epoch}: the stale ring it replaced had the run's (a 1 in 2^32 chance); a catch-up consumer of it stays on NATS`,
    );
  });
  log.info(
    `IPC rings ${ipc.segments.join(", ")} (${
      formatCount(settings.capacity)
    } slots each)`,
  );
  return ipc;
}

/**
 * The transports whose room paces the source: the rings (pending while a
 * tethered reader holds one, or while they wait for their tethered
 * readers), and
 * NATS only without them. Beside the rings NATS is sent every trade at once
 * and never holds them back: its own queue absorbs an outage, dropping
 * (counted) when full.
 */
export function pacingTransports(
  transports: readonly TradePublisher[],
): TradePublisher[] {
  const rings = transports.filter((transport) =>
    transport instanceof RingPublisher
  );
  return rings.length > 0 ? rings : [...transports];
}

/**
 * Opens the enabled transports (the ring first), all of one run epoch (a
 * random one, logged), or returns the exit status
 * after saying why it could not: 2 with none enabled, 1 for a ring in use,
 * no libc, a failed OS call or unreadable NATS creds or TLS files.
 */
export async function openTransports(
  config: Config,
  log: Logger,
): Promise<TradePublisher[] | number> {
  const { dataManager, transport } = config;
  if (!transport.ipc.enabled && !transport.nats.enabled) {
    log.error(
      "no transport enabled: enable transport.ipc (--ipc) or transport.nats (--nats)",
    );
    return 2;
  }
  const opened: TradePublisher[] = [];
  // One epoch for the run, on its rings and its NATS messages alike.
  const epoch = newRunEpoch();
  log.info(`run epoch ${epoch}`);
  try {
    // Before any ring exists: a denied host would fail only once connecting.
    if (transport.nats.enabled) requireNetPermission(transport.nats.servers);
    if (transport.ipc.enabled) opened.push(openIpc(config, log, epoch));
    if (transport.nats.enabled) {
      const nats = await NatsPublisher.open(dataManager.symbols, {
        exchange: dataManager.exchange,
        config: transport.nats,
        log,
        epoch,
      });
      log.info(
        `NATS ${
          transport.nats.servers.join(",")
        } stream ${transport.nats.jetstream.streamName} subjects ${
          nats.subjects.join(", ")
        }`,
      );
      opened.push(nats);
    }
    return opened;
  } catch (error) {
    await closeAll(opened);
    if (
      error instanceof RingInUseError ||
      error instanceof LibcUnavailableError || error instanceof OsError ||
      error instanceof ConfigError
    ) {
      log.error(error.message);
      return 1;
    }
    throw error;
  }
}

/** Closes `transports` one after the other. */
export async function closeAll(
  transports: readonly TradePublisher[],
): Promise<void> {
  for (const transport of transports) await transport.close();
}
