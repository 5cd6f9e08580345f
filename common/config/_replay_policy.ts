/**
 * The seed design's `replay_policy` key of `[data_source.nats.consumer]`,
 * still read, mapped onto `deliver`, `replay` and `start_time`, with one
 * warning saying what to write instead.
 *
 * @module
 */

import { isTable, type Section } from "./_reader.ts";
import { quoteValue } from "./quote.ts";
import { toInstant } from "./_values.ts";
import type { DeliverPolicy, ReplayPolicy } from "./types.ts";

/** What a legacy `replay_policy` stands for. */
export interface LegacyReplayPolicy {
  /** Where to start. */
  deliver?: DeliverPolicy;
  /** How fast. */
  replay?: ReplayPolicy;
  /** The start of `by_start_time`. */
  startTime?: Date;
  /** It was combined with the keys that replace it (reported). */
  conflict?: boolean;
}

/** The keys that replace `replay_policy`, which it cannot be combined with. */
const MODERN_KEYS = ["replay", "deliver", "start_time", "start_sequence"];

/**
 * Reads `replay_policy` ("Instant" | "Original" | { ByStartTime = … }):
 * "Instant" = deliver all, replay instant; "Original" = deliver all, replay
 * original; ByStartTime = deliver by_start_time from that time. Pushes one
 * warning to `warnings`.
 */
export function readLegacyReplayPolicy(
  section: Section,
  warnings: string[],
): LegacyReplayPolicy {
  const raw = section.raw("replay_policy");
  if (raw === undefined) return {};
  const newKeys = MODERN_KEYS.filter((key) => section.has(key));
  if (newKeys.length > 0) {
    section.problem(
      "replay_policy",
      `the seed's replay_policy cannot be combined with ${
        newKeys.join(", ")
      }: use deliver, replay and start_time or start_sequence only`,
    );
    return { conflict: true };
  }
  const legacy = (instead: string, was: string) =>
    warnings.push(
      `${
        section.keyPath("replay_policy")
      } is a legacy key: write ${instead} instead of replay_policy = ${was}`,
    );
  if (raw === "Instant" || raw === "Original") {
    const replay = raw === "Instant" ? "instant" : "original";
    legacy(`deliver = "all" and replay = "${replay}"`, `"${raw}"`);
    return { deliver: "all", replay };
  }
  if (isTable(raw) && Object.keys(raw).length === 1 && "ByStartTime" in raw) {
    const date = toInstant(raw.ByStartTime);
    if (date !== undefined) {
      legacy(
        `deliver = "by_start_time" and start_time = ${date.toISOString()}`,
        "{ ByStartTime = ... }",
      );
      return { deliver: "by_start_time", startTime: date };
    }
  }
  section.problem(
    "replay_policy",
    `invalid value ${
      quoteValue(raw)
    }: expected "Instant", "Original" or { ByStartTime = 2026-11-26T09:30:00Z } (or, better, the keys deliver and replay)`,
  );
  return {};
}
