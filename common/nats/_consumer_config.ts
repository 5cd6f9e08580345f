/**
 * The consumer's configuration as the feed wants it, reconciled with the
 * server's: the durable consumer created, or checked and updated
 * ({@linkcode ConsumerConflictError} for what the server cannot change), and
 * the ordered consumer's start resolved to a stream sequence where nats.js
 * needs one.
 *
 * @module
 */

import { millis, nanos } from "@nats-io/nats-core";
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  type ConsumerUpdateConfig,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  type OrderedConsumerOptions,
} from "@nats-io/jetstream";
import type { NatsConsumerConfig } from "../config/mod.ts";
import { quoteValue } from "../config/quote.ts";

/**
 * The durable consumer exists with settings the server cannot change into the
 * configured ones (deliver or replay policy, start, ack policy, push mode).
 */
export class ConsumerConflictError extends Error {
  /** The stream. */
  readonly stream: string;
  /** The durable consumer's name. */
  readonly consumer: string;

  /** Creates the error; `options.differences` describe each setting at odds. */
  constructor(
    stream: string,
    consumer: string,
    options: ErrorOptions & { differences: readonly string[] },
  ) {
    super(
      `Durable consumer ${JSON.stringify(consumer)} on stream ${
        JSON.stringify(stream)
      } exists with ${
        options.differences.join("; ")
      }: the server cannot change that; delete it (nats consumer rm ${stream} ${consumer}) or configure another durable_name`,
      { cause: options.cause },
    );
    this.name = "ConsumerConflictError";
    this.stream = stream;
    this.consumer = consumer;
  }
}

/** Where a consumer's configuration is reconciled: the stream, the configured consumer, its subject filters. */
export interface ConsumerTarget {
  /** The stream's name. */
  stream: string;
  /** The configured consumer. */
  consumer: NatsConsumerConfig;
  /** The subject filters. */
  filters: string[];
  /**
   * A per-exchange durable (`stream_per_exchange`): an existing one started
   * by the per-exchange rule is resumed (see {@linkcode ruleResumed}).
   *
   * @default false
   */
  resumeRuleStart?: boolean;
}

/** The configured starts the per-exchange rule may replace. */
export const RULE_REPLACED: ReadonlySet<string> = new Set([
  "new",
  "last",
  "last_per_subject",
]);

/**
 * `consumer` with the start of `existing` when the per-exchange rule
 * (`_exchange_start.ts`) set it: `all` or `by_start_time` while `new`,
 * `last` or `last_per_subject` is configured; undefined otherwise.
 */
export function ruleResumed(
  existing: ConsumerConfig,
  consumer: NatsConsumerConfig,
): NatsConsumerConfig | undefined {
  if (!RULE_REPLACED.has(consumer.deliver)) return undefined;
  const { deliver_policy: policy, opt_start_time: time } = existing;
  if (policy === "all") {
    return { ...consumer, deliver: "all", startSequence: undefined };
  }
  if (policy !== "by_start_time" || time === undefined) return undefined;
  return {
    ...consumer,
    deliver: "by_start_time",
    startTime: new Date(Date.parse(time)),
    startSequence: undefined,
  };
}

/** Whether `error` is JetStream's API error `code`. */
export function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}

/** The configured start, e.g. `all`, `by_start_sequence 42`. */
export function describeStart(consumer: NatsConsumerConfig): string {
  switch (consumer.deliver) {
    case "by_start_time":
      return `by_start_time ${consumer.startTime!.toISOString()}`;
    case "by_start_sequence":
      return `by_start_sequence ${consumer.startSequence}`;
    default:
      return consumer.deliver;
  }
}

/** Creates the durable consumer, or checks and updates the existing one. */
export async function reconcileDurable(
  jsm: JetStreamManager,
  name: string,
  target: ConsumerTarget,
): Promise<{ info: ConsumerInfo; change: string }> {
  const { consumer, stream: streamName, filters } = target;
  let wanted = durableConfig(name, consumer, filters);
  let info: ConsumerInfo;
  try {
    info = await jsm.consumers.info(streamName, name);
  } catch (error) {
    if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw error;
    return {
      info: await jsm.consumers.add(streamName, wanted),
      change: "created",
    };
  }
  const resumed = target.resumeRuleStart
    ? ruleResumed(info.config, consumer)
    : undefined;
  if (resumed !== undefined) wanted = durableConfig(name, resumed, filters);
  const conflicts = fixedDifferences(info.config, wanted);
  if (conflicts.length > 0) {
    throw new ConsumerConflictError(streamName, name, {
      differences: conflicts,
    });
  }
  const update = updates(info.config, wanted);
  if (update === undefined) return { info, change: "existing" };
  try {
    info = await jsm.consumers.update(streamName, name, update.config);
  } catch (error) {
    if (!(error instanceof JetStreamApiError)) throw error;
    throw new ConsumerConflictError(streamName, name, {
      differences: [
        `an update of ${update.description} refused (${error.message})`,
      ],
      cause: error,
    });
  }
  return { info, change: `updated ${update.description}` };
}

/**
 * The ordered consumer's options (`base` and its configured start). nats.js
 * recreates it from the last stream sequence seen, or its configured start
 * before the first message, which for `new`, `last` and `by_start_time`
 * would replay the stream (or fail): those starts are resolved to a stream
 * sequence first.
 */
export async function orderedStart(
  jsm: JetStreamManager,
  base: Partial<OrderedConsumerOptions>,
  target: Omit<ConsumerTarget, "filters">,
): Promise<Partial<OrderedConsumerOptions>> {
  const { consumer, stream: streamName } = target;
  const options = { ...base };
  switch (consumer.deliver) {
    case "all":
      break;
    case "by_start_sequence":
      options.opt_start_seq = consumer.startSequence;
      break;
    case "last_per_subject":
      options.deliver_policy = consumer.deliver;
      break;
    default:
      options.opt_start_seq = await startSequence(
        jsm,
        streamName,
        consumer,
        base.filter_subjects as string[],
      );
  }
  return options;
}

/** The durable consumer's configuration. */
function durableConfig(
  name: string,
  consumer: NatsConsumerConfig,
  filters: string[],
): Partial<ConsumerConfig> {
  const config: Partial<ConsumerConfig> = {
    durable_name: name,
    ack_policy: AckPolicy.All,
    deliver_policy: consumer.deliver,
    replay_policy: consumer.replay,
    filter_subjects: filters,
    max_ack_pending: consumer.maxAckPending,
    ack_wait: nanos(consumer.ackWaitMs),
  };
  if (consumer.deliver === "by_start_sequence") {
    config.opt_start_seq = consumer.startSequence;
  } else if (consumer.deliver === "by_start_time") {
    config.opt_start_time = consumer.startTime!.toISOString();
  }
  return config;
}

/**
 * A consumer setting in a message, quoted by the one rule
 * ({@linkcode quoteValue}), or `unset`. Settings are strings, finite numbers
 * and string lists (read from the server's JSON, or configured), for which
 * that rule is JSON.
 */
function show(value: unknown): string {
  return value === undefined ? "unset" : quoteValue(value);
}

/** A duration setting (ns) in a message, in ms, or `unset`. */
function showNanos(nanoseconds: number | undefined): string {
  return nanoseconds === undefined ? "unset" : `${millis(nanoseconds)} ms`;
}

/** The settings of `existing` that differ from `wanted` and cannot be updated. */
function fixedDifferences(
  existing: ConsumerConfig,
  wanted: Partial<ConsumerConfig>,
): string[] {
  const differences: string[] = [];
  if (existing.deliver_subject !== undefined) {
    differences.push(
      `deliver_subject ${
        show(existing.deliver_subject)
      } (a push consumer), expected a pull consumer`,
    );
  }
  const keys = [
    "ack_policy",
    "deliver_policy",
    "opt_start_seq",
    "replay_policy",
  ] as const;
  for (const key of keys) {
    if (existing[key] !== wanted[key]) {
      differences.push(
        `${key} ${show(existing[key])}, configured ${show(wanted[key])}`,
      );
    }
  }
  const time = (iso: string | undefined) =>
    iso === undefined ? undefined : Date.parse(iso);
  if (time(existing.opt_start_time) !== time(wanted.opt_start_time)) {
    differences.push(
      `opt_start_time ${show(existing.opt_start_time)}, configured ${
        show(wanted.opt_start_time)
      }`,
    );
  }
  return differences;
}

/** The update that turns `existing` into `wanted`, with its description; undefined when there is none. */
function updates(
  existing: ConsumerConfig,
  wanted: Partial<ConsumerConfig>,
): { config: Partial<ConsumerUpdateConfig>; description: string } | undefined {
  const config: Partial<ConsumerUpdateConfig> = {};
  const changes: string[] = [];
  const filters = existing.filter_subjects ??
    (existing.filter_subject ? [existing.filter_subject] : []);
  if (show(filters) !== show(wanted.filter_subjects)) {
    config.filter_subjects = wanted.filter_subjects;
    config.filter_subject = undefined; // exclusive with filter_subjects
    changes.push(
      `filter_subjects ${show(filters)} to ${show(wanted.filter_subjects)}`,
    );
  }
  if (existing.max_ack_pending !== wanted.max_ack_pending) {
    config.max_ack_pending = wanted.max_ack_pending;
    changes.push(
      `max_ack_pending ${existing.max_ack_pending} to ${wanted.max_ack_pending}`,
    );
  }
  if (existing.ack_wait !== wanted.ack_wait) {
    config.ack_wait = wanted.ack_wait;
    changes.push(
      `ack_wait ${showNanos(existing.ack_wait)} to ${
        showNanos(wanted.ack_wait)
      }`,
    );
  }
  return changes.length === 0
    ? undefined
    : { config, description: changes.join(", ") };
}

/**
 * The stream sequence a `new`, `last` or `by_start_time` consumer starts
 * at, read from a short-lived consumer with that start.
 */
async function startSequence(
  jsm: JetStreamManager,
  stream: string,
  consumer: NatsConsumerConfig,
  filters: string[],
): Promise<number> {
  const probe = await jsm.consumers.add(stream, {
    deliver_policy: consumer.deliver,
    opt_start_time: consumer.startTime?.toISOString(),
    filter_subjects: filters,
    ack_policy: AckPolicy.None,
    mem_storage: true,
    inactive_threshold: nanos(10_000),
  });
  await jsm.consumers.delete(stream, probe.name);
  return probe.delivered.stream_seq + 1;
}
