import assert from "node:assert/strict";
import { describeArgument, invalidArgument } from "./invalid.ts";

Deno.test("describeArgument: strings quoted, bigints with n, the rest as String()", () => {
  assert.equal(describeArgument("a b"), '"a b"');
  assert.equal(describeArgument(12n), "12n");
  assert.equal(describeArgument(NaN), "NaN");
  assert.equal(describeArgument(-Infinity), "-Infinity");
  assert.equal(describeArgument(undefined), "undefined");
  assert.equal(describeArgument(null), "null");
});

Deno.test("invalidArgument: Invalid <name> <value>: expected <what>", () => {
  assert.equal(
    invalidArgument("rate", -1, "a number ≥ 0"),
    "Invalid rate -1: expected a number ≥ 0",
  );
});
