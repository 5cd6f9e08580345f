/**
 * The feed's consume loop: one pass of nats.js `consume()` (until the
 * limit, the abort, a gap or the consumer gone), the ordered consumer's
 * loop around it, and the set-up retries while the stream is missing or
 * JetStream does not answer.
 *
 * @module
 */

import { errors, type NatsConnection } from "@nats-io/nats-core";
import {
  type Consumer,
  JetStreamApiCodes,
  JetStreamError,
  type JetStreamManager,
  type OrderedConsumerOptions,
} from "@nats-io/jetstream";
import type { NatsConsumerConfig } from "../config/mod.ts";
import { delay } from "../runtime/delay.ts";
import type { Logger } from "../runtime/log.ts";
import type { StreamMark } from "./_feed_loss.ts";
import { isApiError, orderedStart } from "./_consumer_config.ts";
import { watchConsumer } from "./_status_watch.ts";
import type { Round, Subscription } from "./_subscription.ts";

/** Messages requested per pull (fewer when `max_ack_pending` or the limit is lower). */
const PULL_BATCH = 512;
/**
 * Lifetime of a pull request, ms; nats.js asks the server for a heartbeat
 * every half of it. A pull request dies unanswered with the server of the
 * consumer's leader (a crash sends nothing): nats.js notices only after two
 * missed heartbeats, then checks the consumer, and while that fails (no
 * leader elected yet) retries once per expiry. With the default 30 s a
 * durable consumer stalled 30 s or more after its leader's server was
 * killed; 3 s resumes it within seconds of the new leader. It also bounds a
 * stall of nats.js 3.4 after it recreates an ordered consumer (after a
 * gap): it pulls too little until the pull request expires (it keeps the old
 * request's pending count).
 */
const PULL_EXPIRES_MS = 3000;
/** How often the consumer's pending count is asked for, ms. */
const LAG_POLL_MS = 1000;
/** Wait between attempts while the stream is missing or JetStream does not answer, ms. */
const SETUP_RETRY_MS = 1000;

/** What one subscription reads with, and from: set up once per `subscribeTrades`. */
export interface ConsumerRun {
  /** The subscription's connection. */
  nc: NatsConnection;
  /** Its JetStream manager. */
  jsm: JetStreamManager;
  /** The state of the subscription. */
  subscription: Subscription;
  /** The stream read. */
  stream: string;
  /** First token(s) of the trade subjects. */
  prefix: string;
  /** The configured consumer. */
  consumer: NatsConsumerConfig;
  /** The subject filters. */
  filters: string[];
  /** An existing durable started by the per-exchange rule is resumed (`ruleResumed`). */
  resumeRuleStart?: boolean;
  /** Ends the subscription. */
  signal: AbortSignal | undefined;
  /** How the consumer reads (stream, start, replay, filter), for the attach event. */
  describe: string;
  /** Where warnings go. */
  log: Logger;
  /** Called when the durable consumer was found deleted and created again. */
  onRecreated: () => void;
}

/**
 * Reads through an ordered consumer. nats.js recreates it after a gap;
 * when it is gone from the server (deleted, its stream deleted, lost in a
 * server restart) it is created again here: after the last message
 * delivered, or, on a new stream or before the first message, at the
 * configured start (nats.js would skip a new stream's messages up to the
 * last stream sequence seen).
 */
export async function runOrdered(run: ConsumerRun): Promise<void> {
  const { jsm, subscription, filters, consumer, stream: streamName } = run;
  const { status } = subscription;
  const base: Partial<OrderedConsumerOptions> = {
    filter_subjects: filters,
    replay_policy: consumer.replay,
  };
  /** The configured start on the stream read, resolved once. */
  let start: Partial<OrderedConsumerOptions> | undefined;
  for (let again = false;; again = true) {
    const ordered = await retrying(run, async () => {
      if (await noteStream(run)) start = undefined;
      const last = subscription.loss.lastDelivered;
      start ??= await orderedStart(jsm, base, run);
      // A copy each time: nats.js adds its name prefix to the options.
      return await jsm.jetstream().consumers.get(
        streamName,
        last > 0 ? { ...base, opt_start_seq: last + 1 } : { ...start },
      );
    });
    if (ordered === undefined) return;
    const info = await ordered.info(true);
    status.consumerName = info.name;
    status.attached(
      `ordered consumer${
        again ? " (recreated)" : ""
      } ${run.describe}; ${info.num_pending} message(s) pending`,
      info.num_pending,
    );
    if (await consumePass(run, ordered, 0) !== "missing") return;
  }
}

/** One pass of `consume()`, until the limit, the abort, a gap or an error. */
export async function consumePass(
  run: ConsumerRun,
  consumer: Consumer,
  nextDelivery: number,
): Promise<"done" | "gap" | "missing"> {
  const { jsm, subscription, consumer: config } = run;
  const batch = config.durableName === undefined
    ? PULL_BATCH
    : Math.min(PULL_BATCH, config.maxAckPending);
  const round = subscription.begin(nextDelivery);
  const messages = await consumer.consume({
    max_messages: Math.min(batch, subscription.remaining),
    expires: PULL_EXPIRES_MS,
    callback: subscription.receive,
    // An ordered consumer gone from the server is created again by runOrdered.
    abort_on_missing_resource: config.durableName === undefined,
  });
  messages.closed().then((error) => endPass(subscription, round, error));
  watchConsumer(messages, subscription);
  const poll = setInterval(() => {
    subscription.status.pollLag(jsm);
    subscription.reportLosses();
  }, LAG_POLL_MS);
  try {
    return await round;
  } finally {
    clearInterval(poll);
    await messages.close();
  }
}

/**
 * Notes which stream is read (see {@linkcode Subscription.reading}); true
 * when it is a new one. Throws when the stream is missing (to be waited
 * for); any other failure to ask leaves the question open.
 */
export async function noteStream(run: ConsumerRun): Promise<boolean> {
  let mark: StreamMark;
  try {
    const info = await run.jsm.streams.info(run.stream);
    mark = { created: info.created, lastSeq: info.state.last_seq };
  } catch (error) {
    if (isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
    return false; // not allowed to ask, or no answer: asked again next time
  }
  return run.subscription.reading(mark);
}

/**
 * Runs `attempt` until it succeeds, reporting and waiting out a missing
 * stream or a JetStream that does not answer (yet); undefined when aborted.
 */
export async function retrying<T>(
  run: ConsumerRun,
  attempt: () => Promise<T>,
): Promise<T | undefined> {
  const { subscription, stream, signal } = run;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (isApiError(error, JetStreamApiCodes.StreamNotFound)) {
        subscription.status.problem(
          "waiting",
          "waiting",
          `stream ${
            JSON.stringify(stream)
          } not found; waiting for the publisher to create it`,
        );
      } else if (
        error instanceof errors.TimeoutError ||
        (error instanceof Error && error.name === "JetStreamNotEnabled")
      ) {
        subscription.status.problem(
          "waiting",
          "stalled",
          `JetStream does not answer (${error.message}); retrying`,
        );
      } else {
        throw error;
      }
    }
    await delay(SETUP_RETRY_MS, signal);
    if (signal?.aborted) return undefined;
  }
}

/** Ends pass `round` when its `consume()` stopped (with `error`): the consumer gone, or failed. */
function endPass(
  subscription: Subscription,
  round: Round,
  error: Error | void,
): void {
  if (isGone(error)) {
    subscription.gone(
      `consumer ${
        JSON.stringify(subscription.status.consumerName)
      } is gone from the server (${error.message}); recreating it`,
      round,
    );
  } else {
    subscription.fail(
      round,
      error ??
        new Error("The NATS consumer stopped: its connection closed"),
    );
  }
}

/** Whether a consumer stopped with `error` because it or its stream is gone from the server. */
function isGone(error: unknown): error is Error {
  return isApiError(error, JetStreamApiCodes.ConsumerNotFound) ||
    isApiError(error, JetStreamApiCodes.StreamNotFound) ||
    (error instanceof JetStreamError && "code" in error &&
      error.code === 409 && error.message === "consumer deleted");
}
