// Fuzzes parseTradeFrame for a bounded time (FUZZ_MS, default 3 s) in a
// worker that the test stops if one frame takes over 5 s: random bytes,
// random JSON, damaged valid frames, valid frames with a field replaced.
// What holds for every input is listed in _trade_event_fuzz.ts.
// FUZZ_SEED=<seed> replays a run. Needs --allow-read (the worker's module).

import assert from "node:assert/strict";
import { fuzzInWorker } from "./_fuzz_worker.ts";
import { READ_PERMISSIONS, testNeeding } from "./_permissions.ts";

const test = testNeeding(READ_PERMISSIONS);

test("fuzz: parseTradeFrame never throws, never hangs, and every trade is what its text says", async () => {
  const { iterations, counts } = await fuzzInWorker(
    new URL("./_trade_event_fuzz.ts", import.meta.url),
    { label: "Binance trade frames" },
  );
  console.log(
    `fuzz Binance trade frames: ${iterations} inputs`,
    JSON.stringify(counts),
  );
  // Each kind of input reached the parser and was refused at times, and
  // frames with a field replaced were also accepted.
  for (
    const outcome of [
      "random bytes: invalid",
      "random json: invalid",
      "mutated: invalid",
      "field replaced: invalid",
      "field replaced: trade",
    ]
  ) {
    assert.ok(
      (counts[outcome] ?? 0) > 0,
      `no "${outcome}" in ${JSON.stringify(counts)}`,
    );
  }
});
