// A ring consumer that survives its own restart, with real processes:
// `serve --nats` publishes to the rings and JetStream; `live --ring-durable`
// runs a strategy that writes each trade it is handed to a file at once
// (what it delivered survives a kill -9), is killed with SIGKILL at 10
// random moments under load and restarted each time. Once serve stops and
// the last live drained the rings, the union of what every run delivered
// must be, per symbol, every seq from the first delivered to the last
// published, in order. A duplicate is possible only for the trade being
// handled at the kill (after the strategy, before its position is stored:
// nanoseconds), and it must come marked TradeFlags.Redelivered: no
// unmarked repeat, at most one per kill.

import assert from "node:assert/strict";
import { join } from "node:path";
import { delay } from "../common/runtime/delay.ts";
import {
  gatedTest,
  harnessPermissions,
  OWN_SERVER_REASON,
} from "./_permissions.ts";
import {
  DRAIN_MS,
  finishAfterDrain,
  output,
  publishedTrades,
  ROLE_PERMISSIONS,
  type RoleConfig,
  roleConfig,
  RoleProcess,
} from "./_ipc_roles.ts";
import { startNatsServer } from "./nats_server.ts";
import { freePort } from "./_metrics_scrape.ts";
import { removeDurable } from "../common/catch_up/mod.ts";
import { TradeFlags } from "../common/wire/trade.ts";

/** Spawning the roles (deno) and nats-server, temp files, ring and durable clean-up, loopback NATS. */
const PERMISSIONS: Deno.PermissionDescriptor[] = [
  ...ROLE_PERMISSIONS,
  ...harnessPermissions(),
];

/** Kills and restarts. */
const KILLS = 10;
/** serve's rate, trades/s over all symbols. */
const RATE = 20_000;
/** Ring slots per symbol: lapped in about 1.2 s at {@linkcode RATE}. */
const CAPACITY = 8192;
/** How long every third restart waits (the ring laps meanwhile), ms. */
const HELD_MS = 3000;
/** Restarts held past the ring's span (runs 4, 7 and 10), each switch of theirs over JetStream. */
const HELD_RESTARTS = 3;

/** A strategy writing `symbol seq flags` per trade to `path`, one write each (nothing buffered). */
function strategySource(path: string): string {
  return `const file = Deno.openSync(${
    JSON.stringify(path)
  }, { write: true, append: true, create: true });
const encoder = new TextEncoder();
export default {
  onTrade(trade) {
    file.writeSync(
      encoder.encode(trade.symbol + " " + trade.seq + " " + trade.flags + "\\n"),
    );
  },
  onBar() {},
};
`;
}

/** A delivered trade: its seq and flags. */
interface Delivered {
  seq: number;
  flags: number;
}

/** The trades per symbol in `path`, in file order. */
async function deliveredSeqs(
  path: string,
): Promise<Map<string, Delivered[]>> {
  const seqs = new Map<string, Delivered[]>();
  for (const line of (await Deno.readTextFile(path)).split("\n")) {
    if (line === "") continue;
    const [symbol, seq, flags] = line.split(" ");
    const list = seqs.get(symbol) ?? [];
    list.push({ seq: Number(seq), flags: Number(flags) });
    seqs.set(symbol, list);
  }
  return seqs;
}

/**
 * `trades` checked to be contiguous from its first: returns the repeats of
 * the seq just before (a restart's duplicate, which must be marked
 * `TradeFlags.Redelivered`) and the marked trades, failing on anything else.
 */
function contiguous(
  symbol: string,
  trades: Delivered[],
  log: string,
): { repeats: number; marked: number } {
  const seqs = trades.map((trade) => trade.seq);
  const marked =
    trades.filter((trade) => (trade.flags & TradeFlags.Redelivered) !== 0)
      .length;
  let repeats = 0;
  for (let i = 1; i < seqs.length; i++) {
    if (seqs[i] === seqs[i - 1]) {
      assert.ok(
        (trades[i].flags & TradeFlags.Redelivered) !== 0,
        `${symbol}: seq ${
          seqs[i]
        } delivered again at ${i} without TradeFlags.Redelivered (flags ${
          trades[i].flags
        }); the runs' logs:\n${log}`,
      );
      repeats++;
      continue;
    }
    assert.equal(
      seqs[i],
      seqs[i - 1] + 1,
      `${symbol}: seq ${seqs[i]} after ${seqs[i - 1]} at ${i} (…${
        seqs.slice(Math.max(0, i - 4), i + 4)
      }); the runs' logs:\n${log}`,
    );
  }
  return { repeats, marked };
}

/** A second `live` of the same durable is refused, naming the running one: one line, exit 1. */
async function refusedWhileRunning(
  config: RoleConfig,
  args: string[],
  owner: number,
): Promise<void> {
  await using second = new RoleProcess("live", config, args);
  const exit = await second.finish();
  assert.equal(exit.code, 1, output(exit));
  assert.match(
    output(exit),
    new RegExp(`ERROR trading_core: Durable \\S+ is in use by pid ${owner} `),
  );
  assert.doesNotMatch(output(exit), /\n\s+at /); // no stack trace
}

/** `--record` with a ring durable is refused: one line, exit 2 (its buffer would be lost by a kill). */
async function refusedWithRecording(
  config: RoleConfig,
  args: string[],
): Promise<void> {
  const record = join(config.dir, "refused.ndjson");
  await using live = new RoleProcess("live", config, [
    ...args,
    "--record",
    record,
  ], { write: [record] });
  const exit = await live.finish();
  assert.equal(exit.code, 2, output(exit));
  assert.match(
    output(exit),
    /ERROR trading_core: --record cannot be used with --ring-durable \S+ \(data_source\.ipc\.durable_name\): the recording, the bars and the fills are flushed up to 1 s late/,
  );
}

gatedTest({
  name:
    `live --ring-durable: killed with SIGKILL at ${KILLS} random moments under load and restarted, the union of what it delivered is the published stream, in order, with at most one duplicate per kill, each marked TradeFlags.Redelivered`,
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  fn: async () => {
    await using server = await startNatsServer();
    await using config = await roleConfig({
      nats: { url: server.url },
      capacity: CAPACITY, // small: a restart must catch up through JetStream
    });
    const name = `test-${crypto.randomUUID().slice(0, 8)}`;
    const delivered = join(config.dir, "delivered.txt");
    const strategy = join(config.dir, "durable_strategy.ts");
    await Deno.writeTextFile(strategy, strategySource(delivered));
    const args = ["--ring-durable", name, "--strategy", strategy];
    const logs: string[] = [];
    /** The held restarts' logs. */
    const heldLogs: string[] = [];
    try {
      await using serve = new RoleProcess("serve", config, [
        "--nats",
        "--rate",
        String(RATE),
      ]);
      await serve.waitFor(/publishing to stream/);
      for (let kill = 0; kill < KILLS; kill++) {
        const live = new RoleProcess("live", config, args, {
          write: [delivered],
        });
        // Killed while catching up or after, at a random moment.
        await live.waitFor(/durable .*: (no position|JetStream history)/);
        if (kill === 0) {
          await refusedWhileRunning(config, args, live.pid);
          await refusedWithRecording(config, args);
        }
        // A held restart (runs 4, 7, 10) is killed only once it switched:
        // its switches count below.
        const held = kill % 3 === 0 && kill > 0;
        if (held) {
          await live.waitFor(/caught up in/, config.symbols.length, 60_000);
        }
        await delay(200 + Math.random() * 4000);
        live.kill("SIGKILL");
        const exit = await live.finish();
        assert.equal(exit.signal, "SIGKILL", output(exit));
        logs.push(`--- run ${kill + 1} (killed)\n${output(exit)}`);
        if (held) heldLogs.push(output(exit));
        // Every third restart waits past the ring's span (8192 slots per
        // symbol, about 1.2 s): it must catch up through JetStream.
        if (kill % 3 === 2) await delay(HELD_MS);
      }
      // The last run: it catches up, then drains the rings serve closes.
      await using last = new RoleProcess("live", config, args, {
        write: [delivered],
      });
      await last.waitFor(/caught up in/, config.symbols.length, 60_000);
      serve.kill("SIGINT");
      const served = await serve.finish(30_000);
      const published = publishedTrades(output(served));
      const exit = await finishAfterDrain(last, config.symbols.length);
      logs.push(`--- last run\n${output(exit)}`);
      const log = logs.join("\n");
      assert.equal(exit.code, 0, log);
      const seqs = await deliveredSeqs(delivered);
      let repeats = 0;
      let marked = 0;
      let total = 0;
      let skippedAtStart = 0;
      for (const symbol of config.symbols) {
        const list = seqs.get(symbol) ?? [];
        assert.ok(list.length > 0, `${symbol}: nothing delivered:\n${log}`);
        const found = contiguous(symbol, list, log);
        repeats += found.repeats;
        marked += found.marked;
        total += list.at(-1)!.seq; // the last published seq of the symbol
        skippedAtStart += list[0].seq - 1; // before the first run started
      }
      // Every published trade from each symbol's first delivered one on.
      assert.equal(total, published, log);
      assert.ok(
        repeats <= KILLS && marked <= KILLS,
        `${repeats} duplicates, ${marked} trades marked redelivered for ${KILLS} kills:\n${log}`,
      );
      // Each held restart caught up through JetStream, every symbol: the
      // ring alone (8192 slots, about 1.2 s) no longer held what it missed.
      const replayedIn = (text: string) =>
        [...text.matchAll(/caught up in .*?, ([\d,]+) trades replayed/g)]
          .map((found) => Number(found[1].replaceAll(",", "")));
      assert.equal(heldLogs.length, HELD_RESTARTS);
      for (const text of heldLogs) {
        const counts = replayedIn(text);
        assert.equal(counts.length, config.symbols.length, text);
        assert.ok(
          counts.every((count) => count > CAPACITY),
          `a held restart replayed ${
            counts.join(", ")
          }, expected more than the ring holds (${CAPACITY}) per symbol:\n${text}`,
        );
      }
      const replayed = replayedIn(log);
      console.log(
        `${published} published, ${
          published - skippedAtStart
        } delivered across ${KILLS} kills, ${repeats} duplicates (each marked redelivered; ${marked} marked); replayed from JetStream at the switches: ${
          replayed.join(" ")
        }`,
      );
    } finally {
      removeDurable(name);
    }
  },
});

gatedTest({
  name:
    "live --ring-durable: killed with SIGKILL and its /dev/shm file removed (a reboot), the restart resumes from the NATS mirror at-least-once: no gap, the repeats bounded by the mirror's 1 s interval",
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  fn: async () => {
    await using server = await startNatsServer();
    await using config = await roleConfig({
      nats: { url: server.url },
      capacity: 8192,
    });
    const name = `test-${crypto.randomUUID().slice(0, 8)}`;
    const delivered = join(config.dir, "delivered.txt");
    const strategy = join(config.dir, "durable_strategy.ts");
    await Deno.writeTextFile(strategy, strategySource(delivered));
    const args = ["--ring-durable", name, "--strategy", strategy];
    try {
      await using serve = new RoleProcess("serve", config, [
        "--nats",
        "--rate",
        String(RATE),
      ]);
      await serve.waitFor(/publishing to stream/);
      const first = new RoleProcess("live", config, args, {
        write: [delivered],
      });
      await first.waitFor(/caught up in/, config.symbols.length);
      await delay(2500); // the mirror written since
      first.kill("SIGKILL");
      const killed = await first.finish();
      removeDurable(name);
      const before = await deliveredSeqs(delivered);
      await Deno.writeTextFile(delivered, "");
      await using second = new RoleProcess("live", config, args, {
        write: [delivered],
      });
      await second.waitFor(/resuming from the NATS mirror/);
      await second.waitFor(/caught up in/, config.symbols.length, 60_000);
      serve.kill("SIGINT");
      const published = publishedTrades(output(await serve.finish(30_000)));
      await second.waitFor(/producer closed/, config.symbols.length);
      await delay(DRAIN_MS);
      const stopping = second.kill("SIGINT");
      const exit = await second.finish();
      const log = `${output(killed)}\n--- restart\n${output(exit)}`;
      assert.equal(exit.code, 0, log);
      // The first SIGINT stops it within a bound: the mirror's last write
      // takes at most 2 s.
      assert.ok(exit.exitedAt - stopping < 5000, log);
      const after = await deliveredSeqs(delivered);
      let repeats = 0;
      let total = 0;
      for (const symbol of config.symbols) {
        const was = (before.get(symbol) ?? []).map((trade) => trade.seq);
        const now = (after.get(symbol) ?? []).map((trade) => trade.seq);
        contiguous(symbol, before.get(symbol) ?? [], log);
        contiguous(symbol, after.get(symbol) ?? [], log);
        // No gap: the restart starts at or before the next one.
        assert.ok(now[0] <= was.at(-1)! + 1, `${symbol}: ${now[0]}:\n${log}`);
        repeats += was.at(-1)! - now[0] + 1;
        total += now.at(-1)!;
      }
      assert.equal(total, published, log);
      assert.ok(repeats < RATE, `${repeats} repeats:\n${log}`);
      console.log(`${repeats} trades delivered again after losing /dev/shm`);
    } finally {
      removeDurable(name);
    }
  },
});

gatedTest({
  name:
    "live --ring-durable: with no /dev/shm position (a reboot) and NATS not answering, the start is refused (its position is unknown): one line, exit 1, not 'from now'; --bars-out is refused: one line, exit 2",
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  fn: async () => {
    await using config = await roleConfig({
      nats: { url: `nats://127.0.0.1:${freePort()}` }, // nobody answers
    });
    const name = `test-${crypto.randomUUID().slice(0, 8)}`;
    try {
      const bars = join(config.dir, "bars.ndjson");
      await using barsOut = new RoleProcess("live", config, [
        "--ring-durable",
        name,
        "--bars-out",
        bars,
      ], { write: [bars] });
      const refused = await barsOut.finish();
      assert.equal(refused.code, 2, output(refused));
      assert.match(
        output(refused),
        /ERROR trading_core: --bars-out \(trading_core\.bars_out\) cannot be used with --ring-durable \S+ \(data_source\.ipc\.durable_name\)/,
      );
      removeDurable(name); // a reboot
      await using live = new RoleProcess("live", config, [
        "--ring-durable",
        name,
      ]);
      const exit = await live.finish();
      assert.equal(exit.code, 1, output(exit));
      assert.match(
        output(exit),
        new RegExp(
          `ERROR trading_core: Durable ${name} has no position in /dev/shm and its NATS mirror MARKETBUS_RING_DURABLE \\(subject marketbus_ring_durable\\.\\S+\\.${name}\\) could not be read \\(.*\\): where it resumes is unknown; start it again once NATS answers, or reset it`,
        ),
      );
      assert.doesNotMatch(output(exit), /reading from now|\n\s+at /);
    } finally {
      removeDurable(name);
    }
  },
});
