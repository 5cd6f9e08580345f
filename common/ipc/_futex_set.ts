/**
 * Sleeping on any number of futex words at once. futex_waitv takes at most
 * 128 words per call: up to that, one call does it, blocking or not, as it
 * always did. Beyond, the words are split into groups of 127, each waited on
 * by its own non-blocking call (a thread of Deno's blocking pool) together
 * with a private cancel word; the first call to return wakes the others
 * through that word, and the sleep ends once all of them have returned.
 *
 * @module
 */

import {
  FUTEX_WAITV_MAX,
  FutexVector,
  type FutexWaitOptions,
  futexWake,
} from "../os/futex.ts";

/** Ring words per group beside the cancel word. */
const GROUP_WORDS = FUTEX_WAITV_MAX - 1;

/** A fixed list of futex words to sleep on, with their expected values set before each sleep. */
export class FutexSet {
  /** Words in the set. */
  readonly length: number;
  /** One vector over all the words, or one per group (cancel word first). */
  #vectors: FutexVector[];
  /** Off the V8 heap (an explicit ArrayBuffer), so its address never moves. */
  #cancel = new Int32Array(new ArrayBuffer(64));
  #cancelWord: Deno.PointerObject;
  /** The calls of the last grouped sleep that had not returned when it ended. */
  #draining: Promise<unknown> = Promise.resolve();

  /**
   * Builds the set over `words` (at least one).
   *
   * @throws {RangeError} for an empty list.
   */
  constructor(words: readonly Deno.PointerObject[]) {
    if (words.length === 0) {
      throw new RangeError("Invalid futex set: expected at least one word");
    }
    this.length = words.length;
    this.#cancelWord = Deno.UnsafePointer.of(this.#cancel)!;
    if (words.length <= FUTEX_WAITV_MAX) {
      this.#vectors = [new FutexVector(words)];
      return;
    }
    this.#vectors = [];
    for (let from = 0; from < words.length; from += GROUP_WORDS) {
      this.#vectors.push(
        new FutexVector([
          this.#cancelWord,
          ...words.slice(from, from + GROUP_WORDS),
        ]),
      );
    }
  }

  /** Does a sleep take several calls (more than {@linkcode FUTEX_WAITV_MAX} words)? Such sleeps never block. */
  get grouped(): boolean {
    return this.#vectors.length > 1;
  }

  /** Sets the value word `index` must still hold for the next sleep. */
  expect(index: number, value: number): void {
    if (!this.grouped) {
      this.#vectors[0].expect(index, value);
      return;
    }
    this.#vectors[Math.floor(index / GROUP_WORDS)].expect(
      1 + index % GROUP_WORDS,
      value,
    );
  }

  /**
   * Sleeps until any word is woken or no longer holds its expected value, at
   * most `timeoutMs`. A grouped set ignores `blocking` and always returns a
   * promise; otherwise as {@linkcode FutexVector.wait}.
   *
   * @throws {OsError} (or rejects with it) when the kernel refuses a wait.
   */
  wait(options: FutexWaitOptions): Promise<void> | undefined {
    if (!this.grouped) return this.#vectors[0].wait(options);
    return this.#waitGroups(options.timeoutMs);
  }

  async #waitGroups(timeoutMs: number): Promise<void> {
    // The previous sleep's other calls were cancelled; let them end before
    // their vectors are used again.
    await this.#draining;
    const cancel = Atomics.load(this.#cancel, 0);
    for (const vector of this.#vectors) vector.expect(0, cancel);
    const calls = this.#vectors.map((vector) => vector.start(timeoutMs));
    const [first, result] = await Promise.race(
      calls.map((call, i) => call.then((result) => [i, result] as const)),
    );
    // A call that has not started yet sees the new value and returns at once.
    Atomics.add(this.#cancel, 0, 1);
    futexWake(this.#cancelWord, 0x7fff_ffff);
    // The sleep ends now; the others end in the background (and are not
    // checked: the caller may unmap their rings by then).
    this.#draining = Promise.all(calls).then(() => this);
    this.#vectors[first].check(result);
  }
}
