/**
 * JetStream fast-ingest batch publishing (nats-server ≥ 2.14, streams with
 * `allow_batched`) over a core NATS connection: every message is a plain
 * `publish` whose reply subject carries the batch state,
 * `<inbox>.<batch id>.<flow>.<gap mode>.<batch seq>.<operation>.$FI`, and
 * one wildcard subscription on `<inbox>.<batch id>.>` receives the server's
 * replies: a flow ack (`{"type":"ack","seq":N,"msgs":M}`: messages up to N
 * persisted, next ack after M more) every M messages instead of a PubAck per
 * message, gap and error notices, and one PubAck (with `batch` and `count`)
 * when the batch ends. The server paces the publisher: at most
 * `msgs × maxOutstandingAcks` messages are unacknowledged.
 *
 * Per-message headers (`Nats-Msg-Id` dedup, expectations) work as with a
 * plain JetStream publish; a bare `Nats-Msg-Id` is encoded without nats.js's
 * header object. See the JetStream batch publishing ADR (ADR-50).
 *
 * @module
 */

import {
  type MsgHdrs,
  type NatsConnection,
  nuid,
  type Subscription,
} from "@nats-io/nats-core";
import { invalidArgument } from "../common/errors/invalid.ts";
import { msgIdHeader } from "./_fast_ingest_header.ts";

/** `err_code` of "batch publish not enabled on stream". */
const BATCH_PUBLISH_DISABLED = 10205;
/** The first nats-server release with fast ingest. */
const MIN_SERVER: readonly [number, number] = [2, 14];

/** Reply-subject operations of a fast-ingest batch (ADR-50): start, append, end without a message, ping. */
const OP_START = 0;
const OP_APPEND = 1;
const OP_EOB = 3;
const OP_PING = 4;
const APPEND_SUFFIX = `.${OP_APPEND}.$FI`;
const decoder = new TextDecoder();

/** Options of {@linkcode FastIngest.start}. */
export interface FastIngestOptions {
  /** The stream the subjects belong to (for error messages only). */
  stream?: string;
  /**
   * Largest ack interval asked for, in messages; the server may use less.
   * @default 500
   */
  flow?: number;
  /**
   * Flow acks that may be outstanding before {@linkcode FastIngest.publish}
   * reports no room (ADR-50: 2 keeps the server busy while one is acked).
   * @default 2
   */
  maxOutstandingAcks?: number;
  /**
   * `"fail"`: the first lost message ends the batch, so a flow ack for N
   * means messages 1..N are all stored; `"ok"`: the batch goes on past gaps.
   * @default "fail"
   */
  gap?: "fail" | "ok";
  /**
   * How long to wait for the server's first reply, for room once the window
   * is full, and for the final PubAck, in milliseconds.
   * @default 5000
   */
  timeoutMs?: number;
  /**
   * Subject prefix of the replies' subscription.
   * @default "_INBOX"
   */
  inboxPrefix?: string;
}

/** The PubAck that ends a batch. */
export interface FastIngestAck {
  /** The stream. */
  stream: string;
  /** Stream sequence of the last message stored. */
  seq: number;
  /** Messages of the batch the server took (batch sequence of the last one). */
  count: number;
}

/** A fast-ingest batch failed or cannot start; the message is one line. */
export class FastIngestError extends Error {
  /** Highest batch sequence the server confirmed stored when it failed. */
  readonly acked: number;

  /** Creates the error. */
  constructor(message: string, acked: number) {
    super(message);
    this.name = "FastIngestError";
    this.acked = acked;
  }
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

interface Reply {
  type?: string;
  seq?: number;
  msgs?: number;
  last_seq?: number;
  stream?: string;
  batch?: string;
  count?: number;
  error?: { code?: number; err_code?: number; description?: string };
}

function serverVersion(nc: NatsConnection): string {
  return nc.info?.version ?? "unknown";
}

function tooOld(version: string): boolean {
  const [major, minor] = version.split(".").map(Number);
  if (!Number.isInteger(major) || !Number.isInteger(minor)) return false;
  return major < MIN_SERVER[0] ||
    (major === MIN_SERVER[0] && minor < MIN_SERVER[1]);
}

function positiveInteger(name: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new RangeError(
      invalidArgument(name, value, `an integer from 1 to ${max}`),
    );
  }
  return value;
}

/**
 * One fast-ingest batch: {@linkcode FastIngest.start} publishes its first
 * message and waits for the server's flow settings; then
 * {@linkcode FastIngest.publish} per message (no promise, no ack per
 * message), {@linkcode FastIngest.room} when it returns `false`, and
 * {@linkcode FastIngest.end} to commit and get the PubAck.
 */
export class FastIngest {
  readonly #nc: NatsConnection;
  readonly #sub: Subscription;
  /** `<inbox>.<id>.<flow>.<gap>.`: a reply is this + `<seq>.<op>.$FI`. */
  readonly #prefix: string;
  readonly #stream: string;
  readonly #outstanding: number;
  readonly #timeoutMs: number;
  readonly #gapOk: boolean;
  #seq = 0;
  #acked = 0;
  #interval = 1;
  #lastSubject = "";
  #started = false;
  #waiter: Waiter | undefined;
  /** The pending {@linkcode FastIngest.room} promise, shared by every caller. */
  #room: Promise<void> | undefined;
  #final: Waiter | undefined;
  #ack: FastIngestAck | undefined;
  #error: FastIngestError | undefined;
  #gaps = 0;
  #errors = 0;

  private constructor(nc: NatsConnection, options: FastIngestOptions) {
    const flow = positiveInteger("flow", options.flow ?? 500, 65_535);
    this.#outstanding = positiveInteger(
      "maxOutstandingAcks",
      options.maxOutstandingAcks ?? 2,
      3,
    );
    this.#timeoutMs = positiveInteger(
      "timeoutMs",
      options.timeoutMs ?? 5000,
      3_600_000,
    );
    const gap = options.gap ?? "fail";
    if (gap !== "fail" && gap !== "ok") {
      throw new TypeError(invalidArgument("gap", gap, '"fail" or "ok"'));
    }
    this.#gapOk = gap === "ok";
    this.#nc = nc;
    this.#stream = options.stream ?? "the stream";
    const inbox = `${options.inboxPrefix ?? "_INBOX"}.${nuid.next()}`;
    this.#prefix = `${inbox}.${flow}.${gap}.`;
    this.#sub = nc.subscribe(`${inbox}.>`, {
      callback: (err, msg) => {
        if (err) this.#fail(`fast ingest replies stopped: ${err.message}`);
        else this.#onReply(msg.data);
      },
    });
  }

  /**
   * Starts a batch with its first message on `subject` (`headers` a string:
   * its `Nats-Msg-Id`) and resolves once the server accepted it, or rejects
   * with a {@linkcode FastIngestError}: server older than 2.14,
   * `allow_batched` off, no reply within the timeout.
   */
  static async start(
    nc: NatsConnection,
    subject: string,
    payload: Uint8Array,
    headers?: MsgHdrs | string,
    options: FastIngestOptions = {},
  ): Promise<FastIngest> {
    const version = serverVersion(nc);
    if (tooOld(version)) {
      throw new FastIngestError(
        `nats-server v${version} has no fast ingest (allow_batched needs nats-server ≥ 2.14)`,
        0,
      );
    }
    const batch = new FastIngest(nc, options);
    batch.#seq = 1;
    batch.#lastSubject = subject;
    const started = new Promise<void>((resolve, reject) => {
      batch.#waiter = { resolve, reject };
    });
    nc.publish(subject, payload, {
      reply: `${batch.#prefix}1.${OP_START}.$FI`,
      headers: typeof headers === "string" ? msgIdHeader(headers) : headers,
    });
    try {
      await batch.#within(started, "the server's first reply");
    } catch (err) {
      batch.close();
      throw err;
    }
    return batch;
  }

  /** Messages published in this batch (its last batch sequence). */
  get sent(): number {
    return this.#seq;
  }

  /** Highest batch sequence the server confirmed stored (with gap `"fail"`: all up to it). */
  get acked(): number {
    return this.#acked;
  }

  /** The server's current ack interval, in messages. */
  get interval(): number {
    return this.#interval;
  }

  /** Gap notices the server sent (messages it never received). */
  get gaps(): number {
    return this.#gaps;
  }

  /** Per-message error notices the server sent (e.g. a failed expectation). */
  get errors(): number {
    return this.#errors;
  }

  /** Why the batch failed, if it did. */
  get error(): FastIngestError | undefined {
    return this.#error;
  }

  /**
   * Publishes the next message of the batch (`headers` a string: its
   * `Nats-Msg-Id`); `false` when the window is now full: wait for
   * {@linkcode FastIngest.room} before the next one. Throws the batch's
   * {@linkcode FastIngestError} once it failed or ended.
   */
  publish(
    subject: string,
    payload: Uint8Array,
    headers?: MsgHdrs | string,
  ): boolean {
    if (this.#error || this.#final || this.#ack) this.#throwClosed();
    const seq = ++this.#seq;
    this.#lastSubject = subject;
    this.#nc.publish(subject, payload, {
      reply: this.#prefix + seq + APPEND_SUFFIX,
      headers: typeof headers === "string" ? msgIdHeader(headers) : headers,
    });
    return seq - this.#acked < this.#interval * this.#outstanding;
  }

  /**
   * `undefined` when there is room for another message, else a promise that
   * resolves once a flow ack makes room (a ping after half the timeout asks
   * the server to resend a lost ack) and rejects on failure or timeout.
   */
  room(): Promise<void> | undefined {
    if (this.#error) return Promise.reject(this.#error);
    if (this.#seq - this.#acked < this.#interval * this.#outstanding) {
      return undefined;
    }
    if (this.#room) return this.#room;
    const waiting = new Promise<void>((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
    this.#room = this.#within(
      waiting,
      `a flow ack after batch seq ${this.#acked}`,
    ).finally(() => this.#room = undefined);
    return this.#room;
  }

  /**
   * Asks the server to resend its latest flow ack (and report gaps) and
   * keeps the batch alive: the server drops a batch idle for 10 s.
   */
  ping(): void {
    if (this.#error || this.#ack) return;
    this.#nc.publish(this.#lastSubject, new Uint8Array(0), {
      reply: `${this.#prefix}${this.#seq}.${OP_PING}.$FI`,
    });
  }

  /**
   * Ends the batch without another stored message and resolves with the
   * server's PubAck once every message before is persisted.
   */
  async end(): Promise<FastIngestAck> {
    if (this.#ack) return this.#ack;
    if (this.#error) throw this.#error;
    const done = new Promise<void>((resolve, reject) => {
      this.#final = { resolve, reject };
    });
    this.#nc.publish(this.#lastSubject, new Uint8Array(0), {
      reply: `${this.#prefix}${this.#seq + 1}.${OP_EOB}.$FI`,
    });
    try {
      await this.#within(done, "the batch's PubAck");
    } finally {
      this.close();
    }
    return this.#ack!;
  }

  /** Drops the replies' subscription (an unfinished batch expires on the server after 10 s). */
  close(): void {
    if (!this.#sub.isClosed()) this.#sub.unsubscribe();
  }

  async #within(promise: Promise<void>, what: string): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let pinger: ReturnType<typeof setTimeout> | undefined;
    if (this.#started) {
      pinger = setTimeout(() => this.ping(), this.#timeoutMs / 2);
    }
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.#fail(
          `no reply from ${this.#stream} within ${this.#timeoutMs} ms waiting for ${what}`,
        );
        reject(this.#error);
      }, this.#timeoutMs);
    });
    try {
      await Promise.race([promise, timeout]);
    } finally {
      clearTimeout(timer);
      clearTimeout(pinger);
    }
  }

  #throwClosed(): never {
    throw this.#error ??
      new FastIngestError(
        `fast ingest batch on ${this.#stream} already ended at batch seq ${this.#seq}`,
        this.#acked,
      );
  }

  #fail(message: string): void {
    if (this.#error) return;
    this.#error = new FastIngestError(message, this.#acked);
    const waiter = this.#waiter;
    const final = this.#final;
    this.#waiter = this.#final = undefined;
    waiter?.reject(this.#error);
    final?.reject(this.#error);
    this.close();
  }

  #wake(): void {
    const waiter = this.#waiter;
    if (
      waiter &&
      (!this.#started ||
        this.#seq - this.#acked < this.#interval * this.#outstanding)
    ) {
      this.#waiter = undefined;
      this.#started = true;
      waiter.resolve();
    }
  }

  #onReply(data: Uint8Array): void {
    let reply: Reply;
    try {
      reply = JSON.parse(decoder.decode(data));
    } catch {
      this.#fail(`unreadable fast ingest reply from ${this.#stream}`);
      return;
    }
    switch (reply.type) {
      case "ack":
        if ((reply.seq ?? 0) > this.#acked) this.#acked = reply.seq!;
        if (reply.msgs) this.#interval = reply.msgs;
        this.#wake();
        return;
      case "gap":
        // Informational: with gap "fail" the batch's PubAck follows.
        this.#gaps++;
        return;
      case "err":
        this.#errors++;
        if (!this.#gapOk) {
          this.#fail(
            `${this.#stream} rejected batch seq ${reply.seq}: ${
              reply.error?.description ?? "unknown error"
            }`,
          );
        }
        return;
    }
    if (reply.error) {
      this.#fail(this.#rejection(reply.error));
    } else if (typeof reply.batch === "string") {
      this.#ended(reply);
    } else {
      this.#fail(
        `nats-server v${
          serverVersion(this.#nc)
        } answered a fast ingest message with a plain PubAck: no fast ingest (needs nats-server ≥ 2.14 and allow_batched)`,
      );
    }
  }

  #rejection(error: NonNullable<Reply["error"]>): string {
    if (error.err_code === BATCH_PUBLISH_DISABLED) {
      return `${this.#stream} does not allow fast ingest: set allow_batched = true on the stream (nats-server v${
        serverVersion(this.#nc)
      })`;
    }
    return `${this.#stream} rejected fast ingest: ${error.description} (err_code ${error.err_code})`;
  }

  #ended(reply: Reply): void {
    const count = reply.count ?? 0;
    this.#ack = { stream: reply.stream ?? "", seq: reply.seq ?? 0, count };
    if (count > this.#acked) this.#acked = count;
    // The end-of-batch marker is not stored: count is the last message's seq.
    if (this.#final && count === this.#seq) {
      const final = this.#final;
      this.#final = undefined;
      final.resolve();
      return;
    }
    this.#fail(
      `${this.#stream} ended the batch at batch seq ${count} of ${this.#seq} published (${this.#gaps} gap notices, ${this.#errors} errors)`,
    );
  }
}
