/**
 * Human byte sizes: `1048576`, `"512KiB"`, `"64MiB"`, `"1GB"`.
 *
 * @module
 */

const UNIT_BYTES = new Map<string, number>(Object.entries({
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
}));

const SIZE = /^(\d+)(?:\.(\d+))?(?:\s*([a-z]+))?$/i;

/**
 * Parses a byte size: a non-negative integer, or a string with a unit
 * (B, KB, MB, GB, TB = powers of 1000; KiB, MiB, GiB, TiB = powers of 1024).
 *
 * @throws {RangeError} quoting the value when it is not a whole number of bytes.
 */
export function parseByteSize(value: string | number): number {
  let bytes = Number.NaN;
  if (typeof value === "number") {
    bytes = value;
  } else if (typeof value === "string") {
    const match = SIZE.exec(value);
    const unit = match && UNIT_BYTES.get((match[3] ?? "b").toLowerCase());
    if (match && unit) {
      // Exact decimal arithmetic: 1.001KB is 1001 bytes, not 1000.9999….
      const fraction = match[2] ?? "";
      const scaled = BigInt(match[1] + fraction) * BigInt(unit);
      const divisor = 10n ** BigInt(fraction.length);
      if (scaled % divisor === 0n) bytes = Number(scaled / divisor);
    }
  }
  if (!Number.isSafeInteger(bytes) || bytes < 0) {
    throw new RangeError(
      `Invalid byte size ${
        JSON.stringify(value)
      }: expected a whole number of bytes, e.g. 1048576, "512KiB", "64MiB", "1GB"`,
    );
  }
  return bytes;
}
