import assert from "node:assert/strict";
import {
  addLoss,
  decodePositions,
  encodePositions,
  isNewStream,
  LOSS_REPORT_MS,
  type LossCounts,
  LossWatch,
  pendingLossEvent,
} from "./_feed_loss.ts";

/** Delivers messages `[streamSeq, firstSeq, lastSeq]` of stream `key`; the trades lost before each. */
function deliver(
  watch: LossWatch,
  key: string,
  messages: [number, number, number][],
): number[] {
  return messages.map(([streamSeq, first, last]) => {
    watch.delivered(streamSeq);
    return watch.trades(key, streamSeq, first, last);
  });
}

Deno.test("LossWatch: consecutive messages lose nothing; a seq jump across a stream-sequence jump is that many trades", () => {
  const watch = new LossWatch();
  assert.deepEqual(
    deliver(watch, "b.X", [[1, 1, 4], [2, 5, 5], [3, 6, 9], [7, 20, 21]]),
    [0, 0, 0, 10],
  );
  assert.equal(watch.lastDelivered, 7);
  assert.deepEqual(watch.positions.get("b.X"), { tradeSeq: 21, streamSeq: 7 });
});

Deno.test("LossWatch: a seq jump with every stream sequence delivered is the publisher's, not a loss", () => {
  const watch = new LossWatch();
  assert.deepEqual(
    deliver(watch, "b.X", [[1, 1, 1], [2, 2, 2], [3, 9, 9]]),
    [0, 0, 0],
  );
});

Deno.test("LossWatch: a stream-sequence jump of other streams' messages is no loss; one after a stream's message is", () => {
  const watch = new LossWatch();
  // A filtered consumer: X at 1, 5, 9 (the rest is other subjects).
  assert.deepEqual(
    deliver(watch, "b.X", [[1, 1, 1], [5, 2, 3], [9, 4, 4]]),
    [0, 0, 0],
  );
  // Y's previous message came after the jump to 5: X's jump is not Y's.
  const both = new LossWatch();
  deliver(both, "b.X", [[1, 1, 1]]);
  deliver(both, "b.X", [[5, 2, 2]]);
  deliver(both, "b.Y", [[6, 1, 1]]);
  assert.deepEqual(deliver(both, "b.Y", [[7, 4, 4]]), [0]);
  assert.deepEqual(deliver(both, "b.Y", [[9, 7, 7]]), [2]);
});

Deno.test("LossWatch: a step back is a new publisher run, not a loss; seq wraps at 2^32", () => {
  const watch = new LossWatch();
  assert.deepEqual(
    deliver(watch, "b.X", [[1, 500, 500], [9, 1, 3], [
      10,
      2 ** 32 - 2,
      2 ** 32 - 1,
    ], [
      11,
      0,
      1,
    ], [15, 5, 5]]),
    [0, 0, 0, 0, 3],
  );
});

Deno.test("LossWatch: a resumed consumer counts from a seeded position; seeds never overwrite", () => {
  const watch = new LossWatch();
  watch.resume(10);
  watch.seed("b.X", { tradeSeq: 40, streamSeq: 8 });
  watch.seed("b.X", { tradeSeq: 1, streamSeq: 1 });
  assert.equal(watch.has("b.X"), true);
  assert.equal(watch.has("b.Y"), false);
  // Messages 11 to 19 went: X's trades 41 to 59 with them.
  assert.deepEqual(deliver(watch, "b.X", [[20, 60, 61]]), [19]);
  // A stream with no position starts there.
  assert.deepEqual(deliver(watch, "b.Y", [[21, 7, 7]]), [0]);
  // Messages delivered again (a rewind) do not move back.
  watch.delivered(15);
  assert.equal(watch.lastDelivered, 21);
});

Deno.test("LossWatch: on a new stream (the old one deleted) a seq jump at each stream's next message is lost, whatever its stream sequence", () => {
  const watch = new LossWatch();
  deliver(watch, "b.X", [[1, 1, 4], [2, 5, 5]]);
  deliver(watch, "b.Y", [[3, 1, 1]]);
  watch.newStream();
  assert.equal(watch.lastDelivered, 0);
  assert.deepEqual(watch.positions.get("b.X"), { tradeSeq: 5, streamSeq: 0 });
  // Numbered from 1 again, every message delivered: X's trades 6 to 9 and
  // Y's 2 went with the old stream; a step back is a new publisher run.
  assert.deepEqual(
    deliver(watch, "b.X", [[1, 10, 10], [2, 11, 11]]),
    [4, 0],
  );
  assert.deepEqual(deliver(watch, "b.Y", [[3, 3, 3]]), [1]);
  const back = new LossWatch();
  deliver(back, "b.X", [[7, 500, 500]]);
  back.newStream();
  assert.deepEqual(deliver(back, "b.X", [[1, 1, 1], [2, 2, 2]]), [0, 0]);
  // A publisher's gap within the new stream is no loss, as before.
  assert.deepEqual(deliver(back, "b.X", [[3, 9, 9]]), [0]);
});

Deno.test("isNewStream: another creation time, or a last sequence below the one delivered", () => {
  const old = { created: "2026-01-01T00:00:00.1Z", lastSeq: 40 };
  assert.equal(isNewStream(old, { ...old, lastSeq: 90 }, 40), false);
  assert.equal(
    isNewStream(old, { created: "2026-01-01T00:00:09Z", lastSeq: 90 }, 40),
    true,
  );
  assert.equal(isNewStream(undefined, { ...old, lastSeq: 90 }, 40), false);
  assert.equal(isNewStream(undefined, { ...old, lastSeq: 3 }, 40), true);
  assert.equal(isNewStream(old, { ...old, lastSeq: 3 }, 40), true);
  assert.equal(isNewStream(undefined, { ...old, lastSeq: 0 }, 0), false);
});

Deno.test("positions are saved with the acknowledged position and read back only at that position", () => {
  const watch = new LossWatch();
  deliver(watch, "binance.BTCUSDT", [[3, 1, 5]]);
  deliver(watch, "coinbase.BTC-USD", [[4, 7, 7]]);
  const text = encodePositions(4, watch.positions);
  assert.deepEqual(
    decodePositions(text, 4),
    new Map([
      ["binance.BTCUSDT", { streamSeq: 3, tradeSeq: 5 }],
      ["coinbase.BTC-USD", { streamSeq: 4, tradeSeq: 7 }],
    ]),
  );
  assert.equal(decodePositions(text, 5), undefined, "another ack floor");
  assert.equal(decodePositions(undefined, 4), undefined);
  assert.equal(decodePositions("{", 4), undefined);
  assert.equal(decodePositions("null", 4), undefined);
  assert.deepEqual(
    decodePositions('{"floor":4,"streams":{"a.B":[1,-2],"c.D":[2,3]}}', 4),
    new Map([["c.D", { streamSeq: 2, tradeSeq: 3 }]]),
  );
});

Deno.test("losses are warned at once, then at most once per stream per interval, the rest at the end", () => {
  const channel: LossCounts & {
    index: number;
    exchange: string;
    symbol: string;
  } = {
    index: 2,
    exchange: "binance",
    symbol: "SOLUSDT",
    lost: 0,
    unreported: 0,
    reportedAt: -Infinity,
  };
  const first = addLoss(channel, 1234, { streamSeq: 77, now: 1000 });
  assert.equal(first?.kind, "lost");
  assert.deepEqual(first?.lostBy, { "stream limit or deleted": 1234 });
  assert.equal(first?.stream, 2);
  assert.equal(
    first?.message,
    `binance SOLUSDT: 1,234 trades lost before stream sequence 77: the stream no longer held them when this consumer got there (stream limits or deleted); further losses of SOLUSDT are reported at most every ${
      LOSS_REPORT_MS / 1000
    } s`,
  );
  assert.equal(addLoss(channel, 5, { streamSeq: 90, now: 2000 }), undefined);
  assert.equal(addLoss(channel, 6, { streamSeq: 99, now: 3000 }), undefined);
  assert.equal(pendingLossEvent(channel, 1000 + LOSS_REPORT_MS - 1), undefined);
  assert.equal(
    pendingLossEvent(channel, 1000 + LOSS_REPORT_MS)?.message,
    "binance SOLUSDT: 11 more trades lost (stream limits or deleted), 1,245 in total",
  );
  assert.equal(pendingLossEvent(channel, 1e9), undefined, "nothing new");
  // After a quiet interval, at once.
  assert.match(
    addLoss(channel, 1, { streamSeq: 120, now: 1e9 })?.message ?? "",
    /: 1 more trades lost .* 1,246 in total$/,
  );
  assert.equal(
    addLoss(channel, 2, { streamSeq: 130, now: 1e9 + 1 }),
    undefined,
  );
  assert.equal(pendingLossEvent(channel, 1e9 + 2), undefined);
  assert.match(
    pendingLossEvent(channel, 1e9 + 2, true)?.message ?? "",
    /: 2 more trades lost .* 1,248 in total$/,
  );
  assert.equal(channel.lost, 1248);
});
