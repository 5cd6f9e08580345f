// The trade a hot standby resumes after, against a real nats-server: the
// highest trade id of the subject, also when a retried message of lower ids
// was stored after later ones (the last message is then not the highest).

import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { natsTest } from "../../tests/_permissions.ts";
import { encodeMessage } from "../wire/codec.ts";
import { Side, type TradeRecord } from "../wire/trade.ts";
import { lastTrades } from "./last_trades.ts";

/** Trades `from`..`to` (ids and seqs alike) as one message. */
function trades(from: number, to: number): Uint8Array {
  const records: TradeRecord[] = [];
  for (let id = from; id <= to; id++) {
    records.push({
      side: Side.Buy,
      flags: 0,
      seq: id,
      tsEvent: 1n,
      tsRecv: 1n,
      priceFixed: 1_000_000_000n,
      size: 1,
      tradeId: BigInt(id),
    });
  }
  return encodeMessage(records);
}

natsTest({
  name:
    "lastTrades: the highest trade id of the subject, even when a retried message of lower ids was stored last; undefined without a message",
  fn: async (_t, url) => {
    const nc = await connect({ servers: url });
    const stream = `LT_${crypto.randomUUID().slice(0, 8).toUpperCase()}`;
    const prefix = stream.toLowerCase();
    const jsm = await jetstreamManager(nc);
    try {
      await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`] });
      const js = jetstream(nc);
      const btc = `${prefix}.binance.BTCUSDT.trades`;
      const eth = `${prefix}.binance.ETHUSDT.trades`;
      await js.publish(btc, trades(1, 10));
      await js.publish(eth, trades(1, 5));
      await js.publish(btc, trades(21, 30));
      await js.publish(eth, trades(6, 7));
      await js.publish(btc, trades(11, 20)); // the retry, stored last
      const found = await lastTrades(nc, ["BTCUSDT", "ETHUSDT", "SOLUSDT"], {
        streamName: stream,
        subjectPrefix: prefix,
        exchange: "binance",
      });
      assert.deepEqual(found, [
        { seq: 30, tradeId: 30n },
        { seq: 7, tradeId: 7n },
        undefined,
      ]);
    } finally {
      await jsm.streams.delete(stream).catch(() => {});
      await nc.close();
    }
  },
});
