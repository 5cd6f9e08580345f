// Fuzzes the wire decoder (decodeTrades, decodeTrade, checkMessage,
// TradeView: how NATS messages and ring records are read) for a bounded
// time (FUZZ_MS, default 3 s) in a worker that the test stops if one input
// takes over 5 s: random bytes, damaged valid messages, and valid messages
// with a checked field set out of range. What holds for every input is
// listed in _codec_fuzz.ts; in short, a decoded trade is either refused or
// re-encodes to its very bytes, an undamaged record decodes unchanged, and a
// damage to a checked field is always refused. The format has no checksum:
// a damage that keeps every field in range is a different valid trade.
// FUZZ_SEED=<seed> replays a run. Needs --allow-read (the worker's module).

import assert from "node:assert/strict";
import { fuzzInWorker } from "./_fuzz_worker.ts";
import { READ_PERMISSIONS, testNeeding } from "./_permissions.ts";

const test = testNeeding(READ_PERMISSIONS);

test("fuzz: the wire decoder throws only WireFormatError, never hangs, and never invents a trade", async () => {
  const { iterations, counts } = await fuzzInWorker(
    new URL("./_codec_fuzz.ts", import.meta.url),
    { label: "wire decoder" },
  );
  console.log(
    `fuzz wire decoder: ${iterations} inputs`,
    JSON.stringify(counts),
  );
  for (
    const outcome of [
      "random bytes: refused",
      "mutated: refused",
      "mutated: accepted, different",
    ]
  ) {
    assert.ok(
      (counts[outcome] ?? 0) > 0,
      `no "${outcome}" in ${JSON.stringify(counts)}`,
    );
  }
});
