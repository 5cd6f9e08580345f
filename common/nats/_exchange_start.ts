/**
 * Where each part of a feed of every exchange (`exchange_feed.ts`) starts,
 * decided per durable consumer, not per process. A stream new to a durable
 * that has run before (the durable of another exchange stream exists) holds
 * only what this durable has not read yet: its durable `{durable}_{EXCHANGE}`
 * is created at `all` (a `by_start_time` start is kept). The same holds for a
 * stream that appears while the feed runs. An existing per-exchange durable
 * resumes where it acknowledged; one at `all` while `new`, `last` or
 * `last_per_subject` is configured is taken as made by this rule, not refused.
 *
 * @module
 */

import { JetStreamApiCodes, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConsumerConfig } from "../config/mod.ts";
import { exchangeStreamName } from "../wire/subjects.ts";
import { isApiError } from "./_consumer_config.ts";
import type { ExchangeStream } from "./_exchange_streams.ts";

/** The starts the late-stream rule may replace with `all`. */
const REPLACED = new Set(["new", "last", "last_per_subject"]);

/** `consumer` reading a stream from its first message (a `by_start_time` start kept). */
export function fromStreamStart(
  consumer: NatsConsumerConfig,
): NatsConsumerConfig {
  return REPLACED.has(consumer.deliver)
    ? { ...consumer, deliver: "all", startSequence: undefined }
    : consumer;
}

/** Whether the durable `name` exists on `stream`; its deliver policy when it does. */
async function durablePolicy(
  jsm: JetStreamManager,
  stream: string,
  name: string,
): Promise<string | undefined> {
  try {
    return (await jsm.consumers.info(stream, name)).config.deliver_policy;
  } catch (error) {
    if (isApiError(error, JetStreamApiCodes.ConsumerNotFound)) return undefined;
    throw error;
  }
}

/**
 * The consumer of each stream in `found` (same order): `late`, the streams
 * appeared while the feed runs. Without a durable name, a late stream is read
 * from its start and the others from the configured one.
 */
export async function partConsumers(
  jsm: JetStreamManager,
  found: readonly ExchangeStream[],
  how: { consumer: NatsConsumerConfig; late: boolean },
): Promise<NatsConsumerConfig[]> {
  const { consumer, late } = how;
  const durable = consumer.durableName;
  if (durable === undefined) {
    return found.map(() => late ? fromStreamStart(consumer) : consumer);
  }
  const policies = await Promise.all(
    found.map(({ stream, exchange }) =>
      durablePolicy(jsm, stream, exchangeStreamName(durable, exchange))
    ),
  );
  const ranBefore = policies.some((policy) => policy !== undefined);
  return policies.map((policy) => {
    if (policy === undefined) {
      return late || ranBefore ? fromStreamStart(consumer) : consumer;
    }
    // Made by the rule: resumed where it acknowledged, not refused.
    return policy === "all" ? fromStreamStart(consumer) : consumer;
  });
}
