/**
 * A ring durable's positions mirrored to NATS: stream `{stream}_DURABLE`
 * (`max_msgs_per_subject` 1, created when missing), one message per durable
 * on subject `{prefix}_durable.{NAME}`, written every second while the
 * positions move and once more at exit. A host that lost /dev/shm (a
 * reboot) restarts from it at-least-once: the trades delivered since its
 * last write come again. At start each stream takes the newer of the two
 * positions (the later `ts_recv`; the /dev/shm one on a tie). See
 * docs/ipc_ring.md, "A ring consumer that survives its restart".
 *
 * @module
 */

import {
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { NatsConnectionConfig } from "../config/mod.ts";
import type { Logger } from "../runtime/log.ts";
import { connectNats } from "../nats/connection.ts";
import type { DurablePosition, Position } from "./durable_position.ts";

/** Options of {@linkcode DurableMirror.open}. */
export interface DurableMirrorOptions {
  /** How to reach the servers. */
  connection: NatsConnectionConfig;
  /** The trade stream's name: the mirror's is `{streamName}_DURABLE`. */
  streamName: string;
  /** The trade subjects' prefix: the mirror's subject is `{subjectPrefix}_durable.{NAME}`. */
  subjectPrefix: string;
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
   * goes on unmirrored (a warning says so).
   *
   * @default {10000}
   */
  openTimeoutMs?: number;
}

/** How long the last write at exit may take, ms. */
const CLOSE_TIMEOUT_MS = 2000;

/** Positions by `exchange:symbol`, as the mirror's JSON holds them. */
type Mirrored = Record<string, [epoch: number, seq: number, tsRecv: string]>;

/** The positions of `store`, by `exchange:symbol`. */
function positionsOf(store: DurablePosition): Mirrored {
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
 * Stores into `store` each mirrored position newer than its own (a later
 * `ts_recv`, or none there); returns the keys taken from the mirror.
 */
export function takeNewer(
  store: DurablePosition,
  mirrored: Mirrored,
): string[] {
  const taken: string[] = [];
  for (const [key, value] of Object.entries(mirrored)) {
    const [exchange, symbol] = key.split(":");
    if (!Array.isArray(value) || symbol === undefined) continue;
    const position: Position = {
      epoch: Number(value[0]) >>> 0,
      seq: Number(value[1]) >>> 0,
      tsRecv: BigInt(value[2]),
    };
    const own = store.get(exchange, symbol);
    if (position.epoch === 0) continue;
    if (own !== undefined && own.tsRecv >= position.tsRecv) continue;
    store.store(
      store.slot(exchange, symbol),
      position.epoch,
      position.seq,
      position.tsRecv,
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
  #writing: Promise<void> = Promise.resolve();

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
   * Connects, creates the mirror's stream when missing, takes the newer
   * mirrored positions into `store`, and starts writing. Undefined when NATS
   * did not answer within `openTimeoutMs` or refused (a warning says why).
   */
  static async open(
    store: DurablePosition,
    options: DurableMirrorOptions,
  ): Promise<DurableMirror | undefined> {
    const { log } = options;
    const stream = `${options.streamName}_DURABLE`;
    const subject = `${options.subjectPrefix}_durable.${store.name}`;
    const signal = AbortSignal.timeout(options.openTimeoutMs ?? 10_000);
    let nc: NatsConnection | undefined;
    try {
      nc = await connectNats(options.connection, {
        log,
        role: "durable mirror",
        signal,
      });
      const jsm = await jetstreamManager(nc, { checkAPI: false });
      await ensureMirrorStream(jsm, stream, options.subjectPrefix);
      const last = await jsm.streams.getMessage(stream, {
        last_by_subj: subject,
      });
      const taken = last === null ? [] : takeNewer(
        store,
        last.json<{
          positions: Mirrored;
        }>().positions ?? {},
      );
      if (taken.length > 0) {
        log.warn(
          `durable ${store.name}: ${
            taken.join(", ")
          }: resuming from the NATS mirror (${stream}), newer than /dev/shm's: the trades delivered after its last write come again`,
        );
      }
    } catch (error) {
      await nc?.close().catch(() => {});
      log.warn(
        `durable ${store.name}: the NATS mirror ${stream} could not be read (${
          error instanceof Error ? error.message : String(error)
        }): positions are kept in /dev/shm only this run`,
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

  /** Writes the positions when they moved since the last write (one write at a time). */
  #write(timeoutMs = 5000): Promise<void> {
    const positions = positionsOf(this.#store);
    const body = JSON.stringify({ positions });
    if (body === this.#written) return this.#writing;
    this.#writing = this.#writing.then(async () => {
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
    });
    return this.#writing;
  }

  /** Writes the positions a last time (within 2 s) and closes the connection. */
  async close(): Promise<void> {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#write(CLOSE_TIMEOUT_MS);
    await this.#nc.close().catch(() => {});
  }
}

/** Creates the mirror's stream (file storage, one message per subject) unless it exists. */
async function ensureMirrorStream(
  jsm: JetStreamManager,
  stream: string,
  prefix: string,
): Promise<void> {
  try {
    await jsm.streams.info(stream);
    return;
  } catch {
    // missing: created below
  }
  await jsm.streams.add({
    name: stream,
    subjects: [`${prefix}_durable.*`],
    max_msgs_per_subject: 1,
  });
}
