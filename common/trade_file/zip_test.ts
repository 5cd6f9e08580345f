// Zip archives as Binance publishes them (one CSV inside): read as a stream
// by every reader, the symbol from the zip's name or its entry's; a
// truncated, encrypted, multi-file or otherwise compressed archive
// is one TradeFileReadError naming the file. The archives are written here
// with fflate's zipSync, then patched where a case needs it.

import assert from "node:assert/strict";
import { zipSync } from "fflate";
import {
  TEMP_FILE_PERMISSIONS,
  testNeeding,
} from "../../tests/_permissions.ts";
import {
  detectTradeFormat,
  readTradeFile,
  type ReplayRow,
  symbolFromFileName,
  TradeFileMerger,
  TradeFileReadError,
  verifyGzip,
} from "./mod.ts";

const test = testNeeding(TEMP_FILE_PERMISSIONS);
const CSV_FIXTURE = decodeURIComponent(
  new URL(
    "../../tests/fixtures/replay/BTCUSDT-trades-2024-01-01.csv",
    import.meta.url,
  ).pathname,
);

async function rows(path: string): Promise<ReplayRow[]> {
  const out: ReplayRow[] = [];
  for await (const row of readTradeFile(path)) out.push(row);
  return out;
}

/** Runs `fn` with a temp dir, removed after. */
async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "marketbus_zip_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Offset of the central directory entry (signature PK\1\2) in `zip`. */
function directoryEntry(zip: Uint8Array): number {
  for (let i = zip.length - 22; i >= 0; i--) {
    if (
      zip[i] === 0x50 && zip[i + 1] === 0x4b && zip[i + 2] === 1 &&
      zip[i + 3] === 2
    ) return i;
  }
  throw new Error("no central directory entry");
}

/** Rejects with a one-line TradeFileReadError naming `path` and matching `reason`. */
async function assertReadError(path: string, reason: RegExp): Promise<void> {
  await assert.rejects(() => rows(path), (error) => {
    assert.ok(error instanceof TradeFileReadError, String(error));
    assert.ok(error.message.includes(JSON.stringify(path)), error.message);
    assert.match(error.message, reason);
    assert.ok(!error.message.includes("\n"), error.message);
    return true;
  });
}

test("a Binance zip reads as its CSV, deflated or stored, the symbol from the zip's name or its entry's", async () => {
  const csv = await Deno.readFile(CSV_FIXTURE);
  const expected = await rows(CSV_FIXTURE);
  assert.equal(expected.length, 5);
  await inTempDir(async (dir) => {
    const deflated = `${dir}/BTCUSDT-trades-2024-01-01.zip`;
    await Deno.writeFile(
      deflated,
      zipSync({ "BTCUSDT-trades-2024-01-01.csv": csv }),
    );
    assert.deepEqual(await rows(deflated), expected);
    assert.equal(await detectTradeFormat(deflated), "binance-csv");
    assert.equal(symbolFromFileName(deflated), "BTCUSDT");
    // Renamed: the entry's name tells the symbol; stored (method 0) too.
    const renamed = `${dir}/download.zip`;
    await Deno.writeFile(
      renamed,
      zipSync({ "BTCUSDT-trades-2024-01-01.csv": [csv, { level: 0 }] }),
    );
    assert.deepEqual(await rows(renamed), expected);
    // A directory entry is not a file; the file inside it is read.
    const nested = `${dir}/nested.zip`;
    await Deno.writeFile(
      nested,
      zipSync({ "day/": {}, "day/BTCUSDT-trades-2024-01-01.csv": csv }),
    );
    assert.deepEqual(await rows(nested), expected);
  });
});

test("a zip of many rows streams in chunks, and the merger reads it in a directory", async () => {
  const lines = ["id,price,qty,quote_qty,time,is_buyer_maker"];
  for (let i = 0; i < 200_000; i++) {
    lines.push(`${i + 1},100.5,2,201,${1704067200000 + i},True`);
  }
  await inTempDir(async (dir) => {
    await Deno.writeFile(
      `${dir}/ETHUSDT-trades-2024-01-02.zip`,
      zipSync({
        "ETHUSDT-trades-2024-01-02.csv": new TextEncoder().encode(
          lines.join("\n") + "\n",
        ),
      }),
    );
    const merger = await TradeFileMerger.open([dir]);
    let count = 0;
    let batches = 0;
    try {
      for await (const batch of merger) {
        count += batch.streams.length;
        batches++;
      }
    } finally {
      await merger.close();
    }
    assert.equal(count, 200_000);
    assert.ok(batches > 10);
    assert.deepEqual(merger.streams, [{
      exchange: "binance",
      symbol: "ETHUSDT",
    }]);
  });
});

test("a truncated, encrypted, multi-file or bzip2 zip, or a zip64 size without its field, is one TradeFileReadError naming the file", async () => {
  const csv = await Deno.readFile(CSV_FIXTURE);
  const good = zipSync({ "BTCUSDT-trades-2024-01-01.csv": csv });
  await inTempDir(async (dir) => {
    const path = `${dir}/BTCUSDT-trades-2024-01-01.zip`;
    await Deno.writeFile(path, good.subarray(0, good.length - 30));
    await assertReadError(path, /truncated one: no end of central directory/);
    await Deno.writeFile(path, good.subarray(0, 10));
    await assertReadError(path, /no end of central directory/);
    await Deno.writeFile(path, new Uint8Array(0));
    await assertReadError(path, /no end of central directory/);

    const patched = (patch: (zip: Uint8Array, entry: number) => void) => {
      const zip = good.slice();
      patch(zip, directoryEntry(zip));
      return zip;
    };
    // Encrypted: bit 0 of the general purpose flags.
    await Deno.writeFile(path, patched((zip, at) => zip[at + 8] |= 1));
    await assertReadError(path, /is encrypted, which is not supported/);
    // bzip2 (method 12).
    await Deno.writeFile(path, patched((zip, at) => zip[at + 10] = 12));
    await assertReadError(
      path,
      /compressed with method 12, which is not supported/,
    );
    // zip64: sizes 0xFFFFFFFF point to a zip64 extra field, here missing
    // (zip64_test.ts reads a whole zip64 archive).
    await Deno.writeFile(
      path,
      patched((zip, at) => zip.fill(0xff, at + 20, at + 28)),
    );
    await assertReadError(path, /in a zip64 extra field, and it has none/);
    // The local header names another file than the central directory.
    await Deno.writeFile(path, patched((zip) => zip[30] = 0x58)); // "XTCUSDT…"
    await assertReadError(
      path,
      /a local header names "XTCUSDT-trades-2024-01-01.csv", its central directory "BTCUSDT/,
    );
    // Corrupt deflate data: the first data byte (a block type of 3).
    await Deno.writeFile(
      path,
      patched((zip) => zip[30 + "BTCUSDT-trades-2024-01-01.csv".length] = 0xff),
    );
    await assertReadError(path, /corrupt zip archive: cannot decompress/);

    // A stored entry with a digit changed: only its CRC-32 tells, at its end;
    // verifyGzip() checks it before any row is used.
    const stored = zipSync({
      "BTCUSDT-trades-2024-01-01.csv": [csv, { level: 0 }],
    });
    const digit = 30 + "BTCUSDT-trades-2024-01-01.csv".length + 100;
    stored[digit] = stored[digit] === 0x31 ? 0x32 : 0x31;
    await Deno.writeFile(path, stored);
    await assertReadError(path, /CRC-32 of .* does not match/);
    await assert.rejects(
      () => verifyGzip(path),
      (error) =>
        error instanceof TradeFileReadError &&
        /after line 6: a corrupt zip archive: the CRC-32/.test(error.message),
    );
    await Deno.writeFile(path, good);
    await verifyGzip(path);

    await Deno.writeFile(path, zipSync({ "a.csv": csv, "b.csv": csv }));
    await assertReadError(
      path,
      /holds 2 files \("a\.csv", "b\.csv"\): expected one trade file/,
    );
    await Deno.writeFile(path, zipSync({ "empty/": {} }));
    await assertReadError(path, /holds no file/);
  });
});
