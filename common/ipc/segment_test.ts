// Who may publish a segment (owner and mode), segments that shrink under a
// process that maps them, read-only mappings, and listing /dev/shm.

import assert from "node:assert/strict";
import {
  createSegment,
  listShm,
  openSegment,
  RingOwnerError,
  RingReader,
  RingTruncatedError,
  RingWriter,
  segmentSize,
  unlinkSegment,
  unmapSegment,
} from "./mod.ts";
import { ringEpoch } from "./ring_reader.ts";
import { libc } from "../os/libc.ts";
import { formatCount } from "../runtime/format.ts";
import {
  cleanUpSegment,
  drain,
  range,
  recordBatch,
  ringTest,
  shmModes,
  testSegmentPrefix,
} from "../../tests/_ring_helpers.ts";

const PREFIX = testSegmentPrefix();
let segments = 0;
const RUN = [{ name: "run" }] as const;

function uniqueName(): string {
  return `${PREFIX}${++segments}`;
}

/** Runs `command args` (chmod, chown) and checks that it worked. */
async function run(command: string, ...args: string[]): Promise<void> {
  const result = await new Deno.Command(command, {
    args,
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(
    result.success,
    `${command} ${args.join(" ")}: ${new TextDecoder().decode(result.stderr)}`,
  );
}

/** Shrinks segment `name` to `size` bytes, as another process could. */
function truncate(name: string, size: number): void {
  const segment = openSegment(name, { mapBytes: 256 });
  try {
    assert.equal(libc().ftruncate(segment.fd, BigInt(size)), 0);
  } finally {
    unmapSegment(segment);
  }
}

/** Not root (so chown to another uid fails), as far as FFI lets this file tell; false when it cannot. */
const NOT_ROOT = Deno.permissions.querySync({ name: "ffi" }).state ===
    "granted" && (() => {
    try {
      return libc().geteuid() !== 0;
    } catch {
      return false; // no libc: the ring tests fail and say why
    }
  })();

ringTest({
  name:
    "segment: rings are created 0600; one others may write (0666) is refused by readers, naming owner and mode; the writer replaces its own",
  permissions: [...RUN],
  async fn() {
    const name = uniqueName();
    try {
      const writer = RingWriter.create(name, { capacity: 64 });
      assert.equal((await shmModes(PREFIX)).get(name), 0o600);
      await run("chmod", "0666", `/dev/shm${name}`);
      for (const open of [() => RingReader.open(name), () => ringEpoch(name)]) {
        assert.throws(open, (error: Error) => {
          assert.ok(error instanceof RingOwnerError);
          assert.match(
            error.message,
            /^Ring \S+ \(\/dev\/shm\S+, uid \d+, mode 0666\) is not trusted: mode 0666 lets group or others write it, expected no group\/other write \(e\.g\. 0600\)\. Anyone who can write it can forge trades, so it is refused: remove it/,
          );
          return true;
        });
      }
      // A stale segment of our own: replaced by an owner-only one.
      writer.close(); // unlinks it; make a stale 0666 one again
      const stale = RingWriter.create(name, { capacity: 64 });
      await run("chmod", "0666", `/dev/shm${name}`);
      const second = RingWriter.create(name, { capacity: 64 });
      assert.equal(
        second.replaced?.reason,
        "writable by group or others (mode 0666)",
      );
      assert.equal((await shmModes(PREFIX)).get(name), 0o600);
      RingReader.open(name).close();
      second.close();
      stale.close();
    } finally {
      try {
        unlinkSegment(name);
      } catch {
        // gone
      }
    }
  },
});

ringTest({
  name:
    `segment: a ring another uid owns is refused by readers and the writer, unless it is the configured publisher uid${
      NOT_ROOT ? " [skipped: chown to another uid needs root]" : ""
    }`,
  ignore: NOT_ROOT,
  permissions: [...RUN],
  async fn() {
    const name = uniqueName();
    try {
      const writer = RingWriter.create(name, { capacity: 64 });
      writer.writeMany(recordBatch(0, 3), 3);
      await run("chown", "65534", `/dev/shm${name}`);
      const owned =
        /\(\/dev\/shm\S+, uid 65534, mode 0600\) is not trusted: owned by uid 65534, expected uid 0\./;
      assert.throws(() => RingReader.open(name), (error: Error) => {
        assert.ok(error instanceof RingOwnerError);
        assert.match(error.message, owned);
        assert.match(error.message, /data_source\.ipc\.publisher_uid/);
        return true;
      });
      // Named as the publisher: trusted.
      const reader = RingReader.open(name, {
        from: "first",
        publisherUid: 65534,
      });
      assert.deepEqual(drain(reader), range(0, 3));
      reader.close();
      writer.close(); // not its own any more: left in place
      assert.throws(
        () => RingWriter.create(name, { capacity: 64 }),
        (error: Error) => {
          assert.ok(error instanceof RingOwnerError);
          assert.match(error.message, owned);
          assert.match(
            error.message,
            /another transport\.ipc\.shm_path_prefix$/,
          );
          return true;
        },
      );
    } finally {
      unlinkSegment(name);
    }
  },
});

ringTest({
  name:
    "segment: a writer idle for a heartbeat period checks the size before its next write: truncated to 0 meanwhile is RingTruncatedError, never SIGBUS",
  async fn() {
    const name = uniqueName();
    try {
      const writer = RingWriter.create(name, {
        capacity: 64,
        heartbeatIntervalMs: 5,
      });
      writer.writeMany(recordBatch(0, 3), 3);
      await new Promise((resolve) => setTimeout(resolve, 50)); // idle beats
      // Truncated and written in one go: no heartbeat in between.
      truncate(name, 0);
      assert.throws(
        () => writer.writeMany(recordBatch(3, 1), 1),
        (error: Error) => {
          assert.ok(error instanceof RingTruncatedError, String(error));
          assert.match(error.message, /truncated to 0 bytes/);
          return true;
        },
      );
      assert.throws(() => writer.write(recordBatch(3, 1)), RingTruncatedError);
      writer.close(); // does not touch the missing pages either
    } finally {
      unlinkSegment(name);
    }
  },
});

/** The user another user's segments are tried as (nobody). */
const OTHER_UID = 65534;

/** Why this file cannot run a process as {@linkcode OTHER_UID} (setpriv, as root), or undefined. */
async function otherUserProblem(): Promise<string | undefined> {
  if (NOT_ROOT) return "running as another uid needs root";
  if (Deno.permissions.querySync({ name: "run" }).state !== "granted") {
    return undefined; // the gate skips it, naming --allow-run
  }
  try {
    const probe = await new Deno.Command("setpriv", {
      args: [...asOtherUser(), "true"],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (probe.success) return undefined;
    return `setpriv cannot switch to uid ${OTHER_UID}: ${
      new TextDecoder().decode(probe.stderr).trim()
    }`;
  } catch (error) {
    return `setpriv is not available: ${(error as Error).message}`;
  }
}

function asOtherUser(): string[] {
  return [
    `--reuid=${OTHER_UID}`,
    `--regid=${OTHER_UID}`,
    "--clear-groups",
  ];
}

const OTHER_USER = await otherUserProblem();

ringTest({
  name:
    `segment: another user's owner-only segment (0600, 0644), which it may not open (EACCES), is refused by readers and the writer naming its owner and mode${
      OTHER_USER ? ` [skipped: ${OTHER_USER}]` : ""
    }`,
  ignore: OTHER_USER !== undefined,
  permissions: [...RUN, { name: "read" }, { name: "write" }],
  async fn() {
    const name = uniqueName();
    // A deno of its own for the other user: its cache, no project config.
    const home = await Deno.makeTempDir({ prefix: "mbt_other_user_" });
    await Deno.chmod(home, 0o777);
    const script = `
      import { RingReader, RingWriter } from ${
      JSON.stringify(new URL("./mod.ts", import.meta.url).href)
    };
      import { ringEpoch } from ${
      JSON.stringify(new URL("./ring_reader.ts", import.meta.url).href)
    };
      const name = ${JSON.stringify(name)};
      const tries = {
        epoch: () => ringEpoch(name),
        open: () => RingReader.open(name).close(),
        create: () => RingWriter.create(name, { capacity: 64 }).close(),
      };
      for (const [what, attempt] of Object.entries(tries)) {
        try {
          attempt();
          console.log(what + ": ok");
        } catch (error) {
          console.log(what + ": " + error.name + ": " + error.message);
        }
      }`;
    try {
      const writer = RingWriter.create(name, { capacity: 64 });
      for (const mode of ["0600", "0644"]) {
        await run("chmod", mode, `/dev/shm${name}`);
        const result = await new Deno.Command("setpriv", {
          args: [...asOtherUser(), Deno.execPath(), "eval", script],
          cwd: home,
          env: { DENO_DIR: home, HOME: home, NO_COLOR: "1" },
          clearEnv: true,
          stdout: "piped",
          stderr: "piped",
        }).output();
        const text = new TextDecoder().decode(result.stdout);
        assert.ok(
          result.success,
          text + new TextDecoder().decode(result.stderr),
        );
        const owned = new RegExp(
          `RingOwnerError: Ring \\S+ \\(/dev/shm\\S+, uid 0, mode ${mode}\\) is not trusted: owned by uid 0, expected uid ${OTHER_UID}\\.`,
        );
        for (const what of ["epoch", "open", "create"]) {
          const line = text.split("\n").find((l) => l.startsWith(`${what}:`));
          assert.match(
            line ?? "",
            owned,
            `${what} with mode ${mode}:\n${text}`,
          );
        }
      }
      writer.close();
    } finally {
      unlinkSegment(name);
      await Deno.remove(home, { recursive: true });
    }
  },
});

ringTest({
  name:
    "segment: a ring truncated under its reader and writer is RingTruncatedError for both, never SIGBUS",
  async fn() {
    const name = uniqueName();
    try {
      const writer = RingWriter.create(name, {
        capacity: 4096,
        heartbeatIntervalMs: 1,
      });
      const reader = RingReader.open(name, { from: "first" });
      writer.writeMany(recordBatch(0, 10), 10);
      assert.deepEqual(drain(reader), range(0, 10));
      reader.checkSize(); // intact
      truncate(name, segmentSize(64)); // header + 64 slots
      assert.throws(() => reader.checkSize(), (error: Error) => {
        assert.ok(error instanceof RingTruncatedError);
        assert.equal(
          error.message.replaceAll(name, "<name>"),
          `Ring <name> is not usable: truncated to ${
            formatCount(segmentSize(64))
          } bytes under this process, expected ${
            formatCount(segmentSize(4096))
          }: another process shrank /dev/shm<name>; stopped before touching the missing pages`,
        );
        return true;
      });
      reader.close();
      // The writer notices at its next heartbeat, and stops writing.
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        try {
          writer.writeMany(recordBatch(10, 1), 1);
        } catch (error) {
          assert.ok(error instanceof RingTruncatedError, String(error));
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.throws(
        () => writer.writeMany(recordBatch(0, 1), 1),
        RingTruncatedError,
      );
      writer.close(); // does not touch the missing pages either
    } finally {
      unlinkSegment(name);
    }
  },
});

ringTest({
  name:
    "segment: opened readOnly, a segment is O_RDONLY and mapped PROT_READ: it reads what is written, and a write through it kills the writer (SIGSEGV) without changing a byte",
  permissions: [...RUN],
  async fn() {
    const name = uniqueName();
    const segment = createSegment(name, segmentSize(64));
    try {
      const bytes = new Uint8Array(segment.buffer);
      bytes[7] = 0x5a;
      const reading = openSegment(name, { readOnly: true });
      try {
        assert.equal(reading.size, segmentSize(64));
        assert.equal(new Uint8Array(reading.buffer)[7], 0x5a);
        bytes[segmentSize(64) - 1] = 0xa5; // shared: seen at once
        assert.equal(new Uint8Array(reading.buffer)[segmentSize(64) - 1], 0xa5);
      } finally {
        unmapSegment(reading);
      }
      // A child (deno eval: all permissions, so it may read /proc) reports
      // its fd's access mode and its mapping's protection, then writes.
      const script = `
        import { openSegment } from ${
        JSON.stringify(new URL("./segment.ts", import.meta.url).href)
      };
        const s = openSegment(${JSON.stringify(name)}, { readOnly: true });
        const info = Deno.readTextFileSync("/proc/self/fdinfo/" + s.fd);
        const start = Deno.UnsafePointer.value(s.pointer).toString(16);
        const line = Deno.readTextFileSync("/proc/self/maps").split("\\n")
          .find((l) => l.startsWith(start + "-"));
        console.log(JSON.stringify({
          flags: /flags:\\s+(\\d+)/.exec(info)[1],
          perms: line?.split(" ")[1],
          byte: new Uint8Array(s.buffer)[7],
        }));
        new Uint8Array(s.buffer)[7] = 0xee;
        console.log("wrote");`;
      const child = await new Deno.Command(Deno.execPath(), {
        args: ["eval", script],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const out = new TextDecoder().decode(child.stdout);
      const report = JSON.parse(out.split("\n")[0]);
      assert.equal(parseInt(report.flags, 8) & 3, 0, "O_RDONLY");
      assert.equal(report.perms, "r--s");
      assert.equal(report.byte, 0x5a);
      assert.equal(child.signal, "SIGSEGV", out);
      assert.ok(!out.includes("wrote"));
      assert.equal(bytes[7], 0x5a);
    } finally {
      unmapSegment(segment);
      unlinkSegment(name);
    }
  },
});

ringTest({
  name:
    "segment: listShm lists the segments under a prefix (with or without its /), sorted, and no others",
  fn() {
    const other = testSegmentPrefix();
    const names = [uniqueName(), uniqueName(), `${other}1`];
    try {
      for (const name of names) unmapSegment(createSegment(name, 4096));
      const ours = names.slice(0, 2).sort();
      assert.deepEqual(listShm(PREFIX), ours);
      assert.deepEqual(listShm(PREFIX.slice(1)), ours);
      assert.deepEqual(listShm(other), [`${other}1`]);
      assert.ok(listShm("").length >= 3);
      unlinkSegment(names[0]);
      assert.deepEqual(listShm(PREFIX), [names[1]]);
      assert.throws(
        () => listShm(undefined as unknown as string),
        TypeError,
      );
    } finally {
      for (const name of names) cleanUpSegment(name);
    }
  },
});
