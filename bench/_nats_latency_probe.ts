/**
 * Where the NATS path's latency goes: a durable pull consumer (deliver new,
 * AckAll, the feed's pull settings, over the feed's connection) that splits
 * each trade's latency, `ts_recv` to the callback, at the time the server
 * stored its message (the timestamp in the message's reply subject): publish
 * → stored (serve and the server's ingest) and stored → callback (delivery
 * and the consumer's wake-up). Run as a process by `bench/nats_path.ts
 * --split` in place of `live`:
 *
 *   deno run --allow-net=127.0.0.1,localhost --allow-ffi --allow-env bench/_nats_latency_probe.ts URL STREAM TRADES
 *
 * Prints `ready` once its consumer exists, then, after TRADES trades, one
 * JSON line: p50 and p99 (ns) of the three latencies, and trades per
 * message.
 *
 * @module
 */

import { AckPolicy, DeliverPolicy, jetstreamManager } from "@nats-io/jetstream";
import type { JsMsg } from "@nats-io/jetstream";
import { connectNats } from "../common/nats/connection.ts";
import { readWallClock } from "../common/runtime/clock.ts";
import { RecordOffset } from "../common/wire/record.ts";
import { TRADE_RECORD_SIZE } from "../common/wire/trade.ts";

/** The split's figures, ns. */
export interface LatencySplit {
  /** `ts_recv` to the callback. */
  total: { p50: number; p99: number };
  /** `ts_recv` to the server's store time. */
  toStored: { p50: number; p99: number };
  /** The server's store time to the callback. */
  storedToCallback: { p50: number; p99: number };
  /** Trades per message. */
  tradesPerMessage: number;
}

/** The `p`-quantile (0–1) of `values`, sorted in place. */
function quantile(values: Float64Array, p: number): number {
  values.sort();
  return values[Math.min(values.length - 1, Math.floor(p * values.length))];
}

/** The server's store time (ns since the epoch) in a JetStream reply subject: the 4th token from the end of 9 or 11 tokens, the 3rd of 12. */
function storedAt(reply: string): number {
  const tokens = reply.split(".");
  return Number(tokens[tokens.length === 12 ? 9 : tokens.length - 2]);
}

async function probe(url: string, stream: string, trades: number) {
  const nc = await connectNats({
    servers: [url],
    name: "latency-probe",
    auth: { kind: "none" },
    tls: undefined,
    connectTimeoutMs: 5000,
  }, { log: { debug() {}, info() {}, warn() {}, error() {} } });
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  await jsm.consumers.add(stream, {
    durable_name: "latency-probe",
    ack_policy: AckPolicy.All,
    deliver_policy: DeliverPolicy.New,
    max_ack_pending: 1000,
  });
  const consumer = await jsm.jetstream().consumers.get(
    stream,
    "latency-probe",
  );
  const total = new Float64Array(trades);
  const toStored = new Float64Array(trades);
  const storedToCallback = new Float64Array(trades);
  // The first clock read loads libc through FFI (~5 ms): not in a callback.
  const clock = readWallClock({ seconds: 0, nanos: 0 });
  let received = 0;
  let messages = 0;
  let unacked: JsMsg | undefined;
  const done = Promise.withResolvers<void>();
  const ack = () => {
    unacked?.ack();
    unacked = undefined;
  };
  const messagesIn = await consumer.consume({
    max_messages: 512,
    expires: 3000,
    callback: (message) => {
      readWallClock(clock);
      const now = clock.seconds * 1e9 + clock.nanos;
      const reply = (message as JsMsg & { reply: string }).reply;
      const stored = storedAt(reply);
      const data = message.data;
      const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      for (
        let at = 0;
        at < data.byteLength && received < trades;
        at += TRADE_RECORD_SIZE
      ) {
        const recv = Number(
          view.getBigInt64(at + RecordOffset.TsRecv, true),
        );
        total[received] = now - recv;
        toStored[received] = stored - recv;
        storedToCallback[received] = now - stored;
        received++;
      }
      messages++;
      if (unacked === undefined) queueMicrotask(ack);
      unacked = message;
      if (received >= trades) done.resolve();
    },
  });
  console.log("ready");
  await done.promise;
  ack();
  await messagesIn.close();
  await nc.close();
  const split = (values: Float64Array) => ({
    p50: quantile(values, 0.5),
    p99: quantile(values, 0.99),
  });
  const result: LatencySplit = {
    total: split(total),
    toStored: split(toStored),
    storedToCallback: split(storedToCallback),
    tradesPerMessage: received / messages,
  };
  console.log(JSON.stringify(result));
}

if (import.meta.main) {
  const [url, stream, trades] = Deno.args;
  if (!url || !stream || !(Number(trades) >= 1)) {
    console.error("usage: _nats_latency_probe.ts URL STREAM TRADES");
    Deno.exit(2);
  }
  await probe(url, stream, Number(trades));
}
