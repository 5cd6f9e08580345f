// Tests of the NATS JetStream feed against real nats-server processes
// from the harness, one per test, fed by the test itself (js.publish of
// encoded records): order and bytes of multi-record messages, filters, fan-out,
// replay after a restart, deliver policies, the ordered mode, invalid messages,
// abort, the limit, conflicting durables, a deleted durable recreated,
// messages lost in transit, a server that stops answering and server
// restarts. With NATS_URL readable, all but those that stop or restart the
// server run on that server instead, in a stream and subject prefix unique to
// the run, deleted after each test. The shared helpers are in
// _nats_feed.ts; trades the stream no longer holds, in
// nats_consumer_loss_test.ts.

import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { nanos } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import { encodeMessage } from "../common/wire/codec.ts";
import type { NatsConsumerConfig } from "../common/config/mod.ts";
import { delay } from "../common/runtime/delay.ts";
import { streamSubjects, tradeSubject } from "../common/wire/subjects.ts";
import { TRADE_RECORD_SIZE } from "../common/wire/trade.ts";
import { liveFamilies } from "../trading_core/metrics.ts";
import { ConsumerConflictError, NatsFeed } from "../common/nats/feed.ts";
import { TradeStats } from "../trading_core/trade_stats.ts";
import {
  assertRecords,
  consumerConfig,
  natsExchangeTest,
  ownServerExchangeTest,
  PREFIX,
  type Published,
  range,
  read,
  seqsBySymbol,
  STREAM,
  SYMBOLS,
  tradesIn,
  until,
} from "./_nats_feed.ts";

Deno.test("NatsFeed rejects a deliver policy without its start", () => {
  const make = (consumer: Partial<NatsConsumerConfig>) =>
    new NatsFeed({
      connection: {
        servers: ["nats://127.0.0.1:4222"],
        name: "t",
        auth: { kind: "none" },
        tls: undefined,
        connectTimeoutMs: 1000,
      },
      consumer: consumerConfig(consumer),
      streamName: STREAM,
      subjectPrefix: "market",
    });
  assert.throws(
    () => make({ deliver: "by_start_time" }),
    /Invalid start time undefined: deliver "by_start_time" needs a valid Date/,
  );
  assert.throws(
    () => make({ deliver: "by_start_sequence", startSequence: 0 }),
    /Invalid start sequence 0: deliver "by_start_sequence" needs an integer >= 1/,
  );
  assert.throws(() => make({ exchange: "bin.ance" }), RangeError);
});

natsExchangeTest(
  "multi-record messages of 3 symbols arrive in order, byte-identical",
  async (server, publisher) => {
    const sent = await publisher.publishMany(60);
    const reader = read(server.url, { limit: tradesIn(sent) });
    await reader.done;
    assertRecords(reader.delivered, sent);
    for (const trade of reader.delivered) {
      assert.equal(trade.index, SYMBOLS.indexOf(trade.symbol));
    }
    const stats = reader.feed.stats();
    assert.deepEqual(stats.map((s) => s.symbol), SYMBOLS);
    for (const [i, symbol] of SYMBOLS.entries()) {
      const mine = sent.filter((m) => m.symbol === symbol);
      assert.equal(stats[i].received, tradesIn(mine));
      assert.equal(stats[i].invalid, 0);
      assert.equal(stats[i].state, "stopped");
      // The lag is the consumer's, not the stream's: said on every row
      // (stopped now: not current).
      assert.deepEqual(stats[i].lagOf, {
        durable: "reader",
        stream: STREAM,
        current: false,
      });
    }
    assert.equal(reader.saw("attached").length, 1);
    assert.match(
      reader.saw("attached")[0].message,
      /durable consumer "reader" \(created\)/,
    );
  },
);

natsExchangeTest(
  "filters: symbols of one exchange, one symbol on every exchange, everything",
  async (server, publisher) => {
    const sent: Published[] = [];
    for (let i = 0; i < 8; i++) {
      sent.push(await publisher.publish(SYMBOLS[i % 3], 2));
      sent.push(
        await publisher.publish(SYMBOLS[i % 2], 1, { exchange: "coinbase" }),
      );
    }
    const isEth = (m: Published) =>
      m.exchange === "binance" && m.symbol === "ETHUSDT";
    const eth = read(server.url, {
      durableName: "eth",
      symbols: ["ethusdt"],
      limit: tradesIn(sent.filter(isEth)),
    });
    await eth.done;
    assertRecords(eth.delivered, sent.filter(isEth));
    assert.ok(eth.delivered.every((t) => t.index === 0));
    const info = await publisher.jsm.consumers.info(STREAM, "eth");
    assert.deepEqual(info.config.filter_subjects, [
      `${PREFIX}.binance.ETHUSDT.trades`,
    ]);

    const isBtc = (m: Published) => m.symbol === "BTCUSDT";
    const btc = read(server.url, {
      durableName: "btc",
      exchange: undefined,
      symbols: ["BTCUSDT"],
      limit: tradesIn(sent.filter(isBtc)),
    });
    await btc.done;
    assertRecords(btc.delivered, sent.filter(isBtc));
    // One symbol on two exchanges: two streams, each with its own index.
    assert.deepEqual(btc.streams, ["binance BTCUSDT", "coinbase BTCUSDT"]);
    for (const trade of btc.delivered) {
      assert.equal(trade.index, trade.exchange === "binance" ? 0 : 1);
    }

    const all = read(server.url, {
      durableName: "all",
      exchange: undefined,
      symbols: [],
      limit: tradesIn(sent),
    });
    await all.done;
    assertRecords(all.delivered, sent);
    const stats = all.feed.stats();
    // (exchange, symbol) streams in order of arrival; every index names its
    // stream.
    const streams = [
      "binance BTCUSDT",
      "coinbase BTCUSDT",
      "binance ETHUSDT",
      "coinbase ETHUSDT",
      "binance SOLUSDT",
    ];
    assert.deepEqual(stats.map((s) => `${s.exchange} ${s.symbol}`), streams);
    assert.deepEqual(all.streams, streams);
    for (const trade of all.delivered) {
      assert.equal(stats[trade.index].exchange, trade.exchange);
      assert.equal(stats[trade.index].symbol, trade.symbol);
    }
    for (const [i, stream] of streams.entries()) {
      const [exchange, symbol] = stream.split(" ");
      const own = sent.filter((m) =>
        m.exchange === exchange && m.symbol === symbol
      );
      assert.equal(stats[i].received, tradesIn(own), stream);
    }
    assert.equal(
      stats.reduce((sum, s) => sum + s.received, 0),
      tradesIn(sent),
    );
  },
);

natsExchangeTest(
  "fan-out: three durable consumers each receive everything",
  async (server, publisher) => {
    const sent = await publisher.publishMany(30);
    const readers = ["one", "two", "three"].map((durableName) =>
      read(server.url, { durableName, limit: tradesIn(sent) })
    );
    await Promise.all(readers.map((r) => r.done));
    for (const reader of readers) assertRecords(reader.delivered, sent);
  },
);

natsExchangeTest(
  "replay after a restart: the same durable continues exactly where it acknowledged",
  async (server, publisher) => {
    const reader = read(server.url, { deliver: "new" });
    await reader.attached();
    const first = await publisher.publishMany(20);
    // Stop on a message boundary, with later messages already prefetched.
    const half = tradesIn(first.slice(0, 10));
    const head = read(server.url, { durableName: "replay", limit: half });
    await head.done;
    assertRecords(head.delivered, first.slice(0, 10));
    const more = await publisher.publishMany(20);
    const tail = read(server.url, {
      durableName: "replay",
      limit: tradesIn([...first.slice(10), ...more]),
    });
    await tail.done;
    assertRecords(tail.delivered, [...first.slice(10), ...more]);
    assert.match(
      tail.saw("attached")[0].message,
      /existing.*rewound to stream sequence 11/,
    );
    // The "new" consumer started before the first message got everything too.
    await reader.received(tradesIn([...first, ...more]));
    await reader.stop();
    assertRecords(reader.delivered, [...first, ...more]);
    const info = await publisher.jsm.consumers.info(STREAM, "reader");
    assert.equal(info.ack_floor.stream_seq, more.at(-1)!.streamSeq);
  },
);

natsExchangeTest(
  "the limit ends with the message that reaches it, delivered whole and acknowledged",
  async (server, publisher) => {
    const sent = [
      await publisher.publish("BTCUSDT", 3),
      await publisher.publish("ETHUSDT", 4),
      await publisher.publish("SOLUSDT", 2),
    ];
    const head = read(server.url, { limit: 5 });
    await head.done;
    assertRecords(head.delivered, sent.slice(0, 2));
    const info = await publisher.jsm.consumers.info(STREAM, "reader");
    assert.equal(info.ack_floor.stream_seq, sent[1].streamSeq);
    const tail = read(server.url, { limit: 1 });
    await tail.done;
    assertRecords(tail.delivered, sent.slice(2));
  },
);

natsExchangeTest(
  "deliver policies: new, last, last_per_subject, by_start_time, by_start_sequence (durable and ordered)",
  async (server, publisher) => {
    const old = await publisher.publishMany(12);
    await delay(50);
    const startTime = new Date();
    await delay(50);
    const recent = await publisher.publishMany(6);
    const latest = SYMBOLS.map((symbol) =>
      [...old, ...recent].findLast((m) => m.symbol === symbol)!
    ).sort((a, b) => a.streamSeq - b.streamSeq);
    const starts: [string, Partial<NatsConsumerConfig>, Published[]][] = [
      ["new", { deliver: "new" }, []],
      ["last", { deliver: "last" }, [recent.at(-1)!]],
      ["last_per_subject", { deliver: "last_per_subject" }, latest],
      ["by_start_time", { deliver: "by_start_time", startTime }, recent],
      [
        "by_start_sequence",
        { deliver: "by_start_sequence", startSequence: old[9].streamSeq },
        [...old.slice(9), ...recent],
      ],
    ];
    const readers = starts.flatMap(([name, start, before]) =>
      [`durable-${name}`, undefined].map((durableName) => ({
        name: `${name} (${durableName ? "durable" : "ordered"})`,
        before,
        reader: read(server.url, { durableName, ...start }),
      }))
    );
    for (const { reader } of readers) await reader.attached();
    for (const { name, before, reader } of readers) {
      await reader.received(tradesIn(before));
      assertRecords(reader.delivered, before);
      assert.equal(reader.delivered.length, tradesIn(before), name);
    }
    const after = await publisher.publishMany(6);
    for (const { name, before, reader } of readers) {
      await reader.received(tradesIn([...before, ...after]));
      await reader.stop();
      assert.doesNotThrow(
        () => assertRecords(reader.delivered, [...before, ...after]),
        name,
      );
    }
  },
);

natsExchangeTest(
  "ordered mode reads without a durable consumer",
  async (server, publisher) => {
    const sent = await publisher.publishMany(30);
    const reader = read(server.url, {
      durableName: undefined,
      limit: tradesIn(sent),
    });
    await reader.done;
    assertRecords(reader.delivered, sent);
    assert.match(reader.saw("attached")[0].message, /^ordered consumer/);
    assert.ok(
      reader.feed.stats().every((row) =>
        row.lagOf?.durable === undefined && row.lagOf?.stream === STREAM
      ),
      JSON.stringify(reader.feed.stats()),
    );
    const consumers = await publisher.jsm.consumers.list(STREAM).next();
    assert.ok(consumers.every((c) => c.config.durable_name === undefined));
  },
);

natsExchangeTest(
  "invalid payloads and unknown subjects: counted, reported once per kind, terminated",
  async (server, publisher) => {
    const good: Published[] = [];
    const badVersion = encodeMessage(
      publisher.records("binance", "ETHUSDT", 2),
    );
    badVersion[TRADE_RECORD_SIZE] = 2; // record 1: wire version 2
    good.push(await publisher.publish("BTCUSDT", 2));
    await publisher.publishRaw(
      tradeSubject("binance", "ETHUSDT", { prefix: PREFIX }),
      new Uint8Array(47),
    );
    good.push(await publisher.publish("ETHUSDT", 3));
    await publisher.publishRaw(
      tradeSubject("binance", "ETHUSDT", { prefix: PREFIX }),
      badVersion,
    );
    await publisher.publishRaw(
      `${PREFIX}.Binance.BTCUSDT.trades`,
      encodeMessage(publisher.records("x", "y", 1)),
    );
    await publisher.publishRaw(
      `${PREFIX}.binance.btcusdt.trades`,
      encodeMessage(publisher.records("x", "y", 1)),
    );
    good.push(await publisher.publish("SOLUSDT", 1));
    const reader = read(server.url, {
      exchange: undefined,
      symbols: [],
      ackWaitMs: 300,
      limit: tradesIn(good),
    });
    await reader.done;
    assertRecords(reader.delivered, good);
    // Symbols get their index with their first trade: 0, 1, 2.
    assert.deepEqual(reader.delivered.map((t) => t.index), [0, 0, 1, 1, 1, 2]);
    const invalid = reader.saw("invalid");
    assert.equal(invalid.length, 2, JSON.stringify(invalid));
    assert.equal(invalid[0].symbol, "*");
    assert.match(
      invalid[0].message,
      new RegExp(
        `^\\*: message 2 on ${PREFIX}\\.binance\\.ETHUSDT\\.trades skipped and terminated \\(47 bytes\\): Invalid trade message: 47 bytes received`,
      ),
    );
    // Not canonical: "Binance" is no known exchange, so no known stream.
    assert.equal(invalid[1].symbol, "*");
    assert.match(
      invalid[1].message,
      new RegExp(
        `message 5 on ${PREFIX}\\.Binance\\.BTCUSDT\\.trades .*Invalid trade subject`,
      ),
    );
    const stats = reader.feed.stats();
    assert.deepEqual(
      stats.map((s) => [s.exchange, s.symbol, s.received, s.invalid]),
      [
        ["binance", "BTCUSDT", 2, 0],
        ["binance", "ETHUSDT", 3, 2],
        ["binance", "SOLUSDT", 1, 0],
        ["*", "*", 0, 3],
      ],
    );
    // Well past ack_wait: nothing was redelivered, nothing is pending.
    await delay(800);
    const info = await publisher.jsm.consumers.info(STREAM, "reader");
    assert.equal(info.num_redelivered, 0);
    assert.equal(info.num_ack_pending, 0);
    assert.equal(info.ack_floor.stream_seq, good.at(-1)!.streamSeq);
  },
);

natsExchangeTest(
  "a missing stream is waited for; a deleted consumer is reported once and recreated with its start policy",
  async (server, publisher) => {
    await publisher.jsm.streams.delete(STREAM);
    const reader = read(server.url);
    await until(() => reader.saw("waiting").length > 0, "waiting");
    assert.equal(
      reader.saw("waiting")[0].message,
      `stream "${STREAM}" not found; waiting for the publisher to create it`,
    );
    assert.equal(reader.feed.stats()[0].state, "waiting");
    await publisher.jsm.streams.add({
      name: STREAM,
      subjects: streamSubjects({ prefix: PREFIX }),
    });
    const sent = await publisher.publishMany(6);
    await reader.received(tradesIn(sent));
    assertRecords(reader.delivered, sent);
    await publisher.jsm.consumers.delete(STREAM, "reader");
    await until(() => reader.saw("attached").length === 2, "attached again");
    assert.deepEqual(
      reader.saw("dead").map((e) => e.message),
      [
        'consumer "reader" is gone from the server (deleted); recreating it with deliver all',
      ],
    );
    assert.match(
      reader.saw("attached")[1].message,
      /^durable consumer "reader" \(recreated\) on stream/,
    );
    assert.equal(reader.feed.consumerRecreated, 1);
    const recreated = liveFamilies({
      feed: reader.feed,
      stats: new TradeStats(),
      processing: undefined,
    }).find((f) => f.name === "marketbus_nats_consumer_recreated_total");
    assert.deepEqual(recreated?.samples, [{ value: 1 }]);
    // deliver all: the new consumer replays the stream; nothing twice.
    const more = await publisher.publishMany(6);
    await reader.received(tradesIn([...sent, ...more]));
    // Heartbeats every 1.5 s: a warning that repeats would by now.
    await delay(3500);
    await reader.stop();
    assertRecords(reader.delivered, [...sent, ...more]);
    assert.equal(reader.saw("dead").length, 1, JSON.stringify(reader.events));
    assert.equal(reader.feed.stats()[0].lost, 0);
    // The stream deleted under it: waited for, then the consumer recreated.
    const again = read(server.url, { durableName: "again" });
    await again.received(tradesIn([...sent, ...more]));
    await publisher.jsm.streams.delete(STREAM);
    // The server says the consumer was deleted (with its stream).
    await until(() => again.saw("waiting").length > 0, "waiting");
    assert.deepEqual(
      [...again.saw("dead"), ...again.saw("waiting")].map((e) => e.message),
      [
        'consumer "again" is gone from the server (deleted); recreating it with deliver all',
        `stream "${STREAM}" not found; waiting for the publisher to create it`,
      ],
    );
    await publisher.jsm.streams.add({
      name: STREAM,
      subjects: streamSubjects({ prefix: PREFIX }),
    });
    await until(() => again.saw("attached").length === 2, "attached again");
    // A new stream numbers its messages from 1 again: all of them delivered
    // (deliver all), none taken for one delivered from the old stream.
    const after = await publisher.publishMany(6);
    await again.received(tradesIn([...sent, ...more, ...after]));
    await delay(200);
    await again.stop();
    assertRecords(again.delivered, [...sent, ...more, ...after]);
    assert.equal(again.feed.consumerRecreated, 1);
    // Everything of the old stream was delivered: nothing lost.
    assert.deepEqual(again.feed.stats().map((s) => s.lost), [0, 0, 0]);
    assert.deepEqual(
      again.saw("lost").map((e) => e.message),
      [
        `stream "${STREAM}" is a new one: the one this consumer read was deleted, and what it held that was not delivered is gone; those trades are counted lost per symbol at its next message (those of a symbol with none cannot be counted)`,
      ],
    );
  },
);

natsExchangeTest(
  "a durable consumer recreated with deliver all never delivers again what an earlier run acknowledged",
  async (server, publisher) => {
    const first = await publisher.publishMany(6);
    await read(server.url, { limit: tradesIn(first) }).done;
    const reader = read(server.url);
    await reader.attached();
    await publisher.jsm.consumers.delete(STREAM, "reader");
    await until(() => reader.saw("attached").length === 2, "attached again");
    const more = await publisher.publishMany(6);
    await reader.received(tradesIn(more));
    await delay(200);
    await reader.stop();
    assertRecords(reader.delivered, more);
  },
);

natsExchangeTest(
  "abort ends the subscription promptly and acknowledges what was delivered",
  async (server, publisher) => {
    const sent = await publisher.publishMany(10);
    const reader = read(server.url);
    await reader.received(tradesIn(sent));
    const started = performance.now();
    await reader.stop();
    const tookMs = performance.now() - started;
    assert.ok(tookMs < 100, `abort took ${tookMs.toFixed(1)} ms`);
    assertRecords(reader.delivered, sent);
    const info = await publisher.jsm.consumers.info(STREAM, "reader");
    assert.equal(info.ack_floor.stream_seq, sent.at(-1)!.streamSeq);
    assert.equal(info.num_ack_pending, 0);
    assert.equal(reader.feed.stats()[0].state, "stopped");
  },
);

natsExchangeTest(
  "an existing durable is updated where it can be, refused where it cannot",
  async (server, publisher) => {
    const sent = await publisher.publishMany(3);
    await read(server.url, { limit: tradesIn(sent) }).done;
    const updated = read(server.url, {
      symbols: ["SOLUSDT", "BTCUSDT"],
      maxAckPending: 50,
      ackWaitMs: 5000,
    });
    await updated.attached();
    await updated.stop();
    assert.match(
      updated.saw("attached")[0].message,
      new RegExp(
        `updated filter_subjects .* to \\["${PREFIX}\\.binance\\.SOLUSDT\\.trades","${PREFIX}\\.binance\\.BTCUSDT\\.trades"\\], max_ack_pending 1000 to 50, ack_wait 30000 ms to 5000 ms`,
      ),
    );
    const info = await publisher.jsm.consumers.info(STREAM, "reader");
    assert.equal(info.config.max_ack_pending, 50);
    assert.equal(info.config.ack_wait, nanos(5000));
    const refused = read(server.url, { deliver: "new", replay: "original" });
    await assert.rejects(refused.done, (error: Error) => {
      assert.ok(error instanceof ConsumerConflictError);
      assert.equal(error.consumer, "reader");
      assert.match(
        error.message,
        new RegExp(
          `^Durable consumer "reader" on stream "${STREAM}" exists with deliver_policy "all", configured "new"; replay_policy "instant", configured "original": the server cannot change that`,
        ),
      );
      return true;
    });
  },
);

natsExchangeTest(
  "messages the server sent that never arrived are delivered, in order, after a rewind",
  async (server, publisher) => {
    const first = await publisher.publish("BTCUSDT", 1);
    await read(server.url, { limit: 1 }).done;
    // A second client pulling from the same durable takes the next messages
    // the way a lost connection would: the server counts them delivered.
    const thief = await connect({ servers: server.url, noAsyncTraces: true });
    try {
      const durable = await (await jetstreamManager(thief)).jetstream()
        .consumers.get(STREAM, "reader");
      const stolen = await durable.fetch({ max_messages: 3, expires: 2000 });
      let taken = 0;
      const taking = (async () => {
        for await (const _ of stolen) taken++; // never acknowledged
      })();
      const jsm = publisher.jsm;
      while ((await jsm.consumers.info(STREAM, "reader")).num_waiting === 0) {
        await delay(5);
      }
      const reader = read(server.url);
      await reader.attached();
      const sent = await publisher.publishMany(30);
      await taking;
      assert.equal(taken, 3);
      await reader.received(tradesIn(sent));
      await reader.stop();
      assertRecords(reader.delivered, sent);
      assert.ok(
        reader.saw("stalled").some((e) => /never arrived/.test(e.message)),
        JSON.stringify(reader.events),
      );
      assert.ok(first.streamSeq < sent[0].streamSeq);
    } finally {
      await thief.close();
    }
  },
);

natsExchangeTest(
  "last_per_subject after an unclean stop waits ack_wait for the redelivery, in order",
  async (server, publisher) => {
    const before = await publisher.publishMany(6);
    const latest = before.slice(3);
    const head = read(server.url, {
      deliver: "last_per_subject",
      ackWaitMs: 500,
      limit: tradesIn(latest),
    });
    await head.done;
    assertRecords(head.delivered, latest);
    const more = await publisher.publishMany(9);
    // Read a third and stop, leaving prefetched messages unacknowledged.
    const middle = read(server.url, {
      deliver: "last_per_subject",
      ackWaitMs: 500,
      limit: tradesIn(more.slice(0, 3)),
    });
    await middle.done;
    const tail = read(server.url, {
      deliver: "last_per_subject",
      ackWaitMs: 500,
      limit: tradesIn(more.slice(3)),
    });
    await tail.done;
    assertRecords(tail.delivered, more.slice(3));
    assert.match(
      tail.saw("waiting")[0].message,
      /waiting 0\.8 s \(ack_wait\) for their redelivery/,
    );
  },
);

ownServerExchangeTest(
  "a server that stops answering (SIGSTOP) is reported stalled once, however long, then recovered",
  async (server, publisher) => {
    const reader = read(server.url);
    await reader.attached();
    Deno.kill(server.pid, "SIGSTOP");
    try {
      // Heartbeats every 1.5 s: missed ones are told at 3, 4.5, 6 s.
      await delay(6500);
    } finally {
      Deno.kill(server.pid, "SIGCONT");
    }
    await until(() => reader.saw("recovered").length > 0, "recovered");
    const sent = await publisher.publishMany(3);
    await reader.received(tradesIn(sent));
    await reader.stop();
    const stalled = reader.saw("stalled").map((e) => e.message);
    assert.equal(stalled.length, 1, JSON.stringify(stalled));
    assert.match(stalled[0], /no message or heartbeat from consumer "reader"/);
  },
);

ownServerExchangeTest(
  "a server restart during consumption: durable and ordered readers resume without gap or repeat",
  async (server, publisher) => {
    const startTime = new Date();
    const durable = read(server.url);
    const ordered = read(server.url, {
      durableName: undefined,
      deliver: "by_start_time",
      startTime,
    });
    await durable.attached();
    await ordered.attached();
    let publishing = true;
    const published = (async () => {
      while (publishing) {
        await publisher.publishMany(3);
        await delay(2);
      }
    })();
    await durable.received(100);
    await server.restart();
    await until(
      () => durable.saw("recovered").length > 0,
      "the durable reader recovered",
    );
    await durable.received(durable.delivered.length + 100);
    publishing = false;
    await published;
    const all = publisher.published;
    for (const reader of [durable, ordered]) {
      await reader.received(tradesIn(all));
      await reader.stop();
      for (const [symbol, seqs] of seqsBySymbol(reader.delivered)) {
        const expected = tradesIn(all.filter((m) => m.symbol === symbol));
        assert.deepEqual(seqs, range(expected), symbol);
      }
    }
    assert.match(durable.saw("stalled")[0].message, /lost; reconnecting/);
  },
);
