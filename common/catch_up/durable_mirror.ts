/**
 * A ring durable's positions mirrored to NATS: stream
 * `MARKETBUS_RING_DURABLE` (`max_msgs_per_subject` 1, created when missing;
 * its own, so no trade stream or subject can collide with it), one message
 * per durable on subject `marketbus_ring_durable.{STREAM}.{NAME}` (STREAM
 * the trade stream's name), written every second while the
 * positions move and once more at exit. A host that lost /dev/shm (a
 * reboot) restarts from it at-least-once: the trades delivered since its
 * last write come again. At start the mirror gives only the positions of
 * the streams /dev/shm lacks (the mirror is a copy of the file: no clock
 * compares). The subject holds the trade stream and NAME: two hosts sharing
 * NATS and a trade stream need distinct names. See
 * docs/ipc_ring.md, "A ring consumer that survives its restart".
 *
 * @module
 */

import {
  jetstream,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { NatsConnectionConfig } from "../config/mod.ts";
import type { Logger } from "../runtime/log.ts";
import { connectNats } from "../nats/connection.ts";
import type { DurablePosition } from "./durable_position.ts";

/** Options of {@linkcode DurableMirror.open}. */
export interface DurableMirrorOptions {
  /** How to reach the servers. */
  connection: NatsConnectionConfig;
  /** The trade stream's name: the mirror's subject is `marketbus_ring_durable.{streamName}.{NAME}`. */
  streamName: string;
  /** Where the connection and the mirror log. */
  log: Logger;
  /**
   * How often the positions are written while they move, ms.
   *
   * @default {1000}
   */
  intervalMs?: number;
  /**
   * How long connecting and reading may take at start, ms; past it the run
   * goes on unmirrored (a warning says so), or, when /dev/shm holds no
   * position, is refused ({@linkcode DurableMirrorUnreadableError}).
   *
   * @default {10000}
   */
  openTimeoutMs?: number;
}

/**
 * The durable's /dev/shm file holds no position and its NATS mirror could
 * not be read: where it resumes is unknown (starting from now could skip
 * what was not delivered before a reboot).
 */
export class DurableMirrorUnreadableError extends Error {
  /** Creates the error for durable `name` whose mirror read failed with `cause`. */
  constructor(name: string, streamName: string, cause: string) {
    super(
      `Durable ${name} has no position in /dev/shm and its NATS mirror ${DURABLE_MIRROR_STREAM} (subject marketbus_ring_durable.${streamName}.${name}) could not be read (${cause}): where it resumes is unknown; start it again once NATS answers, or reset it to read from now (docs/ipc_ring.md, "Resetting a ring durable")`,
    );
    this.name = "DurableMirrorUnreadableError";
  }
}

/** The mirror's stream, shared by every ring durable (created when missing). */
export const DURABLE_MIRROR_STREAM = "MARKETBUS_RING_DURABLE";

/** The mirror stream's subjects: `marketbus_ring_durable.{STREAM}.{NAME}`. */
export const DURABLE_MIRROR_SUBJECTS = "marketbus_ring_durable.>";

/** A durable's position message is at most this large (1024 streams' positions fit), bytes. */
const MAX_MIRROR_MESSAGE_BYTES = 1 << 20;

/** How long the last write at exit may take, ms (a write in flight included). */
const CLOSE_TIMEOUT_MS = 2000;

/**
 * How long a periodic write may take, ms: short, so that one lost in a
 * NATS blip neither holds the next ones long nor takes more than half of
 * close()'s 2 s.
 */
const WRITE_TIMEOUT_MS = 1000;

/** Positions by `exchange:symbol`, as the mirror's JSON holds them. */
type Mirrored = Record<string, [epoch: number, seq: number, tsRecv: string]>;

/** The positions of `store`, by `exchange:symbol`, as the mirror holds them. */
function mirroredOf(store: DurablePosition): Mirrored {
  const out: Mirrored = {};
  for (const key of store.keys()) {
    const [exchange, symbol] = key.split(":");
    const position = store.get(exchange, symbol);
    if (position === undefined) continue;
    out[key] = [position.epoch, position.seq, String(position.tsRecv)];
  }
  return out;
}

/**
 * Stores into `store` each mirrored position of a stream it has none of;
 * returns the keys taken from the mirror.
 */
export function takeMissing(
  store: DurablePosition,
  mirrored: Mirrored,
): string[] {
  const taken: string[] = [];
  for (const [key, value] of Object.entries(mirrored)) {
    const [exchange, symbol] = key.split(":");
    if (!Array.isArray(value) || symbol === undefined) continue;
    if (store.get(exchange, symbol) !== undefined) continue;
    const epoch = Number(value[0]) >>> 0;
    if (epoch === 0) continue;
    store.store(
      store.slot(exchange, symbol),
      epoch,
      Number(value[1]) >>> 0,
      BigInt(value[2]),
    );
    taken.push(key);
  }
  return taken;
}

/** The mirror of one durable's positions; see the module documentation. */
export class DurableMirror {
  readonly #store: DurablePosition;
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #subject: string;
  readonly #log: Logger;
  #written = "";
  #failing = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** The write in flight, if any (at most one). */
  #writing: Promise<void> | undefined;

  private constructor(
    store: DurablePosition,
    nc: NatsConnection,
    options: { subject: string; log: Logger },
  ) {
    this.#store = store;
    this.#nc = nc;
    this.#js = jetstream(nc);
    this.#subject = options.subject;
    this.#log = options.log;
  }

  /**
   * Connects, creates the mirror's stream when missing, takes the mirrored
   * positions of the streams `store` lacks, and starts writing. Undefined when NATS
   * did not answer within `openTimeoutMs` or refused (a warning says why).
   *
   * @throws {DurableMirrorUnreadableError} when so and `store` holds no
   * position (a first run is one whose mirror answered with nothing).
   */
  static async open(
    store: DurablePosition,
    options: DurableMirrorOptions,
  ): Promise<DurableMirror | undefined> {
    const { log } = options;
    const stream = DURABLE_MIRROR_STREAM;
    const subject =
      `marketbus_ring_durable.${options.streamName}.${store.name}`;
    const timeoutMs = options.openTimeoutMs ?? 10_000;
    const signal = AbortSignal.timeout(timeoutMs);
    const deadline = performance.now() + timeoutMs;
    let nc: NatsConnection | undefined;
    try {
      nc = await connectNats(options.connection, {
        log,
        role: "durable mirror",
        signal,
      });
      // Each request within what is left of the open timeout (not 5 s each).
      const left = Math.max(1, Math.round(deadline - performance.now()));
      const jsm = await jetstreamManager(nc, {
        checkAPI: false,
        timeout: left,
      });
      await ensureMirrorStream(jsm);
      const last = await jsm.streams.getMessage(stream, {
        last_by_subj: subject,
      });
      const taken = last === null ? [] : takeMissing(
        store,
        last.json<{
          positions: Mirrored;
        }>().positions ?? {},
      );
      if (taken.length > 0) {
        log.warn(
          `durable ${store.name}: ${
            taken.join(", ")
          }: resuming from the NATS mirror (${stream}), not in /dev/shm: the trades delivered after its last write come again`,
        );
      }
    } catch (error) {
      await nc?.close().catch(() => {});
      const cause = error instanceof Error ? error.message : String(error);
      if (store.keys().length === 0) {
        throw new DurableMirrorUnreadableError(
          store.name,
          options.streamName,
          cause,
        );
      }
      log.warn(
        `durable ${store.name}: the NATS mirror ${stream} could not be read (${cause}): positions are kept in /dev/shm only this run`,
      );
      return undefined;
    }
    const mirror = new DurableMirror(store, nc, { subject, log });
    mirror.#timer = setInterval(
      () => mirror.#write(),
      options.intervalMs ?? 1000,
    );
    return mirror;
  }

  /**
   * Writes the positions when they moved since the last write, within
   * `timeoutMs`; while a write is in flight, the tick is skipped (the next
   * one writes the latest positions).
   */
  #write(timeoutMs = WRITE_TIMEOUT_MS): Promise<void> {
    if (this.#writing !== undefined) return this.#writing;
    const positions = mirroredOf(this.#store);
    const body = JSON.stringify({ positions });
    if (body === this.#written) return Promise.resolve();
    this.#writing = this.#publish(body, positions, timeoutMs).finally(() =>
      this.#writing = undefined
    );
    return this.#writing;
  }

  /** Publishes `positions` (`body` once written), logging a failure once until it succeeds. */
  async #publish(
    body: string,
    positions: Mirrored,
    timeoutMs: number,
  ): Promise<void> {
    try {
      await this.#js.publish(
        this.#subject,
        JSON.stringify({ positions, pid: Deno.pid, at: new Date() }),
        { timeout: timeoutMs },
      );
      this.#written = body;
      if (this.#failing) {
        this.#log.info(
          `durable ${this.#store.name}: NATS mirror written again`,
        );
      }
      this.#failing = false;
    } catch (error) {
      if (!this.#failing) {
        this.#log.warn(
          `durable ${this.#store.name}: the NATS mirror could not be written (${
            error instanceof Error ? error.message : String(error)
          }); retrying every interval`,
        );
      }
      this.#failing = true;
    }
  }

  /**
   * Writes the positions a last time and closes the connection, within 2 s
   * in all (a write in flight included: past it the last positions stay in
   * /dev/shm only).
   */
  async close(): Promise<void> {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    const deadline = performance.now() + CLOSE_TIMEOUT_MS;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<void>((resolve) =>
      timer = setTimeout(resolve, CLOSE_TIMEOUT_MS)
    );
    const last = (async () => {
      await this.#writing;
      const left = deadline - performance.now();
      if (left > 0) await this.#write(left);
    })();
    await Promise.race([last, expired]);
    clearTimeout(timer);
    await this.#nc.close().catch(() => {});
  }
}

/**
 * Creates the mirror's stream unless it exists: file storage, one message
 * per subject (a durable's latest positions), no age limit (a position is
 * state, not history), messages up to 1 MiB, one replica (an operator wants
 * R3 on a cluster: create it first, docs/ipc_ring.md).
 */
async function ensureMirrorStream(jsm: JetStreamManager): Promise<void> {
  try {
    await jsm.streams.info(DURABLE_MIRROR_STREAM);
    return;
  } catch (error) {
    // Only a missing stream is created; any other error (offline, no
    // quorum, a timeout) is the mirror being unreadable.
    const missing = error instanceof JetStreamApiError &&
      error.code === JetStreamApiCodes.StreamNotFound;
    if (!missing) throw error;
  }
  await jsm.streams.add({
    name: DURABLE_MIRROR_STREAM,
    subjects: [DURABLE_MIRROR_SUBJECTS],
    max_msgs_per_subject: 1,
    max_msg_size: MAX_MIRROR_MESSAGE_BYTES,
  });
}
