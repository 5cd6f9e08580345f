/**
 * 32-bit word views over callers' byte arrays, so a 48-byte record moves as
 * 12 integer loads and stores instead of a byte copy.
 *
 * @module
 */

/** A cache of one Int32Array view over the last byte array seen. */
export class WordViewCache {
  #bytes: Uint8Array | undefined;
  #words: Int32Array<ArrayBufferLike> = new Int32Array(0);
  #base = 0;

  /**
   * The word view over `bytes`'s buffer and the word index of byte `offset`.
   *
   * @throws {TypeError} unless `bytes` is a Uint8Array.
   * @throws {RangeError} unless `offset` is 4-aligned in the buffer and `length` bytes fit.
   */
  wordsAt(
    bytes: Uint8Array,
    offset: number,
    length: number,
  ): Int32Array<ArrayBufferLike> {
    if (bytes !== this.#bytes) {
      if (!(bytes instanceof Uint8Array)) {
        throw new TypeError(
          `Invalid record buffer ${
            Object.prototype.toString.call(bytes)
          }: expected a Uint8Array`,
        );
      }
      this.#words = new Int32Array(
        bytes.buffer,
        0,
        Math.floor(bytes.buffer.byteLength / 4),
      );
      this.#bytes = bytes;
    }
    const at = bytes.byteOffset + offset;
    if (
      !Number.isInteger(offset) || offset < 0 || at % 4 !== 0 ||
      offset + length > bytes.byteLength
    ) {
      throw new RangeError(
        `Invalid record offset ${offset} in a ${bytes.byteLength}-byte buffer at byte offset ${bytes.byteOffset}: ` +
          `expected a 4-byte aligned offset with ${length} bytes after it`,
      );
    }
    this.#base = at >> 2;
    return this.#words;
  }

  /** Word index of the offset passed to the last {@linkcode wordsAt}. */
  get base(): number {
    return this.#base;
  }
}

/** @throws {RangeError} unless `count` is a whole number ≥ 0. */
export function checkCount(count: number): number {
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(
      `Invalid record count ${count}: expected an integer ≥ 0`,
    );
  }
  return count;
}
