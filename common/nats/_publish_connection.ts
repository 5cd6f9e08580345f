/**
 * {@linkcode NatsPublisher}'s connection: made in the background, waiting
 * for a server as long as it takes; the stream ensured and the size limits
 * applied each time it comes up, before anything is published; given up for
 * good when the servers reject the credentials, the stream cannot take the
 * configured settings, or nats.js closes it.
 *
 * @module
 */

import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import type { NatsTransportConfig } from "../config/mod.ts";
import type { Logger } from "../runtime/log.ts";
import { RateLimitedLog } from "../runtime/rate_limited_log.ts";
import {
  connectNats,
  natsAuthError,
  type NatsConnectionCounters,
  newConnectionCounters,
} from "./connection.ts";
import {
  ensureStream,
  StreamConfigError,
  streamMaxMsgSize,
} from "./stream_setup.ts";
import { LABEL, ROLE, WARN_EVERY_MS } from "./_publish_log.ts";
import { RETRY_BACKOFF } from "./_publish_retry.ts";

/** What {@linkcode PublisherConnection} tells its publisher. */
export interface PublisherHooks {
  /** Gets every reply to the inbox (the acks). */
  onReply: (error: Error | null, msg: Msg) => void;
  /**
   * Caps the trades per message to what fits in the server's `maxPayload`
   * and the stream's `maxMsgSize` (each when known); fails the connection
   * and returns false when not even one trade fits.
   */
  applyLimits: (maxPayload: number | undefined, maxMsgSize?: number) => boolean;
  /** The stream is ensured: publish on `nc`. */
  onReady: (nc: NatsConnection) => void;
  /** The connection dropped: what was in flight will never be acked on it. */
  onDisconnect: () => void;
  /** Publishing stopped for good. */
  onFail: () => void;
}

/** The connection of a publisher and the state of its stream; see the module documentation. */
export class PublisherConnection {
  readonly #config: NatsTransportConfig;
  readonly #log: Logger;
  readonly #inbox: string;
  readonly #hooks: PublisherHooks;
  readonly #counters: NatsConnectionCounters = newConnectionCounters();
  #abort = new AbortController();
  #connecting: Promise<void> = Promise.resolve();
  #nc: NatsConnection | undefined;
  #jsm: JetStreamManager | undefined;
  #connected = false;
  #ensured = false;
  #ensuring = false;
  #ensureRetry: ReturnType<typeof setTimeout> | undefined;
  #ensureFailures = 0;
  #failure: Error | undefined;
  #failed = Promise.withResolvers<Error>();
  /** "Cannot set up the stream" warnings, at most one per {@linkcode WARN_EVERY_MS}. */
  readonly #warnings: RateLimitedLog;

  /** A connection for `config`, not started; replies to `{inbox}.*` will go to `hooks.onReply`. */
  constructor(
    config: NatsTransportConfig,
    options: { log: Logger; inbox: string; hooks: PublisherHooks },
  ) {
    this.#config = config;
    this.#log = options.log;
    this.#inbox = options.inbox;
    this.#hooks = options.hooks;
    this.#warnings = new RateLimitedLog(
      (m) => options.log.warn(m),
      WARN_EVERY_MS,
    );
  }

  /** Starts connecting in the background. */
  start(): void {
    this.#connecting = this.#connect();
  }

  /** Connected, stream ensured, not failed. */
  get ready(): boolean {
    return this.#connected && this.#ensured && this.#failure === undefined;
  }

  /** Connected now (the stream maybe not ensured yet). */
  get connected(): boolean {
    return this.#connected;
  }

  /** Why publishing stopped for good; undefined while it has not. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** The connection's state and reconnect counts. */
  get counters(): Readonly<NatsConnectionCounters> {
    return this.#counters;
  }

  /** The JetStream manager, once connected. */
  get jsm(): JetStreamManager | undefined {
    return this.#jsm;
  }

  /** Resolves with the error when publishing stopped for good. */
  failed(): Promise<Error> {
    return this.#failed.promise;
  }

  /** Checks the stream again in the background (once it was ensured), without stopping the publisher. */
  recheck(): void {
    if (this.#ensured) this.#ensure({ recheck: true });
  }

  /** Stops publishing for good: logs why, resolves {@linkcode failed} and closes the connection. */
  fail(error: unknown): void {
    if (this.#failure !== undefined) return;
    const failure = error instanceof Error ? error : new Error(String(error));
    this.#failure = failure;
    this.#connected = false;
    this.#ensured = false;
    this.#log.error(
      `${LABEL}: publishing stopped, trades are queued and then dropped: ${failure.message}`,
    );
    this.#failed.resolve(failure);
    this.#hooks.onFail();
    if (this.#nc !== undefined && !this.#nc.isClosed()) {
      this.#nc.close().catch(() => {});
    }
  }

  /**
   * The publisher's lease ended: closes the connection at once, its unsent
   * frames dropped rather than written (frames the OS or the network hold
   * already still arrive: docs/nats.md), and connects again in the
   * background; the publisher sends nothing until its lease holds again.
   */
  cut(): void {
    const nc = this.#nc;
    if (
      nc === undefined || nc.isClosed() || this.#failure !== undefined ||
      this.#abort.signal.aborted
    ) {
      return;
    }
    this.#nc = undefined;
    this.#connected = false;
    this.#ensured = false;
    this.#hooks.onDisconnect();
    this.#log.warn(
      `${LABEL}: registry lease ended: connection closed, its unsent messages dropped; connecting again`,
    );
    nc.close().catch(() => {});
    this.#connecting = this.#connecting.then(() => this.#connect());
  }

  /**
   * Stops connecting and ensuring; drains the connection (closes it when
   * disconnected, or with `drain: false`: fenced, nothing more may go out)
   * and waits until it is closed.
   */
  async close(options: { drain?: boolean } = {}): Promise<void> {
    clearTimeout(this.#ensureRetry);
    this.#abort.abort(new Error("NATS transport closed"));
    const nc = this.#nc;
    if (nc !== undefined) {
      // after a failure the connection is closing already
      if (this.#failure === undefined && !nc.isClosed()) {
        const drain = this.#connected && options.drain !== false;
        await (drain ? nc.drain() : nc.close()).catch(() => nc.close());
      }
      await nc.closed();
    }
    await this.#connecting;
  }

  async #connect(): Promise<void> {
    let nc: NatsConnection;
    try {
      nc = await connectNats(this.#config, {
        log: this.#log,
        role: ROLE,
        counters: this.#counters,
        signal: this.#abort.signal,
      });
    } catch (error) {
      if (!this.#abort.signal.aborted) this.fail(error);
      return;
    }
    if (this.#abort.signal.aborted) {
      await nc.close(); // connected just as close() gave up waiting
      return;
    }
    this.#nc = nc;
    this.#jsm = await jetstreamManager(nc, { checkAPI: false });
    nc.subscribe(`${this.#inbox}.*`, { callback: this.#hooks.onReply });
    nc.closed().then((error) => {
      this.#connected = false;
      this.#ensured = false;
      if (error && !this.#abort.signal.aborted) {
        this.fail(natsAuthError(error, this.#config) ?? error);
      }
    });
    this.#connected = true;
    // Before #ensure, which may fail and close the connection: an iterator
    // made after the close would never end.
    const statuses = nc.status();
    this.#ensure();
    for await (const status of statuses) {
      if (status.type === "disconnect") {
        this.#connected = false;
        this.#ensured = false;
        this.#hooks.onDisconnect();
      } else if (status.type === "reconnect") {
        this.#connected = true;
        this.#ensure();
      }
    }
  }

  /**
   * Ensures the stream (again after every reconnect), then lets the
   * publisher publish. With `recheck`, checks a stream already ensured
   * without stopping the publisher.
   */
  #ensure(options: { recheck?: boolean } = {}): void {
    if (
      this.#ensuring || (this.#ensured && !options.recheck) ||
      !this.#connected || this.#failure !== undefined ||
      this.#abort.signal.aborted
    ) {
      return;
    }
    // Where one trade does not fit, not even the stream's API requests do.
    // (Only while the publisher stands still: the cap ignores the stream's
    // limit until it is read.)
    if (!this.#ensured && !this.#applyLimits()) return;
    this.#ensuring = true;
    const { jetstream } = this.#config;
    const jsm = this.#jsm!;
    ensureStream(jsm, jetstream, { log: this.#log }).then(
      () => streamMaxMsgSize(jsm, jetstream.streamName),
    ).then(
      (maxMsgSize) => {
        this.#ensuring = false;
        this.#ensureFailures = 0;
        if (!this.#connected) return; // the reconnect ensures it again
        if (!this.#applyLimits(maxMsgSize)) return;
        if (options.recheck && this.#ensured) return;
        this.#ensured = true;
        this.#hooks.onReady(this.#nc!);
      },
      (error) => {
        this.#ensuring = false;
        if (error instanceof StreamConfigError) {
          this.fail(error);
          return;
        }
        this.#warnings.log(
          "stream",
          `${LABEL}: cannot set up stream ${jetstream.streamName} yet (${
            error instanceof Error ? error.message : String(error)
          }); retrying`,
        );
        this.#ensureRetry = setTimeout(
          () => this.#ensure(),
          RETRY_BACKOFF.backoff(this.#ensureFailures++),
        );
      },
    );
  }

  /** The publisher's limits for the connected server's `max_payload` and `maxMsgSize` (when known). */
  #applyLimits(maxMsgSize?: number): boolean {
    return this.#hooks.applyLimits(this.#nc?.info?.max_payload, maxMsgSize);
  }
}
