/**
 * Makes sure the JetStream stream the publisher writes to exists with the
 * configured settings: creates it, updates what may change, and refuses with
 * a clear message what may not.
 *
 * @module
 */

import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  type StreamConfig,
  type StreamUpdateConfig,
} from "@nats-io/jetstream";
import { millis, nanos } from "@nats-io/nats-core";
import type { JetStreamConfig } from "../config/mod.ts";
import { formatDuration } from "../config/duration.ts";
import type { Logger } from "../runtime/log.ts";
import { streamSubjects } from "../wire/subjects.ts";

/** `err_code` of "stream name already in use with a different configuration". */
const STREAM_NAME_IN_USE = 10058;

/** `err_code` of "subjects overlap with an existing stream". */
const SUBJECTS_OVERLAP = 10065;

/** Names the streams that capture any of `subjects`, for the overlap message. */
async function overlappingStreams(
  jsm: JetStreamManager,
  subjects: string[],
): Promise<string> {
  const names: string[] = [];
  try {
    for (const subject of subjects) {
      for await (const name of jsm.streams.names(subject)) names.push(name);
    }
  } catch {
    // Only for the message: fall back to a generic description.
  }
  return names.length > 0
    ? `those of stream ${[...new Set(names)].join(", ")}`
    : "an existing stream's";
}

/** The stream exists with settings it cannot change to the configured ones. */
export class StreamConfigError extends Error {
  /** Stream name. */
  readonly stream: string;
  /** The differing JetStream fields (`storage`, `retention`, …). */
  readonly fields: readonly string[];

  /** Creates the error; `message` says what differs and what to do. */
  constructor(
    stream: string,
    fields: readonly string[],
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "StreamConfigError";
    this.stream = stream;
    this.fields = fields;
  }
}

/** What {@linkcode ensureStream} did. */
export type StreamSetupAction = "created" | "updated" | "unchanged";

/** The settings marketbus manages, in the order they are compared and logged. */
const FIELDS = [
  "subjects",
  "retention",
  "storage",
  "max_age",
  "max_msgs_per_subject",
  "max_bytes",
  "num_replicas",
  "duplicate_window",
  "discard",
  "allow_direct",
] as const;

type Field = typeof FIELDS[number];
type ManagedConfig = Pick<StreamConfig, "name" | Field>;

/** The `[transport.nats.jetstream]` key behind each field; the others are fixed by marketbus. */
const CONFIG_KEYS: Partial<Record<Field, string>> = {
  subjects: "subject_prefix",
  retention: "retention",
  storage: "storage",
  max_age: "max_age",
  max_msgs_per_subject: "max_msgs_per_subject",
  max_bytes: "max_bytes",
  num_replicas: "replicas",
  duplicate_window: "duplicate_window",
};

/** Fields JetStream never lets an existing stream change. */
const IMMUTABLE: readonly Field[] = ["storage"];

interface Change {
  field: Field;
  from: unknown;
  to: unknown;
}

function show(field: Field, value: unknown): string {
  switch (field) {
    case "subjects":
      return (value as string[]).join(",");
    case "max_age":
    case "duplicate_window":
      return formatDuration(millis(value as number));
    case "max_msgs_per_subject":
    case "max_bytes":
      return (value as number) < 0 ? "unlimited" : String(value);
    default:
      return String(value);
  }
}

/** nats-server stores 0 and negative limits as -1 (unlimited). */
function limit(value: number): number {
  return value > 0 ? value : -1;
}

function managedConfig(config: JetStreamConfig): ManagedConfig {
  return {
    name: config.streamName,
    subjects: streamSubjects({
      prefix: config.subjectPrefix,
      exchange: config.streamExchange,
    }),
    retention: config.retention,
    storage: config.storage,
    max_age: nanos(config.maxAgeMs),
    max_msgs_per_subject: limit(config.maxMsgsPerSubject),
    max_bytes: limit(config.maxBytes),
    num_replicas: config.replicas,
    duplicate_window: nanos(config.duplicateWindowMs),
    discard: "old",
    allow_direct: true,
  };
}

function same(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    return JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
  }
  return a === b;
}

function remedy(stream: string, changes: readonly Change[]): string {
  const keep = changes.map(({ field, from }) => {
    const key = CONFIG_KEYS[field];
    return key === undefined
      ? `${field} back to ${show(field, from)}`
      : `transport.nats.jetstream.${key} to match ${show(field, from)}`;
  });
  return `delete the stream (\`nats stream rm ${stream}\`: its messages are lost) and let it be created anew, or change ${
    keep.join(" and ")
  }`;
}

async function existingConfig(
  jsm: JetStreamManager,
  name: string,
): Promise<StreamConfig | undefined> {
  try {
    return (await jsm.streams.info(name)).config;
  } catch (error) {
    if (
      error instanceof JetStreamApiError &&
      error.code === JetStreamApiCodes.StreamNotFound
    ) {
      return undefined;
    }
    throw error;
  }
}

/** Creates the stream; returns the existing config instead when another publisher created it meanwhile. */
async function createStream(
  jsm: JetStreamManager,
  wanted: ManagedConfig,
  log: Logger,
): Promise<StreamConfig | undefined> {
  try {
    await jsm.streams.add(wanted);
  } catch (error) {
    if (
      error instanceof JetStreamApiError && error.code === STREAM_NAME_IN_USE
    ) {
      return (await jsm.streams.info(wanted.name)).config;
    }
    if (
      error instanceof JetStreamApiError && error.code === SUBJECTS_OVERLAP
    ) {
      throw new StreamConfigError(
        wanted.name,
        ["subjects"],
        `Cannot create stream ${wanted.name}: its subjects ${
          wanted.subjects.join(", ")
        } overlap ${await overlappingStreams(jsm, wanted.subjects)}: ` +
          `change transport.nats.jetstream.subject_prefix or stream_name, or delete that stream`,
        { cause: error },
      );
    }
    throw error;
  }
  log.info(
    `created stream ${wanted.name}: ${
      FIELDS.map((field) => `${field} ${show(field, wanted[field])}`).join(", ")
    }`,
  );
  return undefined;
}

/** The `max_msg_size` of stream `name` in bytes (payload and headers), or undefined when it has none. */
export async function streamMaxMsgSize(
  jsm: JetStreamManager,
  name: string,
): Promise<number | undefined> {
  const size = (await jsm.streams.info(name)).config.max_msg_size;
  return size !== undefined && size > 0 ? size : undefined;
}

/**
 * Creates the stream of `config` if it is missing (subjects `{prefix}.>`, or
 * `{prefix}.{exchange}.>` for the stream of one exchange,
 * discard old, direct get allowed); if it exists with other settings,
 * updates them and logs each change (old → new).
 *
 * @throws {StreamConfigError} when a setting differs that the stream cannot
 * change (storage, or what the server refuses, e.g. retention to or from
 * workqueue); nothing is changed then.
 */
export async function ensureStream(
  jsm: JetStreamManager,
  config: JetStreamConfig,
  options: { log: Logger },
): Promise<StreamSetupAction> {
  const { log } = options;
  const wanted = managedConfig(config);
  const name = wanted.name;
  const existing = await existingConfig(jsm, name) ??
    await createStream(jsm, wanted, log);
  if (existing === undefined) return "created";
  const changes: Change[] = [];
  for (const field of FIELDS) {
    if (!same(existing[field], wanted[field])) {
      changes.push({ field, from: existing[field], to: wanted[field] });
    }
  }
  if (changes.length === 0) {
    log.debug(`stream ${name} exists with the configured settings`);
    return "unchanged";
  }
  const immutable = changes.filter((c) => IMMUTABLE.includes(c.field));
  if (immutable.length > 0) {
    throw new StreamConfigError(
      name,
      immutable.map((c) => c.field),
      `Stream ${name} exists with ${
        immutable.map(({ field, from, to }) =>
          `${field} ${show(field, from)}, but the configuration wants ${
            show(field, to)
          }`
        ).join("; ")
      }, which an existing stream cannot change: ${remedy(name, immutable)}`,
    );
  }
  const update: Partial<StreamConfig> = {};
  for (const { field } of changes) {
    Object.assign(update, { [field]: wanted[field] });
  }
  try {
    // retention is typed as create-only, but the server changes it between
    // limits and interest; what it refuses is reported below
    await jsm.streams.update(name, update as Partial<StreamUpdateConfig>);
  } catch (error) {
    if (!(error instanceof JetStreamApiError)) throw error;
    throw new StreamConfigError(
      name,
      changes.map((c) => c.field),
      `Stream ${name}: the server refused to change ${
        changes.map(({ field, from, to }) =>
          `${field} ${show(field, from)} → ${show(field, to)}`
        ).join(", ")
      } (${error.message}): ${remedy(name, changes)}`,
      { cause: error },
    );
  }
  for (const { field, from, to } of changes) {
    log.info(
      `updated stream ${name}: ${field} ${show(field, from)} → ${
        show(field, to)
      }`,
    );
  }
  return "updated";
}
