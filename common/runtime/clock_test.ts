import assert from "node:assert/strict";
import { gatedTest } from "../../tests/_permissions.ts";
import { monotonicNanos, readWallClock } from "./clock.ts";

/** Reads both clocks in a child process run with exactly `flags`. */
async function readClocksWith(flags: string[]): Promise<number[]> {
  const module = new URL("./clock.ts", import.meta.url).href;
  const script = `import { monotonicNanos, readWallClock } from ${
    JSON.stringify(module)
  };
const a = monotonicNanos(); const wall = readWallClock({ seconds: 0, nanos: 0 });
const b = monotonicNanos();
console.log(JSON.stringify([wall.seconds * 1e3 + wall.nanos / 1e6, Date.now(), a, b]));`;
  // `deno run -` (the script on stdin) grants nothing but `flags`; `deno eval` would grant all.
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-config", ...flags, "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  const output = await child.output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

gatedTest({
  name:
    "clock: the wall clock agrees with Date.now and the monotonic clock goes up, with FFI",
  permissions: [{ name: "ffi" }],
  fn: () => {
    const wall = readWallClock({ seconds: 0, nanos: 0 });
    const ms = wall.seconds * 1e3 + wall.nanos / 1e6;
    assert.ok(Math.abs(ms - Date.now()) < 1000, `wall clock ${ms} ms`);
    assert.ok(wall.nanos >= 0 && wall.nanos < 1e9);
    const a = monotonicNanos();
    assert.ok(monotonicNanos() >= a);
  },
});

gatedTest({
  name:
    "clock: without --allow-ffi both clocks fall back to performance.now instead of failing",
  permissions: [{ name: "run" }],
  fn: async () => {
    const [wallMs, now, a, b] = await readClocksWith([]);
    assert.ok(
      Math.abs(wallMs - now) < 1000,
      `fallback wall clock ${wallMs} ms vs ${now}`,
    );
    assert.ok(b >= a && a >= 0, `fallback monotonic ${a} then ${b}`);
  },
});
