// One mistake, one problem: a flag that sets several keys, or a value that is
// invalid, is reported once, not again as a consequence elsewhere.

import assert from "node:assert/strict";
import type { ConfigOverride } from "./mod.ts";
import { problemOf } from "../../tests/_config.ts";

function flags(...pairs: [string, unknown, string][]): {
  overrides: ConfigOverride[];
} {
  return {
    overrides: pairs.map(([key, value, origin]) => ({ key, value, origin })),
  };
}

Deno.test("a bad --symbols value is one problem, though the flag sets data_source.symbols and the consumer's", () => {
  const problem = problemOf(
    undefined,
    flags(
      ["data_source.symbols", ["BTC USDT"], "--symbols"],
      ["data_source.nats.consumer.symbols", ["BTC USDT"], "--symbols"],
    ),
  );
  assert.match(problem, /^Invalid symbol "BTC USDT" at data_source\.symbols/);
});

Deno.test("an invalid --start-time is not also reported as missing for --deliver by_start_time", () => {
  const problem = problemOf(
    undefined,
    flags(
      ["data_source.nats.consumer.deliver", "by_start_time", "--deliver"],
      ["data_source.nats.consumer.start_time", "yesterday", "--start-time"],
    ),
  );
  assert.match(problem, /invalid time "yesterday"/);
});

Deno.test("an invalid start_sequence is not also reported as missing for by_start_sequence", () => {
  const problem = problemOf(
    '[data_source.nats.consumer]\ndeliver = "by_start_sequence"\nstart_sequence = 0\n',
  );
  assert.match(problem, /start_sequence/);
  assert.doesNotMatch(problem, /missing/);
});

Deno.test('an empty replay file ("") is a config problem naming the key', () => {
  const problem = problemOf(
    undefined,
    flags(["data_manager.replay.file", "", "--file"]),
  );
  assert.equal(
    problem,
    'Invalid value "" at data_manager.replay.file (from --file): expected a file path',
  );
});
