/**
 * The fuzz target of {@linkcode parseTradeFrame}, run in a worker by
 * trade_event_fuzz_test.ts: random bytes, random JSON built from the frame's
 * own keys, valid trade frames with damaged bytes, and valid frames with one
 * field replaced by a random JSON value.
 *
 * Properties checked on every input:
 * - the parser returns (never throws) a trade, an ignored frame or an
 *   invalid frame, with a documented code and a one-line reason of bounded
 *   length (a huge garbage frame never makes a huge log line);
 * - a trade holds exactly what the frame's text says (checked against
 *   `JSON.parse` of the same text: symbol, stream, id, price, quantity,
 *   time, side, receive time), so nothing is invented;
 * - a trade passes the encoder's checks (it can be published);
 * - a damaged frame that still means the same JSON gives the same trade.
 *
 * JSON frames carry no checksum: a damaged digit inside `"p"` is a different
 * valid price, and the feed cannot tell. Those cases are tallied as
 * `mutated: accepted, different` (the limit the test reports).
 *
 * @module
 */

import assert from "node:assert/strict";
import { encodeTrade } from "../common/wire/codec.ts";
import { parsePrice, parseSize } from "../common/wire/fixed_point.ts";
import { Side, TRADE_RECORD_SIZE } from "../common/wire/trade.ts";
import { mutate, type Random } from "./_fuzz.ts";
import { serveFuzzTarget } from "./_fuzz_worker.ts";
import {
  type ParsedFrame,
  type ParsedTrade,
  parseTradeFrame,
} from "../data_manager/binance/trade_event.ts";

const RECEIVED_AT = { seconds: 1_764_196_801, nanos: 123_456_789 };
const TS_RECV = 1_764_196_801_123_456_789n;
const INVALID_CODES = ["json", "shape", "field", "range", "stream", "binary"];
const IGNORED_CODES = ["response", "event", "error"];
/** Longest reason: two quoted values of at most 81 characters plus the text around them. */
const MAX_REASON = 400;
const KEYS = [
  "stream",
  "data",
  "e",
  "E",
  "s",
  "t",
  "p",
  "q",
  "T",
  "m",
  "M",
  "result",
  "id",
  "code",
  "msg",
];
const SYMBOLS = ["BTCUSDT", "ETHUSDT", "1000SHIBUSDT", "A", "btcusdt"];
/** `JSON.parse` with the reviver's source-text argument (V8 ≥ 11.4). */
const parseWithSource = JSON.parse as (
  text: string,
  reviver: (
    key: string,
    value: unknown,
    context: { source?: string },
  ) => unknown,
) => unknown;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const record = new Uint8Array(TRADE_RECORD_SIZE);

function digits(random: Random, min: number, max: number): string {
  let text = String(random.range(1, 9));
  const length = random.range(min, max);
  while (text.length < length) text += String(random.int(10));
  return text;
}

/** A decimal string as Binance writes it (8 decimals), or with `wholeDigits` and 0..`maxPlaces` decimals now and then. */
function decimal(random: Random, wholeDigits = 11, maxPlaces = 11): string {
  const whole = random.chance(0.2) ? "0" : digits(random, 1, wholeDigits);
  const places = random.chance(0.8) ? 8 : random.int(maxPlaces + 1);
  let fraction = "";
  for (let i = 0; i < places; i++) fraction += String(random.int(10));
  return places === 0 ? whole : `${whole}.${fraction}`;
}

/** A JSON number's text: small, large, beyond 2^53 and 2^64, negative, fractional, exponent. */
function numberText(random: Random): string {
  switch (random.int(7)) {
    case 0:
      return String(random.int(1000));
    case 1:
      return digits(random, 10, 16);
    case 2:
      return digits(random, 17, 25);
    case 3:
      return `-${digits(random, 1, 20)}`;
    case 4:
      return `${digits(random, 1, 10)}.${digits(random, 1, 5)}`;
    case 5:
      return `${digits(random, 1, 3)}e${random.range(-5, 400)}`;
    default:
      return random.pick(["0", "-0", "1", "18446744073709551615"]);
  }
}

/** A random JSON value's text, nesting at most `depth` levels. */
function jsonText(random: Random, depth: number): string {
  switch (random.int(depth > 0 ? 8 : 6)) {
    case 0:
      return numberText(random);
    case 1:
      return JSON.stringify(decimal(random));
    case 2:
      return JSON.stringify(
        random.pick([...SYMBOLS, "trade", "btcusdt@trade", "", "\u0000"]),
      );
    case 3:
      return random.pick(["true", "false", "null"]);
    case 4:
      return JSON.stringify(decoder.decode(random.bytes(random.int(12))));
    case 5:
      return numberText(random);
    case 6: {
      const items = Array.from(
        { length: random.int(4) },
        () => jsonText(random, depth - 1),
      );
      return `[${items.join(",")}]`;
    }
    default: {
      const entries = Array.from(
        { length: random.int(10) },
        () =>
          `${JSON.stringify(random.pick(KEYS))}:${jsonText(random, depth - 1)}`,
      );
      return `{${entries.join(",")}}`;
    }
  }
}

/** A valid trade frame's fields, as text (ids may exceed 2^53). */
function validFields(random: Random): Record<string, string> {
  const symbol = random.pick(SYMBOLS.slice(0, 4));
  const time = String(random.range(0, 2_000_000_000) * 1000 + random.int(1000));
  return {
    e: '"trade"',
    E: time,
    s: JSON.stringify(symbol),
    t: random.chance(0.5)
      ? String(random.int(2 ** 31))
      : random.pick(["18446744073709551615", digits(random, 16, 19)]),
    p: JSON.stringify(decimal(random, 9, 8).replace(/^0(\.0*)?$/, "1")),
    q: JSON.stringify(decimal(random, 9, 8).replace(/^0(\.0*)?$/, "2")),
    T: time,
    m: random.pick(["true", "false"]),
    M: "true",
  };
}

function frameText(fields: Record<string, string>): string {
  const symbol = JSON.parse(fields.s ?? '"X"');
  const stream = typeof symbol === "string"
    ? `${symbol.toLowerCase()}@trade`
    : "x@trade";
  const data = Object.entries(fields).map(([key, value]) =>
    `${JSON.stringify(key)}:${value}`
  );
  return `{"stream":${JSON.stringify(stream)},"data":{${data.join(",")}}}`;
}

/** Checks the result's shape; returns it. */
function checkShape(result: ParsedFrame): ParsedFrame {
  if (result.kind === "trade") return result;
  assert.ok(
    result.kind === "ignored" || result.kind === "invalid",
    `kind ${String((result as { kind: unknown }).kind)}`,
  );
  const codes = result.kind === "ignored" ? IGNORED_CODES : INVALID_CODES;
  assert.ok(codes.includes(result.code), `code ${result.code}`);
  assert.equal(typeof result.reason, "string");
  assert.ok(
    result.reason.length <= MAX_REASON,
    `a ${result.reason.length}-character reason: ${
      result.reason.slice(0, 200)
    }`,
  );
  assert.ok(!/[\r\n]/.test(result.reason), `a reason of several lines`);
  return result;
}

/** A trade must be what the text says, and publishable. */
function checkTrade(text: string, trade: ParsedTrade): void {
  const frame = JSON.parse(text);
  const data = frame.data;
  assert.equal(trade.stream, frame.stream);
  assert.equal(trade.symbol, data.s);
  assert.equal(data.e, "trade");
  assert.equal(trade.stream.toLowerCase(), `${data.s.toLowerCase()}@trade`);
  // The id is exact: its double is the one JSON.parse read (-0 is 0).
  assert.ok(
    Number(trade.tradeId) === data.t,
    `trade id ${trade.tradeId} for ${data.t}`,
  );
  if (Number.isSafeInteger(data.t)) assert.equal(trade.tradeId, BigInt(data.t));
  assert.ok(trade.tradeId >= 0n && trade.tradeId < 1n << 64n);
  assert.equal(trade.priceFixed, parsePrice(data.p));
  assert.equal(trade.size, parseSize(data.q));
  assert.equal(trade.tsEvent, BigInt(data.T) * 1_000_000n);
  assert.equal(trade.side, data.m ? Side.Sell : Side.Buy);
  assert.equal(trade.tsRecv, TS_RECV);
  assert.equal(trade.flags, 0);
  assert.equal(trade.seq, 0);
  encodeTrade(trade, record);
}

function parse(text: string): ParsedFrame {
  const result = checkShape(parseTradeFrame(text, { receivedAt: RECEIVED_AT }));
  if (result.kind === "trade") checkTrade(text, result);
  return result;
}

/** JSON with every number kept as its source text (ids above 2^53 differ in digits a double does not hold). */
function exactJson(text: string): unknown {
  return parseWithSource(
    text,
    (_key, value, context) =>
      typeof value === "number" ? `number ${context.source}` : value,
  );
}

/** Whether two texts are the same JSON, numbers compared as written. */
function sameJson(a: string, b: string): boolean {
  try {
    assert.deepEqual(exactJson(a), exactJson(b));
    return true;
  } catch {
    return false;
  }
}

serveFuzzTarget((random, count) => {
  switch (random.int(4)) {
    case 0: {
      const text = decoder.decode(random.bytes(random.int(300)));
      count(`random bytes: ${parse(text).kind}`);
      return;
    }
    case 1: {
      count(`random json: ${parse(jsonText(random, 3)).kind}`);
      return;
    }
    case 2: {
      const original = frameText(validFields(random));
      const expected = parse(original);
      assert.equal(expected.kind, "trade", original);
      const text = decoder.decode(
        mutate(encoder.encode(original), random, {
          kinds: ["flip bit", "set byte", "set digit", "insert", "delete"],
        }),
      );
      const result = parse(text);
      if (result.kind !== "trade") {
        count(`mutated: ${result.kind}`);
      } else if (sameJson(text, original)) {
        assert.deepEqual(result, expected, `${original} → ${text}`);
        count("mutated: accepted, same trade");
      } else count("mutated: accepted, different");
      return;
    }
    default: {
      const fields = validFields(random);
      const key = random.pick(Object.keys(fields));
      if (random.chance(0.2)) delete fields[key];
      else fields[key] = jsonText(random, 1);
      count(`field replaced: ${parse(frameText(fields)).kind}`);
    }
  }
});
