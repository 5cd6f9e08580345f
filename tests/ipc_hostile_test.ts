// The shared-memory ring in a hostile environment, with real `serve` and
// `live` processes (the tasks' own permissions) and a hostile writer
// (tests/ipc/ring_hostile.ts): seqlock words left odd and whole slots
// overwritten, a segment truncated under both roles, a name squatted by a
// segment others may write or another user owns, and a /dev/shm too small
// for the rings (in a user and mount namespace with a small tmpfs).

import assert from "node:assert/strict";
import { join } from "node:path";
import { delay } from "../common/runtime/delay.ts";
import { formatCount } from "../common/runtime/mod.ts";
import { segmentSize } from "../common/ipc/mod.ts";
import { gatedTest, missingPermissions } from "./_permissions.ts";
import {
  output,
  publishedTrades,
  ROLE_PERMISSIONS,
  roleArgs,
  type RoleConfig,
  roleConfig,
  RoleProcess,
  streamOf,
  summaryOf,
} from "./_ipc_roles.ts";
import { PROJECT_ROOT } from "./nats_server.ts";
import { lines, type ScriptEvent } from "./_ring_helpers.ts";
import {
  makeNotSegment,
  NOT_SEGMENTS,
  removeNotSegment,
} from "./ipc/not_segments.ts";

const HOSTILE = join(PROJECT_ROOT, "tests/ipc/ring_hostile.ts");
const PRODUCER = join(PROJECT_ROOT, "tests/ipc/ring_producer.ts");
/** Bytes of one ring of the roles' default capacity (65536 slots), as messages print them. */
const RING_BYTES = formatCount(segmentSize(65536));
/** The same for two rings. */
const TWO_RINGS_BYTES = formatCount(2 * segmentSize(65536));

/** Runs the hostile writer on `name` with `args` and returns its `done` event. */
async function hostile(name: string, ...args: string[]): Promise<ScriptEvent> {
  const run = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-ffi", HOSTILE, "--name", name, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(run.stdout);
  assert.ok(
    run.success,
    `hostile ${args.join(" ")} failed: ${text}${
      new TextDecoder().decode(run.stderr)
    }`,
  );
  return JSON.parse(text.trim().split("\n").at(-1)!);
}

/** A stack frame in a role's output: errors must be one line. */
const STACK_FRAME = /^\s+at .*(\.ts|\.js|ext:)/m;

/** Asserts that a role exited by itself with status 1 (not SIGBUS's 135) and printed `pattern` on one line, without a stack trace. */
function assertOneLineExit(
  exit: Awaited<RoleProcess["exited"]>,
  what: string,
  pattern: RegExp,
): void {
  const text = output(exit);
  assert.ok(!exit.timedOut, `${what} did not exit by itself:\n${text}`);
  assert.equal(
    exit.signal,
    null,
    `${what} was killed by ${exit.signal}:\n${text}`,
  );
  assert.equal(exit.code, 1, `${what} exited ${exit.code}:\n${text}`);
  assert.match(text, pattern);
  assert.doesNotMatch(text, STACK_FRAME, `${what} printed a stack trace`);
}

/** Starts `live` (with `liveArgs` besides --summary-json), then a paced `serve` it attaches to, and lets it run. */
async function followedServe(
  config: RoleConfig,
  serveArgs: string[],
  liveArgs: string[] = [],
): Promise<{ live: RoleProcess; serve: RoleProcess }> {
  const live = new RoleProcess("live", config, ["--summary-json", ...liveArgs]);
  await live.waitFor(/waiting for ring/, config.symbols.length);
  const serve = new RoleProcess("serve", config, serveArgs);
  await live.waitFor(/attached to/, config.symbols.length);
  return { live, serve };
}

gatedTest({
  name:
    "ring: odd seqlock words and 200 overwritten slots are skipped and counted as corrupt-slot loss; the reader never stalls",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    await using config = await roleConfig({ symbols: ["BTCUSDT"] });
    const ring = config.rings[0];
    const { live, serve } = await followedServe(config, ["--rate", "1000"], [
      "--progress",
      "100ms",
    ]);
    await using _live = live;
    await using _serve = serve;
    await delay(300);
    // live reads nothing while stopped: every trade written after that is
    // unread. Damage only those, from the oldest to the newest, so that no
    // two damages meet in one slot however fast serve goes meanwhile.
    live.kill("SIGSTOP");
    const stoppedAt = Number(
      (await hostile(ring, "--action", "position")).writePosition,
    );
    while (
      Number((await hostile(ring, "--action", "position")).writePosition) <
        stoppedAt + 500
    ) await delay(100);
    await hostile(
      ring,
      "--action",
      "garbage",
      "--behind",
      "450",
      "--count",
      "200",
    );
    await hostile(ring, "--action", "odd", "--behind", "1");
    // A slot not written yet (5 s ahead at 1000 trades/s, however loaded the
    // machine): the producer must not inherit the odd word.
    const ahead = 5000;
    const { writePosition } = await hostile(
      ring,
      "--action",
      "odd",
      "--ahead",
      String(ahead),
    );
    live.kill("SIGCONT");
    // Until the producer wrote that slot over, and a few trades more.
    const past = Number(writePosition) + ahead + 10;
    while (
      Number((await hostile(ring, "--action", "position")).writePosition) <
        past
    ) await delay(200);
    serve.kill("SIGINT");
    const serveExit = await serve.finish();
    assert.equal(serveExit.code, 0, output(serveExit));
    const published = publishedTrades(serveExit.stdout);
    // Drained: the producer closed and nothing is left to read (every trade
    // received or counted lost).
    await live.waitFor(/BTCUSDT .* lag 0 latency .*\[closed\]/);
    live.kill("SIGINT");
    const exit = await live.finish();
    assert.ok(!exit.timedOut, output(exit));
    const figures = streamOf(summaryOf(exit), "BTCUSDT");
    const text = `${JSON.stringify(figures)} of ${published}\n${output(exit)}`;
    // Everything published is either delivered or counted as lost.
    assert.equal(figures.received + figures.lost, published, text);
    // The odd word and the 200 slots; the slot ahead was rewritten normally.
    assert.equal(figures.lostBy["corrupt slot"], 201, text);
    assert.equal(figures.lost, 201, text);
    assert.match(output(exit), /could not be read \(corrupt slot/);
  },
});

gatedTest({
  name:
    "ring: a segment truncated under serve and live is a one-line error in both, not SIGBUS",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    await using config = await roleConfig({ symbols: ["BTCUSDT"] });
    const { live, serve } = await followedServe(config, ["--rate", "100"]);
    await using _live = live;
    await using _serve = serve;
    await delay(500);
    // the header + 956 slots: both keep within it until they notice
    await hostile(config.rings[0], "--action", "truncate", "--value", "65536");
    const liveExit = await live.finish(10_000);
    assertOneLineExit(
      liveExit,
      "live",
      new RegExp(
        `Ring \\S+ is not usable: truncated to 65,536 bytes under this process, expected ${RING_BYTES}`,
      ),
    );
    assertOneLineExit(
      await serve.finish(10_000),
      "serve",
      new RegExp(
        `Ring \\S+ is not usable: truncated to 65,536 bytes under this process, expected ${RING_BYTES}`,
      ),
    );
  },
});

/** A producer (tests/ipc/ring_producer.ts) squatting `name`: a valid ring, its own pid, a heartbeat. */
async function squat(name: string): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-ffi",
      PRODUCER,
      "--name",
      name,
      "--capacity",
      "65536",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const events = lines(child.stdout);
  const ready = await events.next();
  assert.match(String(ready.value), /"event":"ready"/);
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode("write 126\n"));
  writer.releaseLock();
  assert.match(String((await events.next()).value), /"event":"wrote"/);
  return child;
}

/** Stops a squatter started by {@linkcode squat}. */
async function stopSquatter(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch {
    // gone
  }
  await child.status;
  await child.stdout.cancel().catch(() => {});
}

gatedTest({
  name:
    "ring: live refuses a ring others may write (mode 0666), naming owner and mode, and records none of its trades",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    await using config = await roleConfig({ symbols: ["BTCUSDT"] });
    const squatter = await squat(config.rings[0]);
    try {
      await hostile(config.rings[0], "--action", "chmod", "--value", "0666");
      await using live = new RoleProcess("live", config, ["--summary-json"]);
      await live.waitFor(/mode 0666/, 1, 10_000);
      const exit = await live.finish(5000);
      const text = output(exit);
      assert.match(
        text,
        /uid \d+, mode 0666\) is not trusted: mode 0666 lets group or others write it/,
      );
      assert.doesNotMatch(text, /attached to/);
      assert.doesNotMatch(text, STACK_FRAME);
    } finally {
      await stopSquatter(squatter);
    }
  },
});

for (const kind of NOT_SEGMENTS) {
  gatedTest({
    name:
      `ring: a ${kind} at a ring's name makes serve, and live starting, exit 1 with one line saying so`,
    permissions: ROLE_PERMISSIONS,
    async fn() {
      await using config = await roleConfig({ symbols: ["BTCUSDT"] });
      const path = `/dev/shm${config.rings[0]}`;
      makeNotSegment(kind, path);
      try {
        const line = new RegExp(
          `Ring \\S+ is not usable: /dev/shm/\\S+ is a ${kind}, expected a regular file \\(a ring segment\\)`,
        );
        await using serve = new RoleProcess("serve", config, [
          "--max-trades",
          "10",
        ]);
        const serveExit = await serve.finish(10_000);
        assertOneLineExit(serveExit, "serve", line);
        assert.match(output(serveExit), /: remove it, or give this/);
        await using live = new RoleProcess("live", config, ["--summary-json"]);
        assertOneLineExit(await live.finish(10_000), "live", line);
      } finally {
        removeNotSegment(path);
      }
    },
  });
}

/** Not root (so chown to another uid fails); false when this file may not run `id` to tell. */
const NOT_ROOT = missingPermissions([{ name: "run" }]).length === 0 &&
  (await new Deno.Command("id", { args: ["-u"], stdout: "piped" }).output()
    .then((r) => new TextDecoder().decode(r.stdout).trim() !== "0")
    .catch(() => true));

gatedTest({
  name:
    `ring: a ring another user owns is refused by live and never replaced by serve, naming owner and mode${
      NOT_ROOT ? " [skipped: chown to another uid needs root]" : ""
    }`,
  ignore: NOT_ROOT,
  permissions: ROLE_PERMISSIONS,
  async fn() {
    await using config = await roleConfig({ symbols: ["BTCUSDT"] });
    const squatter = await squat(config.rings[0]);
    try {
      await hostile(config.rings[0], "--action", "chown", "--value", "65534");
      await using live = new RoleProcess("live", config, ["--summary-json"]);
      await live.waitFor(/owned by uid 65534/, 1, 10_000);
      const liveExit = await live.finish(5000);
      assert.match(
        output(liveExit),
        /uid 65534, mode 0600\) is not trusted: owned by uid 65534, expected uid 0/,
      );
      assert.doesNotMatch(output(liveExit), /attached to/);
    } finally {
      await stopSquatter(squatter);
    }
    // The squatter is gone, its segment stays: serve must not take it over.
    await using serve = new RoleProcess("serve", config, [
      "--max-trades",
      "10",
    ]);
    const serveExit = await serve.finish(10_000);
    assertOneLineExit(
      serveExit,
      "serve",
      /uid 65534, mode 0600\) is not trusted: owned by uid 65534, expected uid 0.*another transport\.ipc\.shm_path_prefix/,
    );
    assert.deepEqual(config.existing(), [config.rings[0]]);
  },
});

/** Why a small /dev/shm cannot be made here (a user and mount namespace), or undefined. */
async function smallShmProblem(): Promise<string | undefined> {
  if (missingPermissions([{ name: "run" }]).length > 0) return undefined;
  try {
    const probe = await new Deno.Command("unshare", {
      args: ["-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /dev/shm"],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (probe.success) return undefined;
    return `unshare -rm cannot mount a tmpfs on /dev/shm here: ${
      new TextDecoder().decode(probe.stderr).trim()
    }`;
  } catch (error) {
    return `unshare is not available: ${(error as Error).message}`;
  }
}

const SMALL_SHM = await smallShmProblem();

/** Runs `serve` in a user and mount namespace whose /dev/shm is a tmpfs of `size`; returns its exit and what /dev/shm holds after. */
async function serveInSmallShm(
  config: RoleConfig,
  size: string,
): Promise<{ code: number; text: string; left: string }> {
  const serve = roleArgs("serve", config).map((arg) => `'${arg}'`).join(" ");
  const script = `mount -t tmpfs -o size=${size} tmpfs /dev/shm && ` +
    `'${Deno.execPath()}' ${serve} --max-trades 100; code=$?; ` +
    `echo "left: $(ls /dev/shm)" >&2; exit $code`;
  const run = await new Deno.Command("unshare", {
    args: ["-rm", "sh", "-c", script],
    cwd: PROJECT_ROOT,
    env: { NO_COLOR: "1", NATS_URL: "" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(run.stdout) +
    new TextDecoder().decode(run.stderr);
  return {
    code: run.code,
    text,
    left: text.match(/left: (.*)/)?.[1] ?? "?",
  };
}

gatedTest({
  name: SMALL_SHM === undefined
    ? "ring: a /dev/shm too small for the rings is a one-line error naming the size needed and the free space, not SIGBUS"
    : `ring: a /dev/shm too small for the rings is a one-line error naming the size needed and the free space, not SIGBUS [skipped: ${SMALL_SHM}]`,
  ignore: SMALL_SHM !== undefined,
  permissions: ROLE_PERMISSIONS,
  async fn() {
    await using config = await roleConfig({ symbols: ["BTCUSDT", "ETHUSDT"] });
    // The first ring does not fit.
    const none = await serveInSmallShm(config, "1m");
    assert.equal(none.code, 1, none.text);
    assert.match(
      none.text,
      new RegExp(
        `: 2 rings need ${TWO_RINGS_BYTES} bytes in /dev/shm \\(${RING_BYTES} each\\) but only 1,048,576 are free: enlarge /dev/shm \\(Docker --shm-size, compose shm_size\\), lower transport\\.ipc\\.capacity or publish fewer symbols$`,
        "m",
      ),
    );
    assert.doesNotMatch(none.text, STACK_FRAME);
    assert.equal(none.left, "", none.text);
    // The first fits, the second does not: nothing is left behind either.
    const one = await serveInSmallShm(config, "6m");
    assert.equal(one.code, 1, one.text);
    assert.match(
      one.text,
      new RegExp(
        `: 2 rings need ${TWO_RINGS_BYTES} bytes in /dev/shm \\(${RING_BYTES} each\\) but only 6,291,456 are free`,
      ),
    );
    assert.equal(one.left, "", one.text);
    // One ring: its own size.
    await using single = await roleConfig({ symbols: ["BTCUSDT"] });
    const alone = await serveInSmallShm(single, "1m");
    assert.equal(alone.code, 1, alone.text);
    assert.match(
      alone.text,
      new RegExp(
        `: Ring \\S+BTCUSDT needs ${RING_BYTES} bytes in /dev/shm but only 1,048,576 are free: enlarge`,
      ),
    );
    assert.equal(alone.left, "", alone.text);
  },
});
