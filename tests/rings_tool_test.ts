/**
 * `deno task rings` as users run it, against rings held by real processes:
 * a producer (tests/ipc/ring_producer.ts) and two idle registered readers, a
 * lossy and a tethered one (each a `RingReader` in its own process). The
 * tool runs as a subprocess with the task's own permissions, and with only
 * `--allow-ffi`; it must list the producer and both readers exactly, leave
 * every byte of the segment as it was, and fail in one line on bad flags.
 */
import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import { createSegment, openSegment, unmapSegment } from "../common/ipc/mod.ts";
import { STACK_FRAME } from "./_doc_commands.ts";
import { gatedTest } from "./_permissions.ts";
import {
  cleanUpSegment,
  Fnv1a,
  lines,
  testSegmentPrefix,
} from "./_ring_helpers.ts";
import { runInProject, type RunResult } from "./_run.ts";
import { PROJECT_ROOT } from "./nats_server.ts";

const PERMISSIONS: Deno.PermissionDescriptor[] = [
  { name: "ffi" },
  { name: "read" },
  { name: "run", command: Deno.execPath() },
];
const PRODUCER = "tests/ipc/ring_producer.ts";
const IPC_MOD = new URL("../common/ipc/mod.ts", import.meta.url).href;
/** An idle registered reader: opens the ring, says where it stands, then waits for stdin to close. */
const READER_CODE = `
const { RingReader } = await import(${JSON.stringify(IPC_MOD)});
const [name, delivery, from] = Deno.args;
const reader = RingReader.open(name, { delivery, from });
console.log(JSON.stringify({ event: "ready", pid: Deno.pid, position: reader.position }));
for await (const _ of Deno.stdin.readable) { /* until EOF */ }
reader.close();
`;
const CAPACITY = 1024;

/** A child process that reports JSON lines: its events in order. */
class Child implements AsyncDisposable {
  readonly process: Deno.ChildProcess;
  #events: AsyncGenerator<string>;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;

  constructor(args: string[]) {
    this.process = new Deno.Command(Deno.execPath(), {
      args,
      cwd: PROJECT_ROOT,
      env: { NO_COLOR: "1" },
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#events = lines(this.process.stdout);
    this.#stdin = this.process.stdin.getWriter();
  }

  /** The next event, which must be `event`. */
  async next(event: string): Promise<Record<string, number>> {
    const { value, done } = await this.#events.next();
    assert.ok(!done, `the child ended before "${event}"`);
    const parsed = JSON.parse(value);
    assert.equal(parsed.event, event, value);
    return parsed;
  }

  async send(line: string): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(`${line}\n`));
  }

  /** SIGKILL: no clean-up, its slot and segment stay as they are. */
  async kill(): Promise<void> {
    try {
      this.process.kill("SIGKILL");
    } catch {
      // already gone
    }
    await this.process.status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#stdin.close().catch(() => {});
    await this.kill();
    for await (const _ of this.#events); // drain
  }
}

/** `deno task rings` (the task's own command and permissions) with `args`. */
function rings(...args: string[]): Promise<RunResult> {
  return runInProject(Deno.execPath(), ["task", "--quiet", "rings", ...args]);
}

/** FNV-1a of every byte of segment `name`. */
function hashOf(name: string): string {
  const segment = openSegment(name);
  try {
    const hash = new Fnv1a();
    hash.update(new Uint8Array(segment.buffer));
    return hash.hex;
  } finally {
    unmapSegment(segment);
  }
}

interface JsonReader {
  pid: number;
  policy: string;
  position: number;
  lag: number;
  lagPercent: number;
  idHex: string;
  alive: boolean;
}

interface JsonRing {
  kind: string;
  name: string;
  pid: number;
  producerAlive: boolean;
  state: string;
  epoch: number;
  capacity: number;
  writePosition: number;
  ratePerSecond: number | null;
  heartbeatMoved: boolean | null;
  readers: JsonReader[];
  problem?: string;
}

function parseRings(result: RunResult): JsonRing[] {
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, "");
  return JSON.parse(result.stdout).rings;
}

gatedTest({
  name:
    "deno task rings: the task runs with --allow-ffi and reading config/ only",
  permissions: [{ name: "read" }],
  fn() {
    const tokens = denoJson.tasks.rings.command.split(/\s+/);
    const script = tokens.indexOf("ringstat/main.ts");
    assert.deepEqual(tokens.slice(0, 2), ["deno", "run"]);
    assert.deepEqual(tokens.slice(2, script).sort(), [
      "--allow-ffi",
      "--allow-read=config",
    ]);
  },
});

gatedTest({
  name:
    "deno task rings: lists the producer and a lossy and a tethered reader, exactly, without writing",
  permissions: PERMISSIONS,
  async fn() {
    const prefix = testSegmentPrefix();
    const name = `${prefix}binance_BTCUSDT`;
    const foreign = `${prefix}notes`;
    try {
      await using producer = new Child([
        "run",
        "--allow-ffi",
        PRODUCER,
        "--name",
        name,
        "--capacity",
        `${CAPACITY}`,
        "--batch",
        "100",
      ]);
      const { pid, epoch } = await producer.next("ready");
      await producer.send("write 1000");
      await producer.next("wrote");
      const reader = (delivery: string, from: string) =>
        new Child(["eval", READER_CODE, name, delivery, from]);
      await using lossy = reader("lossy", "oldest");
      const lossyAt = await lossy.next("ready"); // slot 0, then slot 1
      await using tethered = reader("tethered", "newest");
      const tetheredAt = await tethered.next("ready");
      // "oldest": the first trade still in the ring; "newest": the last one written.
      assert.deepEqual([lossyAt.position, tetheredAt.position], [0, 999]);
      await producer.send("write 100");
      assert.equal((await producer.next("wrote")).position, 1100);
      const garbage = createSegment(foreign, 4096);
      new Uint8Array(garbage.buffer).set(new TextEncoder().encode("hello"));
      unmapSegment(garbage);

      // Two looks: the rate, and the producer's heartbeat moving.
      const twice = parseRings(
        await rings("--json", "--prefix", prefix, "--interval", "300ms"),
      );
      assert.deepEqual(twice.map((r) => r.name), [name, foreign]);
      const [ring, notRing] = twice;
      assert.deepEqual(
        [ring.kind, ring.pid, ring.producerAlive, ring.state, ring.epoch],
        ["ring", pid, true, "open", epoch],
      );
      assert.deepEqual([ring.capacity, ring.writePosition], [CAPACITY, 1100]);
      assert.equal(ring.ratePerSecond, 0);
      assert.equal(ring.heartbeatMoved, true);
      const readers = ring.readers.map((r) => ({
        pid: r.pid,
        policy: r.policy,
        position: r.position,
        lag: r.lag,
        lagPercent: r.lagPercent,
        alive: r.alive,
      }));
      assert.deepEqual(readers, [
        {
          pid: lossy.process.pid,
          policy: "lossy",
          position: 0,
          lag: 1100,
          lagPercent: 1100 / CAPACITY * 100,
          alive: true,
        },
        {
          pid: tethered.process.pid,
          policy: "tethered",
          position: 999,
          lag: 101,
          lagPercent: 101 / CAPACITY * 100,
          alive: true,
        },
      ]);
      assert.equal(notRing.kind, "unreadable");
      assert.match(notRing.problem!, /^not a marketbus ring \(magic 0x/);

      // The table says the same.
      const table = await rings("--once", "--prefix", prefix);
      assert.equal(table.code, 0, table.stderr);
      const [ringLine, headings, first, second] = table.stdout.split("\n");
      assert.equal(
        ringLine,
        `${name}  producer ${pid} alive  open  epoch ${
          epoch.toString(16).padStart(8, "0")
        }  cap 1,024  written 1,100  tethered 1`,
      );
      assert.match(
        headings,
        /^ {2}reader +pid +policy +position +lag +heartbeat +evictions$/,
      );
      const idOf = (r: JsonReader) => r.idHex;
      assert.match(
        first,
        new RegExp(
          `^  ${
            idOf(ring.readers[0])
          }  ${lossy.process.pid}  lossy +0 +1,100 \\(107\\.4%\\) +[\\d.]+ (ms|s) ago +0$`,
        ),
      );
      assert.match(second, new RegExp(`tethered +999 +101 \\(9\\.9%\\)`));

      // With only --allow-ffi: no config, the built-in defaults, the same picture.
      const ffiOnly = parseRings(
        await runInProject(Deno.execPath(), [
          "run",
          "--allow-ffi",
          "ringstat/main.ts",
          "--prefix",
          prefix,
          "--json",
          "--once",
        ]),
      );
      assert.deepEqual(
        ffiOnly[0].readers.map((r) => [r.policy, r.position, r.lag]),
        [["lossy", 0, 1100], ["tethered", 999, 101]],
      );

      // Nobody writes any more: every byte stays as it was while the tool looks.
      await Promise.all([producer.kill(), lossy.kill(), tethered.kill()]);
      const before = hashOf(name);
      const after = parseRings(
        await rings("--json", "--prefix", prefix, "--interval", "100ms"),
      );
      assert.equal(hashOf(name), before, "deno task rings changed the segment");
      assert.deepEqual(
        [
          after[0].producerAlive,
          after[0].heartbeatMoved,
          after[0].readers.length,
        ],
        [false, false, 2],
      );
    } finally {
      cleanUpSegment(name);
      cleanUpSegment(foreign);
    }
  },
});

gatedTest({
  name:
    "deno task rings: no rings is said and exits 0; bad usage is one line, exit 2; no FFI, exit 1",
  permissions: PERMISSIONS,
  async fn() {
    const prefix = testSegmentPrefix();
    const none = await rings("--prefix", prefix);
    assert.deepEqual(
      [none.code, none.stdout.trim(), none.stderr],
      [0, `no rings under ${prefix}`, ""],
    );
    assert.deepEqual(parseRings(await rings("--json", "--prefix", prefix)), []);
    const usage: [string[], RegExp][] = [
      [
        ["--bogus"],
        /^ringstat: Unknown option '--bogus'.*\(--help lists the flags\)$/,
      ],
      [
        ["--interval", "soon"],
        /^ringstat: --interval: Invalid duration "soon"/,
      ],
      [["--once", "--watch"], /^ringstat: --once and --watch conflict/],
      [["--prefix", "no_slash"], /^ringstat: .*--prefix.*expected "\/"/],
    ];
    for (const [args, pattern] of usage) {
      const result = await rings(...args);
      const output = `${result.stdout}${result.stderr}`;
      assert.equal(result.code, 2, `${args.join(" ")}: ${output}`);
      assert.equal(result.stdout, "");
      assert.equal(result.stderr.trimEnd().split("\n").length, 1, output);
      assert.match(result.stderr.trimEnd(), pattern);
      assert.doesNotMatch(output, STACK_FRAME);
    }
    const noFfi = await runInProject(Deno.execPath(), [
      "run",
      "--allow-read=config",
      "ringstat/main.ts",
      "--once",
    ]);
    assert.equal(noFfi.code, 1, noFfi.stderr);
    assert.match(noFfi.stderr, /^ringstat: .*--allow-ffi/);
    assert.doesNotMatch(noFfi.stderr, STACK_FRAME);
  },
});
