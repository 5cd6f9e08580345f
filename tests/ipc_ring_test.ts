/**
 * The shared-memory ring across processes: producer and consumer processes
 * (tests/ipc/ring_producer.ts, tests/ipc/ring_consumer.ts) talk through real
 * POSIX shared memory, driven over stdin and reporting JSON lines on stdout;
 * some tests read in this process too. Needs --allow-run and unscoped
 * --allow-ffi (Deno refuses the pointer APIs under --allow-ffi=<path>).
 * In-process tests: common/ipc/ring_test.ts.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  type ProducerStatus,
  RingNotFoundError,
  RingReader,
} from "../common/ipc/mod.ts";
import { assertThrowsWith } from "./_assert_throws.ts";
import { PROJECT_ROOT } from "./nats_server.ts";
import { gatedTest } from "./_permissions.ts";
import {
  cleanUpSegment,
  drain,
  FIND_PERMISSION,
  lines,
  range,
  ringTest,
  type ScriptEvent,
  segmentExists,
  shmModes,
  testSegmentPrefix,
} from "./_ring_helpers.ts";

const PREFIX = testSegmentPrefix();
const PRODUCER = fileURLToPath(
  new URL("./ipc/ring_producer.ts", import.meta.url),
);
const CONSUMER = fileURLToPath(
  new URL("./ipc/ring_consumer.ts", import.meta.url),
);
const RUN_DENO: Deno.PermissionDescriptor = {
  name: "run",
  command: Deno.execPath(),
};
/** What child scripts get by default: unscoped FFI, which Deno 2.9 needs for pointer access. */
const CHILD_FFI = "--allow-ffi";
/** Generous upper bound for one step of a child (start-up, a few writes). */
const STEP_MS = 60_000;

let segments = 0;

/** A unique segment name for this file's tests. */
function segmentFor(label: string): string {
  return `${PREFIX}${++segments}_${label}`;
}

/** A child script: send it commands, await its events; disposing kills it if still running. */
class Script implements AsyncDisposable {
  /** The child process. */
  readonly child: Deno.ChildProcess;
  /** Name for messages, e.g. "producer 1". */
  readonly label: string;
  #events: ScriptEvent[] = [];
  #notify: (() => void) | undefined;
  #ended = false;
  #stderr = "";
  #pumps: Promise<void>[];
  #stdin: WritableStreamDefaultWriter<Uint8Array>;

  /** Starts `script` with `args` and the permission `flags`. */
  constructor(
    label: string,
    script: string,
    args: string[],
    flags: readonly string[] = [CHILD_FFI],
  ) {
    this.label = label;
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...flags, script, ...args],
      cwd: PROJECT_ROOT,
      env: { NO_COLOR: "1" },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stdin = this.child.stdin.getWriter();
    this.#pumps = [this.#pumpStdout(), this.#pumpStderr()];
  }

  async #pumpStdout(): Promise<void> {
    try {
      for await (const line of lines(this.child.stdout)) {
        let event: ScriptEvent;
        try {
          event = JSON.parse(line);
        } catch {
          event = { event: "unparsable", line };
        }
        this.#events.push(event);
        this.#notify?.();
      }
    } finally {
      this.#ended = true;
      this.#notify?.();
    }
  }

  async #pumpStderr(): Promise<void> {
    for await (
      const text of this.child.stderr.pipeThrough(new TextDecoderStream())
    ) {
      this.#stderr += text;
    }
  }

  /** Sends one command line. */
  async send(command: string): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(`${command}\n`));
  }

  /**
   * The next event named `event` that satisfies `where`; `idle` events that
   * do not match are skipped, any other event is a failure.
   */
  async expect(
    event: string,
    where: (e: ScriptEvent) => boolean = () => true,
    timeoutMs = STEP_MS,
  ): Promise<ScriptEvent> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const next = this.#events.shift();
      if (next !== undefined) {
        if (next.event === event && where(next)) return next;
        if (next.event === "idle") continue;
        throw new Error(
          `${this.label}: expected ${event}, got ${
            JSON.stringify(next)
          }${this.#context()}`,
        );
      }
      if (this.#ended) {
        throw new Error(
          `${this.label} ended before ${event}${this.#context()}`,
        );
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new Error(
          `${this.label}: no ${event} within ${timeoutMs} ms${this.#context()}`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#notify = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#notify = undefined;
    }
  }

  /** Waits for the process to exit (bounded) and returns its exit code. */
  async exitCode(timeoutMs = STEP_MS): Promise<number> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `${this.label} did not exit within ${timeoutMs} ms${this.#context()}`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      return (await Promise.race([this.child.status, late])).code;
    } finally {
      clearTimeout(timer);
    }
  }

  #context(): string {
    return this.#stderr === ""
      ? ""
      : `\n--- ${this.label} stderr:\n${this.#stderr}`;
  }

  /** Kills the process if it still runs and releases its pipes. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.#stdin.close();
    } catch {
      // it exited: the pipe is broken
    }
    try {
      this.child.kill("SIGKILL");
    } catch {
      // already exited
    }
    await this.child.status;
    await Promise.all(this.#pumps);
  }
}

/** Starts a producer of segment `name` and waits until its ring is ready. */
async function startProducer(
  label: string,
  name: string,
  options: Record<string, number> = {},
): Promise<{ script: Script; ready: ScriptEvent }> {
  const args = ["--name", name];
  for (const [option, value] of Object.entries(options)) {
    args.push(`--${option}`, String(value));
  }
  const script = new Script(label, PRODUCER, args);
  try {
    return { script, ready: await script.expect("ready") };
  } catch (error) {
    await script[Symbol.asyncDispose]();
    throw error;
  }
}

/** Starts a consumer of segment `name` and waits until it is attached. */
async function startConsumer(
  label: string,
  name: string,
  args: string[],
): Promise<Script> {
  const script = new Script(label, CONSUMER, ["--name", name, ...args]);
  try {
    await script.expect("attached");
    return script;
  } catch (error) {
    await script[Symbol.asyncDispose]();
    throw error;
  }
}

/** Polls `reader.producerStatus` (real time) until it says `wanted`; returns the last answer. */
async function statusBecomes(
  reader: RingReader,
  wanted: ProducerStatus,
  staleAfterMs: number,
): Promise<ProducerStatus> {
  const deadline = performance.now() + STEP_MS;
  let status = reader.producerStatus(performance.now(), staleAfterMs);
  while (status !== wanted && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    status = reader.producerStatus(performance.now(), staleAfterMs);
  }
  return status;
}

ringTest({
  name:
    "ipc: 1,000,000 records reach a spinning and a sleeping consumer process, none lost, in order, same hash",
  permissions: [RUN_DENO],
  async fn() {
    const name = segmentFor("million");
    const total = 1_000_000;
    try {
      // Room for every record: neither consumer can be lapped, whatever the
      // scheduler does with three processes on two cores.
      const { script: producer } = await startProducer("producer", name, {
        capacity: 1 << 20,
        batch: 500,
      });
      await using _producer = producer;
      await using spinning = await startConsumer("spin consumer", name, [
        "--wait",
        "spin",
      ]);
      await using sleeping = await startConsumer("backoff consumer", name, [
        "--wait",
        "backoff",
      ]);
      await producer.send(`write ${total}`);
      const wrote = await producer.expect("wrote", undefined, 5 * STEP_MS);
      assert.equal(wrote.published, total);
      assert.equal(wrote.position, total);
      await producer.send("close");
      await producer.expect("closed");
      assert.equal(await producer.exitCode(), 0);
      for (const consumer of [spinning, sleeping]) {
        const done = await consumer.expect("done", undefined, 5 * STEP_MS);
        assert.deepEqual(
          {
            received: done.received,
            lost: done.lost,
            laps: done.laps,
            errors: done.errors,
            hash: done.hash,
            status: done.status,
          },
          {
            received: total,
            lost: 0,
            laps: 0,
            errors: [],
            hash: wrote.hash,
            status: "closed",
          },
          consumer.label,
        );
        assert.equal(await consumer.exitCode(), 0);
      }
      assert.equal(segmentExists(name), false, "close left the segment");
    } finally {
      cleanUpSegment(name);
    }
  },
});

ringTest({
  name:
    "ipc: a consumer stopped with SIGSTOP and lapped counts exactly what it lost, then reads on in order",
  permissions: [RUN_DENO],
  async fn() {
    const name = segmentFor("sigstop");
    const capacity = 1024;
    try {
      const { script: producer } = await startProducer("producer", name, {
        capacity,
      });
      await using _producer = producer;
      await using consumer = await startConsumer("consumer", name, [
        "--wait",
        "backoff",
        "--report-idle",
      ]);
      await producer.send("write 500");
      await producer.expect("wrote");
      await consumer.expect("idle", (e) => e.received === 500);

      consumer.child.kill("SIGSTOP");
      await producer.send("write 10000");
      await producer.expect("wrote", (e) => e.published === 10_500);
      consumer.child.kill("SIGCONT");
      // It was at 500 when stopped and the producer is at 10,500: it resyncs
      // half a ring behind the producer and reads those 512.
      const resumed = await consumer.expect(
        "idle",
        (e) => (e.received as number) + (e.lost as number) === 10_500,
      );
      assert.deepEqual(
        { received: resumed.received, lost: resumed.lost, laps: resumed.laps },
        {
          received: 500 + capacity / 2,
          lost: 10_500 - capacity / 2 - 500,
          laps: 1,
        },
      );

      await producer.send("write 100");
      await producer.expect("wrote", (e) => e.published === 10_600);
      await producer.send("close");
      await producer.expect("closed");
      const done = await consumer.expect("done");
      assert.deepEqual(done.errors, [], "records out of order or corrupt");
      assert.equal(done.received, 500 + capacity / 2 + 100);
      assert.equal(done.lost, 10_600 - (done.received as number));
      assert.equal(done.laps, 1);
      assert.equal(await consumer.exitCode(), 0);
    } finally {
      cleanUpSegment(name);
    }
  },
});

ringTest({
  name:
    "ipc: after a clean producer restart the consumer sees closed, re-opens and reads the new epoch from first",
  permissions: [RUN_DENO],
  async fn() {
    const name = segmentFor("restart");
    const readers: RingReader[] = [];
    try {
      const first = await startProducer("producer 1", name, { capacity: 256 });
      await using _first = first.script;
      const old = RingReader.open(name, { from: "first" });
      readers.push(old);
      assert.equal(old.epoch, first.ready.epoch);
      assert.equal(old.producerPid, first.ready.pid);
      await first.script.send("write 100");
      await first.script.expect("wrote");
      assert.deepEqual(drain(old), range(0, 100));
      await first.script.send("close");
      await first.script.expect("closed");
      assert.equal(await first.script.exitCode(), 0);
      assert.equal(old.producerStatus(performance.now(), 1000), "closed");
      assertThrowsWith(() => RingReader.open(name), RingNotFoundError, name);

      const second = await startProducer("producer 2", name, {
        capacity: 256,
        base: 5000,
      });
      await using _second = second.script;
      assert.equal(second.ready.replaced, null);
      const fresh = RingReader.open(name, { from: "first" });
      readers.push(fresh);
      assert.equal(fresh.epoch, second.ready.epoch);
      assert.notEqual(fresh.epoch, old.epoch);
      await second.script.send("write 50");
      await second.script.expect("wrote");
      assert.deepEqual(drain(fresh, 5000), range(0, 50));
      assert.deepEqual(drain(old), []);
      await second.script.send("close");
      await second.script.expect("closed");
    } finally {
      for (const reader of readers) reader.close();
      cleanUpSegment(name);
    }
  },
});

ringTest({
  name:
    "ipc: a producer killed with SIGKILL is stalled, then dead; its successor replaces the segment and the consumer follows",
  permissions: [RUN_DENO],
  async fn() {
    const name = segmentFor("killed");
    const staleAfterMs = 200;
    const readers: RingReader[] = [];
    try {
      const first = await startProducer("producer 1", name, {
        capacity: 256,
        heartbeat: 10,
      });
      await using _first = first.script;
      const old = RingReader.open(name, { from: "first" });
      readers.push(old);
      await first.script.send("write 20");
      await first.script.expect("wrote");
      assert.deepEqual(drain(old), range(0, 20));
      assert.equal(await statusBecomes(old, "alive", staleAfterMs), "alive");

      first.script.child.kill("SIGSTOP");
      assert.equal(
        await statusBecomes(old, "stalled", staleAfterMs),
        "stalled",
      );
      first.script.child.kill("SIGKILL");
      await first.script.exitCode(); // reaped: no zombie left to answer kill(pid, 0)
      assert.equal(await statusBecomes(old, "dead", staleAfterMs), "dead");
      assert.equal(
        segmentExists(name),
        true,
        "the crashed producer's segment is still there",
      );
      const late = RingReader.open(name);
      readers.push(late);
      assert.equal(late.epoch, old.epoch, "the stale segment still opens");

      const second = await startProducer("producer 2", name, {
        capacity: 256,
        base: 7000,
      });
      await using _second = second.script;
      const replaced = second.ready.replaced as { pid: number; reason: string };
      assert.equal(replaced.pid, first.ready.pid);
      assert.match(replaced.reason, /gone/);
      assert.equal(
        old.producerStatus(performance.now(), staleAfterMs),
        "closed",
      );

      const fresh = RingReader.open(name, { from: "first" });
      readers.push(fresh);
      assert.equal(fresh.epoch, second.ready.epoch);
      assert.notEqual(fresh.epoch, old.epoch);
      await second.script.send("write 30");
      await second.script.expect("wrote");
      assert.deepEqual(drain(fresh, 7000), range(0, 30));
      assert.deepEqual(drain(old), []);
      await second.script.send("close");
      await second.script.expect("closed");
      assert.equal(segmentExists(name), false);
    } finally {
      for (const reader of readers) reader.close();
      cleanUpSegment(name);
    }
  },
});

ringTest({
  name:
    "ipc: a second producer on a live producer's ring fails with RingInUseError and leaves it working",
  permissions: [RUN_DENO],
  async fn() {
    const name = segmentFor("inuse");
    let reader: RingReader | undefined;
    try {
      const first = await startProducer("producer 1", name, { capacity: 256 });
      await using _first = first.script;
      reader = RingReader.open(name, { from: "first" });
      await using intruder = new Script("producer 2", PRODUCER, [
        "--name",
        name,
      ]);
      const refused = await intruder.expect("error");
      assert.equal(refused.error, "RingInUseError");
      assert.equal(refused.pid, first.ready.pid);
      assert.match(
        refused.message as string,
        new RegExp(`pid ${first.ready.pid}`),
      );
      assert.equal(await intruder.exitCode(), 3);
      await first.script.send("write 5");
      await first.script.expect("wrote");
      assert.deepEqual(drain(reader), range(0, 5));
      assert.equal(reader.epoch, first.ready.epoch);
      await first.script.send("close");
      await first.script.expect("closed");
    } finally {
      reader?.close();
      cleanUpSegment(name);
    }
  },
});

gatedTest({
  name:
    "ipc: the --allow-ffi flag the libc loader asks for is enough to run the ring",
  permissions: [RUN_DENO],
  async fn() {
    const name = segmentFor("advice");
    const args = ["--name", name, "--capacity", "64"];
    try {
      await using denied = new Script(
        "producer without FFI",
        PRODUCER,
        args,
        [],
      );
      const refusal = await denied.expect("error");
      assert.equal(refusal.error, "LibcUnavailableError");
      const advice = /run with (--allow-ffi\S*)/.exec(
        refusal.message as string,
      );
      assert.ok(advice, `no --allow-ffi advice in: ${refusal.message}`);

      await using advised = new Script(
        `producer with ${advice[1]}`,
        PRODUCER,
        args,
        [advice[1]],
      );
      await advised.expect("ready");
      await advised.send("close");
      await advised.expect("closed");
    } finally {
      cleanUpSegment(name);
    }
  },
});

gatedTest({
  name: "ipc: the tests leave no segment behind in /dev/shm",
  permissions: [FIND_PERMISSION],
  async fn() {
    assert.deepEqual([...(await shmModes(PREFIX)).keys()], []);
  },
});
