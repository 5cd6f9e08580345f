// Tests of the bigint-free 64-bit helpers against bigint arithmetic.

import assert from "node:assert/strict";
import { getU64, nanosSince, setEpochNanos, setU64 } from "./epoch_nanos.ts";

const MAX_SECONDS = 2 ** 33;
const MAX_NANOS = 999_999_999;
const EDGE_SECONDS = [
  0,
  1,
  2 ** 16 - 1,
  2 ** 16,
  2 ** 30,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 32 + 1,
  1_764_000_000,
  MAX_SECONDS - 1,
  MAX_SECONDS,
];
const EDGE_NANOS = [0, 1, 999_999, 1_000_000, 500_000_000, MAX_NANOS];

const view = new DataView(new ArrayBuffer(24));

// A small deterministic generator so a failure reproduces.
let state = 0x9e37_79b9;
function randomU32(): number {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return state >>> 0;
}

/** A random integer from 0 to max − 1 (max ≤ 2^53). */
function randomInteger(max: number): number {
  return ((randomU32() >>> 5) * 2 ** 26 + (randomU32() >>> 6)) % max;
}

function epochNanos(seconds: number, nanos: number): bigint {
  return BigInt(seconds) * 1_000_000_000n + BigInt(nanos);
}

function timePairs(): [number, number][] {
  const pairs: [number, number][] = [];
  for (const seconds of EDGE_SECONDS) {
    for (const nanos of EDGE_NANOS) pairs.push([seconds, nanos]);
  }
  for (let i = 0; i < 20_000; i++) {
    pairs.push([randomInteger(MAX_SECONDS + 1), randomInteger(MAX_NANOS + 1)]);
  }
  return pairs;
}

Deno.test("setEpochNanos writes seconds × 10^9 + nanos exactly", () => {
  for (const [seconds, nanos] of timePairs()) {
    setEpochNanos(view, 8, seconds, nanos);
    assert.equal(
      view.getBigUint64(8, true),
      epochNanos(seconds, nanos),
      `${seconds} s ${nanos} ns`,
    );
  }
});

Deno.test("setEpochNanos writes only its 8 bytes, little-endian", () => {
  const bytes = new Uint8Array(24).fill(0xaa);
  setEpochNanos(new DataView(bytes.buffer), 8, 1_732_646_400, 123_456_789);
  // 1732646400123456789 from the wire format's first test vector.
  assert.deepEqual(
    Array.from(bytes),
    [
      ...new Array(8).fill(0xaa),
      0x15,
      0xcd,
      0xb7,
      0x90,
      0xb8,
      0x98,
      0x0b,
      0x18,
      ...new Array(8).fill(0xaa),
    ],
  );
});

Deno.test("nanosSince subtracts the stored time exactly", () => {
  for (const [seconds, nanos] of timePairs()) {
    const now = epochNanos(seconds, nanos);
    // Stored times around now (negative differences included), at the edges
    // of the exact range, and arbitrary u64 values that give large results.
    const deltas = [
      0n,
      1n,
      -1n,
      BigInt(randomInteger(2 ** 53)) - (1n << 52n),
      BigInt(randomInteger(1e12)) - 500_000_000_000n,
      (1n << 53n) - 1n,
      1n - (1n << 53n),
    ];
    for (const delta of deltas) {
      const stored = now - delta;
      if (stored < 0n || stored >= 1n << 64n) continue;
      view.setBigUint64(0, stored, true);
      assert.equal(
        nanosSince(view, 0, seconds, nanos),
        Number(delta),
        `${seconds} s ${nanos} ns minus ${stored}`,
      );
    }
  }
});

Deno.test("nanosSince works against stored values up to u64 max", () => {
  view.setBigUint64(0, (1n << 64n) - 1n, true);
  const nanos = nanosSince(view, 0, MAX_SECONDS, MAX_NANOS);
  const exact = epochNanos(MAX_SECONDS, MAX_NANOS) - ((1n << 64n) - 1n);
  // Far beyond 2^53: only the nearest double is promised.
  assert.equal(nanos, Number(exact));
});

Deno.test("nanosSince reads what setEpochNanos wrote as 0 ns", () => {
  setEpochNanos(view, 16, 1_764_000_000, 42);
  assert.equal(nanosSince(view, 16, 1_764_000_000, 42), 0);
  assert.equal(nanosSince(view, 16, 1_764_000_001, 41), 999_999_999);
  assert.equal(nanosSince(view, 16, 1_763_999_999, 42), -1_000_000_000);
});

const U64_EDGES = [
  0,
  1,
  2 ** 31,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 32 + 1,
  2 ** 52,
  2 ** 53 - 2,
  2 ** 53 - 1,
];

Deno.test("setU64 and getU64 round-trip safe integers exactly", () => {
  const values = [...U64_EDGES];
  for (let i = 0; i < 10_000; i++) values.push(randomInteger(2 ** 53));
  for (const value of values) {
    setU64(view, 8, value);
    assert.equal(view.getBigUint64(8, true), BigInt(value), `${value}`);
    assert.equal(getU64(view, 8), value);
  }
});

Deno.test("getU64 reads u64s written by DataView", () => {
  for (const value of U64_EDGES) {
    view.setBigUint64(4, BigInt(value), true);
    assert.equal(getU64(view, 4), value);
  }
});

Deno.test("getU64 throws a RangeError above 2^53 - 1", () => {
  for (const value of [1n << 53n, (1n << 53n) + 1n, (1n << 64n) - 1n]) {
    view.setBigUint64(8, value, true);
    assert.throws(() => getU64(view, 8), {
      name: "RangeError",
      message:
        `Invalid u64 ${value} at byte 8: expected at most 2^53 - 1 (9007199254740991) to read it as a number; use getBigUint64`,
    });
  }
});
