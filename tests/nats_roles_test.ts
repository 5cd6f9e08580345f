// data_manager (`serve`) and trading_core (`live`) as real processes on NATS
// JetStream, against real nats-server processes from the harness (one per
// test, on random loopback ports), started with the tasks' own permissions
// plus read access to a temp config: end to end with a byte check against the
// regenerated synthetic trades, fan-out to three durable consumers, replay of
// a durable consumer after a restart, the hybrid mode (ring and NATS) through
// a server outage, one message per trade vs adaptive batching, a token the
// server refuses, and a stream that cannot be created. Every test has its own
// server, stream, subject prefix, durable names and segment prefix, and
// removes what it made. With NATS_URL readable (on loopback, where the tasks
// may connect), the tests that neither stop nor configure the server run on
// that one instead, and delete their streams.
//
// Two of them fail on production bugs, as their comments say: the replay
// variant with multi-trade messages (live's limit cuts a message that the
// next run receives again whole) and the stream that cannot be created
// (serve exits 0 with every trade lost).

import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import {
  type ConsumerInfo,
  jetstreamManager,
  type StreamInfo,
} from "@nats-io/jetstream";
import { decodeTrades } from "../common/wire/codec.ts";
import { delay } from "../common/runtime/delay.ts";
import { parseTradeSubject } from "../common/wire/subjects.ts";
import type { Trade } from "../common/wire/trade.ts";
import type { LiveSummary } from "../trading_core/live_report.ts";
import {
  gatedTest,
  harnessPermissions,
  natsTest,
  OWN_SERVER_REASON,
} from "./_permissions.ts";
import {
  assertCleanExit,
  assertComplete,
  LIVENESS_MS,
  output,
  parseCount,
  publishedTrades,
  ROLE_PERMISSIONS,
  type RoleConfig,
  roleConfig,
  type RoleConfigOptions,
  type RoleExit,
  type RoleNats,
  type RoleNatsOptions,
  RoleProcess,
  streamOf,
  summaryOf,
} from "./_ipc_roles.ts";
import { type NatsServer, startNatsServer } from "./nats_server.ts";
import { readStoredMessages, withJsm } from "./_nats_feed.ts";
import { regenerate } from "./_regenerate.ts";

/** Spawning the roles (deno) and nats-server, temp files, ring clean-up, loopback NATS. */
const PERMISSIONS: Deno.PermissionDescriptor[] = [
  ...ROLE_PERMISSIONS,
  ...harnessPermissions(),
];

/** Default `batch_max_trades` (docs/configuration.md). */
const DEFAULT_BATCH_MAX_TRADES = 64;

// ---------------------------------------------------------------------------
// helpers

/** The NATS fragment of `serve`'s final line. */
interface NatsFinal {
  /** Trades handed to the transports ("N trades" at the start of the line). */
  published: number;
  /** Trades in acknowledged messages. */
  trades: number;
  /** Acknowledged messages. */
  messages: number;
  queued: number;
  dropped: number;
  retries: number;
  errors: number;
}

const NATS_FRAGMENT =
  /\| nats ([\d,]+) trades in ([\d,]+) msgs .*? queued ([\d,]+) \(\d+%\) dropped ([\d,]+) retries (\d+) errors (\d+)/;

/** Parses `serve`'s final line ("stopped after …: N trades … | nats …"). */
function natsFinal(text: string): NatsFinal {
  const line = text.split("\n").find((l) => /stopped after [\d.]+s: /.test(l));
  assert.ok(line, `no final "stopped after" line in:\n${text}`);
  const nats = line.match(NATS_FRAGMENT);
  assert.ok(nats, `no NATS figures in serve's final line: ${line}`);
  return {
    published: publishedTrades(line),
    trades: parseCount(nats[1]),
    messages: parseCount(nats[2]),
    queued: parseCount(nats[3]),
    dropped: parseCount(nats[4]),
    retries: Number(nats[5]),
    errors: Number(nats[6]),
  };
}

/** Everything JetStream received from `serve` was acknowledged: nothing queued, dropped, rejected. */
function assertAllAcked(final: NatsFinal, text: string): void {
  assert.equal(final.trades, final.published, `acked vs published: ${text}`);
  assert.equal(final.queued, 0, text);
  assert.equal(final.dropped, 0, text);
  assert.equal(final.errors, 0, text);
}

/**
 * A temp config for both roles on `server`, with a stream and subject prefix
 * of its own; disposing it also deletes the streams on that prefix, so a
 * shared server (NATS_URL) keeps nothing.
 */
async function natsConfig(
  server: Pick<NatsServer, "url"> | NatsServer,
  options: RoleConfigOptions & { natsOptions?: Omit<RoleNatsOptions, "url"> } =
    {},
): Promise<RoleConfig & { nats: RoleNats }> {
  const { natsOptions, ...rest } = options;
  const config = await roleConfig({
    ...rest,
    nats: { url: server.url, ...natsOptions },
  });
  assert.ok(config.nats);
  const nats = config.nats;
  return {
    ...config,
    nats,
    async [Symbol.asyncDispose]() {
      try {
        // A server this test started goes with everything on it; connecting
        // to one that requires credentials would only be refused.
        if (!("stop" in server)) {
          await deleteStreams(server.url, nats.subjectPrefix);
        }
      } finally {
        await config[Symbol.asyncDispose]();
      }
    },
  };
}

/** Deletes the streams capturing subjects under `prefix`; gives up quietly (server down, auth). */
async function deleteStreams(url: string, prefix: string): Promise<void> {
  let nc;
  try {
    nc = await connect({ servers: url, noAsyncTraces: true, timeout: 2000 });
    const jsm = await jetstreamManager(nc);
    for await (const info of jsm.streams.list()) {
      if (info.config.subjects?.some((s) => s.startsWith(`${prefix}.`))) {
        await jsm.streams.delete(info.config.name);
      }
    }
  } catch {
    // nothing to delete, or no way to: a server of the test's own goes anyway
  } finally {
    await nc?.close();
  }
}

/** A durable name nobody else uses. */
function durableName(what: string): string {
  return `${what}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Runs `live` with `args` to its end (it must exit by itself, status 0) and returns its summary. */
async function runLive(
  config: RoleConfig,
  args: string[],
): Promise<LiveSummary> {
  await using live = new RoleProcess("live", config, [
    "--summary-json",
    ...args,
  ]);
  const exit = await live.finish();
  assertCleanExit(exit, `live ${args.join(" ")}`);
  return summaryOf(exit);
}

/** Runs `serve` with `args` to its end (status 0) and returns its output and NATS figures. */
async function runServe(
  config: RoleConfig,
  args: string[],
): Promise<{ exit: RoleExit; final: NatsFinal }> {
  await using serve = new RoleProcess("serve", config, args);
  const exit = await serve.finish();
  assertCleanExit(exit, `serve ${args.join(" ")}`);
  return { exit, final: natsFinal(exit.stdout) };
}

function streamInfo(url: string, nats: RoleNats): Promise<StreamInfo> {
  return withJsm(url, (jsm) => jsm.streams.info(nats.stream));
}

function consumerInfo(
  url: string,
  nats: RoleNats,
  durable: string,
): Promise<ConsumerInfo> {
  return withJsm(url, (jsm) => jsm.consumers.info(nats.stream, durable));
}

/** One message of the stream, decoded. */
interface StoredMessage {
  symbol: string;
  streamSeq: number;
  trades: Trade[];
}

/**
 * Every message of the stream, in stream order, read directly with an
 * ordered consumer (not through trading_core) and decoded with the codec.
 */
async function readStream(
  url: string,
  nats: RoleNats,
): Promise<StoredMessage[]> {
  const stored: StoredMessage[] = [];
  const total = await readStoredMessages(
    { url, stream: nats.stream },
    (message) => {
      const origin = parseTradeSubject(message.subject, {
        prefix: nats.subjectPrefix,
      });
      assert.equal(origin.exchange, "binance", message.subject);
      stored.push({
        symbol: origin.symbol,
        streamSeq: message.seq,
        trades: decodeTrades(message.data, origin),
      });
    },
    { timeoutMs: LIVENESS_MS },
  );
  assert.equal(stored.length, total, "read back fewer messages than stored");
  return stored;
}

/** The stream's trades per symbol, in stream order. */
function tradesBySymbol(
  stored: readonly StoredMessage[],
): Map<string, Trade[]> {
  const bySymbol = new Map<string, Trade[]>();
  for (const { symbol, trades } of stored) {
    let list = bySymbol.get(symbol);
    if (list === undefined) bySymbol.set(symbol, list = []);
    list.push(...trades);
  }
  return bySymbol;
}

/**
 * The stream holds every trade of one `serve` run exactly once: per symbol,
 * seqs 1, 2, … and consecutive trade ids (a repeat or a hole breaks both),
 * `published` in all. Returns the per-symbol counts.
 */
function assertEveryTradeOnce(
  stored: readonly StoredMessage[],
  symbols: readonly string[],
  published: number,
): Map<string, number> {
  const bySymbol = tradesBySymbol(stored);
  assert.deepEqual(
    [...bySymbol.keys()].sort(),
    [...symbols].sort(),
    "symbols in the stream",
  );
  const counts = new Map<string, number>();
  let sum = 0;
  for (const [symbol, trades] of bySymbol) {
    const firstId = trades[0].tradeId;
    trades.forEach((trade, i) => {
      if (trade.seq !== i + 1 || trade.tradeId !== firstId + BigInt(i)) {
        assert.fail(
          `${symbol}: trade ${i} of the stream has seq ${trade.seq} and id ${trade.tradeId}, expected seq ${
            i + 1
          } and id ${
            firstId + BigInt(i)
          } (a repeat or a hole; ${trades.length} trades stored)`,
        );
      }
    });
    counts.set(symbol, trades.length);
    sum += trades.length;
  }
  assert.equal(sum, published, "trades in the stream vs published");
  return counts;
}

// ---------------------------------------------------------------------------
// 1. end to end, NATS only

natsTest({
  name:
    "serve --nats --no-ipc → live --nats --durable --deliver all: 100,000 trades over 3 symbols, complete, in order, identical to the regenerated source",
  permissions: ROLE_PERMISSIONS,
  loopbackOnly: true,
  async fn(_t, url) {
    const server = { url };
    const seed = 4242;
    const firstTradeId = 7_000_000;
    await using config = await natsConfig(server, {
      synthetic: { seed, firstTradeId },
    });
    const total = 100_000;
    const { final } = await runServe(config, [
      "--nats",
      "--no-ipc",
      "--max-trades",
      String(total),
      "--rate",
      "0",
    ]);
    assert.equal(final.published, total);
    assertAllAcked(final, JSON.stringify(final));
    assert.deepEqual(config.existing(), [], "--no-ipc made rings");

    const durable = durableName("e2e");
    const summary = await runLive(config, [
      "--nats",
      "--durable",
      durable,
      "--deliver",
      "all",
      "--max-trades",
      String(total),
    ]);
    assert.equal(summary.transport, "nats");
    assertComplete(summary, config.symbols, total);

    // Byte check: the stream, read directly, against the source regenerated
    // with the same seed and first trade id. Timestamps are stamped at
    // publish time, so they are not compared.
    const stored = await readStream(server.url, config.nats);
    const counts = assertEveryTradeOnce(stored, config.symbols, total);
    const expected = regenerate(config.symbols, seed, firstTradeId, total);
    const bySymbol = tradesBySymbol(stored);
    for (const symbol of config.symbols) {
      const got = bySymbol.get(symbol)!;
      const want = expected.get(symbol)!;
      assert.equal(got.length, want.length, `${symbol}: trades`);
      assert.equal(streamOf(summary, symbol).received, counts.get(symbol));
      got.forEach((trade, i) => {
        const w = want[i];
        if (
          trade.side !== w.side || trade.flags !== w.flags ||
          trade.priceFixed !== w.priceFixed || trade.size !== w.size ||
          trade.tradeId !== w.tradeId || trade.seq !== i + 1 ||
          trade.tsEvent !== trade.tsRecv
        ) {
          assert.fail(
            `${symbol} trade ${i}: stored ${
              JSON.stringify(
                trade,
                (_, v) => typeof v === "bigint" ? `${v}` : v,
              )
            }, regenerated ${
              JSON.stringify(w, (_, v) => typeof v === "bigint" ? `${v}` : v)
            }`,
          );
        }
      });
      assert.equal(got[0].tradeId, BigInt(firstTradeId));
    }
    // The consumer acknowledged everything it received.
    const info = await consumerInfo(server.url, config.nats, durable);
    assert.equal(info.num_pending, 0, JSON.stringify(info));
    assert.equal(info.num_ack_pending, 0, JSON.stringify(info));
  },
});

// ---------------------------------------------------------------------------
// 2. fan-out

natsTest({
  name:
    "fan-out: three live --nats with their own durable names, started before and after serve, each receive every trade",
  permissions: ROLE_PERMISSIONS,
  loopbackOnly: true,
  async fn(_t, url) {
    const server = { url };
    await using config = await natsConfig(server);
    const total = 30_000;
    const take = [
      "--nats",
      "--deliver",
      "all",
      "--max-trades",
      String(total),
      "--summary-json",
    ];
    const names = [durableName("early-a"), durableName("early-b")];
    await using early1 = new RoleProcess("live", config, [
      ...take,
      "--durable",
      names[0],
    ]);
    await using early2 = new RoleProcess("live", config, [
      ...take,
      "--durable",
      names[1],
    ]);
    // No stream yet: both wait for the publisher to create it.
    for (const live of [early1, early2]) {
      await live.waitFor(/not found; waiting for the publisher to create it/);
    }
    const { final } = await runServe(config, [
      "--nats",
      "--no-ipc",
      "--max-trades",
      String(total),
      "--rate",
      "0",
    ]);
    assert.equal(final.published, total);
    assertAllAcked(final, JSON.stringify(final));

    const late = durableName("late");
    names.push(late);
    const lateSummary = await runLive(config, [...take, "--durable", late]);
    for (const live of [early1, early2]) {
      const exit = await live.finish();
      assertCleanExit(exit, "live (started before serve)");
      assertComplete(summaryOf(exit), config.symbols, total);
    }
    assertComplete(lateSummary, config.symbols, total);
    const consumers = await withJsm(server.url, async (jsm) => {
      const all: ConsumerInfo[] = [];
      for await (const info of jsm.consumers.list(config.nats.stream)) {
        all.push(info);
      }
      return all;
    });
    assert.deepEqual(consumers.map((c) => c.name).sort(), [...names].sort());
    for (const info of consumers) {
      assert.equal(info.num_pending, 0, JSON.stringify(info));
      assert.equal(info.num_ack_pending, 0, JSON.stringify(info));
    }
  },
});

// ---------------------------------------------------------------------------
// 3. replay after restart

for (
  const variant of [
    {
      what: "one trade per message",
      options: { natsOptions: { publish: { batch_max_trades: 1 } } },
    },
    {
      // Bursts of 3,000 trades go out in messages of up to 64 trades of a
      // symbol, so the first run's limit (almost always) falls inside a
      // message: live delivers and acknowledges that message whole, so the
      // second run must neither repeat nor miss any of its trades.
      what: "bursts in multi-trade messages",
      options: { synthetic: { burstSize: 3000, burstInterval: "300ms" } },
    },
  ] satisfies { what: string; options: Parameters<typeof natsConfig>[1] }[]
) {
  natsTest({
    name:
      `replay after a restart (${variant.what}): a durable live stops halfway, serve publishes more, the same durable receives exactly the rest`,
    permissions: ROLE_PERMISSIONS,
    loopbackOnly: true,
    async fn(_t, url) {
      const server = { url };
      await using config = await natsConfig(server, variant.options);
      const durable = durableName("replay");
      const consume = ["--nats", "--durable", durable, "--deliver", "all"];
      await using serve = new RoleProcess("serve", config, [
        "--nats",
        "--no-ipc",
        "--rate",
        "5000",
      ]);
      await serve.waitFor(/publishing to stream/);
      const firstLimit = 4000;
      const first = await runLive(config, [
        ...consume,
        "--max-trades",
        String(firstLimit),
      ]);
      // Exactly the limit today. A live that finishes the message its limit
      // cuts, or stops before it, would be within a message of it: either
      // way the rest is what the second run must receive.
      assert.ok(
        Math.abs(first.received - firstLimit) < DEFAULT_BATCH_MAX_TRADES,
        JSON.stringify(first),
      );
      assertComplete(first, config.symbols, first.received);
      // serve goes on: at least as many trades again after live stopped.
      await delay(1000);
      assert.ok(serve.running, `serve stopped:\n${serve.output}`);
      serve.kill("SIGINT");
      const served = await serve.finish();
      assertCleanExit(served, "serve");
      const final = natsFinal(served.stdout);
      assertAllAcked(final, JSON.stringify(final));
      const published = final.published;
      assert.ok(published > first.received, `${published} published`);

      const rest = published - first.received;
      const second = await runLive(config, [
        ...consume,
        "--max-trades",
        String(rest),
      ]);
      const text = `first run ${JSON.stringify(first.exchanges)}, second run ${
        JSON.stringify(second.exchanges)
      }, ${published} published`;
      assert.equal(second.received, rest, text);
      assert.equal(second.gaps, 0, text);
      assert.equal(second.invalid, 0, text);
      const stored = await readStream(server.url, config.nats);
      const counts = assertEveryTradeOnce(stored, config.symbols, published);
      for (const symbol of config.symbols) {
        const before = streamOf(first, symbol);
        const after = streamOf(second, symbol);
        // The second run starts right after the first one's last trade and
        // ends at the symbol's last trade: no repeat, no gap.
        assert.equal(
          (before.lastSeq ?? 0) + after.received,
          after.lastSeq,
          `${symbol}: first run's last seq + second run's received = last seq; ${text}`,
        );
        assert.equal(after.lastSeq, counts.get(symbol), `${symbol}: ${text}`);
      }
      const info = await consumerInfo(server.url, config.nats, durable);
      assert.equal(info.num_pending, 0, JSON.stringify(info));
      assert.equal(info.num_ack_pending, 0, JSON.stringify(info));
    },
  });
}

// ---------------------------------------------------------------------------
// 4. hybrid mode through a server outage

/** `queued` figures of serve's NATS progress lines in `text`. */
function queuedFigures(text: string): number[] {
  return text.split("\n")
    .filter((line) => !line.includes("stopped after"))
    .map((line) => line.match(NATS_FRAGMENT))
    .filter((found) => found !== null)
    .map((found) => parseCount(found[3]));
}

gatedTest({
  name:
    "serve --nats (ring and NATS) through a nats-server outage: the stream holds every trade exactly once, the ring consumer never noticed",
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  async fn() {
    await using server = await startNatsServer();
    await using config = await natsConfig(server);
    const symbols = config.symbols.length;
    await using ipcLive = new RoleProcess("live", config, ["--summary-json"]);
    await ipcLive.waitFor(/waiting for ring/, symbols);
    await using serve = new RoleProcess("serve", config, [
      "--nats",
      "--rate",
      "5000",
      "--progress",
      "200ms",
    ]);
    await serve.waitFor(/publishing to stream/);
    await ipcLive.waitFor(/attached to/, symbols);
    await delay(1000);

    // The outage: the server stops (its store stays), serve goes on ~2 s.
    const haltedAt = serve.output.length;
    await server.halt();
    await serve.waitFor(/NATS publisher: disconnected from/);
    await delay(2000);
    const outage = serve.output.slice(haltedAt);
    await server.start();
    await serve.waitFor(/NATS publisher: reconnected to/);
    await serve.waitFor(/publishing to stream/, 2);
    await delay(1500);
    assert.ok(serve.running, `serve stopped:\n${serve.output}`);
    serve.kill("SIGINT");
    const served = await serve.finish();
    assertCleanExit(served, "serve");
    const final = natsFinal(served.stdout);
    assertAllAcked(final, JSON.stringify(final));
    const published = final.published;
    const queuedInOutage = Math.max(0, ...queuedFigures(outage));
    console.log(
      `outage: up to ${queuedInOutage} trades queued for NATS while the server was down (~2 s at 5,000/s); serve published ${published} trades, NATS acknowledged ${final.trades} in ${final.messages} messages after ${final.retries} retries, dropped ${final.dropped}`,
    );
    assert.ok(
      queuedInOutage > 0,
      `nothing queued during the outage:\n${outage}`,
    );
    assert.deepEqual(config.existing(), [], "serve left its rings behind");

    // The ring consumer saw every trade, without interruption.
    await ipcLive.waitFor(/producer closed/, symbols);
    await delay(500);
    ipcLive.kill("SIGINT");
    const ipcExit = await ipcLive.finish();
    assertCleanExit(ipcExit, "live (ring)");
    assert.doesNotMatch(
      output(ipcExit),
      /stalled|died|dead|lapped|restarted/,
      `the ring consumer noticed the NATS outage:\n${output(ipcExit)}`,
    );
    assertComplete(summaryOf(ipcExit), config.symbols, published);

    // The stream holds every trade exactly once …
    const stored = await readStream(server.url, config.nats);
    assertEveryTradeOnce(stored, config.symbols, published);
    assert.equal(
      (await streamInfo(server.url, config.nats)).state.messages,
      stored.length,
    );
    // … and a NATS consumer from the start receives all of them.
    const summary = await runLive(config, [
      "--nats",
      "--durable",
      durableName("after-outage"),
      "--deliver",
      "all",
      "--max-trades",
      String(published),
    ]);
    assertComplete(summary, config.symbols, published);
  },
});

gatedTest({
  name:
    "serve --nats --no-ipc through an outage with a small queue: the source waits instead of dropping, and every trade is stored once",
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  async fn() {
    await using server = await startNatsServer();
    await using config = await natsConfig(server, {
      natsOptions: { publish: { queue_max_trades: 1000 } },
    });
    await using serve = new RoleProcess("serve", config, [
      "--nats",
      "--no-ipc",
      "--rate",
      "1000",
      "--progress",
      "200ms",
    ]);
    await serve.waitFor(/publishing to stream/);
    await delay(500);
    await server.halt();
    await serve.waitFor(/NATS publisher: disconnected from/);
    // Longer than the queue lasts at 1,000 trades/s: without backpressure
    // the oldest would be dropped.
    await delay(2500);
    await server.start();
    await serve.waitFor(/NATS publisher: reconnected to/);
    await delay(1500);
    serve.kill("SIGINT");
    const served = await serve.finish();
    assertCleanExit(served, "serve");
    const final = natsFinal(served.stdout);
    assert.equal(final.dropped, 0, JSON.stringify(final));
    assertAllAcked(final, JSON.stringify(final));
    const stored = await readStream(server.url, config.nats);
    assertEveryTradeOnce(stored, config.symbols, final.published);
  },
});

// ---------------------------------------------------------------------------
// 5. batching settings through the TOML

natsTest({
  name:
    "[transport.nats.publish] batch_max_trades = 1 stores one message per trade; the default packs several trades per message",
  permissions: ROLE_PERMISSIONS,
  loopbackOnly: true,
  async fn(_t, url) {
    const server = { url };
    const total = 5000;
    const args = [
      "--nats",
      "--no-ipc",
      "--max-trades",
      String(total),
      "--rate",
      "0",
    ];

    await using single = await natsConfig(server, {
      natsOptions: { publish: { batch_max_trades: 1 } },
    });
    const one = await runServe(single, args);
    assert.match(one.exit.stdout, /up to 1 trades per message/);
    assertAllAcked(one.final, JSON.stringify(one.final));
    assert.equal(one.final.messages, total);
    const singleInfo = await streamInfo(server.url, single.nats);
    assert.equal(singleInfo.state.messages, total, "one message per trade");
    const singleStored = await readStream(server.url, single.nats);
    assert.ok(singleStored.every((m) => m.trades.length === 1));
    assertEveryTradeOnce(singleStored, single.symbols, total);

    await using batched = await natsConfig(server);
    const many = await runServe(batched, args);
    assert.match(
      many.exit.stdout,
      new RegExp(`up to ${DEFAULT_BATCH_MAX_TRADES} trades per message`),
    );
    assertAllAcked(many.final, JSON.stringify(many.final));
    const batchedInfo = await streamInfo(server.url, batched.nats);
    const messages = batchedInfo.state.messages;
    console.log(
      `${total} trades: ${singleInfo.state.messages} messages with batch_max_trades = 1, ${messages} with the default`,
    );
    assert.ok(messages < total, `${messages} messages for ${total} trades`);
    assert.equal(many.final.messages, messages);
    const stored = await readStream(server.url, batched.nats);
    const sizes = stored.map((m) => m.trades.length);
    assert.ok(sizes.some((n) => n > 1), "no multi-trade message");
    assert.ok(
      sizes.every((n) => n <= DEFAULT_BATCH_MAX_TRADES),
      `a message holds ${Math.max(...sizes)} trades`,
    );
    assertEveryTradeOnce(stored, batched.symbols, total);
  },
});

// ---------------------------------------------------------------------------
// 6. a token the server refuses

const TOKEN = "right-token-5f1c";
const WRONG_TOKEN = "wrong-token-9a7e";
/** serve must give up well within this, ms (nats.js stops after the same auth error twice). */
const AUTH_EXIT_MS = 10_000;

gatedTest({
  name:
    "serve --nats against a token server: the right token publishes; a wrong one exits 1 quickly, naming the auth problem, token not printed",
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  async fn() {
    await using server = await startNatsServer({
      config: { authorization: { token: TOKEN } },
    });
    await using right = await natsConfig(server, {
      natsOptions: { token: TOKEN },
    });
    const good = await runServe(right, [
      "--nats",
      "--no-ipc",
      "--max-trades",
      "1000",
      "--rate",
      "0",
    ]);
    assertAllAcked(good.final, JSON.stringify(good.final));
    assert.equal(good.final.published, 1000);
    assert.doesNotMatch(output(good.exit), new RegExp(TOKEN));

    for (const mode of [["--nats"], ["--nats", "--no-ipc"]]) {
      await using wrong = await natsConfig(server, {
        natsOptions: { token: WRONG_TOKEN },
      });
      const errorsBefore = server.log.match(/authentication error/g)?.length ??
        0;
      const startedAt = performance.now();
      await using serve = new RoleProcess("serve", wrong, [
        ...mode,
        "--rate",
        "1000",
      ]);
      const exit = await serve.finish(AUTH_EXIT_MS);
      const ms = exit.exitedAt - startedAt;
      const text = output(exit);
      console.log(
        `serve ${mode.join(" ")}: exit ${exit.code} after ${ms.toFixed(0)} ms`,
      );
      assert.ok(
        !exit.timedOut,
        `serve ${mode.join(" ")} still ran after ${AUTH_EXIT_MS} ms:\n${text}`,
      );
      assert.equal(exit.code, 1, text);
      assert.match(
        exit.stderr,
        /NATS server nats:\/\/127\.0\.0\.1:\d+ rejected the credentials \(token\)/,
      );
      assert.doesNotMatch(text, new RegExp(WRONG_TOKEN), "the token leaked");
      assert.doesNotMatch(text, new RegExp(TOKEN), "the token leaked");
      assert.deepEqual(wrong.existing(), [], "serve left its rings behind");
      // No retry storm: nats.js gives up after the same auth error twice.
      const attempts = (server.log.match(/authentication error/g)?.length ??
        0) - errorsBefore;
      assert.ok(attempts <= 3, `${attempts} rejected connection attempts`);
    }
  },
});

// ---------------------------------------------------------------------------
// 7. a stream that cannot be created

natsTest({
  name:
    "serve --nats --no-ipc --max-trades when another stream already captures the subjects: exits 1 saying why, not 0 with every trade lost",
  permissions: ROLE_PERMISSIONS,
  loopbackOnly: true,
  async fn(_t, url) {
    const server = { url };
    await using config = await natsConfig(server);
    const other = `${config.nats.stream}_OTHER`;
    await withJsm(server.url, (jsm) =>
      jsm.streams.add({
        name: other,
        subjects: [`${config.nats.subjectPrefix}.>`],
      }));
    await using serve = new RoleProcess("serve", config, [
      "--nats",
      "--no-ipc",
      "--max-trades",
      "1000",
      "--rate",
      "0",
    ]);
    const exit = await serve.finish();
    const text = output(exit);
    assert.ok(!exit.timedOut, text);
    // None of the trades can reach JetStream: the subjects belong to
    // another stream, which no retry changes.
    assert.equal(
      (await streamInfo(server.url, {
        ...config.nats,
        stream: other,
      })).state.messages,
      0,
    );
    assert.match(text, /overlap/);
    assert.equal(
      exit.code,
      1,
      `serve published none of its 1,000 trades and exited ${exit.code}:\n${text}`,
    );
  },
});

// ---------------------------------------------------------------------------
// 8. a user the server does not allow to create consumers

gatedTest({
  name:
    "live --nats as a user without the consumer API permission: exits 1 naming the refused subject, without a stack trace",
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  async fn() {
    await using server = await startNatsServer({
      config: {
        authorization: {
          users: [{
            user: "tc",
            password: "tc-pass-3d9e",
            permissions: { publish: { deny: ["$JS.API.CONSUMER.>"] } },
          }],
        },
      },
    });
    await using config = await natsConfig(server);
    await Deno.writeTextFile(
      config.path,
      `\n[data_source.nats.connection.auth]\nuser = "tc"\npassword = "tc-pass-3d9e"\n`,
      { append: true },
    );
    // The stream exists (a missing one is waited for): what the server
    // refuses is the consumer on it.
    const nc = await connect({
      servers: server.url,
      user: "tc",
      pass: "tc-pass-3d9e",
      noAsyncTraces: true,
    });
    try {
      await (await jetstreamManager(nc)).streams.add({
        name: config.nats.stream,
        subjects: [`${config.nats.subjectPrefix}.>`],
      });
    } finally {
      await nc.close();
    }
    await using live = new RoleProcess("live", config, [
      "--nats",
      "--durable",
      durableName("denied"),
    ]);
    const exit = await live.finish(20_000);
    const text = output(exit);
    assert.ok(!exit.timedOut, `live still ran:\n${text}`);
    assert.equal(exit.code, 1, text);
    assert.match(
      exit.stderr,
      /NATS refused publish to "\$JS\.API\.CONSUMER\.[A-Z.]+\.[A-Z_]+[^"]*": the user lacks that permission/,
    );
    assert.doesNotMatch(text, /^\s+at /m, "a stack trace");
    assert.doesNotMatch(text, /tc-pass-3d9e/, "the password leaked");
  },
});
