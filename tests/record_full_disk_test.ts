// A full disk under `live --record` and `live --bars-out`: `live` runs in a
// private mount namespace (`unshare -rm`) whose output directory is a tmpfs of
// a few KiB, next to a real `serve` on the shared-memory ring. The disk fills
// up after some lines; live must say so on one line naming the file, leave the
// file ending with its last whole line, stop (trading_core.on_write_error =
// "stop", the default) or keep consuming ("continue"), print its summary and
// exit 1, with no stack trace.

import assert from "node:assert/strict";
import { join } from "node:path";
import { readTradeFile } from "../common/trade_file/trade_file.ts";
import { gatedTest } from "./_permissions.ts";
import {
  ROLE_PERMISSIONS,
  type RoleConfig,
  roleConfig,
  type RoleExit,
  RoleProcess,
  summaryOf,
} from "./_ipc_roles.ts";
import { runLive } from "./_live_files.ts";

/** Why a tmpfs cannot be mounted here, or undefined when it can. */
function unshareSkipReason(): string | undefined {
  // Without --allow-run, gatedTest names the missing permission itself.
  if (Deno.permissions.querySync({ name: "run" }).state !== "granted") {
    return undefined;
  }
  try {
    const probe = new Deno.Command("unshare", {
      args: ["-rm", "sh", "-c", "mount -t tmpfs -o size=8k tmpfs /tmp"],
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    if (probe.success) return undefined;
    return `unshare -rm cannot mount a tmpfs here (${
      new TextDecoder().decode(probe.stderr).trim() || `status ${probe.code}`
    })`;
  } catch (error) {
    return `unshare is not available (${(error as Error).message})`;
  }
}

const SKIP = unshareSkipReason();

/** A test that needs the roles and a private tmpfs: skipped, saying why, without them. */
function fullDiskTest(name: string, fn: () => Promise<void>): void {
  if (SKIP !== undefined) {
    Deno.test({ name: `${name} [skipped: ${SKIP}]`, ignore: true, fn });
    return;
  }
  gatedTest({ name, permissions: ROLE_PERMISSIONS, fn });
}

/** Where a {@linkcode liveOnSmallDisk} run wrote, and how it ended. */
interface SmallDiskRun {
  /** The live process's exit. */
  exit: RoleExit;
  /** The file's path as live saw it (on the tmpfs). */
  path: string;
  /** The file's contents when live had exited. */
  text: string;
}

/**
 * Runs `live` (the task's permissions plus write access to the tmpfs) with
 * `args`, where `{file}` in an argument stands for `name` on a tmpfs of
 * `size` bytes, and returns its exit and the file (copied out before the
 * namespace, and its tmpfs, go away).
 */
async function liveOnSmallDisk(
  config: RoleConfig,
  options: { size: string; name: string; args: string[] },
): Promise<SmallDiskRun> {
  const disk = join(config.dir, "disk");
  await Deno.mkdir(disk);
  const path = join(disk, options.name);
  const copy = join(config.dir, `copy_${options.name}`);
  const script = [
    "disk=$1; file=$2; copy=$3; shift 3",
    `mount -t tmpfs -o size=${options.size} tmpfs "$disk" || exit 97`,
    '"$@"',
    "status=$?",
    'if [ -e "$file" ]; then cp "$file" "$copy"; fi',
    "exit $status",
  ].join("\n");
  const exit = await runLive(config, {
    wrapper: ["unshare", "-rm", "sh", "-c", script, "sh", disk, path, copy],
    writable: [disk],
    args: options.args.map((arg) => arg.replaceAll("{file}", path)),
  });
  assert.notEqual(exit.code, 97, `cannot mount the tmpfs:\n${exit.stderr}`);
  let text: string;
  try {
    text = await Deno.readTextFile(copy);
  } catch (error) {
    assert.fail(
      `live left no ${options.name} (${error}):\n${exit.stdout}${exit.stderr}`,
    );
  }
  return { exit, path, text };
}

/** A `serve` publishing on the config's rings at a steady rate until disposed. */
async function publishing(config: RoleConfig): Promise<RoleProcess> {
  const serve = new RoleProcess("serve", config, ["--rate", "20000"]);
  await serve.waitFor(/publishing synthetic/);
  return serve;
}

/** Asserts one error line naming `path` and "no space left", and no stack trace. */
function assertOneDiskError(exit: RoleExit, path: string): void {
  const all = `${exit.stdout}${exit.stderr}`;
  assert.doesNotMatch(all, /Uncaught|^\s+at /m, all);
  const lines = all.split("\n").filter((line) => /no space left/i.test(line));
  assert.equal(lines.length, 1, all);
  assert.ok(lines[0].includes(path), `${lines[0]} does not name ${path}`);
  assert.match(lines[0], /ERROR/);
}

/** Asserts that `text` ends with a whole line and returns its lines. */
function wholeLines(text: string, what: string): string[] {
  assert.ok(text.length > 0, `${what} is empty`);
  assert.ok(
    text.endsWith("\n"),
    `${what} ends with a cut line: ${JSON.stringify(text.slice(-80))}`,
  );
  return text.slice(0, -1).split("\n");
}

/** The count in live's "recorded N trades to FILE" line. */
function recordedCount(exit: RoleExit): number {
  const found = exit.stdout.match(/recorded ([\d,]+) trades to /);
  assert.ok(found, `no "recorded N trades" line:\n${exit.stdout}`);
  return Number(found[1].replaceAll(",", ""));
}

fullDiskTest(
  "live --record on a full disk: one error naming the file, the file ends with its last whole line, every line parses, the summary is printed, exit 1 (stop)",
  async () => {
    await using config = await roleConfig();
    await using _serve = await publishing(config);
    const { exit, path, text } = await liveOnSmallDisk(config, {
      size: "64k",
      name: "rec.ndjson",
      args: ["--record", "{file}", "--summary-json"],
    });
    assert.ok(!exit.timedOut, `live did not stop:\n${exit.stdout}`);
    assert.equal(exit.code, 1, `${exit.stdout}${exit.stderr}`);
    assertOneDiskError(exit, path);
    assert.match(exit.stderr, /stopping/);
    const lines = wholeLines(text, path);
    assert.ok(lines.length > 10, `only ${lines.length} lines`);
    // Every line reads back as a trade: readTradeFile stops at the first bad one.
    const copy = join(config.dir, "copy_rec.ndjson");
    let rows = 0;
    for await (const _ of readTradeFile(copy, { format: "ndjson" })) rows++;
    assert.equal(rows, lines.length);
    assert.equal(recordedCount(exit), lines.length);
    assert.match(exit.stdout, /stopped after [\d.]+s: received /);
    const summary = summaryOf(exit);
    assert.ok(summary.received >= lines.length, JSON.stringify(summary));
  },
);

fullDiskTest(
  "live --record --on-write-error continue on a full disk: one error, a valid file, consuming goes on to --max-trades, exit 1",
  async () => {
    await using config = await roleConfig();
    await using _serve = await publishing(config);
    const total = 30_000;
    const { exit, path, text } = await liveOnSmallDisk(config, {
      size: "64k",
      name: "rec.ndjson",
      args: [
        "--record",
        "{file}",
        "--on-write-error",
        "continue",
        "--max-trades",
        String(total),
        "--summary-json",
      ],
    });
    assert.ok(!exit.timedOut, `live did not stop:\n${exit.stdout}`);
    assert.equal(exit.code, 1, `${exit.stdout}${exit.stderr}`);
    assertOneDiskError(exit, path);
    assert.match(exit.stderr, /consuming continues/);
    const lines = wholeLines(text, path);
    for (const line of lines) JSON.parse(line);
    assert.equal(recordedCount(exit), lines.length);
    const summary = summaryOf(exit);
    assert.equal(summary.received, total, JSON.stringify(summary));
    assert.match(
      exit.stderr,
      new RegExp(`${(total - lines.length).toLocaleString("en-US")} trades`),
    );
  },
);

fullDiskTest(
  "live --bars-out on a full disk: one error naming the file, whole NDJSON lines, the summary, exit 1",
  async () => {
    await using config = await roleConfig();
    await using _serve = await publishing(config);
    const { exit, path, text } = await liveOnSmallDisk(config, {
      size: "8k",
      name: "bars.ndjson",
      args: ["--bars", "100ms", "--bars-out", "{file}", "--summary-json"],
    });
    assert.ok(!exit.timedOut, `live did not stop:\n${exit.stdout}`);
    assert.equal(exit.code, 1, `${exit.stdout}${exit.stderr}`);
    assertOneDiskError(exit, path);
    const lines = wholeLines(text, path);
    for (const line of lines) assert.equal(JSON.parse(line).interval, "100ms");
    const found = exit.stdout.match(/wrote ([\d,]+) bars to /);
    assert.ok(found, exit.stdout);
    assert.equal(Number(found[1].replaceAll(",", "")), lines.length);
    summaryOf(exit);
  },
);
