// A new producer and the segment it finds under its name, whatever that
// segment's layout version: a live producer's ring is never taken from under
// it (an older marketbus's included), a dead or closed one is replaced and
// its consumers told at once.

import assert from "node:assert/strict";
import { createReplacing, retireFenced } from "./_ring_replace.ts";
import { RingInUseError } from "./errors.ts";
import {
  Header,
  MIN_CAPACITY,
  RING_MAGIC,
  RingState,
  segmentSize,
  SLOT_PAYLOAD_SIZE,
  SLOT_SIZE,
} from "./layout.ts";
import {
  createSegment,
  openSegment,
  unlinkSegment,
  unmapSegment,
} from "./segment.ts";
import { WIRE_VERSION } from "../wire/trade.ts";
import {
  cleanUpSegment,
  ringTest,
  testSegmentPrefix,
} from "../../tests/_ring_helpers.ts";

const PREFIX = testSegmentPrefix();
let segments = 0;
/** No process has this pid (above any pid_max). */
const NO_SUCH_PID = 0x7fff_fffe;
/** Version 1: the 256-byte header, no reader registry. */
const V1_HEADER_SIZE = 256;
const V1_SIZE = V1_HEADER_SIZE + MIN_CAPACITY * SLOT_SIZE;

interface OldRing {
  version: number;
  pid: number;
  state: RingState;
  /** Size of the segment (default: a version-1 ring of 64 slots). */
  size?: number;
}

/** Creates segment `name` as a producer of layout `version` left it. */
function craft(name: string, ring: OldRing): void {
  const segment = createSegment(name, ring.size ?? V1_SIZE);
  try {
    const view = new DataView(segment.buffer);
    const u32 = (at: number, value: number) => view.setUint32(at, value, true);
    u32(Header.LayoutVersion, ring.version);
    u32(Header.HeaderSize, V1_HEADER_SIZE);
    u32(Header.Capacity, MIN_CAPACITY);
    u32(Header.SlotSize, SLOT_SIZE);
    u32(Header.PayloadSize, SLOT_PAYLOAD_SIZE);
    u32(Header.WireVersion, WIRE_VERSION);
    view.setInt32(Header.ProducerPid, ring.pid, true);
    u32(Header.Epoch, 0x1e90c);
    u32(Header.HeartbeatIntervalMs, 100);
    view.setInt32(Header.State, ring.state, true);
    u32(Header.Magic, RING_MAGIC);
  } finally {
    unmapSegment(segment);
  }
}

/** The first bytes of segment `name`, as they are now. */
function headerBytes(name: string): Uint8Array {
  const segment = openSegment(name, { mapBytes: 128, readOnly: true });
  try {
    return new Uint8Array(segment.buffer).slice(0, 128);
  } finally {
    unmapSegment(segment);
  }
}

ringTest({
  name:
    "replace: a live producer's ring of layout version 1 is refused, named with its version, and left as it was",
  fn() {
    const name = `${PREFIX}${++segments}`;
    // The test runner's pid: alive, and not this process.
    craft(name, { version: 1, pid: Deno.ppid, state: RingState.Open });
    try {
      const before = headerBytes(name);
      assert.throws(() => createReplacing(name, segmentSize(64)), (error) => {
        assert.ok(error instanceof RingInUseError);
        assert.equal(error.pid, Deno.ppid);
        assert.match(
          error.message,
          new RegExp(`pid ${Deno.ppid}, layout version 1\\): stop it`),
        );
        return true;
      });
      assert.deepEqual(headerBytes(name), before);
    } finally {
      cleanUpSegment(name);
    }
  },
});

ringTest({
  name:
    "replace: a live producer's ring with a right magic but a corrupt header is refused too",
  fn() {
    const name = `${PREFIX}${++segments}`;
    // Version 2, but the version-1 header size and segment size.
    craft(name, { version: 2, pid: Deno.ppid, state: RingState.Open });
    try {
      assert.throws(
        () => createReplacing(name, segmentSize(64)),
        RingInUseError,
      );
    } finally {
      cleanUpSegment(name);
    }
  },
});

ringTest({
  name:
    "replace: a version-1 ring whose producer is gone or closed it is replaced, its consumers told it closed",
  fn() {
    const cases: [OldRing, string][] = [
      [
        { version: 1, pid: NO_SUCH_PID, state: RingState.Open },
        `its producer (pid ${NO_SUCH_PID}) is gone (layout version 1)`,
      ],
      [
        { version: 1, pid: Deno.ppid, state: RingState.Closed },
        "closed by its producer (layout version 1)",
      ],
      [
        { version: 7, pid: NO_SUCH_PID, state: RingState.Open },
        `its producer (pid ${NO_SUCH_PID}) is gone (layout version 7)`,
      ],
    ];
    for (const [ring, reason] of cases) {
      const name = `${PREFIX}${++segments}`;
      craft(name, ring);
      // A consumer of the old ring keeps its mapping.
      const consumer = openSegment(name);
      try {
        const fresh = createReplacing(name, segmentSize(64));
        assert.deepEqual(fresh.replaced, { pid: ring.pid, reason });
        assert.equal(fresh.segment.size, segmentSize(64));
        assert.notEqual(fresh.epoch, 0x1e90c);
        unmapSegment(fresh.segment);
        const words = new Int32Array(consumer.buffer, 0, 64);
        assert.equal(Atomics.load(words, Header.State >> 2), RingState.Closed);
        assert.equal(Atomics.load(words, Header.WakeSequence >> 2), 1);
      } finally {
        unmapSegment(consumer);
        unlinkSegment(name);
      }
    }
  },
});

ringTest({
  name:
    "replace: retireFenced retires a live producer's ring only when it names that producer, its consumers told it closed",
  fn() {
    const name = `${PREFIX}${++segments}`;
    // A live producer (the test runner): refused to anyone else.
    craft(name, { version: 1, pid: Deno.ppid, state: RingState.Open });
    const consumer = openSegment(name);
    try {
      assert.equal(retireFenced(name, NO_SUCH_PID), undefined, "not its pid");
      assert.throws(
        () => createReplacing(name, segmentSize(64)),
        RingInUseError,
      );
      assert.deepEqual(retireFenced(name, Deno.ppid), {
        pid: Deno.ppid,
        reason: `its producer (pid ${Deno.ppid}) lost its registry lease`,
      });
      const words = new Int32Array(consumer.buffer, 0, 64);
      assert.equal(Atomics.load(words, Header.State >> 2), RingState.Closed);
      assert.equal(retireFenced(name, Deno.ppid), undefined, "gone: free");
      const fresh = createReplacing(name, segmentSize(64));
      assert.equal(fresh.replaced, undefined);
      unmapSegment(fresh.segment);
    } finally {
      unmapSegment(consumer);
      cleanUpSegment(name);
    }
  },
});

ringTest({
  name:
    "replace: a run's epoch is the new segment's, unless the replaced one had it (then another)",
  fn() {
    const dead = { version: 7, pid: NO_SUCH_PID, state: RingState.Open };
    for (const [wanted, same] of [[0x5eed, false], [0x1e90c, true]] as const) {
      const name = `${PREFIX}${++segments}`;
      craft(name, dead); // its epoch is 0x1e90c
      try {
        const fresh = createReplacing(name, segmentSize(64), {
          epoch: wanted,
        });
        if (same) assert.notEqual(fresh.epoch, 0x1e90c);
        else assert.equal(fresh.epoch, wanted);
        assert.notEqual(fresh.epoch, 0);
        unmapSegment(fresh.segment);
      } finally {
        unlinkSegment(name);
      }
    }
    assert.throws(
      () => createReplacing(`${PREFIX}${++segments}`, 4096, { epoch: 0 }),
      /Invalid ring epoch 0: expected an integer from 1 to 4294967295/,
    );
  },
});
