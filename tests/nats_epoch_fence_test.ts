// A NATS consumer fences a superseded run (issue 17, D2 of the registry
// review): the late messages of a publisher taken over (its frames delayed
// in the network, stored after the new owner's) or of a restarted run come
// after another run's messages of their subject. They are dropped, counted
// as fenced (not lost) and told once per run, naming both epochs, by a
// durable and an ordered consumer alike; messages without an epoch are
// never fenced.

import assert from "node:assert/strict";
import {
  natsExchangeTest,
  type Published,
  read,
  tradesIn,
} from "./_nats_feed.ts";

const OLD = 1111;
const NEW = 2222;

natsExchangeTest(
  "a superseded run's late messages are dropped, counted fenced (not lost), told once naming both epochs",
  async (server, publisher) => {
    const sent: Published[] = [];
    const late: Published[] = [];
    const send = async (epoch: number | undefined, stale = false) => {
      const message = await publisher.publish("BTCUSDT", 2, { epoch });
      (stale ? late : sent).push(message);
    };
    await send(OLD);
    await send(OLD);
    publisher.jump("binance", "BTCUSDT", "restart"); // the new owner's run
    await send(NEW);
    await send(OLD, true); // the old owner's frames, landed late
    await send(NEW);
    await send(OLD, true);
    await send(NEW);
    // Another symbol's own runs are its own: ETHUSDT's run is not fenced.
    sent.push(await publisher.publish("ETHUSDT", 3, { epoch: OLD }));
    sent.push(await publisher.publish("ETHUSDT", 1)); // no epoch: never fenced
    const readers = [
      read(server.url, { symbols: ["BTCUSDT", "ETHUSDT"] }),
      read(server.url, {
        durableName: undefined,
        symbols: ["BTCUSDT", "ETHUSDT"],
      }),
    ];
    for (const reader of readers) {
      await reader.received(tradesIn(sent));
      await reader.stop();
      assert.equal(reader.delivered.length, tradesIn(sent));
      const stats = reader.feed.stats();
      const btc = stats.find((s) => s.symbol === "BTCUSDT")!;
      const eth = stats.find((s) => s.symbol === "ETHUSDT")!;
      assert.equal(btc.fenced, tradesIn(late));
      assert.equal(btc.lost, 0);
      assert.equal(eth.fenced, undefined);
      const fenced = reader.saw("fenced");
      assert.equal(fenced.length, 1, JSON.stringify(fenced));
      assert.match(
        fenced[0].message,
        new RegExp(`of run epoch ${OLD}, after messages of run epoch ${NEW}`),
      );
      assert.equal(reader.saw("lost").length, 0);
    }
  },
);
