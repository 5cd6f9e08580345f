/**
 * Reading the one trade file of a `.zip` archive as a stream, as Binance
 * publishes its daily and monthly trade files (`BTCUSDT-trades-2024-01-01.zip`
 * holding `BTCUSDT-trades-2024-01-01.csv`): the central directory at the end
 * is checked first (one entry, stored or deflated, not encrypted; zip64, as
 * a monthly file over 4 GiB is, read from its zip64 records), then the archive is read from its start through fflate's streaming
 * {@linkcode Unzip}, no temp file and no whole entry in memory.
 *
 * @module
 */

import { Unzip, UnzipInflate } from "fflate";

/** The file entry of a zip, from its central directory. */
export interface ZipEntry {
  /** Its name in the archive (a path with `/`). */
  name: string;
  /** Its size once decompressed, bytes. */
  size: number;
  /** The CRC-32 of its decompressed bytes. */
  crc: number;
}

/** Why a zip cannot be read: the reason of a TradeFileReadError. */
export class ZipProblem extends Error {
  /** A problem saying `reason`. */
  constructor(reason: string) {
    super(reason);
    this.name = "ZipProblem";
  }
}

const EOCD_SIGNATURE = 0x06054b50;
const EOCD_SIZE = 22;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_END_SIGNATURE = 0x06064b50;
const ZIP64_END_SIZE = 56;
const ZIP64_EXTRA_ID = 0x0001;
const ENTRY_SIGNATURE = 0x02014b50;
const ENTRY_SIZE = 46;
const MAX_COMMENT = 0xffff;
const STORED = 0;
const DEFLATED = 8;
const ZIP64 = 0xffffffff;

/** Whether `head`, a file's first bytes, starts as a zip archive does ("PK"). */
export function hasZipMagic(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x50 && head[1] === 0x4b;
}

/** Reads `length` bytes of `file` at `position`, fewer at its end. */
async function readAt(
  file: Deno.FsFile,
  position: number,
  length: number,
): Promise<Uint8Array> {
  await file.seek(position, Deno.SeekMode.Start);
  const bytes = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const read = await file.read(bytes.subarray(filled));
    if (read === null) break;
    filled += read;
  }
  return bytes.subarray(0, filled);
}

/** The end of central directory record in `tail` (the file's last bytes): its offset there, or -1. */
function findEnd(tail: Uint8Array, view: DataView): number {
  for (let at = tail.length - EOCD_SIZE; at >= 0; at--) {
    if (
      view.getUint32(at, true) === EOCD_SIGNATURE &&
      at + EOCD_SIZE + view.getUint16(at + 20, true) === tail.length
    ) return at;
  }
  return -1;
}

/**
 * The one file entry of the zip `file` (`size` bytes), from its central
 * directory; directory entries are ignored.
 *
 * @throws {ZipProblem} when it is not a zip or is truncated (no end record,
 * or a directory beyond it), holds no file or more than one, or
 * its file is encrypted or compressed otherwise than stored or deflated.
 */
export async function readZipEntry(
  file: Deno.FsFile,
  size: number,
): Promise<ZipEntry> {
  const tailLength = Math.min(size, EOCD_SIZE + MAX_COMMENT);
  const tail = await readAt(file, size - tailLength, tailLength);
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  const end = findEnd(tail, view);
  if (end < 0) {
    throw new ZipProblem(
      "not a zip archive, or a truncated one: no end of central directory record",
    );
  }
  const endOffset = size - tailLength + end;
  const locator = end - ZIP64_LOCATOR_SIZE;
  const { entries, directorySize, directoryOffset } =
    locator >= 0 && view.getUint32(locator, true) === ZIP64_LOCATOR_SIGNATURE
      ? await zip64End(file, u64(view, locator + 8), endOffset)
      : {
        entries: view.getUint16(end + 10, true),
        directorySize: view.getUint32(end + 12, true),
        directoryOffset: view.getUint32(end + 16, true),
      };
  if (directoryOffset + directorySize > endOffset) {
    throw new ZipProblem(
      "a truncated zip archive: its central directory lies beyond the end of the file",
    );
  }
  const directory = await readAt(file, directoryOffset, directorySize);
  return onlyFile(directory, entries);
}

/** The u64 at `at` of `view`, a number (a zip's sizes and offsets stay below 2^53). */
function u64(view: DataView, at: number): number {
  const value = view.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ZipProblem(
      `a corrupt zip archive: a zip64 size or offset of ${value} bytes`,
    );
  }
  return Number(value);
}

/** The directory's place and entries from the zip64 end record at `offset` (before `endOffset`). */
async function zip64End(
  file: Deno.FsFile,
  offset: number,
  endOffset: number,
): Promise<
  { entries: number; directorySize: number; directoryOffset: number }
> {
  const record = offset + ZIP64_END_SIZE <= endOffset
    ? await readAt(file, offset, ZIP64_END_SIZE)
    : new Uint8Array(0);
  const view = new DataView(record.buffer, record.byteOffset, record.length);
  if (
    record.length < ZIP64_END_SIZE ||
    view.getUint32(0, true) !== ZIP64_END_SIGNATURE
  ) {
    throw new ZipProblem(
      "a corrupt zip64 archive: no zip64 end of central directory record where its locator says",
    );
  }
  return {
    entries: u64(view, 32),
    directorySize: u64(view, 40),
    directoryOffset: u64(view, 48),
  };
}

/**
 * The uncompressed size of a central directory entry whose 32-bit size is
 * 0xFFFFFFFF, from its zip64 extra field `extra` (the first of its values).
 */
function zip64Size(extra: Uint8Array, name: string): number {
  const view = new DataView(extra.buffer, extra.byteOffset, extra.length);
  for (let at = 0; at + 4 <= extra.length;) {
    const length = view.getUint16(at + 2, true);
    if (view.getUint16(at, true) === ZIP64_EXTRA_ID && length >= 8) {
      return u64(view, at + 4);
    }
    at += 4 + length;
  }
  throw new ZipProblem(
    `a corrupt zip archive: entry ${
      JSON.stringify(name)
    } says its size is in a zip64 extra field, and it has none`,
  );
}

/** The one file entry of central directory `bytes` holding `entries` entries. */
function onlyFile(bytes: Uint8Array, entries: number): ZipEntry {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder();
  const files: (ZipEntry & { flags: number; method: number })[] = [];
  let at = 0;
  for (let i = 0; i < entries; i++) {
    if (
      at + ENTRY_SIZE > bytes.length ||
      view.getUint32(at, true) !== ENTRY_SIGNATURE
    ) {
      throw new ZipProblem(
        `a corrupt zip archive: central directory entry ${
          i + 1
        } of ${entries} is not where the directory says`,
      );
    }
    const nameLength = view.getUint16(at + 28, true);
    const name = decoder.decode(
      bytes.subarray(at + ENTRY_SIZE, at + ENTRY_SIZE + nameLength),
    );
    const extraStart = at + ENTRY_SIZE + nameLength;
    const extra = bytes.subarray(
      extraStart,
      extraStart + view.getUint16(at + 30, true),
    );
    const size32 = view.getUint32(at + 24, true);
    const size = size32 === ZIP64 ? zip64Size(extra, name) : size32;
    const crc = view.getUint32(at + 16, true);
    if (!name.endsWith("/")) {
      files.push({
        name,
        size,
        crc,
        flags: view.getUint16(at + 8, true),
        method: view.getUint16(at + 10, true),
      });
    }
    at += ENTRY_SIZE + nameLength + view.getUint16(at + 30, true) +
      view.getUint16(at + 32, true);
  }
  if (files.length !== 1) {
    const names = files.slice(0, 3).map((file) => JSON.stringify(file.name));
    if (files.length > 3) names.push("…");
    throw new ZipProblem(
      files.length === 0
        ? "the zip archive holds no file"
        : `the zip archive holds ${files.length} files (${
          names.join(", ")
        }): expected one trade file, as Binance's zips hold; unzip it, and pass its files`,
    );
  }
  const { name, size, crc, flags, method } = files[0];
  if (flags & 1) {
    throw new ZipProblem(
      `entry ${JSON.stringify(name)} is encrypted, which is not supported`,
    );
  }
  if (method !== STORED && method !== DEFLATED) {
    throw new ZipProblem(
      `entry ${
        JSON.stringify(name)
      } is compressed with method ${method}, which is not supported: expected 0 (stored) or 8 (deflate)`,
    );
  }
  return { name, size, crc };
}

/** The CRC-32 (IEEE) lookup table, one entry per byte value. */
const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** `crc` (the running CRC-32's complement, start -1) updated with `bytes`. */
function updateCrc(crc: number, bytes: Uint8Array): number {
  const table = CRC_TABLE;
  for (let i = 0; i < bytes.length; i++) {
    crc = table[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  }
  return crc;
}

/** An fflate error as the reason of a corrupt archive. */
function corrupt(entry: ZipEntry, error: unknown): ZipProblem {
  const message = error instanceof Error ? error.message : String(error);
  return new ZipProblem(
    `a corrupt zip archive: cannot decompress ${
      JSON.stringify(entry.name)
    } (${message})`,
  );
}

/** What is wrong at the end of `entry`'s data (the running CRC-32's complement `crc`), or undefined. */
function endProblem(
  entry: ZipEntry,
  end: { ended: boolean; other?: string; produced: number; crc: number },
): string | undefined {
  const name = JSON.stringify(entry.name);
  if (!end.ended && end.other !== undefined) {
    return `a corrupt zip archive: a local header names ${
      JSON.stringify(end.other)
    }, its central directory ${name}`;
  }
  if (!end.ended) {
    return `a truncated or corrupt zip archive: the data of ${name} ends early`;
  }
  if (end.produced !== entry.size) {
    return `a corrupt zip archive: ${name} decompressed to ${end.produced} bytes, its directory says ${entry.size}`;
  }
  if (((end.crc ^ -1) >>> 0) !== entry.crc) {
    return `a corrupt zip archive: the CRC-32 of ${name} does not match its directory's`;
  }
  return undefined;
}

/**
 * The decompressed bytes of `entry` out of the zip archive's bytes, read
 * from its start: a stream transform.
 *
 * @throws {ZipProblem} (erroring the stream) when the data cannot be
 * decompressed, or does not decompress to the entry's size and CRC-32 (both
 * known only at its end).
 */
export function unzipEntry(
  entry: ZipEntry,
): TransformStream<Uint8Array, Uint8Array> {
  let controller!: TransformStreamDefaultController<Uint8Array>;
  let failure: unknown;
  let produced = 0;
  let crc = -1;
  let ended = false;
  let other: string | undefined; // a local header's name not the directory's
  const unzip = new Unzip((file) => {
    if (file.name !== entry.name) { // a directory entry (no data), or not it
      if (!file.name.endsWith("/")) other ??= file.name;
      return;
    }
    file.ondata = (error, data, final) => {
      if (error) {
        failure ??= error;
        return;
      }
      produced += data.length;
      if (produced > entry.size) { // stop a bomb at once, not at its end
        failure ??= new ZipProblem(
          `a corrupt zip archive: ${
            JSON.stringify(entry.name)
          } decompresses to more than the ${entry.size} bytes its directory says`,
        );
        return;
      }
      if (data.length > 0) {
        crc = updateCrc(crc, data);
        controller.enqueue(data);
      }
      if (final) ended = true;
    };
    file.start();
  });
  unzip.register(UnzipInflate);
  const push = (chunk: Uint8Array, final: boolean): void => {
    try {
      unzip.push(chunk, final);
    } catch (error) {
      failure ??= error;
    }
    if (failure instanceof ZipProblem) throw failure;
    if (failure !== undefined) throw corrupt(entry, failure);
  };
  return new TransformStream({
    start(c) {
      controller = c;
    },
    transform: (chunk) => push(chunk, false),
    flush() {
      push(new Uint8Array(0), true);
      const problem = endProblem(entry, { ended, other, produced, crc });
      if (problem !== undefined) throw new ZipProblem(problem);
    },
  });
}
