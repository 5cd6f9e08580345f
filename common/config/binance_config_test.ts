// data_manager.binance.silence_timeout: the live feed's silence watchdog.
// Needs no permissions.

import assert from "node:assert/strict";
import { IN_FILE, load, problemOf } from "../../tests/_config.ts";

Deno.test("data_manager.binance.silence_timeout: 30s by default, a duration, or 0 for off", () => {
  assert.equal(load("").dataManager.binance.silenceTimeoutMs, 30_000);
  const at = (value: string) =>
    load(`[data_manager.binance]\nsilence_timeout = ${value}\n`)
      .dataManager.binance.silenceTimeoutMs;
  assert.equal(at('"90s"'), 90_000);
  assert.equal(at('"1s"'), 1000);
  assert.equal(at('"0"'), 0);
});

Deno.test("data_manager.binance.silence_timeout: too short or not a duration is one problem naming the key", () => {
  assert.equal(
    problemOf('[data_manager.binance]\nsilence_timeout = "500ms"\n'),
    `data_manager.binance.silence_timeout ${IN_FILE}: invalid duration "500ms": expected "0" (off) or a duration of at least 1s`,
  );
  assert.match(
    problemOf('[data_manager.binance]\nsilence_timeout = "soon"\n'),
    /^Invalid duration "soon" at data_manager\.binance\.silence_timeout in x\.toml: expected e\.g\. /,
  );
});
