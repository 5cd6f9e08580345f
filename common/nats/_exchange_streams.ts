/**
 * The streams of `stream_per_exchange`: `{stream}_{EXCHANGE}` capturing
 * `{prefix}.{exchange}.>`. A consumer of one exchange knows its stream; one
 * of every exchange finds them on the server (`$JS.API.STREAM.LIST`) and,
 * while it runs, the streams created after it started.
 *
 * @module
 */

import type { JetStreamManager } from "@nats-io/jetstream";
import {
  exchangeStreamName,
  normalizeExchange,
  streamSubjects,
} from "../wire/subjects.ts";

/** One exchange's stream. */
export interface ExchangeStream {
  /** The exchange, lower case. */
  exchange: string;
  /** Its stream, `{stream}_{EXCHANGE}`. */
  stream: string;
}

/** The stream of `exchange` under base name `stream`. */
export function exchangeStream(
  stream: string,
  exchange: string,
): ExchangeStream {
  return {
    exchange: normalizeExchange(exchange),
    stream: exchangeStreamName(stream, exchange),
  };
}

/**
 * The exchange whose per-exchange stream `name` with `subjects` is, under
 * base name `base` and `prefix`; undefined when it is another stream.
 */
export function exchangeOf(
  name: string,
  subjects: readonly string[] | undefined,
  options: { base: string; prefix: string },
): string | undefined {
  if (!name.startsWith(`${options.base}_`) || subjects?.length !== 1) {
    return undefined;
  }
  const head = `${options.prefix}.`;
  const subject = subjects[0];
  if (!subject.startsWith(head) || !subject.endsWith(".>")) return undefined;
  const exchange = subject.slice(head.length, -2);
  try {
    const wanted = exchangeStream(options.base, exchange);
    if (wanted.stream !== name) return undefined;
    const [captured] = streamSubjects({ prefix: options.prefix, exchange });
    return captured === subject ? wanted.exchange : undefined;
  } catch {
    return undefined; // not a single exchange token
  }
}

/** The per-exchange streams of base name `base` on the server, by exchange name. */
export async function listExchangeStreams(
  jsm: JetStreamManager,
  options: { base: string; prefix: string },
): Promise<ExchangeStream[]> {
  const found: ExchangeStream[] = [];
  for await (const info of jsm.streams.list()) {
    const { name, subjects } = info.config;
    const exchange = exchangeOf(name, subjects, options);
    if (exchange !== undefined) found.push({ exchange, stream: name });
  }
  return found.sort((a, b) => a.exchange < b.exchange ? -1 : 1);
}
