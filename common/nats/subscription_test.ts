// The NATS subscription hands each loss it counts (trades the stream no
// longer held) to onGap, in order: after the trades before it, just before
// the first trade after it, with the exact seqs and count. Messages are
// plain objects with the fields a non-acknowledging subscription reads (the
// multi-process tests in tests/nats_consumer_loss_test.ts make the server
// discard them for real).

import assert from "node:assert/strict";
import type { JsMsg } from "@nats-io/jetstream";
import { encodeMessage } from "../wire/codec.ts";
import { tradeSubject } from "../wire/subjects.ts";
import { Side } from "../wire/trade.ts";
import type { TradeGap } from "../transport/feed.ts";
import { Subscription } from "./_subscription.ts";

const PREFIX = "market";

/** A message at stream sequence `streamSeq` of `symbol`'s trades with seqs `first` to `last`. */
function message(
  streamSeq: number,
  symbol: string,
  first: number,
  last: number,
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
  // The reply subject holds the sequences (delivery sequence = stream sequence here).
  const reply = `$JS.ACK.TRADES.c.1.${streamSeq}.${streamSeq}.0.0`;
  return { seq: streamSeq, subject, reply, data } as unknown as JsMsg;
}

/** A subscription of BTCUSDT and ETHUSDT that logs trades and gaps in `seen`. */
function subscribe(): { subscription: Subscription; seen: string[] } {
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
      prefix: PREFIX,
      limit: Infinity,
      acks: false,
      emit: () => {},
      stream: "TRADES",
      restart: undefined,
    },
  );
  subscription.begin(0);
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
