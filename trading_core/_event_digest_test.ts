import assert from "node:assert/strict";
import type { LogFields, Logger } from "../common/runtime/log.ts";
import { AT_ONCE, EventDigest, type StreamNote } from "./_event_digest.ts";

/** A logger keeping `level: message` lines and their fields. */
function keeping(): { log: Logger; lines: string[]; fields: LogFields[] } {
  const lines: string[] = [];
  const fields: LogFields[] = [];
  const push = (level: string) => (message: string, more?: LogFields) => {
    lines.push(`${level}: ${message}`);
    fields.push(more ?? {});
  };
  return {
    log: {
      debug: push("debug"),
      info: push("info"),
      warn: push("warn"),
      error: push("error"),
    },
    lines,
    fields,
  };
}

/** A note of `kind` about stream `stream` (symbol S<stream>). */
function note(kind: string, stream: number, level: "warn" | "info" = "warn") {
  const symbol = `S${stream}`;
  return {
    kind,
    level,
    exchange: "binance",
    symbol,
    stream,
    message: `binance ${symbol}: ${kind} happened`,
  } satisfies StreamNote;
}

Deno.test("EventDigest, inactive (at or below the threshold): every line at once, its level kept", () => {
  const { log, lines } = keeping();
  const digest = new EventDigest(log, { active: () => false });
  for (let i = 0; i < 10; i++) digest.tell(note("lost", i));
  digest.tell(note("attached", 0, "info"));
  digest.flush();
  assert.equal(lines.length, 11);
  assert.equal(lines[9], "warn: binance S9: lost happened");
  assert.equal(lines[10], "info: binance S0: attached happened");
});

Deno.test("EventDigest, active: the first AT_ONCE of each kind at once, the rest as one line per kind at the flush, with counts, the first names and the first message", () => {
  const { log, lines, fields } = keeping();
  const digest = new EventDigest(log, { active: () => true });
  for (let i = 0; i < 300; i++) digest.tell(note("dead", i));
  for (let i = 0; i < 300; i++) digest.tell(note("attached", i, "info"));
  assert.equal(lines.length, 2 * AT_ONCE);
  assert.deepEqual(lines.slice(0, 3), [
    "warn: binance S0: dead happened",
    "warn: binance S1: dead happened",
    "warn: binance S2: dead happened",
  ]);
  digest.flush();
  assert.deepEqual(lines.slice(2 * AT_ONCE), [
    "warn: 297 more streams saw their producer die since the last progress line: binance S3, binance S4, binance S5, …; the first: binance S3: dead happened",
    "info: 297 more streams attached since the last progress line: binance S3, binance S4, binance S5, …; the first: binance S3: attached happened",
  ]);
  assert.deepEqual(fields.at(-1), {
    digest: "attached",
    moreStreams: 297,
    lines: 297,
    named: ["binance S3", "binance S4", "binance S5"],
  });
  // A new interval: at once again.
  digest.tell(note("dead", 7));
  assert.equal(lines.at(-1), "warn: binance S7: dead happened");
  digest.flush();
  assert.equal(
    lines.at(-1),
    "warn: binance S7: dead happened",
    "nothing folded",
  );
});

Deno.test("EventDigest: a folded loss line carries the trades its lines told lost, by cause, how many lines it stands for, and those without a count", () => {
  const { log, lines, fields } = keeping();
  let active = true;
  const digest = new EventDigest(log, { active: () => active });
  const lost = (stream: number, lostBy?: Record<string, number>) => ({
    ...note("lost", stream),
    ...lostBy && { lostBy },
  });
  for (let i = 0; i < 3; i++) digest.tell(lost(i, { overwritten: 1000 }));
  digest.tell(lost(3, { overwritten: 300 }));
  digest.tell(lost(4, { overwritten: 340, "corrupt slot": 60 }));
  digest.tell(lost(5, { overwritten: 200 }));
  digest.tell(lost(5, { overwritten: 300 })); // twice for S5
  digest.tell(lost(6)); // a line that gives no count
  digest.flush();
  // S0-S2 at once; S3-S6 folded: 300 + 400 + 500 told lost.
  assert.equal(
    lines.at(-1),
    "warn: 4 more streams lost trades since the last progress line (5 lines): 1,200 trades (1,140 overwritten, 60 corrupt slot) and 1 line without a count; binance S3, binance S4, binance S5, …; the first: binance S3: lost happened",
  );
  assert.deepEqual(
    [fields.at(-1)!.lostTrades, fields.at(-1)!.lostBy],
    [1200, { overwritten: 1140, "corrupt slot": 60 }],
  );
  // Turned inactive (streams fell to the threshold): at once again.
  active = false;
  for (let i = 0; i < 5; i++) digest.tell(note("lost", i));
  assert.equal(lines.length, 3 + 1 + 5);
});
