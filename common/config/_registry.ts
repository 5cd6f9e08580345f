/**
 * The symbol registry (`[registry]`): the KV bucket, the heartbeat and its
 * TTL, how long a dead entry stays listed, whether serve registers (and
 * waits as a hot standby), and whether live reads it.
 *
 * @module
 */

import type { Section } from "./_reader.ts";
import { formatDuration } from "./duration.ts";
import { boundedDuration } from "./_values.ts";
import type { RegistryConfig } from "./types.ts";

/** KV bucket names: letters, digits, `_` and `-`. */
const BUCKET_NAME = /^[A-Za-z0-9_-]{1,200}$/;

function checkBucket(name: string): string {
  if (!BUCKET_NAME.test(name)) {
    throw new RangeError(
      `Invalid bucket name ${
        JSON.stringify(name)
      }: expected 1 to 200 letters, digits, "_" or "-"`,
    );
  }
  return name;
}

/** What the registry's defaults follow: whether each role uses NATS. */
export interface RegistryDefaults {
  /** serve publishes to NATS: it registers unless `register` says otherwise. */
  publishesToNats: boolean;
  /** live reads NATS, or every symbol of the ring: it reads the registry unless `watch` says otherwise. */
  readsRegistry: boolean;
  /** serve's source is synthetic with no `first_trade_id`: its trade ids come from the clock. */
  syntheticIdsFromClock: boolean;
}

/** Reads `[registry]`. */
export function readRegistry(
  section: Section,
  defaults: RegistryDefaults,
): RegistryConfig {
  const bucket = section.string("bucket", "marketbus_symbols", {
    check: checkBucket,
  });
  const heartbeatIntervalMs = boundedDuration(section, "heartbeat_interval", {
    fallback: 1000,
    min: 100,
    max: 60_000,
  });
  const ttlMs = boundedDuration(section, "ttl", {
    fallback: 5000,
    min: 200,
    max: 3_600_000,
  });
  if (ttlMs < 2 * heartbeatIntervalMs) {
    section.problem(
      "ttl",
      `invalid duration ${
        JSON.stringify(section.raw("ttl") ?? "5s")
      }: expected at least twice registry.heartbeat_interval (${
        formatDuration(heartbeatIntervalMs)
      }), or one late heartbeat expires the entry`,
    );
  }
  const maxAgeMs = boundedDuration(section, "max_age", {
    fallback: 86_400_000,
    min: 1000,
  });
  if (maxAgeMs < ttlMs) {
    section.problem(
      "max_age",
      `invalid duration ${
        JSON.stringify(section.raw("max_age") ?? "24h")
      }: expected at least registry.ttl (${
        formatDuration(ttlMs)
      }), or live entries would vanish`,
    );
  }
  const register = section.boolean("register", defaults.publishesToNats);
  const watch = section.boolean("watch", defaults.readsRegistry);
  const standby = section.boolean("standby", false);
  const standbyBuffer = section.integer("standby_buffer", 65_536, {
    min: 1,
    max: 16_777_216,
  });
  section.done();
  if (standby && !register) {
    section.problem(
      "standby",
      "invalid value true with registry.register = false: a hot standby waits on the registry; publish to NATS (--nats) or set registry.register = true",
    );
  }
  if (standby && defaults.syntheticIdsFromClock) {
    section.problem(
      "standby",
      "invalid value true with the synthetic source's trade ids taken from the clock: a hot standby resumes after its owner's last trade id, so give both serves the same data_manager.synthetic.first_trade_id and seed",
    );
  }
  return {
    bucket,
    heartbeatIntervalMs,
    ttlMs,
    maxAgeMs,
    register,
    watch,
    standby,
    standbyBuffer,
  };
}
