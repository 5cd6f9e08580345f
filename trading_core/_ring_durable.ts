/**
 * `live --ring-durable NAME`: opens the durable's position file, says
 * where each symbol resumes, and gives the catch-up start from it (see
 * common/catch_up/durable_start.ts and docs/ipc_ring.md, "A ring consumer
 * that survives its restart").
 *
 * @module
 */

import type { DataSourceConfig } from "../common/config/mod.ts";
import {
  DurableMirror,
  DurablePosition,
  type DurableStart,
  durableStart,
} from "../common/catch_up/mod.ts";
import type { Logger } from "../common/runtime/log.ts";
import { streamName } from "../common/transport/mod.ts";

/** An open ring durable: its file, and where its catch-up starts. */
export interface RingDurable {
  /** Its position file, taken by this process until closed. */
  store: DurablePosition;
  /** Where its catch-up starts. */
  start: DurableStart;
  /** Its positions' NATS mirror (undefined: NATS did not answer at start, with positions in /dev/shm). */
  mirror: DurableMirror | undefined;
}

/**
 * Opens the ring durable `source.ipc.durableName` names (undefined: none), takes
 * from its NATS mirror the positions its file lacks, and logs where each symbol
 * resumes.
 *
 * @throws {DurableInUseError} when another live process runs it.
 * @throws {DurableMirrorUnreadableError} when its file holds no position and
 * its mirror could not be read (its position is unknown).
 * @throws {DurablePositionError} when its file is not one.
 * @throws {RingOwnerError} when another user owns its file.
 */
export async function openRingDurable(
  source: DataSourceConfig,
  log: Logger,
): Promise<RingDurable | undefined> {
  const name = source.ipc.durableName;
  if (name === undefined) return undefined;
  const store = DurablePosition.open(name);
  let mirror: DurableMirror | undefined;
  try {
    mirror = await DurableMirror.open(store, {
      connection: source.nats.connection,
      streamName: source.nats.streamName,
      log,
    });
  } catch (error) {
    store.close();
    throw error;
  }
  const { exchange, symbols } = source;
  const start = durableStart(store, { exchange, symbols }, {
    warn: (message) => log.warn(`durable ${name}: ${message}`),
  });
  if (start.since !== undefined) {
    log.info(
      `durable ${name}: no position stored, reading from now (${start.since.toISOString()})`,
    );
    return { store, start, mirror };
  }
  for (const symbol of symbols) {
    const position = store.get(exchange, symbol);
    log.info(
      position === undefined
        ? `durable ${name}: ${
          streamName({ exchange, symbol })
        }: no position stored, from the history's start`
        : `durable ${name}: ${
          streamName({ exchange, symbol })
        }: resuming after seq ${position.seq} of run ${position.epoch}`,
    );
  }
  log.info(
    `durable ${name}: JetStream history from ${start.historyStart.toISOString()}, then the rings`,
  );
  return { store, start, mirror };
}

/** Writes the mirror a last time, then gives the position file up. */
export async function closeRingDurable(durable: RingDurable): Promise<void> {
  await durable.mirror?.close();
  durable.store.close();
}
