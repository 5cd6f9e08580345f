/**
 * The fuzz target of the wire decoder (codec.ts and trade_view.ts: how NATS
 * messages and ring records are read), run in a worker by
 * codec_fuzz_test.ts: random bytes, valid messages with damaged bytes, and
 * valid messages with one field set to a value the decoder must refuse.
 *
 * Properties checked on every input:
 * - only {@linkcode WireFormatError} is thrown, by every entry point
 *   (`recordCount`, `checkMessage`, `decodeTrades`, `decodeTrade`,
 *   `TradeView.wrap`); a refused `wrap` leaves the view empty;
 * - the decoders agree: a message is accepted by `decodeTrades` exactly when
 *   `TradeView.wrap` accepts it, `decodeTrade(i)` exactly when record i alone
 *   is valid, and all of them read the same fields;
 * - every accepted trade passes the encoder's checks and encodes back to
 *   the very bytes it came from (nothing invented, nothing lost);
 * - a record whose bytes a damage did not touch decodes to the original
 *   trade; a damaged field the format can check (version, side, price ≤ 0,
 *   size not finite and > 0, negative times) is always refused, naming the
 *   record.
 *
 * The format has no checksum: a damaged flags, seq, trade id, time, price
 * or size that stays in range is a different valid trade, which no reader
 * can tell from the bytes. Those are tallied as `mutated: accepted,
 * different` (the limit the test reports); consumers see a damaged `seq` as
 * a gap.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  checkMessage,
  checkTradeRecord,
  decodeTrade,
  decodeTrades,
  encodeMessage,
  recordCount,
  RecordOffset,
  WireFormatError,
} from "../common/wire/codec.ts";
import {
  type Trade,
  TRADE_RECORD_SIZE,
  type TradeRecord,
} from "../common/wire/trade.ts";
import { TradeView } from "../common/wire/trade_view.ts";
import { mutate, type Random } from "./_fuzz.ts";
import { serveFuzzTarget } from "./_fuzz_worker.ts";

const ORIGIN = { exchange: "binance", symbol: "BTCUSDT" };
const MAX_I64 = (1n << 63n) - 1n;
const view = new TradeView();

function u64(random: Random): bigint {
  const bytes = random.bytes(8);
  return new DataView(bytes.buffer).getBigUint64(0, true);
}

/** A random valid record, edge values now and then. */
function validRecord(random: Random): TradeRecord {
  const time = () =>
    random.chance(0.1)
      ? random.pick([0n, MAX_I64])
      : BigInt(random.range(0, 2 ** 31)) * 1_000_000_000n +
        BigInt(random.int(1e9));
  return {
    side: random.int(3) as 0 | 1 | 2,
    flags: random.int(0x10000),
    seq: random.int(0x1_0000_0000),
    tsEvent: time(),
    tsRecv: time(),
    priceFixed: random.chance(0.1)
      ? random.pick([1n, MAX_I64])
      : BigInt(random.range(1, 2 ** 52)) * BigInt(random.range(1, 1000)),
    size: random.chance(0.1)
      ? random.pick([Number.MIN_VALUE, Number.MAX_VALUE, 1])
      : random.next() * 10 ** random.range(-8, 8) + Number.MIN_VALUE,
    tradeId: u64(random),
  };
}

/** Decodes `bytes` every way a reader can; returns the trades, or undefined when refused. */
function decode(bytes: Uint8Array): Trade[] | undefined {
  const refused = (call: () => unknown): WireFormatError | undefined => {
    try {
      call();
      return undefined;
    } catch (error) {
      if (error instanceof WireFormatError) return error;
      throw new Error(
        `not a WireFormatError: ${
          error instanceof Error ? error.stack ?? error.message : String(error)
        }`,
      );
    }
  };
  const decoded: { trades?: Trade[]; one?: Trade } = {};
  const decodeError = refused(() =>
    decoded.trades = decodeTrades(bytes, ORIGIN)
  );
  const trades: Trade[] | undefined = decoded.trades;
  const wrapError = refused(() => view.wrap(bytes));
  const checkError = refused(() => checkMessage(bytes));
  assert.equal(wrapError?.message, decodeError?.message, "wrap vs decode");
  assert.equal(checkError?.message, decodeError?.message, "check vs decode");
  for (const error of [decodeError, wrapError, checkError]) {
    assert.ok(
      error === undefined || !/[\r\n]/.test(error.message),
      "a message of several lines",
    );
  }
  const lengthError = refused(() => recordCount(bytes));
  if (lengthError !== undefined) {
    assert.ok(decodeError !== undefined);
    assert.equal(view.count, 0, "a refused wrap leaves no records");
    return undefined;
  }
  // Record by record: decodeTrade(i) accepts exactly the valid records.
  const count = bytes.length / TRADE_RECORD_SIZE;
  let valid = 0;
  for (let i = 0; i < count; i++) {
    const alone = bytes.subarray(
      i * TRADE_RECORD_SIZE,
      (i + 1) * TRADE_RECORD_SIZE,
    );
    const oneError = refused(() =>
      decoded.one = decodeTrade(bytes, ORIGIN, { index: i })
    );
    const aloneError = refused(() => checkMessage(alone));
    assert.equal(
      oneError === undefined,
      aloneError === undefined,
      `record ${i}`,
    );
    if (oneError !== undefined) {
      assert.equal(oneError.recordIndex, i);
      continue;
    }
    valid++;
    if (trades !== undefined) assert.deepEqual(decoded.one, trades[i]);
  }
  if (decodeError !== undefined) {
    assert.ok(valid < count, "a refused message has a bad record");
    assert.equal(view.count, 0, "a refused wrap leaves no records");
    return undefined;
  }
  assert.equal(valid, count);
  assert.ok(trades !== undefined);
  // The view reads what decodeTrades read, field by field.
  assert.equal(view.count, count);
  for (let i = 0; i < count; i++) {
    const trade: Trade = trades[i];
    view.select(i);
    assert.deepEqual(view.toTrade(ORIGIN), trade);
    assert.equal(view.side, trade.side);
    assert.equal(view.flags, trade.flags);
    assert.equal(view.seq, trade.seq);
    assert.equal(view.tsEvent, trade.tsEvent);
    assert.equal(view.tsEventMs, Number(trade.tsEvent / 1_000_000n));
    assert.equal(view.tsRecv, trade.tsRecv);
    assert.equal(view.price, trade.price);
    assert.equal(view.priceFixed, trade.priceFixed);
    assert.equal(view.size, trade.size);
    assert.equal(view.tradeId, trade.tradeId);
    checkTradeRecord(trade);
  }
  assert.throws(() => view.select(count), RangeError);
  // Nothing invented, nothing lost.
  assert.deepEqual(encodeMessage(trades), bytes);
  return trades;
}

/** Same-length damage: compares record by record with the original. */
function checkUntouched(
  original: Uint8Array,
  damaged: Uint8Array,
  expected: readonly Trade[],
  got: readonly Trade[],
  count: (outcome: string) => void,
): void {
  let different = false;
  for (let i = 0; i < expected.length; i++) {
    const at = i * TRADE_RECORD_SIZE;
    const same = original.subarray(at, at + TRADE_RECORD_SIZE)
      .every((byte, j) => byte === damaged[at + j]);
    if (same) assert.deepEqual(got[i], expected[i], `untouched record ${i}`);
    else different = true;
  }
  count(different ? "mutated: accepted, different" : "mutated: accepted, same");
}

/** A field the decoder checks, set to a value it must refuse. */
const DETECTABLE:
  readonly ((view: DataView, at: number, random: Random) => string)[] = [
    (v, at, r) => {
      v.setUint8(at + RecordOffset.Version, r.pick([0, 2, 255]));
      return "version";
    },
    (v, at, r) => {
      v.setUint8(at + RecordOffset.Side, r.range(3, 255));
      return "side";
    },
    (v, at, r) => {
      v.setBigInt64(
        at + RecordOffset.Price,
        -BigInt(r.range(0, 2 ** 40)),
        true,
      );
      return "price";
    },
    (v, at, r) => {
      v.setFloat64(
        at + RecordOffset.Size,
        r.pick([0, -0, -1, NaN, Infinity, -Infinity, -Number.MIN_VALUE]),
        true,
      );
      return "size";
    },
    (v, at, r) => {
      const offset = r.pick([RecordOffset.TsEvent, RecordOffset.TsRecv]);
      v.setBigInt64(at + offset, -BigInt(r.range(1, 2 ** 40)), true);
      return "time";
    },
  ];

serveFuzzTarget((random, count) => {
  switch (random.int(4)) {
    case 0: {
      const length = random.chance(0.5)
        ? TRADE_RECORD_SIZE * random.range(1, 4)
        : random.int(5 * TRADE_RECORD_SIZE);
      const trades = decode(random.bytes(length));
      count(`random bytes: ${trades === undefined ? "refused" : "accepted"}`);
      return;
    }
    case 1:
    case 2: {
      const records = Array.from(
        { length: random.range(1, 6) },
        () => validRecord(random),
      );
      const original = encodeMessage(records);
      const expected = decode(original);
      assert.ok(expected !== undefined, "a valid message was refused");
      const sameLength = random.chance(0.7);
      const damaged = mutate(original, random, {
        kinds: sameLength
          ? ["flip bit", "set byte"]
          : ["insert", "delete", "truncate", "set byte"],
      });
      const got = decode(damaged);
      if (got === undefined) count("mutated: refused");
      else if (damaged.length === original.length) {
        checkUntouched(original, damaged, expected, got, count);
      } else count("mutated: accepted, shifted");
      return;
    }
    default: {
      const records = Array.from(
        { length: random.range(1, 6) },
        () => validRecord(random),
      );
      const bytes = encodeMessage(records);
      const index = random.int(records.length);
      const field = random.pick(DETECTABLE)(
        new DataView(bytes.buffer),
        index * TRADE_RECORD_SIZE,
        random,
      );
      assert.equal(decode(bytes), undefined, `bad ${field} accepted`);
      try {
        checkMessage(bytes);
      } catch (error) {
        assert.ok(error instanceof WireFormatError);
        assert.equal(error.recordIndex, index, `bad ${field}`);
      }
      count(`bad ${field}: refused`);
    }
  }
});
