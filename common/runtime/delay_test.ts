// Tests of the abortable delay. Deno's sanitizers also fail a test whose
// delay leaves a timer behind, so the early ends are checked for that too.

import assert from "node:assert/strict";
import { delay, whenAborted } from "./delay.ts";

/** Liveness bound for "resolves early": far below the delays being cut short. */
const EARLY_MS = 5_000;

/** Resolves to "pending" unless `promise` settled within the current macrotask. */
async function settledNow(promise: Promise<void>): Promise<string> {
  const marker = new Promise<string>((resolve) =>
    setTimeout(() => resolve("pending"), 0)
  );
  return await Promise.race([promise.then(() => "settled"), marker]);
}

Deno.test("delay resolves after the given time", async () => {
  const start = performance.now();
  const pending = delay(40);
  assert.equal(await settledNow(pending), "pending");
  await pending;
  // Timers never fire early; 1 ms of slack for the clocks' rounding.
  assert.ok(performance.now() - start >= 39, "resolved early");
});

Deno.test("delay resolves early, without rejecting, when the signal aborts", async () => {
  const controller = new AbortController();
  const start = performance.now();
  const pending = delay(60_000, controller.signal);
  setTimeout(() => controller.abort(new Error("stop")), 10);
  await pending; // a rejection would fail the test
  const elapsed = performance.now() - start;
  assert.ok(elapsed < EARLY_MS, `took ${elapsed.toFixed(0)} ms`);
});

Deno.test("delay with an already-aborted signal resolves at once", async () => {
  const pending = delay(60_000, AbortSignal.abort());
  assert.equal(await settledNow(pending), "settled");
});

Deno.test("delay removes its abort listener when it ends", async () => {
  const listeners = new Set<unknown>();
  const signal = {
    aborted: false,
    addEventListener: (_type: string, listener: unknown) =>
      listeners.add(listener),
    removeEventListener: (_type: string, listener: unknown) =>
      listeners.delete(listener),
  } as unknown as AbortSignal;
  const pending = delay(5, signal);
  assert.equal(listeners.size, 1);
  await pending;
  assert.equal(listeners.size, 0, "the listener outlived the delay");
});

Deno.test("whenAborted resolves when the signal aborts, at once when it already has", async () => {
  const stop = new AbortController();
  let resolved = false;
  const waiting = whenAborted(stop.signal).then(() => resolved = true);
  await Promise.resolve();
  assert.equal(resolved, false);
  stop.abort();
  await waiting;
  assert.equal(resolved, true);
  await whenAborted(AbortSignal.abort());
});
