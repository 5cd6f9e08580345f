/**
 * A list capped by thinning: what the report draws of a long run (the
 * equity curve, the fills) without holding every item.
 *
 * @module
 */

/**
 * Keeps every `stride`-th item pushed, `stride` starting at 1: when more
 * than `cap` are kept, every other one is dropped and the stride doubles.
 * The kept items are always those whose push index is a multiple of the
 * stride, so the result depends only on the items pushed (deterministic),
 * and spans the whole run evenly.
 */
export class Thinned<T> {
  readonly #cap: number;
  #items: T[] = [];
  #stride = 1;
  #pushed = 0;

  /**
   * A list that keeps at most `cap` items.
   *
   * @throws {RangeError} unless `cap` is an integer >= 2.
   */
  constructor(cap: number) {
    if (!(Number.isInteger(cap) && cap >= 2)) {
      throw new RangeError(`Invalid cap ${cap}: expected an integer >= 2`);
    }
    this.#cap = cap;
  }

  /** Offers one item: kept when its push index is a multiple of the stride. */
  push(item: T): void {
    if (this.#pushed++ % this.#stride !== 0) return;
    this.#items.push(item);
    if (this.#items.length > this.#cap) {
      this.#items = this.#items.filter((_, i) => i % 2 === 0);
      this.#stride *= 2;
    }
  }

  /** The items kept, oldest first. */
  get items(): readonly T[] {
    return this.#items;
  }

  /** Items pushed in all (kept or not). */
  get pushed(): number {
    return this.#pushed;
  }
}
