/**
 * Checking an {@linkcode OrderRequest} (a bad one is a strategy bug: a
 * TypeError or RangeError quoting the value) and the broker's record of an
 * open order.
 *
 * @module
 */

import type { OrderRequest, OrderSide, OrderType } from "./types.ts";

/** An order the broker holds until it is filled in full or cancelled. */
export interface Order {
  /** Its id. */
  id: string;
  /** Its id as a number: submission order, the tie-break among equal prices. */
  seq: number;
  /** Buy or sell. */
  side: OrderSide;
  /** Market or limit. */
  type: OrderType;
  /** Units ordered. */
  quantity: number;
  /** Units still to fill. */
  remaining: number;
  /** Limit price, NaN for a market order. */
  price: number;
  /** Trade time (ms, fractional) from which it can fill; NaN until its stream's first trade. */
  due: number;
  /** Number of the broker's trade during which it was placed (that trade never fills it). */
  since: number;
  /**
   * Number of the broker's trade at which it became due (NaN until then):
   * a limit order filled by that trade, before any fill, is a taker (it
   * crossed the market); on later trades it has rested (a maker at its
   * limit).
   */
  dueTrade: number;
  /** Whether it filled in part. */
  rested: boolean;
  /** Whether it is filled in full or cancelled (left for the book to drop). */
  done: boolean;
  /** Its tag. */
  tag: string | undefined;
}

/** A value in an error message: strings quoted, the rest as JSON or as is. */
function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "number" || value === undefined) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function positive(name: string, value: unknown): number {
  if (typeof value !== "number") {
    throw new TypeError(
      `Invalid order ${name} ${show(value)}: expected a positive number`,
    );
  }
  if (!(Number.isFinite(value) && value > 0)) {
    throw new RangeError(
      `Invalid order ${name} ${value}: expected a positive number`,
    );
  }
  return value;
}

/**
 * Checks `request` and returns the order it makes, with id `id`, fillable
 * from `due` (ms of trade time, NaN: from its stream's first trade).
 *
 * @throws {TypeError} for a request that is not an object, an exchange that
 * is not a lower-case name, a symbol that is not an upper-case name, a side
 * other than buy or sell, a type other than market or limit, a non-number
 * quantity or price, a limit without a price or a market order with one,
 * a tag that is not a string.
 * @throws {RangeError} for a quantity or price that is not positive and finite.
 */
export function checkOrder(request: OrderRequest, id: string): Order {
  if (typeof request !== "object" || request === null) {
    throw new TypeError(
      `Invalid order ${
        show(request)
      }: expected { exchange, symbol, side, quantity, type?, price?, tag? }`,
    );
  }
  const { exchange, symbol, side, type = "market", price, tag } = request;
  if (
    typeof exchange !== "string" || exchange === "" ||
    exchange !== exchange.toLowerCase()
  ) {
    throw new TypeError(
      `Invalid order exchange ${
        show(exchange)
      }: expected the exchange's name in lower case, as trades name it (e.g. "binance")`,
    );
  }
  if (
    typeof symbol !== "string" || symbol === "" ||
    symbol !== symbol.toUpperCase()
  ) {
    throw new TypeError(
      `Invalid order symbol ${
        show(symbol)
      }: expected the symbol in upper case, as trades name it (e.g. "BTCUSDT")`,
    );
  }
  if (side !== "buy" && side !== "sell") {
    throw new TypeError(
      `Invalid order side ${show(side)}: expected "buy" or "sell"`,
    );
  }
  if (type !== "market" && type !== "limit") {
    throw new TypeError(
      `Invalid order type ${show(type)}: expected "market" or "limit"`,
    );
  }
  const quantity = positive("quantity", request.quantity);
  if (type === "limit" && price === undefined) {
    throw new TypeError(
      `Invalid limit order: it has no price (quantity ${quantity} ${symbol})`,
    );
  }
  if (type === "market" && price !== undefined) {
    throw new TypeError(
      `Invalid market order price ${
        show(price)
      }: a market order takes no price (use type "limit")`,
    );
  }
  if (tag !== undefined && typeof tag !== "string") {
    throw new TypeError(
      `Invalid order tag ${show(tag)}: expected a string or no tag`,
    );
  }
  return {
    id,
    seq: Number(id),
    side,
    type,
    quantity,
    remaining: quantity,
    price: type === "limit" ? positive("price", price) : NaN,
    due: NaN,
    since: 0,
    dueTrade: NaN,
    rested: false,
    done: false,
    tag,
  };
}
