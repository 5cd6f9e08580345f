/**
 * Things that are not segments, made at a ring's path under /dev/shm for the
 * tests of refused names (tests/ring_feed_test.ts,
 * tests/ipc_hostile_test.ts). Made and removed with `mkdir`, `ln` and `rm`:
 * Deno 2.9 lets only --allow-all create a directory under /dev/shm. Needs
 * --allow-run.
 *
 * @module
 */

import assert from "node:assert/strict";

/** What can sit at a ring's name instead of a segment, as the refusal names it. */
export const NOT_SEGMENTS = ["directory", "symbolic link"] as const;

/** One of {@linkcode NOT_SEGMENTS}. */
export type NotSegment = typeof NOT_SEGMENTS[number];

function run(command: string, ...args: string[]): void {
  const result = new Deno.Command(command, { args, stderr: "piped" })
    .outputSync();
  assert.ok(
    result.success,
    `${command} ${args.join(" ")}: ${new TextDecoder().decode(result.stderr)}`,
  );
}

/** Makes a `kind` at `path` (a symbolic link points to /etc/hostname). */
export function makeNotSegment(kind: NotSegment, path: string): void {
  if (kind === "directory") run("mkdir", path);
  else run("ln", "-s", "/etc/hostname", path);
}

/** Removes what is at `path`, if anything. */
export function removeNotSegment(path: string): void {
  run("rm", "-rf", path);
}
