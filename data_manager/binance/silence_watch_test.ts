// The silence watchdog's decisions on a made-up clock: which symbols count
// as active, when a connection is probed, declared silent, or reconnected
// for a stalled symbol.

import assert from "node:assert/strict";
import {
  ACTIVE_SLOTS,
  checkSilence,
  type ConnectionSilence,
  SymbolActivity,
  WINDOW_SLOTS,
} from "./_silence_watch.ts";

const TIMEOUT = 30_000;
const SLOT = TIMEOUT / WINDOW_SLOTS;

Deno.test("SymbolActivity: steady trading is active, one burst is not", () => {
  const activity = new SymbolActivity(2, TIMEOUT);
  // Symbol 0: one trade in each slot of a window.
  for (let slot = 0; slot < WINDOW_SLOTS; slot++) {
    activity.trade(0, 1_000_000 + slot * SLOT + 1);
  }
  // Symbol 1: 500 trades within one millisecond (an order sweeping the book).
  for (let i = 0; i < 500; i++) activity.trade(1, 1_000_000 + i / 1000);
  assert.equal(activity.slotsTraded(0), WINDOW_SLOTS);
  assert.equal(activity.slotsTraded(1), 1);
  const last = 1_000_000 + (WINDOW_SLOTS - 1) * SLOT + 1;
  assert.equal(activity.stalledFor(0, last + TIMEOUT - 1), undefined);
  assert.equal(activity.stalledFor(0, last + TIMEOUT), TIMEOUT);
  assert.equal(activity.stalledFor(1, last + 10 * TIMEOUT), undefined);
});

Deno.test("SymbolActivity: active means trades in at least ACTIVE_SLOTS slots of the window", () => {
  const activity = new SymbolActivity(1, TIMEOUT);
  const start = 7 * SLOT;
  // ACTIVE_SLOTS - 1 slots: not active.
  for (let slot = 0; slot < ACTIVE_SLOTS - 1; slot++) {
    activity.trade(0, start + slot * SLOT);
  }
  let last = start + (ACTIVE_SLOTS - 2) * SLOT;
  assert.equal(activity.stalledFor(0, last + TIMEOUT), undefined);
  // One more slot: active.
  last += SLOT;
  activity.trade(0, last);
  assert.equal(activity.slotsTraded(0), ACTIVE_SLOTS);
  assert.equal(activity.stalledFor(0, last + TIMEOUT), TIMEOUT);
  // Slots older than the window no longer count: 5 slots later, the 8 slots
  // traded are 5 to 12 slots back, and only 5 to 9 are in the window.
  last += 5 * SLOT;
  activity.trade(0, last);
  assert.equal(activity.slotsTraded(0), 5 + 1);
  assert.equal(activity.stalledFor(0, last + TIMEOUT), undefined);
  // A whole window without trades starts over.
  last += TIMEOUT;
  activity.trade(0, last);
  assert.equal(activity.slotsTraded(0), 1);
});

Deno.test("SymbolActivity: forget makes an active symbol unwatched until it trades steadily again", () => {
  const activity = new SymbolActivity(1, TIMEOUT);
  for (let slot = 0; slot < WINDOW_SLOTS; slot++) {
    activity.trade(0, slot * SLOT);
  }
  const last = (WINDOW_SLOTS - 1) * SLOT;
  assert.equal(activity.stalledFor(0, last + TIMEOUT), TIMEOUT);
  activity.forget(0);
  assert.equal(activity.stalledFor(0, last + 5 * TIMEOUT), undefined);
  activity.trade(0, last + 5 * TIMEOUT);
  assert.equal(activity.slotsTraded(0), 1);
});

Deno.test("checkSilence: probe at half the timeout, silent at the timeout, stalled before both", () => {
  const activity = new SymbolActivity(3, TIMEOUT);
  const connection: ConnectionSilence = { lastFrameAt: 0, probed: false };
  const at = (now: number, symbolIndexes = [0, 1]) =>
    checkSilence(connection, {
      now,
      timeoutMs: TIMEOUT,
      symbolIndexes,
      activity,
    });
  assert.deepEqual(at(TIMEOUT / 2 - 1), { kind: "none" });
  assert.deepEqual(at(TIMEOUT / 2), { kind: "probe" });
  connection.probed = true;
  assert.deepEqual(at(TIMEOUT - 1), { kind: "none" });
  assert.deepEqual(at(TIMEOUT), { kind: "silent", silentMs: TIMEOUT });
  // Symbol 2 trades steadily, then stops; the connection keeps answering.
  for (let slot = 0; slot < WINDOW_SLOTS; slot++) {
    activity.trade(2, 100_000 + slot * SLOT);
  }
  const last = 100_000 + (WINDOW_SLOTS - 1) * SLOT;
  connection.lastFrameAt = last + TIMEOUT - 10;
  connection.probed = false;
  assert.deepEqual(
    at(last + TIMEOUT),
    { kind: "none" },
    "not on this connection",
  );
  assert.deepEqual(at(last + TIMEOUT, [0, 2]), {
    kind: "stalled",
    symbolIndex: 2,
    silentMs: TIMEOUT,
  });
  // A silent connection is reported as such even when a symbol stalled too.
  assert.equal(at(connection.lastFrameAt + TIMEOUT, [2]).kind, "silent");
});
