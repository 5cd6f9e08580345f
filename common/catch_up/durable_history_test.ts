// A ring durable's history against a real nats-server whose stream kept
// only its last 5 messages (max_msgs) while the durable was down: the
// trades past the position it no longer holds are told as an exact
// `stream limit or deleted` gap before the first it still has (they went
// by silently before).

import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { headers } from "@nats-io/nats-core";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { parseConfig } from "../config/mod.ts";
import { NatsFeed } from "../nats/feed.ts";
import { encodeMessage } from "../wire/codec.ts";
import { RUN_EPOCH_HEADER } from "../wire/run_epoch.ts";
import { tradeSubject } from "../wire/subjects.ts";
import { captureLog } from "../../tests/_capture_log.ts";
import { natsTest } from "../../tests/_permissions.ts";
import { durableStart, type Position } from "./mod.ts";

/** When the trades were received, ns: now (the history starts 2 s before the position). */
const NOW = BigInt(Date.now()) * 1_000_000n;

natsTest({
  name:
    "durable history: a stream that discarded trades past the position (max_msgs) tells them as an exact gap before the first it still holds",
  async fn(_t, url) {
    const run = crypto.randomUUID().slice(0, 8);
    const stream = `DURH_${run}`.toUpperCase();
    const prefix = `durh${run}`;
    const nc = await connect({ servers: url, noAsyncTraces: true });
    const jsm = await jetstreamManager(nc);
    try {
      await jsm.streams.add({
        name: stream,
        subjects: [`${prefix}.>`],
        max_msgs: 5,
      });
      const js = jetstream(nc);
      const epoch = headers();
      epoch.set(RUN_EPOCH_HEADER, "9");
      for (let seq = 1; seq <= 20; seq++) {
        await js.publish(
          tradeSubject("binance", "BTCUSDT", { prefix }),
          encodeMessage([{
            side: 1,
            flags: 0,
            seq,
            tsEvent: NOW + BigInt(seq),
            tsRecv: NOW + BigInt(seq),
            priceFixed: 1_000_000_000n,
            size: 1,
            tradeId: BigInt(seq),
          }]),
          { headers: epoch },
        );
      }
      // Delivered up to 5 before the kill; 6 to 15 discarded since.
      const position: Position = { epoch: 9, seq: 5, tsRecv: NOW + 5n };
      const start = durableStart({
        name: "d",
        get: (_exchange, symbol) => symbol === "BTCUSDT" ? position : undefined,
      }, { exchange: "binance", symbols: ["BTCUSDT"] });
      const source = parseConfig(
        `[data_source]\nsymbols = ["BTCUSDT"]\n[data_source.nats]\nstream_name = "${stream}"\nsubject_prefix = "${prefix}"\n[data_source.nats.connection]\nservers = [${
          JSON.stringify(url)
        }]\n`,
      ).dataSource;
      const history = new NatsFeed({
        connection: source.nats.connection,
        consumer: {
          ...source.nats.consumer,
          exchange: "binance",
          symbols: ["BTCUSDT"],
          deliver: "by_start_time",
          startTime: start.historyStart,
          replay: "instant",
        },
        streamName: stream,
        subjectPrefix: prefix,
        log: captureLog().log,
      });
      const got: string[] = [];
      const stop = new AbortController();
      const timeout = setTimeout(() => stop.abort(), 10_000);
      await start.history(history).subscribeTrades(
        ["BTCUSDT"],
        (trade) => {
          got.push(String(trade.seq));
          if (trade.seq === 20) stop.abort();
        },
        {
          signal: stop.signal,
          onGap: (gap) =>
            got.push(
              `gap ${gap.cause} ${gap.firstSeq}..${gap.lastSeq} ${gap.count}`,
            ),
        },
      );
      clearTimeout(timeout);
      assert.deepEqual(got, [
        "gap stream limit or deleted 6..15 10",
        "16",
        "17",
        "18",
        "19",
        "20",
      ]);
    } finally {
      await jsm.streams.delete(stream).catch(() => {});
      await nc.close();
    }
  },
});
