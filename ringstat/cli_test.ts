import assert from "node:assert/strict";
import { parseConfig } from "../common/config/mod.ts";
import { DEFAULT_INTERVAL_MS, parseRingsArgs, RINGS_USAGE } from "./cli.ts";

Deno.test("rings: no flags: one second between looks, a table", () => {
  const parsed = parseRingsArgs([]);
  assert.equal(parsed.intervalMs, DEFAULT_INTERVAL_MS);
  assert.deepEqual(
    [parsed.once, parsed.watch, parsed.json],
    [false, false, false],
  );
  assert.equal(parsed.role.configPath, undefined);
  assert.deepEqual(parsed.role.overrides, []);
});

Deno.test("rings: --prefix sets both roles' ring prefixes; the config checks it", () => {
  const parsed = parseRingsArgs(["--prefix", "/other_", "--json", "--once"]);
  const config = parseConfig(undefined, { overrides: parsed.role.overrides });
  assert.equal(config.transport.ipc.shmPathPrefix, "/other_");
  assert.equal(config.dataSource.ipc.shmPathPrefix, "/other_");
  assert.equal(parsed.json, true);
  assert.equal(parsed.once, true);
  const bad = parseRingsArgs(["--prefix", "no-slash"]);
  assert.throws(
    () => parseConfig(undefined, { overrides: bad.role.overrides }),
    /--prefix.*expected "\/"/s,
  );
});

Deno.test("rings: --interval takes a duration within 10ms..1h", () => {
  assert.equal(parseRingsArgs(["--interval", "250ms"]).intervalMs, 250);
  assert.equal(parseRingsArgs(["--interval=2s"]).intervalMs, 2000);
  assert.throws(
    () => parseRingsArgs(["--interval", "fast"]),
    (error: Error) =>
      error instanceof TypeError &&
      /^--interval: Invalid duration "fast": expected/.test(error.message),
  );
  assert.throws(
    () => parseRingsArgs(["--interval", "1ms"]),
    /--interval "1ms" is out of range: expected from 10ms to 1h/,
  );
  assert.throws(() => parseRingsArgs(["--interval", "2h"]), /out of range/);
});

Deno.test("rings: usage errors are one-line TypeErrors", () => {
  const cases: [string[], RegExp][] = [
    [["--once", "--watch"], /^--once and --watch conflict/],
    [["--bogus"], /Unknown option '--bogus'/],
    [["extra"], /positional argument/],
    [["--prefix", "--json"], /^Option '--prefix' argument is ambiguous/],
    [["--prefix", "/a_", "--prefix", "/b_"], /--prefix is given twice/],
  ];
  for (const [args, pattern] of cases) {
    assert.throws(
      () => parseRingsArgs(args),
      (error: Error) =>
        error instanceof TypeError && pattern.test(error.message) &&
        !error.message.includes("\n"),
      args.join(" "),
    );
  }
});

Deno.test("rings: the usage names every flag", () => {
  for (
    const flag of [
      "--config",
      "--prefix",
      "--interval",
      "--once",
      "--watch",
      "--json",
      "--print-config",
      "--help",
    ]
  ) {
    assert.ok(RINGS_USAGE.includes(flag), flag);
  }
  assert.match(RINGS_USAGE, /^Usage: deno task rings/);
});
