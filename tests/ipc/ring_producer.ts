/**
 * Child process of tests/ipc_ring_test.ts: one ring producer, driven by
 * commands on stdin, reporting JSON lines on stdout.
 *
 * ```sh
 * deno run --allow-ffi tests/ipc/ring_producer.ts --name /seg \
 *   [--capacity 65536] [--heartbeat 100] [--base 0] [--batch 1]
 * ```
 *
 * Commands: `write N` publishes the next N deterministic records (record
 * `base + k` at the k-th position; `batch` records per `writeMany`, or one
 * `write` each when 1); `close` closes the ring and exits (so does EOF).
 * Events: `ready` {pid, epoch, capacity, replaced}, `wrote` {position,
 * published, hash}, `closed`, and `error` {error, message, pid} when the ring
 * cannot be created (exit code 3).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { RingInUseError, RingWriter } from "../../common/ipc/mod.ts";
import { TRADE_RECORD_SIZE } from "../../common/wire/trade.ts";
import { emitEvent, fillRecord, Fnv1a, lines } from "../_ring_helpers.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    name: { type: "string" },
    capacity: { type: "string", default: "65536" },
    heartbeat: { type: "string", default: "100" },
    base: { type: "string", default: "0" },
    batch: { type: "string", default: "1" },
  },
});
if (values.name === undefined) throw new Error("--name is required");
const base = Number(values.base);
const batch = Number(values.batch);

let writer: RingWriter;
try {
  writer = RingWriter.create(values.name, {
    capacity: Number(values.capacity),
    heartbeatIntervalMs: Number(values.heartbeat),
  });
} catch (error) {
  emitEvent({
    event: "error",
    error: (error as Error).name,
    message: (error as Error).message,
    pid: error instanceof RingInUseError ? error.pid : undefined,
  });
  Deno.exit(3);
}
emitEvent({
  event: "ready",
  pid: Deno.pid,
  epoch: writer.epoch,
  capacity: writer.capacity,
  replaced: writer.replaced ?? null,
});

const chunk = new Uint8Array(batch * TRADE_RECORD_SIZE);
const chunkView = new DataView(chunk.buffer);
const hash = new Fnv1a();
let published = 0;

/** Publishes the next `count` records. */
function write(count: number): void {
  for (let left = count; left > 0;) {
    const n = Math.min(batch, left);
    for (let k = 0; k < n; k++) {
      fillRecord(chunkView, k * TRADE_RECORD_SIZE, base + published + k);
    }
    hash.update(chunk, 0, n * TRADE_RECORD_SIZE);
    if (batch === 1) writer.write(chunk);
    else writer.writeMany(chunk, n);
    published += n;
    left -= n;
  }
}

for await (const line of lines(Deno.stdin.readable)) {
  const [command, argument] = line.trim().split(/\s+/);
  if (command === "write") {
    write(Number(argument));
    emitEvent({
      event: "wrote",
      position: writer.position,
      published,
      hash: hash.hex,
    });
  } else if (command === "close") {
    break;
  } else {
    throw new Error(`Unknown command ${JSON.stringify(line)}`);
  }
}
writer.close();
emitEvent({ event: "closed" });
