/**
 * Where each part of a feed of every exchange (`exchange_feed.ts`) starts,
 * decided per durable consumer, not per process. The durables
 * `{durable}_{EXCHANGE}` are one set, started when its first durable was
 * created (T0, the earliest `created` of those that exist). A stream without
 * its durable while others exist:
 * - created after T0: it appeared while live was down, and holds only what
 *   the set has not read: read from its start (`all`);
 * - created before T0: its durable was removed, or never used (runs of
 *   other exchanges only): read from T0 (`by_start_time`).
 * Either is logged (WARN): a durable that was removed delivers again what
 * it acknowledged after T0 (or since its stream's creation). A stream that
 * appears while the feed runs is read from its start. A configured
 * `by_start_time` or `all` start is kept. An existing durable that the rule
 * started at `all` or `by_start_time` is resumed, not refused
 * (`ruleResumed`).
 *
 * @module
 */

import {
  type ConsumerInfo,
  JetStreamApiCodes,
  type JetStreamManager,
} from "@nats-io/jetstream";
import type { NatsConsumerConfig } from "../config/mod.ts";
import type { Logger } from "../runtime/log.ts";
import { exchangeStreamName } from "../wire/subjects.ts";
import { isApiError, RULE_REPLACED, ruleResumed } from "./_consumer_config.ts";
import type { ExchangeStream } from "./_exchange_streams.ts";

/** `consumer` reading a stream from its first message (a `by_start_time` start kept). */
export function fromStreamStart(
  consumer: NatsConsumerConfig,
): NatsConsumerConfig {
  return RULE_REPLACED.has(consumer.deliver)
    ? { ...consumer, deliver: "all", startSequence: undefined }
    : consumer;
}

/** The durable `name` on `stream`; undefined when it does not exist. */
async function durableInfo(
  jsm: JetStreamManager,
  stream: string,
  name: string,
): Promise<ConsumerInfo | undefined> {
  try {
    return await jsm.consumers.info(stream, name);
  } catch (error) {
    if (isApiError(error, JetStreamApiCodes.ConsumerNotFound)) return undefined;
    throw error;
  }
}

/** The durable set's start: the earliest `created` of `infos`, with its name. */
function setStart(
  infos: readonly (ConsumerInfo | undefined)[],
): { time: number; name: string } | undefined {
  let first: { time: number; name: string } | undefined;
  for (const info of infos) {
    if (info === undefined) continue;
    const time = Date.parse(info.created);
    if (first === undefined || time < first.time) {
      first = { time, name: info.name };
    }
  }
  return first;
}

/**
 * The consumer of `found`, whose durable `name` is missing while the set
 * started at `start` (see the module's description), logged.
 */
function missingDurable(
  found: ExchangeStream,
  how: {
    consumer: NatsConsumerConfig;
    name: string;
    start: { time: number; name: string };
    log: Logger;
  },
): NatsConsumerConfig {
  const { consumer, name, start, log } = how;
  if (!RULE_REPLACED.has(consumer.deliver)) return consumer;
  const since = `${new Date(start.time).toISOString()} (when ${
    JSON.stringify(start.name)
  } was created)`;
  const created = found.created === undefined ? NaN : Date.parse(found.created);
  if (!(created < start.time)) {
    log.warn(
      `durable ${
        JSON.stringify(name)
      } is created at deliver all (stream_per_exchange): stream ${found.stream} was created after this durable set started, ${since}, so it appeared while live was down; if ${
        JSON.stringify(name)
      } was removed instead, the trades it acknowledged are delivered again`,
    );
    return fromStreamStart(consumer);
  }
  log.warn(
    `durable ${
      JSON.stringify(name)
    } is created at deliver by_start_time ${since} (stream_per_exchange): stream ${found.stream} existed then but has no durable of this set: it was removed or never used; if removed, the trades it acknowledged since then are delivered again`,
  );
  return {
    ...consumer,
    deliver: "by_start_time",
    startTime: new Date(start.time),
    startSequence: undefined,
  };
}

/**
 * The consumer of each stream in `found` (same order): `late`, the streams
 * appeared while the feed runs. Without a durable name, a late stream is read
 * from its start and the others from the configured one.
 */
export async function partConsumers(
  jsm: JetStreamManager,
  found: readonly ExchangeStream[],
  how: { consumer: NatsConsumerConfig; late: boolean; log: Logger },
): Promise<NatsConsumerConfig[]> {
  const { consumer, late, log } = how;
  const durable = consumer.durableName;
  if (durable === undefined) {
    return found.map(() => late ? fromStreamStart(consumer) : consumer);
  }
  const names = found.map(({ exchange }) =>
    exchangeStreamName(durable, exchange)
  );
  const infos = await Promise.all(
    found.map(({ stream }, i) => durableInfo(jsm, stream, names[i])),
  );
  const start = setStart(infos);
  return infos.map((info, i) => {
    if (info !== undefined) {
      return ruleResumed(info.config, consumer) ?? consumer;
    }
    if (late) return fromStreamStart(consumer);
    if (start === undefined) return consumer;
    return missingDurable(found[i], { consumer, name: names[i], start, log });
  });
}
