// Trades a NATS consumer never received because the stream no longer held
// them, against real nats-server processes (or NATS_URL's), fed by the test:
// messages deleted before a running consumer (durable and ordered) reached
// them, a stream deleted and created again under running consumers, a
// stream's max_msgs discarding while a durable consumer was stopped (counted
// from the position its last run saved, or from the last message still
// stored, or, when neither is left, a warning), and what is no loss: other
// subjects' messages, a publisher's own gap, a new publisher run.

import assert from "node:assert/strict";
import { delay } from "../common/runtime/delay.ts";
import { streamSubjects } from "../common/wire/subjects.ts";
import type { StreamStats } from "../common/transport/feed.ts";
import { POSITIONS_KEY } from "../common/nats/feed.ts";
import { liveFamilies } from "../trading_core/metrics.ts";
import type { NatsFeed } from "../common/nats/feed.ts";
import { TradeStats } from "../trading_core/trade_stats.ts";
import {
  natsExchangeTest,
  PREFIX,
  type Published,
  type Publisher,
  read,
  STREAM,
  SYMBOLS,
  tradesIn,
} from "./_nats_feed.ts";

const CAUSE = "stream limit or deleted";

/** Trades of each symbol in `messages`, in SYMBOLS order. */
function perSymbol(messages: readonly Published[]): number[] {
  return SYMBOLS.map((symbol) =>
    tradesIn(messages.filter((m) => m.symbol === symbol))
  );
}

/** Asserts each symbol's `lost` and `lostBy` in `stats` are the trades of `lost`. */
function assertLost(stats: StreamStats[], lost: readonly Published[]): void {
  const want = perSymbol(lost);
  assert.deepEqual(
    stats.map((s) => [s.symbol, s.lost, s.lostBy]),
    SYMBOLS.map((symbol, i) => [
      symbol,
      want[i],
      want[i] > 0 ? { [CAUSE]: want[i] } : {},
    ]),
  );
}

/** The values of `name` on `feed`'s /metrics, as `labels…=value` lines. */
function metric(feed: NatsFeed, name: string): string[] {
  const stats = new TradeStats(
    SYMBOLS.map((symbol) => ({ exchange: "binance", symbol })),
  );
  const family = liveFamilies({
    feed,
    stats,
    processing: undefined,
  })
    .find((f) => f.name === name);
  assert.ok(family, `no ${name}`);
  return family.samples.map((sample) =>
    `${Object.values(sample.labels ?? {}).join(" ")}=${
      "value" in sample ? sample.value : "?"
    }`
  );
}

/** The trades each symbol's loss warnings name, in SYMBOLS order. */
function warned(events: { kind: string; symbol: string; message: string }[]) {
  return SYMBOLS.map((symbol) =>
    events.filter((e) => e.kind === "lost" && e.symbol === symbol)
      .reduce((sum, e) => {
        const count = e.message.match(/: ([\d,]+) (?:more )?trades lost/);
        assert.ok(count, e.message);
        return sum + Number(count[1].replaceAll(",", ""));
      }, 0)
  );
}

/** Publishes `count` messages, `gapMs` apart. */
async function publishPaced(
  publisher: Publisher,
  count: number,
  gapMs: number,
): Promise<Published[]> {
  const sent: Published[] = [];
  for (let i = 0; i < count; i++) {
    sent.push(...await publisher.publishMany(1));
    await delay(gapMs);
  }
  return sent;
}

natsExchangeTest(
  "messages deleted before a running consumer reached them: their trades are lost, per symbol, warned (durable and ordered)",
  async (server, publisher) => {
    // Replayed at the pace they were published: time to delete ahead.
    const sent = await publishPaced(publisher, 12, 80);
    const readers = [
      read(server.url, { replay: "original" }),
      read(server.url, { durableName: undefined, replay: "original" }),
    ];
    await Promise.all(
      readers.map((r) => r.received(tradesIn(sent.slice(0, 1)))),
    );
    const gone = [sent[4], sent[5], sent[8]];
    for (const m of gone) {
      await publisher.jsm.streams.deleteMessage(STREAM, m.streamSeq);
    }
    const kept = sent.filter((m) => !gone.includes(m));
    for (const reader of readers) {
      await reader.received(tradesIn(kept));
      // Past the last message's pace: nothing else comes.
      await delay(200);
      await reader.stop();
      assert.equal(reader.delivered.length, tradesIn(kept));
      assertLost(reader.feed.stats(), gone);
      assert.deepEqual(warned(reader.events), perSymbol(gone));
      assert.deepEqual(
        metric(reader.feed, "marketbus_trades_lost_by_cause_total"),
        SYMBOLS.map((symbol, i) =>
          `nats binance ${symbol} ${CAUSE}=${perSymbol(gone)[i]}`
        ),
      );
      assert.match(
        reader.saw("lost")[0].message,
        /^\w+ \w+: \d+ trades lost before stream sequence \d+: the stream no longer held them/,
      );
    }
  },
  { stream: { allow_direct: true } },
);

natsExchangeTest(
  "a stream deleted and created again: the trades it held undelivered are lost, counted at each symbol's next message, and the new stream is read from its start (durable and ordered)",
  async (server, publisher) => {
    // Replayed at the pace they were published: the readers wait 2 s
    // after the first three messages, time to delete the stream.
    const first = await publisher.publishMany(3);
    await delay(2000);
    const unread = await publisher.publishMany(9);
    const readers = [
      read(server.url, { replay: "original" }),
      read(server.url, { durableName: undefined, replay: "original" }),
    ];
    await Promise.all(readers.map((r) => r.received(tradesIn(first))));
    await publisher.jsm.streams.delete(STREAM);
    await publisher.jsm.streams.add({
      name: STREAM,
      subjects: streamSubjects({ prefix: PREFIX }),
    });
    // Numbered from 1 again, below what the readers delivered.
    const after = await publisher.publishMany(6);
    assert.equal(after[0].streamSeq, 1);
    for (const reader of readers) {
      await reader.received(tradesIn([...first, ...after]));
      await delay(200);
      await reader.stop();
      assert.equal(reader.delivered.length, tradesIn([...first, ...after]));
      assertLost(reader.feed.stats(), unread);
      assert.deepEqual(warned(reader.events), perSymbol(unread));
      assert.equal(
        reader.saw("lost").filter((e) => e.symbol === "*").length,
        1,
        JSON.stringify(reader.events),
      );
    }
  },
);

natsExchangeTest(
  "max_msgs discarded while a durable consumer was stopped: counted from its saved position, else from the last message still stored, else warned",
  async (server, publisher) => {
    const first = await publisher.publishMany(9);
    await read(server.url, { limit: tradesIn(first) }).done;
    const info = await publisher.jsm.consumers.info(STREAM, "reader");
    assert.match(info.config.metadata?.[POSITIONS_KEY] ?? "", /"floor":9,/);
    // The stream keeps the last 12: 12 of these are discarded.
    const more = await publisher.publishMany(24);
    const resumed = read(server.url, { limit: tradesIn(more.slice(12)) });
    await resumed.done;
    assert.equal(resumed.delivered.length, tradesIn(more.slice(12)));
    assertLost(resumed.feed.stats(), more.slice(0, 12));
    assert.deepEqual(warned(resumed.events), perSymbol(more.slice(0, 12)));

    // An unclean end saves nothing: as if the position were not saved.
    const forget = async () => {
      await publisher.jsm.consumers.update(STREAM, "reader", { metadata: {} });
    };
    await forget();
    // Two messages deleted, those before them still stored: exact.
    const next = await publisher.publishMany(6);
    const deleted = [next[1], next[2]];
    for (const m of deleted) {
      await publisher.jsm.streams.deleteMessage(STREAM, m.streamSeq);
    }
    const kept = next.filter((m) => !deleted.includes(m));
    const direct = read(server.url, { limit: tradesIn(kept) });
    await direct.done;
    assertLost(direct.feed.stats(), deleted);
    assert.equal(
      direct.saw("lost").filter((e) => e.symbol === "*").length,
      0,
    );

    // Every message up to its position discarded too: uncountable, said so.
    await forget();
    const last = await publisher.publishMany(24);
    const blind = read(server.url, { limit: tradesIn(last.slice(12)) });
    await blind.done;
    assertLost(blind.feed.stats(), []);
    const floor = kept.at(-1)!.streamSeq;
    assert.deepEqual(
      blind.saw("lost").map((e) => [e.symbol, e.message]),
      [[
        "*",
        `consumer "reader" continues at stream sequence ${
          last[12].streamSeq
        } after its acknowledged position ${floor}: the stream no longer holds the messages in between (stream limits or deleted), and its last run did not save its position (it did not end cleanly): their trades are counted lost only for the symbols whose last message before them is still stored`,
      ]],
    );
  },
  { stream: { max_msgs: 12, allow_direct: true } },
);

natsExchangeTest(
  "no loss: other subjects' messages (a filtered consumer), a publisher's own gap, a new publisher run",
  async (server, publisher) => {
    const btc = read(server.url, { durableName: "btc", symbols: ["BTCUSDT"] });
    const all = read(server.url, { durableName: "all" });
    const before = await publisher.publishMany(12);
    publisher.jump("binance", "ETHUSDT", 5); // never published
    publisher.jump("binance", "SOLUSDT", "restart");
    const after = await publisher.publishMany(12);
    const sent = [...before, ...after];
    await btc.received(tradesIn(sent.filter((m) => m.symbol === "BTCUSDT")));
    await all.received(tradesIn(sent));
    await btc.stop();
    await all.stop();
    assert.deepEqual(btc.feed.stats().map((s) => s.lost), [0]);
    assertLost(all.feed.stats(), []);
    assert.equal(btc.saw("lost").length + all.saw("lost").length, 0);
  },
);
