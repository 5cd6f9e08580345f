// Tests of the shared-memory transport in one process: one ring per symbol,
// records reaching a RingReader, counters, clean-up at close, and start-up
// failures that must leave nothing behind. Every test has its own segment
// prefix and removes whatever is left under it.

import assert from "node:assert/strict";
import { encodeTrade } from "../common/wire/codec.ts";
import {
  openSegment,
  RingInUseError,
  RingReader,
  RingState,
  RingWriter,
  unmapSegment,
} from "../common/ipc/mod.ts";
import { Header } from "../common/ipc/layout.ts";
import { Side, TRADE_RECORD_SIZE } from "../common/wire/trade.ts";
import { type ShmScope, shmScope } from "./_ipc_roles.ts";
import { ffiTest } from "./_permissions.ts";
import { RingPublisher } from "../common/ipc/ring_publisher.ts";

const SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"];
/** A pid no process has (above Linux's largest pid_max, 2^22). */
const NO_SUCH_PID = 0x7fff_fffe;

function open(shm: ShmScope, capacity = 64): RingPublisher {
  return RingPublisher.open(SYMBOLS, {
    exchange: "binance",
    shmPathPrefix: shm.prefix,
    capacity,
    heartbeatIntervalMs: 50,
  });
}

/** `count` valid records back to back; trade ids start at `firstId`. */
function records(count: number, firstId = 1): Uint8Array {
  const bytes = new Uint8Array(count * TRADE_RECORD_SIZE);
  for (let i = 0; i < count; i++) {
    encodeTrade(
      {
        side: Side.Sell,
        flags: 0,
        seq: firstId + i,
        tsEvent: 1n,
        tsRecv: 1n,
        priceFixed: 2_000_000_000n,
        size: 0.5,
        tradeId: BigInt(firstId + i),
      },
      bytes,
      { offset: i * TRADE_RECORD_SIZE },
    );
  }
  return bytes;
}

/** Everything a reader can read now, as one byte array. */
function drain(reader: RingReader): Uint8Array {
  const chunks: Uint8Array[] = [];
  const one = new Uint8Array(TRADE_RECORD_SIZE);
  while (reader.read(one)) chunks.push(one.slice());
  const all = new Uint8Array(chunks.length * TRADE_RECORD_SIZE);
  chunks.forEach((chunk, i) => all.set(chunk, i * TRADE_RECORD_SIZE));
  return all;
}

/** Rewrites the producer pid in a ring's header (to fake another producer). */
function setProducerPid(name: string, pid: number): void {
  const segment = openSegment(name);
  try {
    new DataView(segment.buffer).setInt32(Header.ProducerPid, pid, true);
  } finally {
    unmapSegment(segment);
  }
}

ffiTest(
  "open creates one ring per symbol, named {prefix}{exchange}_{SYMBOL}",
  async () => {
    using shm = shmScope();
    const transport = open(shm, 128);
    try {
      const names = SYMBOLS.map((symbol) => shm.ring(symbol));
      assert.deepEqual(transport.segments, names);
      assert.deepEqual(shm.existing(), [...names].sort());
      assert.deepEqual(transport.replaced, []);
      assert.equal(transport.name, "ipc");
      assert.ok(transport.ready());
      for (const name of names) {
        const reader = RingReader.open(name);
        try {
          assert.equal(reader.capacity, 128);
          assert.equal(reader.heartbeatIntervalMs, 50);
          assert.equal(reader.producerPid, Deno.pid);
          assert.equal(reader.state(), RingState.Open);
        } finally {
          reader.close();
        }
      }
    } finally {
      await transport.close();
    }
  },
);

ffiTest(
  "send and sendBatch reach a RingReader of that symbol's ring only",
  async () => {
    using shm = shmScope();
    const transport = open(shm);
    const readers = SYMBOLS.map((symbol) =>
      RingReader.open(shm.ring(symbol), { from: "first" })
    );
    try {
      const one = records(2, 100); // send the second record: offset 48
      transport.send(1, one, TRADE_RECORD_SIZE);
      const batch = records(3, 7);
      transport.sendBatch(0, batch, 3);
      assert.deepEqual(drain(readers[0]), batch);
      assert.deepEqual(drain(readers[1]), one.subarray(TRADE_RECORD_SIZE));
      assert.equal(drain(readers[2]).length, 0);
    } finally {
      for (const reader of readers) reader.close();
      await transport.close();
    }
  },
);

ffiTest(
  "stats count messages and bytes, and how full the rings are",
  async () => {
    using shm = shmScope();
    const transport = open(shm, 64);
    try {
      assert.deepEqual(transport.stats(), {
        messagesSent: 0,
        bytesSent: 0,
        sendErrors: 0,
        bufferOverflows: 0,
        bufferUtilization: 0,
      });
      transport.sendBatch(0, records(4), 4);
      transport.send(2, records(1));
      let stats = transport.stats();
      assert.equal(stats.messagesSent, 5);
      assert.equal(stats.bytesSent, 5 * TRADE_RECORD_SIZE);
      assert.equal(stats.bufferUtilization, 5 / (3 * 64));
      transport.sendBatch(1, records(100), 100); // wraps its ring
      stats = transport.stats();
      assert.equal(stats.messagesSent, 105);
      assert.equal(stats.bufferUtilization, (4 + 64 + 1) / (3 * 64));
      assert.equal(
        stats.bufferOverflows,
        0,
        "a ring overwrites, never overflows",
      );
      assert.equal(stats.sendErrors, 0);
    } finally {
      await transport.close();
    }
  },
);

ffiTest(
  "close marks every ring closed and unlinks it; sending afterwards is an error",
  async () => {
    using shm = shmScope();
    const transport = open(shm);
    const reader = RingReader.open(shm.ring("ETHUSDT"));
    try {
      transport.send(1, records(1));
      await transport.close();
      assert.deepEqual(shm.existing(), []);
      assert.equal(reader.state(), RingState.Closed);
      assert.equal(transport.ready(), false);
      assert.throws(() => transport.send(0, records(1)), /is closed/);
      assert.throws(() => transport.sendBatch(0, records(2), 2), /is closed/);
      assert.equal(transport.stats().sendErrors, 2);
      assert.equal(transport.stats().messagesSent, 1);
      await transport.close(); // idempotent
    } finally {
      reader.close();
    }
  },
);

ffiTest(
  "a ring held by another live producer: RingInUseError, and the rings created before it are removed",
  () => {
    using shm = shmScope();
    // ETHUSDT's ring, "published" by pid 1 (always alive).
    const other = RingWriter.create(shm.ring("ETHUSDT"), { capacity: 64 });
    try {
      setProducerPid(other.name, 1);
      assert.throws(() => open(shm), (error: unknown) => {
        assert.ok(error instanceof RingInUseError, String(error));
        assert.equal(error.pid, 1);
        assert.equal(error.segment, shm.ring("ETHUSDT"));
        assert.match(
          error.message,
          /being published by another data_manager \(pid 1\)/,
        );
        return true;
      });
      // BTCUSDT was created first and removed again; SOLUSDT never was.
      assert.deepEqual(shm.existing(), [shm.ring("ETHUSDT")]);
    } finally {
      other.close();
    }
  },
);

ffiTest(
  "open replaces a ring left by a producer that is gone, and says so",
  async () => {
    using shm = shmScope();
    const stale = RingWriter.create(shm.ring("SOLUSDT"), { capacity: 64 });
    setProducerPid(stale.name, NO_SUCH_PID);
    const old = RingReader.open(stale.name);
    const transport = open(shm);
    try {
      assert.deepEqual(transport.replaced, [{
        name: shm.ring("SOLUSDT"),
        pid: NO_SUCH_PID,
        reason: `its producer (pid ${NO_SUCH_PID}) is gone`,
      }]);
      assert.equal(old.state(), RingState.Closed, "old consumers are told");
      stale.close(); // not its ring any more: must not unlink the new one
      assert.equal(shm.existing().length, SYMBOLS.length);
      const current = RingReader.open(shm.ring("SOLUSDT"));
      assert.notEqual(current.epoch, old.epoch);
      current.close();
    } finally {
      old.close();
      stale.close();
      await transport.close();
    }
  },
);
