/**
 * Child process of tests/ipc_hostile_test.ts: a hostile writer that damages
 * a ring segment another process publishes, through its own libc binding
 * (independent of the code under test), and reports one JSON line.
 *
 * ```sh
 * deno run --allow-ffi tests/ipc/ring_hostile.ts --name /seg --action odd [--behind K | --ahead K]
 * deno run --allow-ffi tests/ipc/ring_hostile.ts --name /seg --action garbage --behind K --count N
 * deno run --allow-ffi tests/ipc/ring_hostile.ts --name /seg --action truncate --value BYTES
 * deno run --allow-ffi tests/ipc/ring_hostile.ts --name /seg --action chmod --value 0666
 * deno run --allow-ffi tests/ipc/ring_hostile.ts --name /seg --action chown --value UID
 * ```
 *
 * - `odd`: leaves the seqlock word of the slot of position `w − K` (the
 *   trade K back from the write position `w`, default 1) or `w + K` (not yet
 *   written) odd, as a writer that died mid-write would.
 * - `garbage`: overwrites the `N` whole slots from position `w − K` with
 *   random bytes.
 * - `position`: changes nothing, reports the write position.
 * - `truncate`, `chmod`, `chown`: `ftruncate`, `fchmod`, `fchown` the segment.
 *
 * Event: `done` {writePosition, capacity} (exit 0), or `error` {message}
 * (exit 3).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { LIBC_PATHS } from "../../common/os/mod.ts";
import { emitEvent } from "../_ring_helpers.ts";

const SYMBOLS = {
  shm_open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  fchmod: { parameters: ["i32", "u32"], result: "i32" },
  fchown: { parameters: ["i32", "u32", "u32"], result: "i32" },
  mmap: {
    parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"],
    result: "pointer",
  },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

const O_RDWR = 2;
const PROT_READ_WRITE = 3;
const MAP_SHARED = 1;
const SEEK_END = 2;
/** Byte offset of the header size field (the first slot's offset), in every layout version. */
const HEADER_SIZE_AT = 8;
const SLOT = 64;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    name: { type: "string" },
    action: { type: "string" },
    behind: { type: "string" },
    ahead: { type: "string" },
    count: { type: "string", default: "1" },
    value: { type: "string" },
  },
});

function fail(message: string): never {
  emitEvent({ event: "error", message });
  Deno.exit(3);
}

function load(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  for (const path of LIBC_PATHS) {
    try {
      return Deno.dlopen(path, SYMBOLS).symbols;
    } catch {
      // next
    }
  }
  fail("no libc");
}

const lib = load();
const fd = lib.shm_open(
  new TextEncoder().encode(`${values.name}\0`),
  O_RDWR,
  0,
);
if (fd < 0) fail(`shm_open ${values.name} failed`);

function check(call: string, result: number): void {
  if (result !== 0) fail(`${call} ${values.name} failed`);
}

function damageSlots(): { writePosition: number; capacity: number } {
  const size = Number(lib.lseek(fd, 0n, SEEK_END));
  const pointer = lib.mmap(
    null,
    BigInt(size),
    PROT_READ_WRITE,
    MAP_SHARED,
    fd,
    0n,
  );
  if (
    pointer === null ||
    Deno.UnsafePointer.value(pointer) === 0xffff_ffff_ffff_ffffn
  ) fail("mmap failed");
  const buffer = Deno.UnsafePointerView.getArrayBuffer(pointer, size);
  const words = new Int32Array(buffer);
  const view = new DataView(buffer);
  const capacity = view.getUint32(12, true);
  const header = view.getUint32(HEADER_SIZE_AT, true);
  const writePosition = view.getUint32(68, true) * 2 ** 32 +
    view.getUint32(64, true);
  const first = values.ahead !== undefined
    ? writePosition + Number(values.ahead)
    : writePosition - Number(values.behind ?? "1");
  const count = values.action === "garbage"
    ? Number(values.count)
    : values.action === "odd"
    ? 1
    : 0;
  for (let position = first; position < first + count; position++) {
    const at = header + (position % capacity) * SLOT;
    if (values.action === "odd") {
      Atomics.store(words, at >> 2, 0x7fff_ffff);
    } else {
      crypto.getRandomValues(new Uint8Array(buffer, at, SLOT));
    }
  }
  check("munmap", lib.munmap(pointer, BigInt(size)));
  return { writePosition, capacity };
}

let result: Record<string, unknown> = {};
switch (values.action) {
  case "odd":
  case "garbage":
  case "position":
    result = damageSlots();
    break;
  case "truncate":
    check("ftruncate", lib.ftruncate(fd, BigInt(Number(values.value))));
    break;
  case "chmod":
    check("fchmod", lib.fchmod(fd, parseInt(values.value ?? "", 8)));
    break;
  case "chown":
    check("fchown", lib.fchown(fd, Number(values.value), Number(values.value)));
    break;
  default:
    fail(`unknown action ${values.action}`);
}
lib.close(fd);
emitEvent({ event: "done", ...result });
