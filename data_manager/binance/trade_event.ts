/**
 * Exact parsing of Binance combined-stream trade frames into trade record
 * fields. The parser never throws on what the network sends: every frame
 * becomes a trade, an ignored frame (subscription replies, other event
 * types, error messages) or an invalid frame with a reason.
 *
 * A trade frame (Binance spot `<symbol>@trade` stream on the combined
 * endpoint `/stream?streams=...`) looks like
 *
 * ```json
 * {"stream":"btcusdt@trade","data":{"e":"trade","E":1672515782136,
 *  "s":"BTCUSDT","t":5123456789,"p":"67123.45000000","q":"0.00100000",
 *  "T":1672515782134,"m":true,"M":true}}
 * ```
 *
 * `e` event type, `E` event time, `s` symbol, `t` trade id, `p` price, `q`
 * quantity, `T` trade time, `m` whether the buyer was the maker, `M` to be
 * ignored. Older payloads also carried `b` and `a` (buyer and seller order
 * ids); they are accepted and ignored.
 *
 * ```ts
 * const frame = parseTradeFrame(text, { receivedAt: { seconds: 1700000000, nanos: 0 } });
 * if (frame.kind === "trade") console.log(frame.symbol, frame.priceFixed);
 * ```
 *
 * @module
 */

import { parsePrice, parseSize } from "../../common/wire/fixed_point.ts";
import { Side, type TradeRecord } from "../../common/wire/trade.ts";

/** A time split into whole seconds and nanoseconds (like `ClockReading`). */
export interface SecondsNanos {
  /** Whole seconds since the Unix epoch. */
  seconds: number;
  /** Nanoseconds, 0..999,999,999. */
  nanos: number;
}

/** Unit of Binance's `T` and `E` fields: milliseconds (the default) or microseconds (`timeUnit=MICROSECOND`). */
export type BinanceTimeUnit = "millisecond" | "microsecond";

/** Options of {@linkcode parseTradeFrame}. */
export interface ParseTradeFrameOptions {
  /** When the frame was received (becomes the record's `tsRecv`). */
  receivedAt: SecondsNanos;
  /** Unit of the trade time `T` (default `"millisecond"`). */
  timeUnit?: BinanceTimeUnit;
  /** Flags to set on the record (default 0). */
  flags?: number;
}

/** Why a frame was not a trade but is nothing wrong: a subscription reply, another event type, an error message. */
export type IgnoredCode = "response" | "event" | "error";

/** Why a frame was invalid: not JSON, not a combined-stream frame, a field missing or of the wrong type, a number out of range, a stream that does not match its symbol, a binary frame. */
export type InvalidCode =
  | "json"
  | "shape"
  | "field"
  | "range"
  | "stream"
  | "binary";

/** A parsed trade: the record fields (seq 0, for the publisher to stamp) plus the stream and symbol. */
export interface ParsedTrade extends TradeRecord {
  /** Discriminant. */
  kind: "trade";
  /** The combined-stream name, e.g. `"btcusdt@trade"`. */
  stream: string;
  /** The symbol as Binance spells it (`s`), e.g. `"BTCUSDT"`. */
  symbol: string;
}

/** A frame that carries no trade and is not an error of the feed. */
export interface IgnoredFrame {
  /** Discriminant. */
  kind: "ignored";
  /** Short category, for counters. */
  code: IgnoredCode;
  /** What the frame was. */
  reason: string;
}

/** A frame that could not be turned into a trade. */
export interface InvalidFrame {
  /** Discriminant. */
  kind: "invalid";
  /** Short category, for counters. */
  code: InvalidCode;
  /** What was wrong: the value quoted and what was expected. */
  reason: string;
}

/** The result of {@linkcode parseTradeFrame}. */
export type ParsedFrame = ParsedTrade | IgnoredFrame | InvalidFrame;

const MAX_U64 = (1n << 64n) - 1n;
const MAX_I64 = (1n << 63n) - 1n;
const NANOS_PER_SECOND = 1_000_000_000n;
const UNSIGNED = /^\d+$/;
// Longest quoted value in a reason, so a huge garbage frame makes a short log line.
const SHOWN_CHARS = 80;

/** `JSON.parse` with the reviver's third argument (source text access, V8 ≥ 11.4). */
const parseWithSource = JSON.parse as (
  text: string,
  reviver: (
    this: unknown,
    key: string,
    value: unknown,
    context: { source?: string },
  ) => unknown,
) => unknown;

/**
 * A value quoted in a reason, cut to {@linkcode SHOWN_CHARS}. Not config's
 * `quoteValue`: besides the cut, this one writes a bigint with its `n`,
 * non-finite numbers as `NaN`/`Infinity` (nested ones as JSON's `null`) and a
 * date as a JSON string, and frame reasons keep their wording.
 */
function show(value: unknown): string {
  let text: string;
  if (typeof value === "string") text = JSON.stringify(value);
  else if (typeof value === "bigint") text = `${value}n`;
  else if (typeof value === "object" && value !== null) {
    try {
      text = JSON.stringify(value);
    } catch {
      text = String(value);
    }
  } else text = String(value);
  return text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}…` : text;
}

function invalid(code: InvalidCode, reason: string): InvalidFrame {
  return { kind: "invalid", code, reason };
}

function ignored(code: IgnoredCode, reason: string): IgnoredFrame {
  return { kind: "ignored", code, reason };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function field(
  name: string,
  value: unknown,
  expected: string,
): InvalidFrame {
  return invalid(
    "field",
    value === undefined
      ? `Missing field "${name}": expected ${expected}`
      : `Invalid field "${name}" ${show(value)}: expected ${expected}`,
  );
}

/** The exact trade id: from the parsed number when it is a safe integer, else from the JSON source text. */
function tradeIdOf(
  text: string,
  value: number,
): bigint | InvalidFrame {
  if (Number.isSafeInteger(value)) {
    return value >= 0
      ? BigInt(value)
      : invalid("range", `Invalid trade id ${value}: expected a u64`);
  }
  if (!Number.isFinite(value) || !Number.isInteger(value) || value < 0) {
    return invalid(
      "range",
      `Invalid trade id ${
        show(value)
      }: expected an integer from 0 to ${MAX_U64}`,
    );
  }
  // Above 2^53 the double is not exact: read the digits themselves, those of
  // the "t" that belongs to the frame's "data" (a nested object elsewhere in
  // the frame may carry a "t" too).
  let source: string | undefined;
  try {
    const sources = new Map<unknown, string | undefined>();
    const frame = parseWithSource(text, function (key, parsed, context) {
      if (key === "t" && typeof parsed === "number") {
        sources.set(this, context.source);
      }
      return parsed;
    });
    source = sources.get((frame as { data?: unknown }).data);
  } catch {
    source = undefined;
  }
  if (source === undefined || !UNSIGNED.test(source)) {
    return invalid(
      "range",
      `Invalid trade id ${
        show(source ?? value)
      }: expected an integer from 0 to ${MAX_U64} in plain digits`,
    );
  }
  const id = BigInt(source);
  return id <= MAX_U64 ? id : invalid(
    "range",
    `Invalid trade id ${source}: expected an integer from 0 to ${MAX_U64} (a u64)`,
  );
}

/**
 * Parses one text frame of Binance's combined stream into a trade, an
 * ignored frame or an invalid frame (never throws on the frame's content).
 *
 * @throws {RangeError} only when `options.receivedAt` or `options.flags` is out of range.
 */
export function parseTradeFrame(
  text: string,
  options: ParseTradeFrameOptions,
): ParsedFrame {
  const { receivedAt, timeUnit = "millisecond", flags = 0 } = options;
  const tsRecv = receivedNanos(receivedAt);
  if (!Number.isInteger(flags) || flags < 0 || flags > 0xffff) {
    throw new RangeError(
      `Invalid flags ${show(flags)}: expected an integer from 0 to 65535`,
    );
  }
  if (typeof text !== "string") {
    return invalid("binary", `Invalid frame ${show(text)}: expected text`);
  }
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    return invalid("json", `Invalid frame ${show(text)}: expected JSON`);
  }
  if (!isObject(frame)) {
    return invalid(
      "shape",
      `Invalid frame ${show(text)}: expected a JSON object`,
    );
  }
  if (!("stream" in frame) && !("data" in frame)) {
    return notStreamFrame(text, frame);
  }
  const { stream, data } = frame;
  if (typeof stream !== "string") {
    return field("stream", stream, 'a stream name such as "btcusdt@trade"');
  }
  if (!isObject(data)) {
    return field("data", data, "an event object");
  }
  if (typeof data.e !== "string") {
    return field("e", data.e, 'an event type such as "trade"');
  }
  if (data.e !== "trade") {
    return ignored("event", `Event type ${show(data.e)} on ${show(stream)}`);
  }
  return tradeOf(text, stream, data, tsRecv, timeUnit, flags);
}

/** A JSON object with neither "stream" nor "data": a subscription reply, an error message, or invalid. */
function notStreamFrame(
  text: string,
  frame: Record<string, unknown>,
): IgnoredFrame | InvalidFrame {
  if ("result" in frame && "id" in frame) {
    return ignored("response", `Reply to request id ${show(frame.id)}`);
  }
  if ("code" in frame && "msg" in frame) {
    return ignored(
      "error",
      `Error ${show(frame.code)} from the server: ${show(frame.msg)}`,
    );
  }
  return invalid(
    "shape",
    `Invalid frame ${
      show(text)
    }: expected a combined-stream frame {"stream": ..., "data": {...}}`,
  );
}

/** The trade of a `"trade"` event's `data`, or why its fields are invalid. */
function tradeOf(
  text: string,
  stream: string,
  data: Record<string, unknown>,
  tsRecv: bigint,
  timeUnit: BinanceTimeUnit,
  flags: number,
): ParsedTrade | InvalidFrame {
  const { s, t, p, q, T, m } = data;
  if (typeof s !== "string" || s === "") {
    return field("s", s, 'a symbol such as "BTCUSDT"');
  }
  if (stream.toLowerCase() !== `${s.toLowerCase()}@trade`) {
    return invalid(
      "stream",
      `Invalid stream ${show(stream)} for symbol ${show(s)}: expected ${
        show(`${s.toLowerCase()}@trade`)
      }`,
    );
  }
  if (typeof t !== "number") return field("t", t, "a trade id number");
  const tradeId = tradeIdOf(text, t);
  if (typeof tradeId !== "bigint") return tradeId;
  if (typeof p !== "string") return field("p", p, "a decimal price string");
  if (typeof q !== "string") {
    return field("q", q, "a decimal quantity string");
  }
  if (typeof T !== "number") return field("T", T, "a trade time number");
  if (typeof m !== "boolean") return field("m", m, "true or false");
  let priceFixed: bigint;
  let size: number;
  try {
    priceFixed = parsePrice(p);
    size = parseSize(q);
  } catch (error) {
    return invalid("range", (error as Error).message);
  }
  const tsEvent = eventNanos(T, timeUnit);
  if (typeof tsEvent !== "bigint") return tsEvent;
  return {
    kind: "trade",
    stream,
    symbol: s,
    // Buyer is maker: the seller took liquidity.
    side: m ? Side.Sell : Side.Buy,
    flags,
    seq: 0,
    tsEvent,
    tsRecv,
    priceFixed,
    size,
    tradeId,
  };
}

function eventNanos(
  time: number,
  unit: BinanceTimeUnit,
): bigint | InvalidFrame {
  const scale = unit === "microsecond" ? 1_000n : 1_000_000n;
  if (!Number.isSafeInteger(time) || time < 0) {
    return invalid(
      "range",
      `Invalid trade time ${
        show(time)
      }: expected a non-negative integer of ${unit}s`,
    );
  }
  const nanos = BigInt(time) * scale;
  return nanos <= MAX_I64 ? nanos : invalid(
    "range",
    `Invalid trade time ${time}: expected ${unit}s before 2262-04-11 (an i64 of ns)`,
  );
}

function receivedNanos(at: SecondsNanos): bigint {
  if (
    !isObject(at) || !Number.isSafeInteger(at.seconds) || at.seconds < 0 ||
    !Number.isInteger(at.nanos) || at.nanos < 0 || at.nanos > 999_999_999
  ) {
    throw new RangeError(
      `Invalid receivedAt ${
        show(at)
      }: expected { seconds: integer ≥ 0, nanos: integer 0..999999999 }`,
    );
  }
  const nanos = BigInt(at.seconds) * NANOS_PER_SECOND + BigInt(at.nanos);
  if (nanos > MAX_I64) {
    throw new RangeError(
      `Invalid receivedAt ${show(at)}: expected a time before 2262-04-11`,
    );
  }
  return nanos;
}
