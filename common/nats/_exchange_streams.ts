/**
 * The streams of `stream_per_exchange`: `{stream}_{EXCHANGE}` capturing
 * `{prefix}.{exchange}.>`. A consumer of one exchange knows its stream; one
 * of every exchange finds them on the server (`$JS.API.STREAM.NAMES`) and,
 * while it runs, the streams created after it started.
 *
 * @module
 */

import { JetStreamApiCodes, type JetStreamManager } from "@nats-io/jetstream";
import type { Logger } from "../runtime/log.ts";
import {
  exchangeStreamName,
  normalizeExchange,
  streamSubjects,
} from "../wire/subjects.ts";
import { isApiError } from "./_consumer_config.ts";

/** One exchange's stream. */
export interface ExchangeStream {
  /** The exchange, lower case. */
  exchange: string;
  /** Its stream, `{stream}_{EXCHANGE}`. */
  stream: string;
  /** When the stream was created (server time, ISO); unknown for a configured exchange. */
  created?: string;
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

/**
 * Finds the per-exchange streams of base name `base` on the server: the names
 * of the streams under `{prefix}.>` (`$JS.API.STREAM.NAMES`, filtered by the
 * server), then the info (`$JS.API.STREAM.INFO`) of each name not seen
 * before. A stream `{base}_…` whose subjects are not exactly its exchange's
 * is logged once and not read.
 */
export class ExchangeStreamFinder {
  #jsm: JetStreamManager;
  #options: { base: string; prefix: string };
  #log: Logger;
  #seen = new Set<string>();
  #found: ExchangeStream[] = [];

  /** A finder over `jsm`; `options.log` gets the streams left out. */
  constructor(
    jsm: JetStreamManager,
    options: { base: string; prefix: string; log: Logger },
  ) {
    this.#jsm = jsm;
    this.#options = { base: options.base, prefix: options.prefix };
    this.#log = options.log;
  }

  /** Every per-exchange stream found so far, after a new look; by exchange name. */
  async look(): Promise<ExchangeStream[]> {
    const { base, prefix } = this.#options;
    const names: string[] = [];
    for await (const name of this.#jsm.streams.names(`${prefix}.>`)) {
      if (name.startsWith(`${base}_`) && !this.#seen.has(name)) {
        names.push(name);
      }
    }
    for (const name of names) {
      let subjects: string[] | undefined;
      let created: string;
      try {
        const info = await this.#jsm.streams.info(name);
        subjects = info.config.subjects;
        created = info.created;
      } catch (error) {
        // Deleted since it was named: looked for again next time.
        if (isApiError(error, JetStreamApiCodes.StreamNotFound)) continue;
        throw error;
      }
      this.#seen.add(name);
      const exchange = exchangeOf(name, subjects, this.#options);
      if (exchange !== undefined) {
        this.#found.push({ exchange, stream: name, created });
        continue;
      }
      this.#log.warn(
        `stream ${name} is not read (stream_per_exchange): its subjects ${
          JSON.stringify(subjects ?? [])
        } are not exactly ["${prefix}.{exchange}.>"] for the exchange of its name; fix them and restart live`,
      );
    }
    return [...this.#found].sort((a, b) => a.exchange < b.exchange ? -1 : 1);
  }
}
