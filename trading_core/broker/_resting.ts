/**
 * The open orders of one (exchange, symbol) in the paper broker, kept so
 * that a trade looks only at the orders it can fill: orders not yet due in
 * submission order, then, once due, market orders in a FIFO queue, buy
 * limits highest price first and sell limits lowest price first (each
 * oldest first within a price). A trade costs O(fills + log n), whatever
 * the number of open orders.
 *
 * Removal is lazy: a cancelled or filled order is marked `done` and
 * dropped when it reaches a head; the store is rebuilt when dead orders
 * outnumber live ones, so memory stays proportional to the open orders.
 *
 * @module
 */

import type { Order } from "./_order.ts";

/** Dead orders kept before a rebuild is considered. */
const DEAD_SLACK = 1024;

/** A binary heap of orders, `before(a, b)` true when `a` comes first. */
class OrderHeap {
  readonly #before: (a: Order, b: Order) => boolean;
  items: Order[] = [];

  constructor(before: (a: Order, b: Order) => boolean) {
    this.#before = before;
  }

  /** The first order, or undefined. */
  peek(): Order | undefined {
    return this.items[0];
  }

  push(order: Order): void {
    const items = this.items;
    let at = items.length;
    items.push(order);
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!this.#before(order, items[parent])) break;
      items[at] = items[parent];
      at = parent;
    }
    items[at] = order;
  }

  pop(): void {
    const items = this.items;
    const last = items.pop();
    if (last === undefined || items.length === 0) return;
    let at = 0;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child = right < items.length &&
          this.#before(items[right], items[left])
        ? right
        : left;
      if (!this.#before(items[child], last)) break;
      items[at] = items[child];
      at = child;
    }
    items[at] = last;
  }

  /** Keeps only the orders `keep` accepts (a rebuild). */
  filter(keep: (order: Order) => boolean): void {
    const kept = this.items.filter(keep);
    this.items = [];
    for (const order of kept) this.push(order);
  }
}

/** A FIFO queue of orders with a moving head. */
class OrderQueue {
  items: Order[] = [];
  head = 0;

  peek(): Order | undefined {
    return this.items[this.head];
  }

  push(order: Order): void {
    this.items.push(order);
  }

  shift(): void {
    this.head++;
    if (this.head > DEAD_SLACK && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  filter(keep: (order: Order) => boolean): void {
    this.items = this.items.slice(this.head).filter(keep);
    this.head = 0;
  }
}

/** The open orders of one book, as the module documentation describes. */
export class RestingOrders {
  /** Orders not yet due, in submission order (their due times never go down). */
  readonly #pending = new OrderQueue();
  readonly #market = new OrderQueue();
  readonly #buys = new OrderHeap((a, b) =>
    a.price > b.price || (a.price === b.price && a.seq < b.seq)
  );
  readonly #sells = new OrderHeap((a, b) =>
    a.price < b.price || (a.price === b.price && a.seq < b.seq)
  );
  /** Open orders. */
  #live = 0;
  /** Orders marked done but still stored. */
  #dead = 0;

  /** Open orders. */
  get size(): number {
    return this.#live;
  }

  /** Adds `order`, not yet due. */
  add(order: Order): void {
    this.#pending.push(order);
    this.#live++;
  }

  /** Marks `order` (one of these, open) cancelled or filled in full. */
  finish(order: Order): void {
    order.done = true;
    this.#live--;
    this.#dead++;
    if (this.#dead > DEAD_SLACK && this.#dead > this.#live) this.#rebuild();
  }

  /** Calls `set` on each order not yet due (to give them a due time). */
  forEachPending(set: (order: Order) => void): void {
    const { items, head } = this.#pending;
    for (let i = head; i < items.length; i++) set(items[i]);
  }

  /**
   * Moves the orders due at `clock` (ms) from the pending queue to the
   * fillable ones, stopping at the first that is not (later ones are due no
   * sooner), and stamps them with `trade`, the broker's current trade
   * number. An order placed during that trade is not due yet.
   */
  release(clock: number, trade: number): void {
    const pending = this.#pending;
    for (
      let order = pending.peek();
      order !== undefined;
      order = pending.peek()
    ) {
      if (order.done) {
        pending.shift();
        this.#dead--;
        continue;
      }
      if (order.since === trade || !(clock >= order.due)) break;
      pending.shift();
      order.dueTrade = trade;
      if (order.type === "market") this.#market.push(order);
      else if (order.side === "buy") this.#buys.push(order);
      else this.#sells.push(order);
    }
  }

  /**
   * The due open order a trade at `price` fills next, or undefined: the
   * oldest of the oldest market order, the best buy limit the price reaches
   * (at or below it) and the best sell limit it reaches (at or above it).
   */
  next(price: number): Order | undefined {
    const market = this.#head(this.#market);
    const buy = this.#head(this.#buys);
    const sell = this.#head(this.#sells);
    let best = market;
    if (
      buy !== undefined && price <= buy.price && !(best && best.seq < buy.seq)
    ) {
      best = buy;
    }
    if (
      sell !== undefined && price >= sell.price &&
      !(best && best.seq < sell.seq)
    ) {
      best = sell;
    }
    return best;
  }

  /** The live head of `store`, dropping dead ones. */
  #head(store: OrderQueue | OrderHeap): Order | undefined {
    for (let order = store.peek(); order !== undefined; order = store.peek()) {
      if (!order.done) return order;
      if (store instanceof OrderQueue) store.shift();
      else store.pop();
      this.#dead--;
    }
    return undefined;
  }

  #rebuild(): void {
    const open = (order: Order) => !order.done;
    this.#pending.filter(open);
    this.#market.filter(open);
    this.#buys.filter(open);
    this.#sells.filter(open);
    this.#dead = 0;
  }
}
