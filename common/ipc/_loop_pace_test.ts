import assert from "node:assert/strict";
import { LoopPace, YIELD_EVERY_MS } from "./_loop_pace.ts";

Deno.test("LoopPace: a turn is due every YIELD_EVERY_MS of work, not sooner; a sleep counts as one", async () => {
  const pace = new LoopPace(1000);
  assert.equal(pace.due(1000 + YIELD_EVERY_MS - 0.1), undefined);
  const turn = pace.due(1000 + YIELD_EVERY_MS);
  assert.ok(turn instanceof Promise);
  await turn;
  assert.equal(pace.due(1000 + YIELD_EVERY_MS + 1), undefined);
  pace.ran(1010);
  assert.equal(pace.due(1010 + YIELD_EVERY_MS - 0.1), undefined);
  const timer = pace.due(1200); // over TIMER_YIELD_EVERY_MS: a timer's turn
  assert.ok(timer instanceof Promise);
  await timer;
});
