// zip64 archives (a monthly Binance file over 4 GiB is one) read as any zip:
// the archive is written here with zip64 records only (sizes and offsets
// 0xFFFFFFFF in the classic records, the real ones in the zip64 end record
// and extra fields), as `zip -fz` writes it. And a zip whose inflated data
// exceeds its declared size fails at once, not after its last row.

import assert from "node:assert/strict";
import { deflateSync, zipSync } from "fflate";
import {
  TEMP_FILE_PERMISSIONS,
  testNeeding,
} from "../../tests/_permissions.ts";
import { readTradeFile, TradeFileMerger, TradeFileReadError } from "./mod.ts";

const test = testNeeding(TEMP_FILE_PERMISSIONS);
const NAME = "BTCUSDT-trades-2024-01-01.csv";

/** The CRC-32 (IEEE) of `bytes`. */
function crc32(bytes: Uint8Array): number {
  let crc = -1;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) {
      crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
    }
  }
  return (crc ^ -1) >>> 0;
}

/** Little-endian fields as bytes: [value, width] pairs (width 2, 4 or 8). */
function fields(...values: [number, 2 | 4 | 8][]): Uint8Array {
  const bytes = new Uint8Array(values.reduce((sum, [, w]) => sum + w, 0));
  const view = new DataView(bytes.buffer);
  let at = 0;
  for (const [value, width] of values) {
    if (width === 2) view.setUint16(at, value, true);
    else if (width === 4) view.setUint32(at, value, true);
    else view.setBigUint64(at, BigInt(value), true);
    at += width;
  }
  return bytes;
}

/** `parts` joined. */
function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A zip64 archive of `data` as entry `name`, deflated, every size and offset in zip64 records. */
function zip64(name: string, data: Uint8Array): Uint8Array {
  const FF = 0xffffffff;
  const nameBytes = new TextEncoder().encode(name);
  const packed = deflateSync(data);
  const crc = crc32(data);
  const local = concat(
    fields([0x04034b50, 4], [45, 2], [0, 2], [8, 2], [0, 2], [0x21, 2]),
    fields([crc, 4], [FF, 4], [FF, 4], [nameBytes.length, 2], [20, 2]),
    nameBytes,
    fields([1, 2], [16, 2], [data.length, 8], [packed.length, 8]),
    packed,
  );
  const central = concat(
    fields([0x02014b50, 4], [45, 2], [45, 2], [0, 2], [8, 2], [0, 2]),
    fields([0x21, 2], [crc, 4], [FF, 4], [FF, 4], [nameBytes.length, 2]),
    fields([28, 2], [0, 2], [0, 2], [0, 2], [0, 4], [FF, 4]),
    nameBytes,
    fields([1, 2], [24, 2], [data.length, 8], [packed.length, 8], [0, 8]),
  );
  const end64 = local.length + central.length;
  return concat(
    local,
    central,
    fields([0x06064b50, 4], [44, 8], [45, 2], [45, 2], [0, 4], [0, 4]),
    fields([1, 8], [1, 8], [central.length, 8], [local.length, 8]),
    fields([0x07064b50, 4], [0, 4], [end64, 8], [1, 4]),
    fields([0x06054b50, 4], [0, 2], [0, 2], [0xffff, 2], [0xffff, 2]),
    fields([FF, 4], [FF, 4], [0, 2]),
  );
}

/** A CSV of `count` rows. */
function csv(count: number): Uint8Array {
  const lines = ["id,price,qty,quote_qty,time,is_buyer_maker,is_best_match"];
  for (let i = 0; i < count; i++) {
    lines.push(`${i + 1},100.5,2,201,${1704067200000 + i},True,True`);
  }
  return new TextEncoder().encode(lines.join("\n") + "\n");
}

/** Trades the merger reads from `path` before it ends or fails (then the error too). */
async function mergeCount(path: string): Promise<[number, unknown]> {
  let count = 0;
  let merger: TradeFileMerger | undefined;
  try {
    merger = await TradeFileMerger.open([path], { workers: 0 });
    for await (const batch of merger) count += batch.streams.length;
    return [count, undefined];
  } catch (error) {
    return [count, error];
  } finally {
    await merger?.close();
  }
}

test("a zip64 archive reads as its CSV, by the readers and the merger", async () => {
  const dir = await Deno.makeTempDir({ prefix: "marketbus_zip64_" });
  try {
    const path = `${dir}/BTCUSDT-trades-2024-01-01.zip`;
    await Deno.writeFile(path, zip64(NAME, csv(50_000)));
    let rows = 0;
    for await (const _ of readTradeFile(path)) rows++;
    assert.equal(rows, 50_000);
    assert.deepEqual(await mergeCount(path), [50_000, undefined]);
    // A locator pointing nowhere: one line.
    const broken = zip64(NAME, csv(10));
    const locator = broken.length - 22 - 20;
    broken[locator + 8] ^= 0x40;
    await Deno.writeFile(path, broken);
    const [, error] = await mergeCount(path);
    assert.ok(error instanceof TradeFileReadError, String(error));
    assert.match(error.message, /no zip64 end of central directory record/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

test("a zip inflating past its declared size fails at once, before its rows are merged", async () => {
  const dir = await Deno.makeTempDir({ prefix: "marketbus_zip64_" });
  try {
    const path = `${dir}/BTCUSDT-trades-2024-01-01.zip`;
    const zip = zipSync({ [NAME]: csv(200_000) });
    // The central directory's uncompressed size says 1000 bytes.
    let entry = zip.length - 22;
    while (new DataView(zip.buffer).getUint32(entry, true) !== 0x02014b50) {
      entry--;
    }
    new DataView(zip.buffer).setUint32(entry + 24, 1000, true);
    await Deno.writeFile(path, zip);
    const [count, error] = await mergeCount(path);
    assert.ok(error instanceof TradeFileReadError, String(error));
    assert.match(error.message, /decompresses to more than the 1000 bytes/);
    assert.ok(count < 1000, `${count} trades merged before the error`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
