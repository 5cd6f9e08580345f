// The NATS subscription hands each loss it counts (trades the stream no
// longer held) to onGap, in order: after the trades before it, just before
// the first trade after it, with the exact seqs and count. It puts
// redeliveries the server sends out of stream order back in order. Messages
// are plain objects with the fields the subscription reads (the
// multi-process tests in tests/nats_consumer_loss_test.ts make the server
// discard them for real; tests/nats_feed_test.ts has it redeliver).

import assert from "node:assert/strict";
import type { JsMsg } from "@nats-io/jetstream";
import { encodeMessage } from "../wire/codec.ts";
import { tradeSubject } from "../wire/subjects.ts";
import { Side } from "../wire/trade.ts";
import type { SkipTrade, TradeGap, TradePlace } from "../transport/feed.ts";
import { Subscription } from "./_subscription.ts";
import { RedeliveryHold } from "./_redelivery_hold.ts";

const PREFIX = "market";

/** A message at stream sequence `streamSeq` of `symbol`'s trades with seqs `first` to `last`. */
function message(
  streamSeq: number,
  symbol: string,
  first: number,
  last: number,
  delivery: { seq: number; acked?: number[] } = { seq: streamSeq },
): JsMsg {
  const data = encodeMessage(
    Array.from({ length: last - first + 1 }, (_, i) => ({
      side: Side.Buy,
      flags: 0,
      seq: (first + i) % 2 ** 32,
      tsEvent: 1n,
      tsRecv: 1n,
      priceFixed: 1_000_000_000n,
      size: 1,
      tradeId: BigInt(first + i),
    })),
  );
  const subject = tradeSubject("binance", symbol, { prefix: PREFIX });
  // The reply subject holds the stream and delivery sequences.
  const reply = `$JS.ACK.TRADES.c.1.${streamSeq}.${delivery.seq}.0.0`;
  const ack = () => delivery.acked?.push(delivery.seq);
  return { seq: streamSeq, subject, reply, data, ack } as unknown as JsMsg;
}

/** A subscription of BTCUSDT and ETHUSDT that logs trades and gaps in `seen`. */
function subscribe(
  options: { acks?: boolean; limit?: number; skip?: SkipTrade } = {},
): { subscription: Subscription; seen: string[] } {
  const seen: string[] = [];
  const gap = (g: TradeGap) =>
    `gap ${g.symbol} ${g.stream} ${g.cause} ${g.firstSeq}-${g.lastSeq} ${g.count}`;
  const subscription = new Subscription(
    ["BTCUSDT", "ETHUSDT"],
    (trade, origin) => {
      seen.push(`${origin.symbol} ${trade.seq}`);
    },
    {
      exchange: "binance",
      onStream: () => {},
      onGap: (g) => seen.push(gap(g)),
      skip: options.skip,
      prefix: PREFIX,
      limit: options.limit ?? Infinity,
      acks: options.acks ?? false,
      emit: () => {},
      stream: "TRADES",
      restart: undefined,
    },
  );
  if (!options.acks) subscription.begin(0);
  return { subscription, seen };
}

Deno.test("Subscription: a loss goes to onGap just before the next trade of its stream, with exact seqs and count", () => {
  const { subscription, seen } = subscribe();
  subscription.receive(message(1, "BTCUSDT", 1, 2));
  subscription.receive(message(2, "ETHUSDT", 1, 1));
  // Stream sequences 3 to 5 discarded: BTCUSDT 3..9 and ETHUSDT 2..4.
  subscription.receive(message(6, "BTCUSDT", 10, 11));
  subscription.receive(message(7, "ETHUSDT", 5, 5));
  // A publisher's own jump (nothing missing in between): no gap.
  subscription.receive(message(8, "ETHUSDT", 9, 9));
  assert.deepEqual(seen, [
    "BTCUSDT 1",
    "BTCUSDT 2",
    "ETHUSDT 1",
    "gap BTCUSDT 0 stream limit or deleted 3-9 7",
    "BTCUSDT 10",
    "BTCUSDT 11",
    "gap ETHUSDT 1 stream limit or deleted 2-4 3",
    "ETHUSDT 5",
    "ETHUSDT 9",
  ]);
  assert.deepEqual(subscription.channels.map((c) => c.lost), [7, 3]);
});

Deno.test("Subscription: trades the skip rule rules out (by stream sequence) are counted skipped, not received, and not toward the limit", () => {
  const places: string[] = [];
  const { subscription, seen } = subscribe({
    limit: 2,
    skip: (trade, stream, place) => {
      places.push(`${stream} ${trade.seq}@${place.streamSeq}`);
      return place.streamSeq <= 2;
    },
  });
  subscription.receive(message(1, "BTCUSDT", 1, 2));
  subscription.receive(message(2, "ETHUSDT", 1, 1));
  subscription.receive(message(3, "BTCUSDT", 3, 3));
  subscription.receive(message(4, "BTCUSDT", 4, 4));
  subscription.receive(message(5, "BTCUSDT", 5, 5)); // past the limit
  assert.deepEqual(seen, ["BTCUSDT 3", "BTCUSDT 4"]);
  assert.deepEqual(places, ["0 1@1", "0 2@1", "1 1@2", "0 3@3", "0 4@4"]);
  assert.deepEqual(
    subscription.channels.map((c) => [c.received, c.skipped]),
    [[2, 2], [0, 1]],
  );
});

Deno.test("Subscription: a loss across the u32 seq wrap names the seqs modulo 2^32", () => {
  const { subscription, seen } = subscribe();
  subscription.receive(message(1, "BTCUSDT", 2 ** 32 - 3, 2 ** 32 - 3));
  subscription.receive(message(3, "BTCUSDT", 2, 2));
  assert.deepEqual(seen, [
    `BTCUSDT ${2 ** 32 - 3}`,
    `gap BTCUSDT 0 stream limit or deleted ${2 ** 32 - 2}-1 4`,
    "BTCUSDT 2",
  ]);
});

/**
 * The six messages a run left unacknowledged (stream sequences 10 to 15,
 * BTCUSDT and ETHUSDT in turn, one trade each), redelivered with delivery
 * sequences 13 to 18 in the order nats-server 2.14.9 was seen to send them:
 * the last one first.
 */
function redelivered(acked: number[]): JsMsg[] {
  const order = [15, 10, 11, 12, 13, 14];
  return order.map((streamSeq, i) => {
    const btc = streamSeq % 2 === 0;
    const tradeSeq = btc ? (streamSeq - 10) / 2 + 1 : (streamSeq - 11) / 2 + 1;
    return message(streamSeq, btc ? "BTCUSDT" : "ETHUSDT", tradeSeq, tradeSeq, {
      seq: 13 + i,
      acked,
    });
  });
}

const IN_ORDER = [
  "BTCUSDT 1",
  "ETHUSDT 1",
  "BTCUSDT 2",
  "ETHUSDT 2",
  "BTCUSDT 3",
  "ETHUSDT 3",
];

Deno.test("Subscription: redeliveries sent out of stream order are held, then delivered in order and acknowledged once", async () => {
  const acked: number[] = [];
  const { subscription, seen } = subscribe({ acks: true });
  subscription.holdRedeliveries(
    new RedeliveryHold(6, { floor: 9, last: 15, maxWaitMs: 60_000 }),
  );
  const round = subscription.begin(13);
  const messages = redelivered(acked);
  for (const m of messages.slice(0, 5)) subscription.receive(m);
  assert.deepEqual(seen, [], "held until the sixth redelivery");
  subscription.receive(messages[5]);
  assert.deepEqual(seen, IN_ORDER);
  await Promise.resolve();
  // AckAll: the last one received (delivery sequence 18) acknowledges all six.
  assert.deepEqual(acked, [18]);
  // Held no more: the next message goes through at once.
  subscription.receive(
    message(16, "BTCUSDT", 4, 4, { seq: 19, acked }),
  );
  assert.equal(seen.at(-1), "BTCUSDT 4");
  subscription.finish();
  assert.equal(await round, "done");
});

Deno.test("Subscription: a hold whose redeliveries do not all come delivers what it has, in order, after its time", async () => {
  const acked: number[] = [];
  const { subscription, seen } = subscribe({ acks: true });
  subscription.holdRedeliveries(
    new RedeliveryHold(7, { floor: 9, last: 16, maxWaitMs: 30 }),
  );
  const round = subscription.begin(13);
  for (const m of redelivered(acked)) subscription.receive(m);
  assert.deepEqual(seen, []);
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.deepEqual(seen, IN_ORDER);
  assert.deepEqual(acked, [18]);
  subscription.finish();
  assert.equal(await round, "done");
});

Deno.test("Subscription: the limit is checked after all the held messages, so AckAll acknowledges none undelivered", async () => {
  const acked: number[] = [];
  const { subscription, seen } = subscribe({ acks: true, limit: 2 });
  subscription.holdRedeliveries(
    new RedeliveryHold(6, { floor: 9, last: 15, maxWaitMs: 60_000 }),
  );
  const round = subscription.begin(13);
  for (const m of redelivered(acked)) subscription.receive(m);
  assert.equal(await round, "done");
  assert.deepEqual(seen, IN_ORDER);
  assert.deepEqual(acked, [18]);
});

Deno.test("Subscription: a delivery sequence jump while holding drops the held messages unacknowledged, to be rewound", async () => {
  const acked: number[] = [];
  const { subscription, seen } = subscribe({ acks: true });
  subscription.holdRedeliveries(
    new RedeliveryHold(6, { floor: 9, last: 15, maxWaitMs: 60_000 }),
  );
  const round = subscription.begin(13);
  const messages = redelivered(acked);
  subscription.receive(messages[0]);
  subscription.receive(messages[2]); // delivery sequence 15 after 13
  assert.equal(await round, "gap");
  assert.deepEqual(seen, []);
  assert.deepEqual(acked, []);
});

Deno.test("Subscription: a skip rule sees each message's stream sequence, and a stream created again since the start as a later generation", () => {
  const places: TradePlace[] = [];
  const { subscription, seen } = subscribe({
    skip: (trade, _stream, place) => {
      places.push({ ...place });
      return trade.seq === 1; // skips the first trade of each run
    },
  });
  subscription.reading({ created: "t0", lastSeq: 2 });
  subscription.receive(message(1, "BTCUSDT", 1, 2));
  // The stream is deleted and created again: its sequences start over.
  assert.equal(subscription.reading({ created: "t1", lastSeq: 1 }), true);
  subscription.receive(message(1, "BTCUSDT", 1, 1));
  assert.deepEqual(places, [
    { streamSeq: 1, epoch: 0, generation: 0 },
    { streamSeq: 1, epoch: 0, generation: 0 },
    { streamSeq: 1, epoch: 0, generation: 1 },
  ]);
  assert.deepEqual(seen, ["BTCUSDT 2"]);
  assert.equal(subscription.channels[0].skipped, 2);
});
