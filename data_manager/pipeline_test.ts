// Tests of the publishing pipeline with in-memory transports that record
// every call: what reaches them, the per-symbol seq, ts_recv, stopping on
// abort and at the end of the source, the counters, pacing by the pacing
// transports' room, and the gaps a source reports. The pipeline reads the
// wall clock through libc, hence ffiTest.

import assert from "node:assert/strict";
import { delay } from "../common/runtime/delay.ts";
import { RecordOffset } from "../common/wire/mod.ts";
import { TRADE_RECORD_SIZE, TradeFlags } from "../common/wire/trade.ts";
import { ffiTest } from "../tests/_permissions.ts";
import { LIVENESS_MS } from "../tests/_until.ts";
import { Pipeline, type PublishCounters, publishTrades } from "./pipeline.ts";
import type { TradeSink, TradeSource } from "./source.ts";
import { SyntheticSource } from "./synthetic/source.ts";
import { SyntheticGenerator, UNPACED_CHUNK } from "./synthetic/generator.ts";
import type {
  PublisherStats,
  TradePublisher,
} from "../common/transport/publisher.ts";

const SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"];

/** One record a transport was handed, copied. */
interface Sent {
  symbol: number;
  record: Uint8Array;
}

/** A transport that keeps a copy of everything it is handed. */
class RecordingTransport implements TradePublisher {
  readonly name = "recording";
  readonly sent: Sent[] = [];
  /** Called after each record is stored. */
  onSend: (sent: Sent) => void = () => {};
  closed = false;

  send(symbol: number, record: Uint8Array, offset = 0): void {
    const sent = {
      symbol,
      record: record.slice(offset, offset + TRADE_RECORD_SIZE),
    };
    this.sent.push(sent);
    this.onSend(sent);
  }

  sendBatch(symbol: number, records: Uint8Array, count: number): void {
    for (let i = 0; i < count; i++) {
      this.send(symbol, records, i * TRADE_RECORD_SIZE);
    }
  }

  ready(): boolean {
    return !this.closed;
  }

  sentPerSymbol(): number[] {
    const counts: number[] = [];
    for (const { symbol } of this.sent) {
      counts[symbol] = (counts[symbol] ?? 0) + 1;
    }
    return Array.from(counts, (count) => count ?? 0);
  }

  stats(): PublisherStats {
    return {
      messagesSent: this.sent.length,
      bytesSent: this.sent.length * TRADE_RECORD_SIZE,
      sendErrors: 0,
      bufferOverflows: 0,
      bufferUtilization: 0,
    };
  }

  summary(): string {
    return `recording ${this.sent.length}`;
  }

  /** While set, room() returns it: the publisher must wait before sending more. */
  gate: Promise<void> | undefined;

  room(): Promise<void> | undefined {
    return this.gate;
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

function field(record: Uint8Array): DataView {
  return new DataView(record.buffer, record.byteOffset, record.byteLength);
}

function seqOf(record: Uint8Array): number {
  return field(record).getUint32(RecordOffset.Seq, true);
}

function nanosAt(record: Uint8Array, offset: number): bigint {
  return field(record).getBigInt64(offset, true);
}

/** What the source itself writes, without the pipeline: symbol and 48 bytes per trade. */
function reference(count: number, seed: number): Sent[] {
  const source = new SyntheticGenerator(SYMBOLS, { seed, firstTradeId: 1 });
  return Array.from({ length: count }, () => {
    const record = new Uint8Array(TRADE_RECORD_SIZE);
    const symbol = source.next(field(record), 0, 0, 0);
    return { symbol, record };
  });
}

/** `record` without the fields the pipeline stamps (seq, ts_event, ts_recv). */
function unstamped(record: Uint8Array): Uint8Array {
  const copy = record.slice();
  copy.fill(0, RecordOffset.Seq, RecordOffset.Price);
  return copy;
}

ffiTest(
  "every record reaches every transport, as the source made it",
  async () => {
    const transports = [new RecordingTransport(), new RecordingTransport()];
    const count = 10_000; // more than two unpaced chunks
    const source = new SyntheticSource(SYMBOLS, {
      seed: 9,
      maxTrades: count,
      firstTradeId: 1,
    });
    await publishTrades(source, transports);
    assert.equal(transports[0].sent.length, count);
    assert.deepEqual(transports[1].sent, transports[0].sent);
    const expected = reference(count, 9);
    transports[0].sent.forEach((sent, i) => {
      assert.equal(sent.symbol, expected[i].symbol, `trade ${i}`);
      assert.deepEqual(
        unstamped(sent.record),
        unstamped(expected[i].record),
        `trade ${i}`,
      );
    });
  },
);

ffiTest("seq starts at 1 and goes up by 1 per symbol", async () => {
  const transport = new RecordingTransport();
  const source = new SyntheticSource(SYMBOLS, { maxTrades: 6000 });
  await publishTrades(source, [transport]);
  const next = SYMBOLS.map(() => 1);
  for (const { symbol, record } of transport.sent) {
    assert.equal(seqOf(record), next[symbol], `${SYMBOLS[symbol]}`);
    next[symbol]++;
  }
  assert.ok(next.every((seq) => seq > 1), "every symbol got trades");
});

ffiTest(
  "ts_recv (and ts_event) are the wall-clock time of publishing",
  async () => {
    const transport = new RecordingTransport();
    const source = new SyntheticSource(SYMBOLS, { maxTrades: 5000 });
    const before = BigInt(Date.now()) * 1_000_000n;
    await publishTrades(source, [transport]);
    const after = BigInt(Date.now() + 1) * 1_000_000n;
    let previous = 0n;
    for (const { record } of transport.sent) {
      const recv = nanosAt(record, RecordOffset.TsRecv);
      assert.ok(
        recv >= before && recv <= after,
        `${recv} not in ${before}..${after}`,
      );
      assert.ok(recv >= previous, "ts_recv went backwards");
      assert.equal(nanosAt(record, RecordOffset.TsEvent), recv);
      previous = recv;
    }
  },
);

ffiTest("stops when the source is done, with counters per symbol", async () => {
  const transport = new RecordingTransport();
  const source = new SyntheticSource(SYMBOLS, { maxTrades: 1234 });
  const counters = await publishTrades(source, [transport]);
  assert.equal(source.produced, 1234);
  assert.equal(counters.trades, 1234);
  assert.equal(transport.sent.length, 1234);
  const perSymbol = SYMBOLS.map((_, index) =>
    transport.sent.filter((sent) => sent.symbol === index).length
  );
  assert.deepEqual(counters.perSymbol, perSymbol);
  assert.equal(perSymbol.reduce((a, b) => a + b), 1234);
});

ffiTest(
  "counters passed in are updated live, after each trade reached every transport",
  async () => {
    const transports = [new RecordingTransport(), new RecordingTransport()];
    const counters: PublishCounters = { trades: 0, perSymbol: [0, 0, 0] };
    const seen: number[] = [];
    transports[1].onSend = () => seen.push(counters.trades);
    const source = new SyntheticSource(SYMBOLS, { maxTrades: 500 });
    const returned = await publishTrades(source, transports, { counters });
    assert.equal(returned, counters);
    assert.equal(counters.trades, 500);
    // While trade i is being sent, i trades have been counted.
    assert.deepEqual(seen, Array.from({ length: 500 }, (_, i) => i));
  },
);

ffiTest(
  "stops on abort while going flat out, at the end of the chunk",
  async () => {
    const transport = new RecordingTransport();
    const controller = new AbortController();
    transport.onSend = () => {
      if (transport.sent.length === 5000) controller.abort();
    };
    const source = new SyntheticSource(SYMBOLS); // unlimited, unpaced
    const counters = await publishTrades(source, [transport], {
      signal: controller.signal,
    });
    assert.equal(counters.trades, transport.sent.length);
    assert.ok(counters.trades >= 5000);
    assert.ok(
      counters.trades <= 2 * UNPACED_CHUNK,
      `went on for ${counters.trades} trades`,
    );
  },
);

ffiTest("stops on abort while waiting for paced trades", async () => {
  const transport = new RecordingTransport();
  const controller = new AbortController();
  // The first trade is due after a minute: the pipeline just waits.
  const source = new SyntheticSource(SYMBOLS, { rate: 1 / 60 });
  const publishing = publishTrades(source, [transport], {
    signal: controller.signal,
  });
  await delay(50);
  const abortedAt = performance.now();
  controller.abort();
  const counters = await publishing;
  const ms = performance.now() - abortedAt;
  assert.ok(ms < LIVENESS_MS, `took ${ms.toFixed(0)} ms to stop`);
  assert.equal(counters.trades, 0);
  assert.equal(counters.trades, transport.sent.length);
});

ffiTest("an already-aborted signal publishes nothing", async () => {
  const transport = new RecordingTransport();
  const source = new SyntheticSource(SYMBOLS, { maxTrades: 100 });
  const counters = await publishTrades(source, [transport], {
    signal: AbortSignal.abort(),
  });
  assert.equal(counters.trades, 0);
  assert.equal(transport.sent.length, 0);
  assert.equal(source.produced, 0);
});

ffiTest(
  "a pacing transport holds the source while its room is pending; room is ignored when it does not pace",
  async () => {
    for (const paces of [true, false]) {
      const transport = new RecordingTransport();
      let open!: () => void;
      transport.gate = new Promise((resolve) => open = resolve);
      const source = new SyntheticSource(["BTCUSDT"], { maxTrades: 10 });
      const done = publishTrades(source, [transport], {
        pacing: paces ? [transport] : [],
      });
      await delay(20);
      assert.equal(transport.sent.length, paces ? 0 : 10, `paces: ${paces}`);
      transport.gate = undefined;
      open();
      await done;
      assert.equal(transport.sent.length, 10);
    }
  },
);

ffiTest(
  "a pacing ring-like transport holds the source; a transport that does not pace is sent every trade at once",
  async () => {
    // As serve in hybrid mode: NATS (its room pending for good: it would
    // hold the source for ever if it paced) and the ring, which paces.
    const nats = new RecordingTransport();
    nats.gate = new Promise(() => {});
    const ring = new RecordingTransport();
    let open!: () => void;
    const behind: number[] = [];
    ring.onSend = () => {
      // NATS was handed this very trade just before: never held back.
      behind.push(ring.sent.length - nats.sent.length);
      if (ring.sent.length === 200) {
        ring.gate = new Promise((resolve) => open = resolve);
      }
    };
    const source = new SyntheticSource(SYMBOLS, { maxTrades: 1000 });
    const done = publishTrades(source, [nats, ring], { pacing: [ring] });
    await delay(50);
    // Held at the source's next room check (every 64 trades).
    assert.ok(
      ring.sent.length >= 200 && ring.sent.length <= 264,
      `${ring.sent.length} sent while the ring was held`,
    );
    assert.equal(nats.sent.length, ring.sent.length);
    ring.gate = undefined;
    open();
    await done;
    assert.equal(ring.sent.length, 1000);
    assert.deepEqual(nats.sent, ring.sent);
    assert.ok(behind.every((lag) => lag === 0), "NATS was sent a trade late");
  },
);

/** A source that never waits for room, like a live exchange feed. */
class LiveLikeSource implements TradeSource {
  readonly kind = "live-like";
  readonly symbols = ["BTCUSDT"];
  run(sink: TradeSink): Promise<void> {
    for (let i = 0; i < 100; i++) {
      sink.publish(0, new Uint8Array(TRADE_RECORD_SIZE));
    }
    return Promise.resolve();
  }
  summary(): string {
    return "live-like";
  }
}

Deno.test("a source that never waits for room starts once the pacing transports have room", async () => {
  const transport = new RecordingTransport();
  let open!: () => void;
  transport.gate = new Promise((resolve) => open = resolve);
  const done = publishTrades(new LiveLikeSource(), [transport], {
    pacing: [transport],
  });
  await delay(20);
  assert.equal(transport.sent.length, 0, "started before the readers came");
  transport.gate = undefined;
  open();
  await done;
  assert.equal(transport.sent.length, 100);
});

ffiTest(
  "stops on abort while a pacing transport holds the source",
  async () => {
    const transport = new RecordingTransport();
    transport.gate = new Promise(() => {}); // held for good
    const controller = new AbortController();
    const source = new SyntheticSource(SYMBOLS); // unlimited, unpaced
    const publishing = publishTrades(source, [transport], {
      signal: controller.signal,
      pacing: [transport],
    });
    await delay(50);
    const abortedAt = performance.now();
    controller.abort();
    const counters = await publishing;
    const ms = performance.now() - abortedAt;
    assert.ok(ms < LIVENESS_MS, `took ${ms.toFixed(0)} ms to stop`);
    assert.equal(counters.trades, 0);
    assert.equal(transport.sent.length, 0);
  },
);

function flagsOf(record: Uint8Array): number {
  return field(record).getUint16(RecordOffset.Flags, true);
}

/** A record as a source hands it over: its own flags, seq left to the sink. */
function sourceRecord(flags = TradeFlags.Replayed): Uint8Array {
  const record = new Uint8Array(TRADE_RECORD_SIZE);
  field(record).setUint16(RecordOffset.Flags, flags, true);
  return record;
}

Deno.test("a gap skips the symbol's seq by its count and flags its next record only", () => {
  const transport = new RecordingTransport();
  const pipeline = new Pipeline(SYMBOLS, [transport]);
  const publish = (symbol: number) => pipeline.publish(symbol, sourceRecord());
  publish(0);
  pipeline.gap(0, 5);
  publish(1); // another symbol: neither skipped nor flagged
  publish(0);
  publish(0);
  pipeline.gap(2, 1);
  pipeline.gap(2, 2); // two reported gaps add up, one flag
  publish(2);
  assert.deepEqual(
    transport.sent.map(({ symbol, record }) => [
      symbol,
      seqOf(record),
      flagsOf(record),
    ]),
    [
      [0, 1, TradeFlags.Replayed],
      [1, 1, TradeFlags.Replayed],
      [0, 7, TradeFlags.Replayed | TradeFlags.Gap],
      [0, 8, TradeFlags.Replayed],
      [2, 4, TradeFlags.Replayed | TradeFlags.Gap],
    ],
  );
  assert.equal(pipeline.counters.trades, 5, "a gap is not a trade published");
});

Deno.test("a gap's seq wraps at 2^32, exactly for any count", () => {
  const transport = new RecordingTransport();
  const pipeline = new Pipeline(["BTCUSDT"], [transport]);
  pipeline.publish(0, sourceRecord()); // seq 1
  pipeline.gap(0, 2 ** 32 - 1); // seq 2 .. 2^32 (≡ 0) missing
  pipeline.publish(0, sourceRecord()); // seq 1 again
  pipeline.publish(0, sourceRecord()); // 2
  // ≡ 2^32 - 1 (mod 2^32); 2 + 2^53 - 1 is not a double, rounding would say 1.
  pipeline.gap(0, Number.MAX_SAFE_INTEGER);
  pipeline.publish(0, sourceRecord());
  assert.deepEqual(
    transport.sent.map(({ record }) => seqOf(record)),
    [1, 1, 2, 2],
  );
});

Deno.test("a gap of a count below 1 or fractional is a RangeError", () => {
  const pipeline = new Pipeline(["BTCUSDT"], [new RecordingTransport()]);
  for (const count of [0, -1, 1.5, NaN, Infinity, 2 ** 53]) {
    assert.throws(() => pipeline.gap(0, count), RangeError, `${count}`);
  }
  const transport = new RecordingTransport();
  const after = new Pipeline(["BTCUSDT"], [transport]);
  assert.throws(() => after.gap(0, -1), RangeError);
  after.publish(0, sourceRecord(0));
  const [{ record }] = transport.sent;
  assert.deepEqual(
    [seqOf(record), flagsOf(record)],
    [1, 0],
    "refused gap left a mark",
  );
});

/** A recording transport that defers its work until flushed (as the ring defers its commit). */
class DeferringTransport extends RecordingTransport {
  flushes = 0;

  flush(): void {
    this.flushes++;
  }
}

Deno.test("flush() flushes every transport that defers, and skips the others", () => {
  const deferring = [new DeferringTransport(), new DeferringTransport()];
  const plain = new RecordingTransport();
  const pipeline = new Pipeline(SYMBOLS, [deferring[0], plain, deferring[1]]);
  pipeline.publish(0, sourceRecord());
  assert.deepEqual(deferring.map((t) => t.flushes), [0, 0]);
  pipeline.flush();
  pipeline.flush();
  assert.deepEqual(deferring.map((t) => t.flushes), [2, 2]);
  assert.equal(plain.sent.length, 1);
});

Deno.test("Pipeline: once the lease no longer holds, no trade reaches a transport and ended() is called once", () => {
  const transport = new RecordingTransport();
  let holds = true;
  let ended = 0;
  const pipeline = new Pipeline(["BTCUSDT"], [transport], {
    lease: { holds: () => holds, ended: () => ended++ },
  });
  const record = new Uint8Array(TRADE_RECORD_SIZE);
  pipeline.publish(0, record);
  holds = false;
  pipeline.publish(0, record);
  pipeline.publish(0, record);
  assert.equal(transport.sent.length, 1);
  assert.equal(ended, 1);
});
