/**
 * The binary min-heap of a k-way merge: the files' cursors ordered by their
 * current head, with the top replaced in place as its file advances.
 *
 * @module
 */

/** A binary min-heap of `T` under `less`, an array kept in heap order. */
export class MinHeap<T> {
  readonly #items: T[] = [];
  readonly #less: (a: T, b: T) => boolean;

  /** An empty heap ordered by `less` (strict: a before b). */
  constructor(less: (a: T, b: T) => boolean) {
    this.#less = less;
  }

  /** How many items it holds. */
  get size(): number {
    return this.#items.length;
  }

  /** The least item; undefined when empty. */
  get top(): T | undefined {
    return this.#items[0];
  }

  /** Adds `item`. */
  push(item: T): void {
    const items = this.#items;
    const less = this.#less;
    let i = items.length;
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(item, items[parent])) break;
      items[i] = items[parent];
      i = parent;
    }
    items[i] = item;
  }

  /** Restores the order after the top item's key grew (its file advanced). */
  topChanged(): void {
    this.#siftDown(0);
  }

  /** Removes the top item. */
  pop(): void {
    const items = this.#items;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      this.#siftDown(0);
    }
  }

  #siftDown(i: number): void {
    const items = this.#items;
    const less = this.#less;
    const length = items.length;
    const item = items[i];
    while (true) {
      let child = 2 * i + 1;
      if (child >= length) break;
      if (child + 1 < length && less(items[child + 1], items[child])) child++;
      if (!less(items[child], item)) break;
      items[i] = items[child];
      i = child;
    }
    items[i] = item;
  }
}
