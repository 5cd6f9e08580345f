/**
 * Child process of tests/ipc_ring_test.ts: one ring consumer that checks
 * every record it reads and reports JSON lines on stdout.
 *
 * ```sh
 * deno run --allow-ffi tests/ipc/ring_consumer.ts --name /seg \
 *   [--wait backoff] [--from first] [--base 0] [--report-idle]
 * ```
 *
 * It reads until the producer closed the ring and nothing is left. Each
 * record must be the one the producer published at its position (record
 * `base + k` at the k-th position of the epoch) and carry the seq that
 * follows the previous one, plus the records counted lost in between.
 * Events: `attached` {pid, epoch, startPosition}, `idle` {received, lost,
 * laps} each time it caught up (with --report-idle), and `done` {received,
 * lost, laps, hash (of every byte read), errors, status}.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  type ReaderStart,
  RingReader,
  RingState,
  RingWaiter,
  type WaitStrategy,
} from "../../common/ipc/mod.ts";
import { TRADE_RECORD_SIZE } from "../../common/wire/trade.ts";
import {
  emitEvent,
  Fnv1a,
  recordMismatch,
  recordSeq,
} from "../_ring_helpers.ts";

const MAX_ERRORS = 5;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    name: { type: "string" },
    wait: { type: "string", default: "backoff" },
    from: { type: "string", default: "first" },
    base: { type: "string", default: "0" },
    "report-idle": { type: "boolean", default: false },
  },
});
if (values.name === undefined) throw new Error("--name is required");
const base = Number(values.base);

const reader = RingReader.open(values.name, {
  from: values.from as ReaderStart,
});
const waiter = new RingWaiter(values.wait as WaitStrategy);
emitEvent({
  event: "attached",
  pid: Deno.pid,
  epoch: reader.epoch,
  startPosition: reader.startPosition,
});

const record = new Uint8Array(TRADE_RECORD_SIZE);
const hash = new Fnv1a();
const errors: string[] = [];
let previous = reader.startPosition - reader.firstPosition - 1;
let lostBefore = 0;
let progressed = false;

for (;;) {
  if (reader.read(record)) {
    const k = reader.position - 1 - reader.firstPosition;
    const expected = previous + 1 + (reader.lost - lostBefore);
    const problem = k !== expected
      ? `position ${k} after ${previous} with ${
        reader.lost - lostBefore
      } lost in between`
      : recordSeq(record) !== (base + k) % 2 ** 32
      ? `seq ${recordSeq(record)} at position ${k}`
      : recordMismatch(record, 0, base + k);
    if (problem !== undefined && errors.length < MAX_ERRORS) {
      errors.push(problem);
    }
    hash.update(record);
    previous = k;
    lostBefore = reader.lost;
    waiter.busy();
    progressed = true;
    continue;
  }
  if (reader.state() === RingState.Closed && !reader.hasData()) break;
  if (progressed && values["report-idle"]) {
    emitEvent({
      event: "idle",
      received: reader.received,
      lost: reader.lost,
      laps: reader.laps,
    });
  }
  progressed = false;
  const wait = waiter.idle([reader]);
  if (wait !== undefined) await wait;
}

emitEvent({
  event: "done",
  received: reader.received,
  lost: reader.lost,
  laps: reader.laps,
  hash: hash.hex,
  errors,
  status: reader.producerStatus(performance.now(), 1000),
});
reader.close();
