/**
 * The state of a feed's consumer, for `/healthz` and its events: attached,
 * waiting, stalled, gone, recovered; its backlog, polled from the server;
 * and the watchers that turn the connection's and the consumer's
 * notifications into that state.
 *
 * @module
 */

import type { NatsConnection } from "@nats-io/nats-core";
import type { ConsumerMessages, JetStreamManager } from "@nats-io/jetstream";
import type { FeedEvent } from "../transport/feed.ts";

/** The exchange and symbol of events about the whole consumer, and of the row of messages of no known stream. */
export const ALL = "*";

/** The consumer's state, backlog and problem; reports each change as an event about the whole consumer. */
export class ConsumerStatus {
  /** `connecting`, `connected`, `waiting`, `stalled`, `reconnecting`, `rewinding`, `missing` or `stopped`. */
  state = "connecting";
  /** Messages not yet delivered, from the consumer's info. */
  lag = 0;
  /** Messages delivered but not acknowledged yet, from the consumer's info. */
  ackPending = 0;
  /** The stream sequence through which the consumer has every message acknowledged (its info's ack floor; 0: none read yet). */
  ackFloor = 0;
  /** The consumer's name on the server. */
  consumerName = "";
  /** A durable consumer's start (e.g. `all`), to create it again; undefined: ordered. */
  readonly restart: string | undefined;
  #emit: (event: FeedEvent) => void;
  #stream: string;
  #problem: string | undefined;
  #polling = false;

  /** A consumer of `options.stream`, connecting; its events go to `options.emit`. */
  constructor(options: {
    emit: (event: FeedEvent) => void;
    stream: string;
    restart: string | undefined;
  }) {
    this.restart = options.restart;
    this.#emit = options.emit;
    this.#stream = options.stream;
  }

  /** Whether a problem was reported and has not cleared. */
  get troubled(): boolean {
    return this.#problem !== undefined;
  }

  /** Reports the consumer ready. */
  attached(message: string, pending: number): void {
    this.state = "connected";
    this.lag = pending;
    this.#problem = undefined;
    this.#emit(wholeConsumer("attached", message));
  }

  /** Reports a connection or consumer problem once, until it clears. */
  problem(
    state: string,
    kind: "waiting" | "stalled" | "dead",
    message: string,
  ): void {
    this.state = state;
    if (this.#problem === message) return;
    this.#problem = message;
    this.#emit(wholeConsumer(kind, message));
  }

  /** A warning about the whole consumer. */
  warn(message: string): void {
    this.#emit(wholeConsumer("lost", message));
  }

  /** Clears the current problem, if any, with a `recovered` event. */
  recovered(message: string): void {
    if (this.state === "connecting" || this.state === "stopped") return;
    this.state = "connected";
    if (this.#problem === undefined) return;
    this.#problem = undefined;
    this.#emit(wholeConsumer("recovered", message));
  }

  /** Refreshes `lag` from the consumer's info (one request at a time). */
  pollLag(jsm: JetStreamManager): void {
    if (this.#polling || this.state !== "connected") return;
    this.#polling = true;
    jsm.consumers.info(this.#stream, this.consumerName).then(
      (info) => {
        this.lag = info.num_pending;
        this.ackPending = info.num_ack_pending;
        this.ackFloor = info.ack_floor.stream_seq;
      },
      () => {}, // the next poll tries again; the watchers report problems
    ).finally(() => {
      this.#polling = false;
    });
  }
}

/** What {@linkcode watchConsumer} reports to: the consumer's status, and the end of a pass whose consumer is gone. */
export interface WatchedConsumer {
  /** The consumer's state. */
  readonly status: ConsumerStatus;
  /** Reports the consumer gone from the server and ends the pass, to create it again. */
  gone(message: string): void;
}

/** An event about the whole consumer (exchange and symbol `"*"`), its message as is. */
export function wholeConsumer(
  kind: FeedEvent["kind"],
  message: string,
): FeedEvent {
  return { kind, exchange: ALL, symbol: ALL, stream: -1, message };
}

/** Turns the connection's state changes into events, until it closes. */
export async function watchConnection(
  nc: NatsConnection,
  status: ConsumerStatus,
): Promise<void> {
  for await (const change of nc.status()) {
    if (change.type === "disconnect") {
      status.problem(
        "reconnecting",
        "stalled",
        `connection to ${change.server} lost; reconnecting`,
      );
    } else if (change.type === "reconnect") {
      status.recovered(`reconnected to ${change.server}`);
    }
  }
}

/** Turns the consumer's notifications into events, until it stops. */
export async function watchConsumer(
  messages: ConsumerMessages,
  watched: WatchedConsumer,
): Promise<void> {
  const { status } = watched;
  for await (const notice of messages.status()) {
    switch (notice.type) {
      case "heartbeat":
        status.recovered("the consumer is alive again");
        break;
      case "heartbeats_missed":
        // Told every interval, the count growing: once per stall.
        if (status.state === "stalled") break;
        status.problem(
          "stalled",
          "stalled",
          `no message or heartbeat from consumer ${
            JSON.stringify(status.consumerName)
          } for ${notice.count} heartbeat intervals; asking again`,
        );
        break;
      case "consumer_deleted":
      case "consumer_not_found": {
        const name = JSON.stringify(status.consumerName);
        const how = notice.type === "consumer_deleted"
          ? "deleted"
          : "not found";
        watched.gone(
          status.restart === undefined
            ? `consumer ${name} is gone from the server (${how}); recreating it`
            : `consumer ${name} is gone from the server (${how}); recreating it with deliver ${status.restart}`,
        );
        break;
      }
      case "stream_not_found":
        watched.gone(
          `stream ${JSON.stringify(notice.name)} is gone from the server; ${
            status.restart === undefined
              ? "waiting for it, then recreating the ordered consumer"
              : `waiting for it, then recreating consumer ${
                JSON.stringify(status.consumerName)
              } with deliver ${status.restart}`
          }`,
        );
        break;
      case "no_responders":
        status.problem(
          "stalled",
          "stalled",
          "JetStream does not answer; retrying",
        );
        break;
      case "exceeded_limits":
        status.problem(
          "stalled",
          "stalled",
          `the server refused a pull request: ${notice.description}`,
        );
        break;
      case "ordered_consumer_recreated":
        status.consumerName = notice.name;
        break;
    }
  }
}
