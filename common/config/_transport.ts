/**
 * The publisher's transports (`[transport.nats]`, `[transport.ipc]`). A
 * `[transport.nats]` table that lists `servers` in the file and says nothing
 * of `enabled` publishes to NATS, and a NATS publisher that sets no
 * per-subject limit keeps {@linkcode DEFAULT_MAX_BYTES_PER_SUBJECT} per
 * subject, as the seed design meant.
 *
 * @module
 */

import { parseByteSize } from "./byte_size.ts";
import { formatDuration } from "./duration.ts";
import { checkPrefix, normalizeExchange } from "../wire/subjects.ts";
import { readConnection } from "./_connection.ts";
import { DEFAULT_MAX_BYTES_PER_SUBJECT } from "./_defaults.ts";
import type { Section } from "./_reader.ts";
import {
  boundedDuration,
  checkJetStreamName,
  exchangeStreamOf,
  readShmPathPrefix,
} from "./_values.ts";
import { maxMsgsPerSubjectFor } from "./stream_limits.ts";
import type {
  DataManagerConfig,
  IpcTransportConfig,
  JetStreamConfig,
  NatsPublishConfig,
  NatsTransportConfig,
} from "./types.ts";

/** Readers one ring can register (`REGISTRY_SLOTS` of common/ipc/layout.ts, a layer above config). */
const READER_SLOTS = 64;

/** Reads `[transport]`: what and where `publisher` publishes. */
export function readTransport(
  section: Section,
  publisher: DataManagerConfig,
): { nats: NatsTransportConfig; ipc: IpcTransportConfig } {
  const nats = readNatsTransport(section.section("nats"), publisher);
  const ipc = readIpcTransport(section.section("ipc"));
  section.done();
  return { nats, ipc };
}

function readByteLimit(section: Section, key: string): number | undefined {
  return section.converted(
    key,
    "byte size",
    (value) => value === -1 ? -1 : parseByteSize(value),
  );
}

/**
 * `max_bytes_per_subject` as given (-1 = unlimited); unset, the design's
 * default when NATS publishing is on and `max_msgs_per_subject` is unset too.
 */
function readPerSubjectBudget(
  section: Section,
  enabled: boolean,
): number | undefined {
  if (section.has("max_bytes_per_subject")) {
    return readByteLimit(section, "max_bytes_per_subject");
  }
  return enabled && !section.has("max_msgs_per_subject")
    ? DEFAULT_MAX_BYTES_PER_SUBJECT
    : undefined;
}

/**
 * `stream_name`, or with `stream_per_exchange = true` the publisher's
 * exchange's stream `{stream_name}_{EXCHANGE}`, checked as a whole.
 */
function readStreamName(
  section: Section,
  publisher: DataManagerConfig,
): { streamName: string; streamExchange: string | undefined } {
  const base = section.string("stream_name", "MARKET_DATA", {
    check: checkJetStreamName,
  });
  if (!section.boolean("stream_per_exchange", false)) {
    return { streamName: base, streamExchange: undefined };
  }
  const { exchange } = publisher;
  const streamName = exchangeStreamOf(section, base, { exchange });
  return { streamName, streamExchange: normalizeExchange(exchange) };
}

function readJetStream(
  section: Section,
  publisher: DataManagerConfig,
  enabled: boolean,
): JetStreamConfig {
  const { streamName, streamExchange } = readStreamName(section, publisher);
  const subjectPrefix = section.string("subject_prefix", "market", {
    check: checkPrefix,
  });
  const retention = section.choice("retention", "limits", [
    "limits",
    "interest",
    "workqueue",
  ]);
  const storage = section.choice("storage", "file", ["file", "memory"]);
  const maxAgeMs = section.duration("max_age", 3_600_000);
  const maxBytesPerSubject = readPerSubjectBudget(section, enabled);
  let maxMsgsPerSubject = section.integer("max_msgs_per_subject", -1, {
    min: -1,
    max: Number.MAX_SAFE_INTEGER,
  });
  if (maxBytesPerSubject !== undefined && maxBytesPerSubject !== -1) {
    if (section.has("max_msgs_per_subject")) {
      section.problem(
        "max_bytes_per_subject",
        "set either max_bytes_per_subject or max_msgs_per_subject, not both",
      );
    }
    maxMsgsPerSubject = maxMsgsPerSubjectFor(maxBytesPerSubject, {
      subjectPrefix,
      exchange: publisher.exchange,
      symbols: publisher.symbols,
      storage,
    });
  }
  const maxBytes = readByteLimit(section, "max_bytes") ?? -1;
  const replicas = section.integer("replicas", 1, { min: 1, max: 5 });
  // Like nats-server, the default window shrinks to a shorter max_age.
  const defaultWindowMs = maxAgeMs > 0 ? Math.min(120_000, maxAgeMs) : 120_000;
  const duplicateWindowMs = section.duration(
    "duplicate_window",
    defaultWindowMs,
  );
  if (maxAgeMs > 0 && duplicateWindowMs > maxAgeMs) {
    section.problem(
      "duplicate_window",
      `${formatDuration(duplicateWindowMs)} exceeds max_age ${
        formatDuration(maxAgeMs)
      }: expected a window no longer than max_age`,
    );
  }
  section.done();
  return {
    streamName,
    streamExchange,
    subjectPrefix,
    retention,
    storage,
    maxAgeMs,
    maxMsgsPerSubject,
    maxBytesPerSubject: maxBytesPerSubject === -1
      ? undefined
      : maxBytesPerSubject,
    maxBytes,
    replicas,
    duplicateWindowMs,
  };
}

function readNatsTransport(
  section: Section,
  publisher: DataManagerConfig,
): NatsTransportConfig {
  // Servers in the file without an enabled key: the seed design's way to turn it on.
  const enabled = section.boolean("enabled", section.inFile("servers"));
  const connection = readConnection(section, "marketbus-data-manager");
  const jetstream = readJetStream(
    section.section("jetstream"),
    publisher,
    enabled,
  );
  const publish = readPublish(section.section("publish"));
  section.done();
  return { enabled, ...connection, jetstream, publish };
}

function readPublish(section: Section): NatsPublishConfig {
  const maxInFlight = section.integer("max_in_flight", 256, {
    min: 1,
    max: 100_000,
  });
  const batchMaxTrades = section.integer("batch_max_trades", 64, {
    min: 1,
    max: 4096,
  });
  const queueMaxTrades = section.integer("queue_max_trades", 1_000_000, {
    min: 1,
    max: 100_000_000,
  });
  const flushTimeoutMs = section.duration("flush_timeout", 5000);
  section.done();
  return { maxInFlight, batchMaxTrades, queueMaxTrades, flushTimeoutMs };
}

function readIpcTransport(section: Section): IpcTransportConfig {
  const enabled = section.boolean("enabled", true);
  const shmPathPrefix = readShmPathPrefix(section);
  const capacity = section.integer("capacity", 65536, {
    min: 64,
    max: 1 << 24,
  });
  if ((capacity & (capacity - 1)) !== 0) {
    section.problem(
      "capacity",
      `invalid value ${capacity}: expected a power of two, e.g. 65536`,
    );
  }
  const heartbeatIntervalMs = boundedDuration(section, "heartbeat_interval", {
    fallback: 100,
    min: 1,
    max: 10_000,
  });
  const maxTetherTimeoutMs = boundedDuration(section, "max_tether_timeout", {
    fallback: 60_000,
    min: 10,
    max: 60_000,
  });
  // 48 bytes a trade: the default is 12 MiB, the most 768 MiB per ring.
  const backlog = section.integer("backlog", 262_144, {
    min: 1024,
    max: 1 << 24,
  });
  const waitForReaders = section.integer("wait_for_readers", 0, {
    min: 0,
    max: READER_SLOTS,
  });
  section.done();
  return {
    enabled,
    shmPathPrefix,
    capacity,
    heartbeatIntervalMs,
    maxTetherTimeoutMs,
    backlog,
    waitForReaders,
  };
}
