// The ring durable's position file: stores and reads back, survives its
// process (a new mapping reads what the last store left), one owner at a
// time, and refuses a file that is not one with one line.

import assert from "node:assert/strict";
import {
  DurableInUseError,
  durablePath,
  DurablePosition,
  DurablePositionError,
  removeDurable,
} from "./mod.ts";
import { durableShmName } from "../wire/ring_names.ts";
import {
  createSegment,
  openSegment,
  RingOwnerError,
  unmapSegment,
} from "../ipc/mod.ts";
import { ringTest } from "../../tests/_ring_helpers.ts";

/** A fresh durable name for one test. */
function uniqueName(): string {
  const word = new Uint32Array(1);
  crypto.getRandomValues(word);
  return `test-${word[0].toString(16)}`;
}

/** Runs `body` with a fresh durable name, removing its file afterwards. */
async function withName(body: (name: string) => void | Promise<void>) {
  const name = uniqueName();
  try {
    await body(name);
  } finally {
    removeDurable(name);
  }
}

/** Writes the u32 `value` at word `index` of durable `name`'s file, as another process could. */
function poke(name: string, index: number, value: number): void {
  const segment = openSegment(durableShmName(name));
  try {
    new Uint32Array(segment.buffer)[index] = value;
  } finally {
    unmapSegment(segment);
  }
}

ringTest({
  name:
    "durable position: stored per stream, with the trade in hand, read back by the next owner",
  fn: () =>
    withName((name) => {
      const first = DurablePosition.open(name);
      assert.equal(first.get("binance", "BTCUSDT"), undefined);
      const btc = first.slot("binance", "BTCUSDT");
      const eth = first.slot("binance", "ETHUSDT");
      assert.equal(first.slot("binance", "BTCUSDT"), btc);
      assert.equal(first.get("binance", "ETHUSDT"), undefined); // nothing stored yet
      for (let seq = 1; seq <= 1000; seq++) {
        first.store(btc, 7, seq, BigInt(seq) * 1000n);
      }
      first.store(eth, 0xffffffff, 4_000_000_000, -1n);
      assert.equal(first.inHand("binance", "BTCUSDT"), undefined);
      first.hand(btc, 7, 1001); // killed before its position was stored
      first.close();
      const next = DurablePosition.open(name);
      try {
        assert.deepEqual(next.keys(), ["binance:BTCUSDT", "binance:ETHUSDT"]);
        assert.deepEqual(next.get("binance", "BTCUSDT"), {
          epoch: 7,
          seq: 1000,
          tsRecv: 1_000_000n,
        });
        assert.deepEqual(next.get("binance", "ETHUSDT"), {
          epoch: 0xffffffff,
          seq: 4_000_000_000,
          tsRecv: -1n,
        });
        assert.deepEqual(next.inHand("binance", "BTCUSDT"), {
          epoch: 7,
          seq: 1001,
          tsRecv: 0n,
        });
        assert.equal(next.inHand("binance", "ETHUSDT"), undefined);
      } finally {
        next.close();
      }
    }),
});

ringTest({
  name:
    "durable position: a store cut short before its flip leaves the previous position (kill -9 mid-store)",
  fn: () =>
    withName((name) => {
      const store = DurablePosition.open(name);
      const slot = store.slot("binance", "BTCUSDT");
      store.store(slot, 3, 41, 410n);
      store.store(slot, 3, 42, 420n); // copy 1 holds 41, copy 0 (valid) 42
      // Half of the next store: copy 1's seq overwritten, the valid word not flipped.
      poke(name, (64 + 128 * slot + 72 + 16) / 4 + 1, 43);
      assert.deepEqual(store.get("binance", "BTCUSDT"), {
        epoch: 3,
        seq: 42,
        tsRecv: 420n,
      });
      store.close();
    }),
});

ringTest({
  name:
    "durable position: a second process of the same durable is refused, naming the owner; a dead owner's file is taken over",
  fn: () =>
    withName((name) => {
      const store = DurablePosition.open(name);
      store.close();
      poke(name, 2, 1); // owned by pid 1, alive
      assert.throws(() => DurablePosition.open(name), (error) => {
        assert.ok(error instanceof DurableInUseError);
        assert.equal(
          error.message,
          `Durable ${name} is in use by pid 1 (${
            durablePath(name)
          }): stop that process first, or give another --ring-durable name (if pid 1 is not a live of this durable, its owner died and the pid was reused: remove the file, the durable then resumes from its NATS mirror)`,
        );
        return true;
      });
      poke(name, 2, 0x7ffffff0); // a pid that does not run
      DurablePosition.open(name).close();
    }),
});

ringTest({
  name:
    "durable position: a file of another size, another format, corrupt entries or another owner is refused with one line",
  permissions: [{ name: "run", command: "chmod" }],
  fn: async () => {
    await withName((name) => {
      unmapSegment(createSegment(durableShmName(name), 4096)); // short
      assert.throws(
        () => DurablePosition.open(name),
        new DurablePositionError(name, "4096 bytes, expected 131136"),
      );
    });
    await withName((name) => {
      DurablePosition.open(name).close();
      poke(name, 1, 1); // layout 1: no trade in hand
      assert.throws(
        () => DurablePosition.open(name),
        new DurablePositionError(name, "layout version 1, expected 2"),
      );
    });
    await withName((name) => {
      DurablePosition.open(name).close();
      poke(name, 0, 0x12345678);
      assert.throws(
        () => DurablePosition.open(name),
        new DurablePositionError(name, "not a durable position file"),
      );
    });
    await withName((name) => {
      const store = DurablePosition.open(name);
      store.slot("binance", "BTCUSDT");
      store.close();
      poke(name, 16, 0xffff_ff40); // entry 0's key length 64, and garbage
      assert.throws(() => DurablePosition.open(name), DurablePositionError);
      poke(name, 16, 0);
      poke(name, 3, 5000); // more streams than it holds
      assert.throws(() => DurablePosition.open(name), DurablePositionError);
    });
    await withName(async (name) => {
      DurablePosition.open(name).close();
      const chmod = new Deno.Command("chmod", {
        args: ["0666", durablePath(name)],
      });
      assert.ok((await chmod.output()).success);
      assert.throws(() => DurablePosition.open(name), (error) => {
        assert.ok(error instanceof RingOwnerError);
        assert.ok(!error.message.includes("\n"));
        assert.match(error.message, /run the durable as its owner/);
        return true;
      });
    });
  },
});

ringTest({
  name: "durable position: invalid names are refused with a RangeError",
  fn: () => {
    for (const name of ["", "a.b", "a/b", "x".repeat(65), "a b"]) {
      assert.throws(() => DurablePosition.open(name), RangeError);
    }
  },
});
