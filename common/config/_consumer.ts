/**
 * trading_core's JetStream consumer (`[data_source.nats.consumer]`): where it
 * starts, how fast stored messages arrive, acks.
 *
 * @module
 */

import { readLegacyReplayPolicy } from "./_replay_policy.ts";
import type { Section } from "./_reader.ts";
import { quoteValue } from "./quote.ts";
import { boundedDuration, checkJetStreamName, toInstant } from "./_values.ts";
import type {
  DeliverPolicy,
  NatsConsumerConfig,
  ReplayPolicy,
} from "./types.ts";

const DELIVER_POLICIES: readonly DeliverPolicy[] = [
  "all",
  "new",
  "last",
  "last_per_subject",
  "by_start_time",
  "by_start_sequence",
];

function readStartTime(section: Section): Date | undefined {
  const raw = section.raw("start_time");
  if (raw === undefined) return undefined;
  const date = toInstant(raw);
  if (date === undefined) {
    section.problem(
      "start_time",
      `invalid time ${
        quoteValue(raw)
      }: expected an RFC 3339 time with a zone, such as 2026-11-26T09:30:00Z`,
    );
  }
  return date;
}

/**
 * A start (`start_time`, `start_sequence`) given with a deliver policy that
 * does not use it, or missing where its policy (`by_start_time`,
 * `by_start_sequence`) needs it. A start already reported as invalid is not
 * missing as well.
 */
function checkStart(
  section: Section,
  deliver: DeliverPolicy,
  given: Record<"start_time" | "start_sequence", boolean>,
): void {
  for (const key of ["start_time", "start_sequence"] as const) {
    const policy = `by_${key}`;
    if ((deliver === policy) === given[key] || section.reported(key)) continue;
    section.problem(
      key,
      deliver === policy
        ? `missing: deliver = "${policy}" needs ${key}`
        : `only used with deliver = "${policy}" (deliver is "${deliver}")`,
    );
  }
}

/**
 * Reads `[data_source.nats.consumer]` but for `exchange` and `symbols`, which
 * the caller reads first (they depend on `[data_source]`'s).
 */
export function readConsumer(
  section: Section,
  warnings: string[],
): Omit<NatsConsumerConfig, "exchange" | "symbols"> {
  const durableName = section.optionalString("durable_name", {
    check: checkJetStreamName,
  });
  const seed = readLegacyReplayPolicy(section, warnings);
  const deliver = seed.deliver ??
    section.choice("deliver", "new", DELIVER_POLICIES);
  const replay = seed.replay ??
    section.choice<ReplayPolicy>("replay", "instant", ["instant", "original"]);
  const startTime = seed.startTime ?? readStartTime(section);
  const startSequence = section.has("start_sequence")
    ? section.integer("start_sequence", 1, {
      min: 1,
      max: Number.MAX_SAFE_INTEGER,
    })
    : undefined;
  // A conflict with replay_policy is reported once; these would only pile on.
  if (!seed.conflict) {
    checkStart(section, deliver, {
      start_time: startTime !== undefined,
      start_sequence: startSequence !== undefined,
    });
  }
  const maxAckPending = section.integer("max_ack_pending", 1000, {
    min: 1,
    max: 2 ** 31 - 1,
  });
  const ackWaitMs = boundedDuration(section, "ack_wait", {
    fallback: 30_000,
    min: 1,
  });
  section.done();
  return {
    durableName,
    deliver,
    startTime,
    startSequence,
    replay,
    maxAckPending,
    ackWaitMs,
  };
}
