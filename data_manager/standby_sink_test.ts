// The hot standby's sink: what it buffers while standing by, and what the
// pipeline publishes at the takeover, per symbol: nothing the owner already
// published (by trade id), the seq run continuing the owner's, and a gap of
// exactly the trades neither the owner published nor the buffer held.

import assert from "node:assert/strict";
import { RecordOffset } from "../common/wire/mod.ts";
import { TRADE_RECORD_SIZE, TradeFlags } from "../common/wire/trade.ts";
import type {
  PublisherStats,
  TradePublisher,
} from "../common/transport/publisher.ts";
import { Pipeline } from "./pipeline.ts";
import { StandbySink } from "./standby_sink.ts";

/** What a transport was handed: symbol, trade id, seq, flags. */
interface Got {
  symbol: number;
  id: number;
  seq: number;
  gap: boolean;
}

/** A transport that keeps what it is handed. */
class Recording implements TradePublisher {
  readonly name = "recording";
  readonly got: Got[] = [];
  send(symbol: number, record: Uint8Array, offset = 0): void {
    const view = new DataView(record.buffer, record.byteOffset + offset);
    this.got.push({
      symbol,
      id: Number(view.getBigUint64(RecordOffset.TradeId, true)),
      seq: view.getUint32(RecordOffset.Seq, true),
      gap: (view.getUint16(RecordOffset.Flags, true) & TradeFlags.Gap) !== 0,
    });
  }
  sendBatch(): void {
    throw new Error("not used");
  }
  ready(): boolean {
    return true;
  }
  sentPerSymbol(): number[] {
    return [];
  }
  stats(): PublisherStats {
    return {
      messagesSent: 0,
      bytesSent: 0,
      sendErrors: 0,
      bufferOverflows: 0,
      bufferUtilization: 0,
    };
  }
  summary(): string {
    return "";
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A record of trade `id` (everything else zero: the sink reads only the id). */
function record(id: number): Uint8Array {
  const bytes = new Uint8Array(TRADE_RECORD_SIZE);
  new DataView(bytes.buffer).setBigUint64(
    RecordOffset.TradeId,
    BigInt(id),
    true,
  );
  return bytes;
}

function setUp(capacity: number, lastSeqs: number[]) {
  const sink = new StandbySink(["A", "B"], capacity);
  const transport = new Recording();
  const pipeline = new Pipeline(["A", "B"], [transport], { lastSeqs });
  return { sink, transport, pipeline };
}

Deno.test("standby sink: at the takeover the buffered trades after the owner's last one are published, the seq continuing the owner's, and none before", () => {
  const { sink, transport, pipeline } = setUp(10, [40, 7]);
  for (let id = 1; id <= 8; id++) sink.publish(0, record(id));
  for (let id = 101; id <= 104; id++) sink.publish(1, record(id));
  assert.equal(transport.got.length, 0, "nothing while standing by");
  // The owner published A up to id 5 (seq 40) and B up to 102 (seq 7).
  sink.takeOver(pipeline, [5n, 102n]);
  sink.publish(0, record(9));
  assert.deepEqual(
    transport.got.map((g) => [g.symbol, g.id, g.seq, g.gap]),
    [
      [0, 6, 41, false],
      [0, 7, 42, false],
      [0, 8, 43, false],
      [1, 103, 8, false],
      [1, 104, 9, false],
      [0, 9, 44, false],
    ],
  );
  assert.deepEqual(sink.counts, {
    skipped: [5, 2],
    lost: [0, 0],
    replayed: [3, 2],
  });
});

Deno.test("standby sink: trades the buffer no longer holds are a gap of exactly their count: the seq skips them and the next trade is flagged", () => {
  const { sink, transport, pipeline } = setUp(4, [10, 0]);
  for (let id = 1; id <= 20; id++) sink.publish(0, record(id)); // holds 17..20
  sink.takeOver(pipeline, [12n, undefined]);
  assert.deepEqual(
    transport.got.map((g) => [g.id, g.seq, g.gap]),
    [
      [17, 15, true], // 13..16 lost: seq 11..14 skipped
      [18, 16, false],
      [19, 17, false],
      [20, 18, false],
    ],
  );
  assert.deepEqual(sink.counts.lost, [4, 0]);
});

Deno.test("standby sink: a standby behind its owner skips new trades until it passes the owner's last one; a symbol with nothing to resume after starts at the next new trade", () => {
  const { sink, transport, pipeline } = setUp(4, [50, 0]);
  sink.publish(0, record(1));
  sink.publish(1, record(500));
  sink.takeOver(pipeline, [3n, undefined]);
  assert.equal(
    transport.got.length,
    0,
    "id 1 is the owner's; B's buffer is dropped",
  );
  for (let id = 2; id <= 5; id++) sink.publish(0, record(id));
  sink.publish(1, record(501));
  assert.deepEqual(
    transport.got.map((g) => [g.symbol, g.id, g.seq, g.gap]),
    [
      [0, 4, 51, false],
      [0, 5, 52, false],
      [1, 501, 1, false],
    ],
  );
  assert.deepEqual(sink.counts.skipped, [3, 0]);
});

Deno.test("standby sink: a buffer of fewer than one trade is refused naming the key", () => {
  assert.throws(
    () => new StandbySink(["A"], 0),
    (error) =>
      error instanceof RangeError &&
      /standby buffer 0 \(registry\.standby_buffer\)/.test(error.message),
  );
});
