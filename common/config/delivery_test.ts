// Tests of the ring's delivery keys: the consumer's `delivery` and
// `tether_timeout` ([data_source.ipc]) and the publisher's
// `max_tether_timeout`, `backlog` and `wait_for_readers` ([transport.ipc]):
// defaults, bounds (inclusive) and the problem each bad value makes, naming
// the key, the value and what was expected.

import assert from "node:assert/strict";
import { IN_FILE, load, problemOf } from "../../tests/_config.ts";

const SOURCE = "[data_source.ipc]\n";
const TRANSPORT = "[transport.ipc]\n";

Deno.test("delivery: lossy by default, tethered when asked", () => {
  assert.equal(load(undefined).dataSource.ipc.delivery, "lossy");
  for (const delivery of ["lossy", "tethered"] as const) {
    assert.equal(
      load(`${SOURCE}delivery = "${delivery}"\n`).dataSource.ipc.delivery,
      delivery,
    );
  }
});

Deno.test("delivery: a bad value names the key, with the closest choice", () => {
  assert.equal(
    problemOf(`${SOURCE}delivery = "tethred"\n`),
    `Invalid value "tethred" at data_source.ipc.delivery ${IN_FILE}: expected one of "lossy", "tethered" (did you mean "tethered"?)`,
  );
  assert.equal(
    problemOf(`${SOURCE}delivery = true\n`),
    `Invalid value true at data_source.ipc.delivery ${IN_FILE}: expected a string`,
  );
});

Deno.test("tether_timeout: 5s by default, 10ms to 60s", () => {
  assert.equal(load(undefined).dataSource.ipc.tetherTimeoutMs, 5000);
  for (const [text, ms] of [["10ms", 10], ["60s", 60_000], ["1m", 60_000]]) {
    assert.equal(
      load(`${SOURCE}tether_timeout = "${text}"\n`).dataSource.ipc
        .tetherTimeoutMs,
      ms,
    );
  }
  for (const text of ["0", "9ms", "60s1ns", "2m"]) {
    assert.equal(
      problemOf(`${SOURCE}tether_timeout = "${text}"\n`),
      `data_source.ipc.tether_timeout ${IN_FILE}: invalid duration "${text}": expected a duration from 10ms to 1m`,
    );
  }
  assert.equal(
    problemOf(`${SOURCE}tether_timeout = 5\n`),
    `Invalid duration 5 at data_source.ipc.tether_timeout ${IN_FILE}: expected a duration string, e.g. "500ms", "30s", "1h", "2h30m"`,
  );
});

Deno.test("max_tether_timeout: 60s by default, 10ms to 60s", () => {
  assert.equal(load(undefined).transport.ipc.maxTetherTimeoutMs, 60_000);
  assert.equal(
    load(`${TRANSPORT}max_tether_timeout = "10ms"\n`).transport.ipc
      .maxTetherTimeoutMs,
    10,
  );
  for (const text of ["0", "61s"]) {
    assert.equal(
      problemOf(`${TRANSPORT}max_tether_timeout = "${text}"\n`),
      `transport.ipc.max_tether_timeout ${IN_FILE}: invalid duration "${text}": expected a duration from 10ms to 1m`,
    );
  }
});

Deno.test("backlog: 262144 trades by default, 1024 to 16777216", () => {
  assert.equal(load(undefined).transport.ipc.backlog, 262_144);
  for (const trades of [1024, 100_000, 16_777_216]) {
    assert.equal(
      load(`${TRANSPORT}backlog = ${trades}\n`).transport.ipc.backlog,
      trades,
    );
  }
  for (const bad of ["1023", "16777217", "-1", "1.5", '"1MB"']) {
    assert.equal(
      problemOf(`${TRANSPORT}backlog = ${bad}\n`),
      `Invalid value ${bad} at transport.ipc.backlog ${IN_FILE}: expected an integer from 1024 to 16777216`,
    );
  }
});

Deno.test("wait_for_readers: 0 by default, up to the 64 reader slots", () => {
  assert.equal(load(undefined).transport.ipc.waitForReaders, 0);
  for (const readers of [0, 1, 64]) {
    assert.equal(
      load(`${TRANSPORT}wait_for_readers = ${readers}\n`).transport.ipc
        .waitForReaders,
      readers,
    );
  }
  for (const bad of ["-1", "65", "2.5"]) {
    assert.equal(
      problemOf(`${TRANSPORT}wait_for_readers = ${bad}\n`),
      `Invalid value ${bad} at transport.ipc.wait_for_readers ${IN_FILE}: expected an integer from 0 to 64`,
    );
  }
});

Deno.test("delivery keys: an out-of-range override names the flag", () => {
  assert.equal(
    problemOf(undefined, {
      overrides: [{
        key: "data_source.ipc.tether_timeout",
        value: "1ms",
        origin: "--tether-timeout",
      }],
    }),
    `data_source.ipc.tether_timeout (from --tether-timeout): invalid duration "1ms": expected a duration from 10ms to 1m`,
  );
});
