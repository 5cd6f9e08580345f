/**
 * The console's Server-Sent Events connections: one timer at
 * `updates_per_second` while a client is connected (none without), each
 * tick's events written to every client without waiting for any, each
 * client's unsent bytes bounded (past the bound its stream is ended: the
 * browser's EventSource reconnects and starts again from a snapshot), a
 * comment line now and then so proxies keep quiet connections open, and
 * every stream ended on {@linkcode Broadcaster.close}.
 *
 * @module
 */

import type { ChartRequest, ChartWatch, ConsoleEvents } from "./events.ts";

/** A client's unsent bytes at most, by default: past them it is dropped. */
export const MAX_UNSENT_BYTES = 1 << 20;

/** How often a comment line goes to every client, ms. */
export const HEARTBEAT_MS = 15_000;

/** How long an EventSource waits before reconnecting, ms (the `retry:` field). */
export const RETRY_MS = 2_000;

/** Options of {@linkcode Broadcaster}. */
export interface BroadcasterOptions {
  /** Ticks per second. */
  updatesPerSecond: number;
  /** A client's unsent bytes at most. @default {MAX_UNSENT_BYTES} */
  maxUnsentBytes?: number;
  /** Time between comment lines, ms. @default {HEARTBEAT_MS} */
  heartbeatMs?: number;
  /** Monotonic clock, ms. @default {performance.now} */
  now?: () => number;
  /**
   * Told of an error building the events (a bug): the clients' streams are
   * ended (their browsers reconnect), `live` goes on. @default {nothing}
   */
  onError?: (error: unknown) => void;
}

/** One connected client. */
interface Client {
  watch: ChartWatch;
  controller: ReadableStreamDefaultController<Uint8Array>;
}

const encoder = new TextEncoder();
const HEARTBEAT = encoder.encode(": keep-alive\n\n");

/** The SSE clients of one console and the timer that feeds them. */
export class Broadcaster {
  readonly #events: ConsoleEvents;
  readonly #options: Required<BroadcasterOptions>;
  readonly #clients = new Set<Client>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastHeartbeat = 0;
  #closed = false;
  #dropped = 0;

  /** A broadcaster of `events`. */
  constructor(events: ConsoleEvents, options: BroadcasterOptions) {
    this.#events = events;
    this.#options = {
      maxUnsentBytes: MAX_UNSENT_BYTES,
      heartbeatMs: HEARTBEAT_MS,
      now: () => performance.now(),
      onError: () => {},
      ...options,
    };
  }

  /** Clients connected now. */
  get clients(): number {
    return this.#clients.size;
  }

  /** Clients dropped so far for not reading. */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * A new client charting `request`: the body of its `/events` response,
   * starting with its snapshot. After {@linkcode close}, an empty body.
   */
  connect(request: ChartRequest): ReadableStream<Uint8Array> {
    let client: Client | undefined;
    const max = this.#options.maxUnsentBytes;
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        if (this.#closed) return controller.close();
        const watch: ChartWatch = { request, stream: -1, full: true };
        client = { watch, controller };
        const fresh = this.#timer === undefined;
        let snapshot: string;
        try {
          snapshot = this.#events.snapshot(watch, { fresh });
        } catch (error) {
          this.#events.release(watch);
          this.#options.onError(error);
          return controller.close();
        }
        controller.enqueue(encoder.encode(`retry: ${RETRY_MS}\n${snapshot}`));
        this.#clients.add(client);
        this.#start();
      },
      // The browser went away: nothing to say, nothing more to send.
      cancel: () => {
        if (client) this.#remove(client);
      },
    }, new ByteLengthQueuingStrategy({ highWaterMark: max }));
  }

  /** Ends every client's stream and stops the timer; later connections get an empty body. */
  close(): void {
    this.#closed = true;
    for (const client of [...this.#clients]) this.#end(client);
    this.#stop();
  }

  /** One tick: each client's update, written without waiting. */
  tick(): void {
    const clients = [...this.#clients];
    const nowMs = this.#options.now();
    const messages = this.#events.tick(clients.map((c) => c.watch), nowMs);
    const encoded = new Map<string, Uint8Array>();
    const heartbeat = nowMs - this.#lastHeartbeat >= this.#options.heartbeatMs;
    if (heartbeat) this.#lastHeartbeat = nowMs;
    clients.forEach((client, i) => {
      const message = messages[i];
      let bytes: Uint8Array | undefined;
      if (message !== undefined) {
        bytes = encoded.get(message);
        if (bytes === undefined) {
          bytes = encoder.encode(message);
          encoded.set(message, bytes);
        }
      } else if (heartbeat) bytes = HEARTBEAT;
      if (bytes !== undefined) this.#send(client, bytes);
    });
  }

  /** A timer's tick: an error building the events ends every stream (the browsers reconnect) and is reported. */
  #safeTick(): void {
    try {
      this.tick();
    } catch (error) {
      for (const client of [...this.#clients]) this.#end(client);
      this.#options.onError(error);
    }
  }

  /** Queues `bytes` for `client`, or drops it when that would pass its bound. */
  #send(client: Client, bytes: Uint8Array): void {
    const room = client.controller.desiredSize ?? 0;
    if (room < bytes.length) {
      this.#dropped++;
      this.#end(client);
      return;
    }
    try {
      client.controller.enqueue(bytes);
    } catch {
      this.#remove(client); // its stream is gone already
    }
  }

  /**
   * Ends a client's stream: what is queued still goes out if it ever reads
   * (closing with an error would be logged once the connection closes).
   */
  #end(client: Client): void {
    this.#remove(client);
    try {
      client.controller.close();
    } catch {
      // already closed or cancelled
    }
  }

  #remove(client: Client): void {
    if (!this.#clients.delete(client)) return;
    this.#events.release(client.watch);
    if (this.#clients.size === 0) this.#stop();
  }

  #start(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#lastHeartbeat = this.#options.now();
    this.#timer = setInterval(
      () => this.#safeTick(),
      1000 / this.#options.updatesPerSecond,
    );
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
