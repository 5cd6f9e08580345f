/**
 * A test assertion shared by the tests: the error's type and message parts.
 *
 * @module
 */

import assert from "node:assert/strict";

/** Asserts `fn` throws an instance of `type` whose message holds every part. */
export function assertThrowsWith<E extends Error>(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => E,
  ...parts: string[]
): E {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught !== undefined, `expected a ${type.name}, nothing thrown`);
  assert.ok(
    caught instanceof type,
    `expected a ${type.name}, got ${String(caught)}`,
  );
  for (const part of parts) {
    assert.ok(
      caught.message.includes(part),
      `message ${JSON.stringify(caught.message)} lacks ${JSON.stringify(part)}`,
    );
  }
  return caught;
}
