// The trade tape: only watched streams keep trades, the last TAPE_SIZE of
// them, with ids that never repeat (a client merging two messages drops what
// it has).

import assert from "node:assert/strict";
import { Side } from "../../common/wire/trade.ts";
import { tradeView } from "../../tests/_console_trades.ts";
import { TAPE_SIZE, TradeTape } from "./tape.ts";

Deno.test("TradeTape: a stream nobody watches keeps nothing; a watched one keeps [id, seq, ts, price, size, side]", () => {
  const tape = new TradeTape();
  tape.record(tradeView(1), 0);
  tape.record(tradeView(1), 500); // a stream index never watched: no array to grow
  assert.equal(tape.watched(0), false);
  assert.deepEqual(tape.since(0, 0), []);
  tape.watch(3);
  tape.record(
    tradeView(9, { tsMs: 1_000, price: 42.5, size: 0.25, side: Side.Sell }),
    3,
  );
  tape.record(tradeView(7), 0);
  assert.deepEqual(tape.since(3, 0), [[1, 9, 1_000, 42.5, 0.25, Side.Sell]]);
  assert.deepEqual(tape.since(0, 0), []);
  assert.equal(tape.lastId(3), 1);
  assert.deepEqual(tape.since(3, 1), [], "nothing after the last id");
});

Deno.test("TradeTape: the last TAPE_SIZE trades, oldest first; ids go on across a wrap and a re-watch", () => {
  const tape = new TradeTape();
  tape.watch(0);
  for (let seq = 1; seq <= TAPE_SIZE + 20; seq++) {
    tape.record(tradeView(seq), 0);
  }
  const all = tape.since(0, 0);
  assert.equal(all.length, TAPE_SIZE);
  assert.deepEqual(all[0].slice(0, 2), [21, 21]);
  assert.deepEqual(all.at(-1)!.slice(0, 2), [TAPE_SIZE + 20, TAPE_SIZE + 20]);
  assert.deepEqual(tape.since(0, TAPE_SIZE + 18).map((e) => e[0]), [69, 70]);
  tape.watch(0); // a second watcher
  tape.unwatch(0);
  assert.equal(tape.watched(0), true, "one watcher left");
  tape.unwatch(0);
  assert.equal(tape.watched(0), false);
  tape.record(tradeView(999), 0);
  assert.deepEqual(tape.since(0, 0), []);
  tape.watch(0);
  assert.deepEqual(tape.since(0, 0), [], "a stream watched again starts empty");
  tape.record(tradeView(1_000), 0);
  assert.deepEqual(tape.since(0, 0).map((e) => e[0]), [TAPE_SIZE + 21]);
  tape.unwatch(7); // never watched: nothing happens
  assert.throws(() => tape.watch(-1), RangeError);
});
