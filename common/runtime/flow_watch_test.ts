import assert from "node:assert/strict";
import { FlowWatch } from "./flow_watch.ts";

Deno.test("FlowWatch says how long since the counter last moved", () => {
  let value = 0;
  let now = 1000;
  const watch = new FlowWatch(() => value, { now: () => now, sampleMs: 0 });
  assert.equal(watch.sinceChange(), undefined, "never moved");
  value = 5;
  now = 1100;
  watch.sample();
  now = 1400;
  assert.equal(watch.sinceChange(), 300);
  value = 6;
  assert.equal(watch.sinceChange(), 0);
  watch.close();
});

Deno.test("FlowWatch samples on its own timer", async () => {
  let value = 0;
  const watch = new FlowWatch(() => value, { sampleMs: 5 });
  value = 1;
  await new Promise((resolve) => setTimeout(resolve, 30));
  const since = watch.sinceChange();
  assert.ok(since !== undefined && since >= 10, `${since}`);
  watch.close();
});
