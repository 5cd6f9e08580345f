// Tests of the "did you mean" helpers (_closest.ts). Needs no permissions.

import assert from "node:assert/strict";
import { closest, editDistance } from "./_closest.ts";

Deno.test("editDistance: identical, empty and one edit", () => {
  assert.equal(editDistance("", ""), 0);
  assert.equal(editDistance("abc", "abc"), 0);
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(editDistance("abc", ""), 3);
  assert.equal(editDistance("abc", "abd"), 1); // substitution
  assert.equal(editDistance("abc", "abcd"), 1); // insertion
  assert.equal(editDistance("abcd", "abc"), 1); // deletion
});

Deno.test("editDistance: classic examples, symmetric", () => {
  assert.equal(editDistance("kitten", "sitting"), 3);
  assert.equal(editDistance("sitting", "kitten"), 3);
  assert.equal(editDistance("flaw", "lawn"), 2);
  assert.equal(editDistance("limit", "limits"), 1);
  assert.equal(editDistance("ab", "ba"), 2); // no transposition
});

Deno.test("editDistance is case-sensitive", () => {
  assert.equal(editDistance("ABC", "abc"), 3);
});

Deno.test("closest: a likely typo", () => {
  assert.equal(closest("limit", ["limits", "interest", "workqueue"]), "limits");
  assert.equal(closest("symbol", ["exchange", "symbols", "source"]), "symbols");
  assert.equal(closest("wrn", ["debug", "info", "warn", "error"]), "warn");
});

Deno.test("closest ignores case", () => {
  assert.equal(closest("NATS", ["ipc", "nats"]), "nats");
  assert.equal(closest("Instant", ["instant", "original"]), "instant");
});

Deno.test("closest: nothing close enough", () => {
  assert.equal(closest("kafka", ["synthetic", "binance", "replay"]), undefined);
  assert.equal(closest("zzzzzzzzzzzz", ["level"]), undefined);
  assert.equal(closest("anything", []), undefined);
});

Deno.test("closest: the limit is max(2, length / 3)", () => {
  // short words: up to 2 edits
  assert.equal(closest("ab", ["abcd"]), "abcd");
  assert.equal(closest("ab", ["abcde"]), undefined);
  // 9 letters: up to 3 edits
  assert.equal(closest("abcdefghi", ["abcdefxxx"]), "abcdefxxx");
  assert.equal(closest("abcdefghi", ["abcdexxxx"]), undefined);
});

Deno.test("closest: the first of equally close candidates wins", () => {
  assert.equal(closest("cat", ["bat", "hat"]), "bat");
  assert.equal(closest("cat", ["hat", "bat"]), "hat");
});
