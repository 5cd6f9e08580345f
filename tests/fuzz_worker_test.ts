// tests/_fuzz_worker.ts: a target that throws fails the run naming the seed
// and iteration, and one that never returns is stopped as a hang, so a fuzz
// test built on it cannot pass by hanging or by swallowing a failure.
// Needs --allow-read (the workers' modules).

import assert from "node:assert/strict";
import { fuzzInWorker } from "./_fuzz_worker.ts";
import { READ_PERMISSIONS, testNeeding } from "./_permissions.ts";

const test = testNeeding(READ_PERMISSIONS);
const FIXTURES = new URL("./fixtures/fuzz/", import.meta.url);

test("fuzzInWorker: a failing property fails the run with its seed and iteration", async () => {
  await assert.rejects(
    () =>
      fuzzInWorker(new URL("throw_target.ts", FIXTURES), {
        label: "throwing target",
        ms: 10_000,
      }),
    /^Error: fuzz throwing target: iteration \d+ of seed \d+ failed \(FUZZ_SEED=\d+ replays it\): .*property broken$/,
  );
});

test("fuzzInWorker: an iteration that never returns is stopped and reported as a hang", async () => {
  await assert.rejects(
    () =>
      fuzzInWorker(new URL("hang_target.ts", FIXTURES), {
        label: "hanging target",
        ms: 60_000,
        hangMs: 300,
      }),
    /^Error: fuzz hanging target: iteration 3 of seed \d+ ran for over 300 ms \(FUZZ_SEED=\d+ replays it\)$/,
  );
});
