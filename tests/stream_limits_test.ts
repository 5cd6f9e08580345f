/**
 * Checks the `max_bytes_per_subject` → `max_msgs_per_subject` mapping
 * against what a real nats-server accounts for stored messages.
 */
import assert from "node:assert/strict";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { headers } from "@nats-io/nats-core";
import {
  encodeMessage,
  natsMessageId,
  parsePrice,
  Side,
  tradeSubject,
} from "../common/wire/mod.ts";
import {
  maxMsgsPerSubjectFor,
  singleTradeMessageSize,
  type Storage,
} from "../common/config/mod.ts";
import { natsTest } from "./_permissions.ts";

function trade(tradeId: bigint) {
  return {
    side: Side.Buy,
    flags: 0,
    seq: Number(tradeId % 4294967296n),
    tsEvent: 1_764_000_000_000_000_000n,
    tsRecv: 1_764_000_000_000_100_000n,
    priceFixed: parsePrice("67123.45"),
    size: 0.5,
    tradeId,
  } as const;
}

for (const storage of ["file", "memory"] as Storage[]) {
  natsTest({
    name:
      `stream limits: stored size of a single-trade message matches nats-server (${storage})`,
    async fn(_t, url) {
      const nc = await connect({ servers: url, noAsyncTraces: true });
      const prefix = `mbtest${crypto.randomUUID().slice(0, 8)}`;
      const stream = prefix.toUpperCase();
      const shape = {
        subjectPrefix: prefix,
        exchange: "binance",
        symbols: ["BTCUSDT", "ETHUSDT"],
        storage,
      };
      const size = singleTradeMessageSize(shape);
      const budget = size * 10 + size / 2;
      const maxMsgs = maxMsgsPerSubjectFor(budget, shape);
      assert.equal(maxMsgs, 10);
      const jsm = await jetstreamManager(nc);
      try {
        await jsm.streams.add(
          {
            name: stream,
            subjects: [`${prefix}.>`],
            storage: storage === "file" ? "file" : "memory",
            max_msgs_per_subject: maxMsgs,
          } as Parameters<typeof jsm.streams.add>[0],
        );
        const js = jetstream(nc);
        const origin = { exchange: "binance", symbol: "BTCUSDT" };
        const subject = tradeSubject(origin.exchange, origin.symbol, {
          prefix,
        });
        // The worst case the estimate assumes: a 20-digit trade id, a
        // 10-digit seq, a 10-digit run epoch.
        const epoch = headers();
        epoch.set("Marketbus-Epoch", "4294967295");
        const firstSeq = 2 ** 32 - 1;
        const maxId = 18446744073709551615n;
        await js.publish(subject, encodeMessage([trade(maxId)]), {
          msgID: natsMessageId(origin, maxId, { firstSeq }),
          headers: epoch,
        });
        let info = await jsm.streams.info(stream);
        assert.equal(info.state.bytes, size, "stored bytes of one message");
        for (let id = 1n; id <= 25n; id++) {
          await js.publish(subject, encodeMessage([trade(maxId - id)]), {
            msgID: natsMessageId(origin, maxId - id, { firstSeq }),
            headers: epoch,
          });
        }
        info = await jsm.streams.info(stream);
        assert.equal(info.state.messages, 10);
        assert.ok(
          info.state.bytes <= budget,
          `${info.state.bytes} > ${budget}`,
        );
      } finally {
        await jsm.streams.delete(stream).catch(() => {});
        await nc.close();
      }
    },
  });
}
