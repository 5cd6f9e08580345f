import assert from "node:assert/strict";
import { join } from "node:path";
import type { Bar } from "./bar.ts";
import { BarWriter, formatBarLine, RecordFileError } from "./bar_writer.ts";
import { TEMP_FILE_PERMISSIONS, testNeeding } from "../tests/_permissions.ts";

/** Tests that write files: skipped, saying why, without those permissions. */
const test = {
  tempFiles: testNeeding(TEMP_FILE_PERMISSIONS),
  writing: testNeeding([{ name: "write" }]),
};

const T0 = 1_704_067_200_000; // 2024-01-01T00:00:00Z

function bar(i: number): Bar {
  const empty = i % 4 === 3;
  const price = 42_283.58 + i * 0.01;
  return {
    exchange: "binance",
    symbol: i % 2 === 0 ? "BTCUSDT" : "ETHUSDT",
    interval: "1s",
    intervalMs: 1000,
    start: T0 + i * 1000,
    end: T0 + (i + 1) * 1000,
    open: price,
    high: empty ? price : price + 1.5,
    low: empty ? price : price - 0.1,
    close: price,
    volume: empty ? 0 : 0.1 + 0.2, // awkward doubles on purpose
    buyVolume: empty ? 0 : 1e-9,
    sellVolume: empty ? 0 : 0.3 - 1e-9,
    notional: empty ? 0 : price * (0.1 + 0.2),
    vwap: empty ? null : price * (0.1 + 0.2) / (0.1 + 0.2),
    trades: empty ? 0 : i + 1,
    complete: i % 5 !== 2,
  };
}

Deno.test("formatBarLine: fixed field order, ISO times, null vwap, complete last", () => {
  assert.equal(
    formatBarLine(bar(3)),
    '{"exchange":"binance","symbol":"ETHUSDT","interval":"1s","intervalMs":1000,' +
      `"start":${T0 + 3000},"end":${T0 + 4000},` +
      '"startTime":"2024-01-01T00:00:03.000Z","endTime":"2024-01-01T00:00:04.000Z",' +
      '"open":42283.61,"high":42283.61,"low":42283.61,"close":42283.61,' +
      '"volume":0,"buyVolume":0,"sellVolume":0,"notional":0,"vwap":null,"trades":0,' +
      '"complete":true}',
  );
  assert.ok(formatBarLine(bar(2)).endsWith(',"trades":3,"complete":false}'));
});

test.tempFiles("BarWriter: appends to a bar file written before `complete` existed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "bars.ndjson");
    const oldLine = formatBarLine(bar(0)).replace(',"complete":true}', "}");
    assert.equal(JSON.parse(oldLine).complete, undefined);
    await Deno.writeTextFile(path, `${oldLine}\n`);
    const writer = await BarWriter.open(path, { onExisting: "append" });
    writer.write(bar(2));
    writer.close();
    const lines = (await Deno.readTextFile(path)).trimEnd().split("\n");
    assert.deepEqual(lines, [oldLine, formatBarLine(bar(2))]);
    assert.equal(JSON.parse(lines[1]).complete, false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test.tempFiles("BarWriter: lines parse back to the same bars; close flushes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "bars.ndjson");
    await Deno.writeTextFile(path, "old contents\n");
    const bars = Array.from({ length: 2000 }, (_, i) => bar(i));
    // No timer flush: only by size and at close.
    const writer = await BarWriter.open(path, {
      onExisting: "overwrite",
      chunkChars: 10_000,
      flushIntervalMs: 0,
    });
    assert.equal(writer.path, path);
    for (const b of bars.slice(0, 10)) writer.write(b);
    assert.equal(writer.bytes, 0, "10 bars wait in the buffer");
    assert.equal(await Deno.readTextFile(path), "");
    for (const b of bars.slice(10)) writer.write(b);
    assert.ok(writer.bytes > 0, "chunks were written before close");
    assert.equal(writer.lines, bars.length);
    writer.close();
    writer.close(); // idempotent
    assert.ok(writer.closed);
    assert.throws(() => writer.write(bars[0]), /--bars-out file .* is closed/);
    const text = await Deno.readTextFile(path);
    assert.equal(writer.bytes, new TextEncoder().encode(text).length);
    assert.ok(text.endsWith("}\n"));
    const lines = text.slice(0, -1).split("\n");
    assert.equal(lines.length, bars.length);
    lines.forEach((line, i) => {
      const { startTime, endTime, ...rest } = JSON.parse(line);
      assert.deepEqual(rest, bars[i], `line ${i + 1}`);
      assert.equal(Date.parse(startTime), bars[i].start);
      assert.equal(Date.parse(endTime), bars[i].end);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test.tempFiles("BarWriter: the timer flushes a waiting bar", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "bars.ndjson");
    using writer = await BarWriter.open(path, { flushIntervalMs: 10 });
    writer.write(bar(0));
    assert.equal(writer.bytes, 0);
    for (let i = 0; i < 100 && writer.bytes === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(await Deno.readTextFile(path), `${formatBarLine(bar(0))}\n`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "BarWriter: without write permission, says which --allow-write --bars-out needs",
  permissions: { write: false },
  async fn() {
    await assert.rejects(
      BarWriter.open("/tmp/never-written-bars.ndjson"),
      (error: unknown) => {
        assert.ok(error instanceof RecordFileError);
        assert.equal(error.path, "/tmp/never-written-bars.ndjson");
        assert.equal(
          error.message,
          "--bars-out needs write permission for /tmp/never-written-bars.ndjson: run with --allow-write=/tmp/never-written-bars.ndjson",
        );
        return true;
      },
    );
  },
});

test.writing("BarWriter: an unwritable directory is a RecordFileError naming --bars-out", async () => {
  await assert.rejects(
    BarWriter.open("/nonexistent-dir-marketbus/bars.ndjson"),
    (error: unknown) =>
      error instanceof RecordFileError &&
      error.message.startsWith(
        "--bars-out cannot open /nonexistent-dir-marketbus/bars.ndjson for writing: ",
      ),
  );
});
