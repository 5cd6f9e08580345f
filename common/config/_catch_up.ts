/**
 * `data_source.catch_up` (`live --catch-up SINCE`): where the history of a
 * catch-up-then-live consumer starts: a duration before the start (`15m`),
 * an RFC 3339 time, or `durable` (the durable consumer's acknowledged
 * position).
 *
 * @module
 */

import { DURATION_EXAMPLES, parseDuration } from "./duration.ts";
import type { Section } from "./_reader.ts";
import { quoteValue } from "./quote.ts";
import { toInstant } from "./_values.ts";
import type { CatchUpStart } from "./types.ts";

const KEY = "catch_up";

/** Reads `catch_up` (undefined: not set, no catch-up). */
export function readCatchUp(section: Section): CatchUpStart | undefined {
  const raw = section.raw(KEY);
  if (raw === undefined) return undefined;
  if (raw === "durable") return { kind: "durable" };
  const at = toInstant(raw);
  if (at !== undefined) return { kind: "time", at };
  if (typeof raw === "string") {
    try {
      const ms = parseDuration(raw);
      if (ms > 0) return { kind: "ago", ms };
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
    }
  }
  section.problem(
    KEY,
    `invalid start ${
      quoteValue(raw)
    }: expected a duration before now (${DURATION_EXAMPLES}), an RFC 3339 time with a zone such as 2026-11-26T09:30:00Z, or "durable"`,
  );
  return undefined;
}

/** Bounds of `data_source.catch_up_hold`: 1 to 2^24 trades (48 bytes each). */
const MAX_HOLD = 1 << 24;

/**
 * `data_source.catch_up_hold`: the live trades held per symbol while it
 * catches up, a power of two; undefined when not given.
 */
export function readCatchUpHold(section: Section): number | undefined {
  if (!section.has("catch_up_hold")) return undefined;
  const hold = section.integer("catch_up_hold", 0, { min: 1, max: MAX_HOLD });
  if ((hold & (hold - 1)) !== 0) {
    section.problem(
      "catch_up_hold",
      `invalid value ${hold}: expected a power of two, e.g. 262144`,
    );
  }
  return hold;
}

/**
 * The problem of a catch-up (if any) with the consumer: `durable` needs a durable
 * name. A time start reads through an ordered consumer: a durable name given
 * as well is not used, and `warnings` says so.
 */
export function checkCatchUp(
  section: Section,
  catchUp: CatchUpStart | undefined,
  options: { durableName?: string; warnings: string[] },
): void {
  const { durableName, warnings } = options;
  if (catchUp === undefined) return;
  if (catchUp.kind === "durable" && durableName === undefined) {
    section.problem(
      KEY,
      `"durable" needs a durable consumer: give data_source.nats.consumer.durable_name (--durable NAME)`,
    );
  } else if (catchUp.kind !== "durable" && durableName !== undefined) {
    warnings.push(
      `data_source.nats.consumer.durable_name ${
        JSON.stringify(durableName)
      } is not used by data_source.catch_up: a time start replays through an ordered consumer and acknowledges nothing (give "durable" to resume from the durable consumer)`,
    );
  }
}

/**
 * The problem of a ring durable (`data_source.ipc.durable_name`), if any: it
 * reads the rings (type "ipc") and resumes from its own position, not a
 * `catch_up` start.
 */
export function checkRingDurable(
  ipc: Section,
  options: {
    type: "ipc" | "nats";
    catchUp: CatchUpStart | undefined;
    durable: string | undefined;
  },
): void {
  if (options.durable === undefined) return;
  if (options.type !== "ipc") {
    ipc.problem(
      "durable_name",
      `a ring durable reads the rings: expected data_source.type = "ipc" (--ipc), not "${options.type}" (a NATS durable is data_source.nats.consumer.durable_name, --durable NAME)`,
    );
  } else if (options.catchUp !== undefined) {
    ipc.problem(
      "durable_name",
      `a ring durable resumes from its own position: leave data_source.catch_up (--catch-up) out`,
    );
  }
}
