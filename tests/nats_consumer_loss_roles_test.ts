// `live --nats` as a real process against real nats-server processes, fed by
// the test (js.publish of encoded records, per-symbol seqs): trades a stream's
// limits discarded before a durable consumer read them, whether `live` was
// stopped (a later run resumes) or paused (SIGSTOP) meanwhile, are reported
// lost per symbol with a warning; a durable consumer deleted while `live`
// runs is recreated with its start policy, once, and what that policy skips
// is reported lost.

import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { delay } from "../common/runtime/delay.ts";
import type { LiveSummary } from "../trading_core/live_report.ts";
import { natsTest } from "./_permissions.ts";
import {
  LIVENESS_MS,
  output,
  ROLE_PERMISSIONS,
  type RoleConfig,
  roleConfig,
  type RoleExit,
  type RoleNats,
  RoleProcess,
  streamOf,
  summaryOf,
} from "./_ipc_roles.ts";
import { type Published, Publisher, tradesIn } from "./_nats_feed.ts";

const SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"];

/** A role config on `url` and a publisher on its stream, created with `limits`. */
async function setUp(
  url: string,
  limits: { max_msgs?: number },
  consumer?: Record<string, number | string>,
): Promise<{ config: RoleConfig; nats: RoleNats; publisher: Publisher }> {
  const config = await roleConfig({ nats: { url, consumer } });
  const nats = config.nats!;
  const publisher = await Publisher.open(url, {
    prefix: nats.subjectPrefix,
    stream: { name: nats.stream, ...limits },
  });
  return { config, nats, publisher };
}

/** `live --summary-json --durable <durable> --deliver <options.deliver>`, then `options.args`. */
function durableLive(
  config: RoleConfig,
  durable: string,
  options: { deliver: "all" | "new"; args?: string[] },
): RoleProcess {
  return new RoleProcess("live", config, [
    "--summary-json",
    "--durable",
    durable,
    "--deliver",
    options.deliver,
    ...options.args ?? [],
  ]);
}

/**
 * How `live` ended (by itself, or on the test's SIGINT) within the liveness
 * bound: status 1 when it lost trades, else 0.
 */
async function ended(
  live: RoleProcess,
  what: string,
): Promise<{ exit: RoleExit; summary: LiveSummary }> {
  const exit = await live.finish();
  assert.ok(!exit.timedOut, `${what} did not end:\n${output(exit)}`);
  const summary = summaryOf(exit);
  assert.equal(
    exit.code,
    summary.lost > 0 ? 1 : 0,
    `${what} exited ${exit.code}:\n${output(exit)}`,
  );
  return { exit, summary };
}

/** Trades of `symbol` in `messages`. */
function tradesOf(messages: readonly Published[], symbol: string): number {
  return tradesIn(messages.filter((m) => m.symbol === symbol));
}

/** Waits until the durable `name` has acknowledged stream sequence `seq` and has nothing pending. */
async function acknowledged(
  url: string,
  nats: RoleNats,
  name: string,
  seq: number,
): Promise<void> {
  const nc = await connect({ servers: url, noAsyncTraces: true });
  try {
    const jsm = await jetstreamManager(nc);
    const deadline = Date.now() + LIVENESS_MS;
    for (;;) {
      const info = await jsm.consumers.info(nats.stream, name).catch(() =>
        undefined
      );
      if (
        info !== undefined && info.ack_floor.stream_seq >= seq &&
        info.num_pending === 0 && info.num_ack_pending === 0
      ) return;
      if (Date.now() > deadline) {
        throw new Error(
          `consumer ${name} never acknowledged ${seq}: ${JSON.stringify(info)}`,
        );
      }
      await delay(20);
    }
  } finally {
    await nc.close();
  }
}

/** Asserts that `live` said, once per symbol that lost trades, how many. */
function assertLossWarnings(
  text: string,
  lost: ReadonlyMap<string, number>,
): void {
  for (const symbol of SYMBOLS) {
    const lines = text.split("\n").filter((line) =>
      line.includes(`WARN  trading_core: binance ${symbol}: `) &&
      line.includes("trades lost")
    );
    const count = lost.get(symbol) ?? 0;
    if (count === 0) {
      assert.equal(lines.length, 0, `${symbol}: ${lines.join("\n")}`);
      continue;
    }
    assert.equal(lines.length, 1, `${symbol} warned once:\n${text}`);
    assert.match(
      lines[0],
      new RegExp(`${symbol}: ${count.toLocaleString("en-US")} trades lost`),
    );
    assert.match(lines[0], /stream limits or deleted/);
  }
}

natsTest({
  name:
    "live --nats: trades the stream's max_msgs discarded while a durable consumer was stopped are reported lost when it resumes, per symbol, with a warning",
  permissions: ROLE_PERMISSIONS,
  loopbackOnly: true,
  async fn(_t, url) {
    const { config, publisher } = await setUp(url, { max_msgs: 12 });
    await using _config = config;
    try {
      const first = await publisher.publishMany(9);
      const head = await ended(
        durableLive(config, "d", {
          deliver: "all",
          args: ["--max-trades", String(tradesIn(first))],
        }),
        "the first live",
      );
      assert.equal(head.summary.received, tradesIn(first));
      assert.equal(head.summary.lost, 0);
      // The stream keeps the last 12 messages: the first 12 of these go.
      const more = await publisher.publishMany(24);
      const discarded = more.slice(0, 12);
      const kept = more.slice(12);
      const tail = await ended(
        durableLive(config, "d", {
          deliver: "all",
          args: ["--max-trades", String(tradesIn(kept))],
        }),
        "the resumed live",
      );
      const text = `${JSON.stringify(tail.summary)}\n${output(tail.exit)}`;
      assert.equal(tail.summary.received, tradesIn(kept), text);
      assert.equal(tail.summary.lost, tradesIn(discarded), text);
      const lost = new Map<string, number>();
      for (const symbol of SYMBOLS) {
        lost.set(symbol, tradesOf(discarded, symbol));
        assert.equal(streamOf(tail.summary, symbol).lost, lost.get(symbol));
      }
      assertLossWarnings(output(tail.exit), lost);
    } finally {
      await publisher.close();
    }
  },
});

natsTest({
  name:
    "live --nats: trades the stream's max_msgs discarded while live was paused (SIGSTOP) are reported lost: received + lost = published, per symbol",
  permissions: ROLE_PERMISSIONS,
  loopbackOnly: true,
  async fn(_t, url) {
    const { config, nats, publisher } = await setUp(
      url,
      { max_msgs: 12 },
      { max_ack_pending: 4 },
    );
    await using _config = config;
    try {
      await using live = durableLive(config, "paused", { deliver: "all" });
      const first = await publisher.publishMany(9);
      await acknowledged(url, nats, "paused", first.at(-1)!.streamSeq);
      live.kill("SIGSTOP");
      let more: Published[];
      try {
        more = await publisher.publishMany(24);
      } finally {
        live.kill("SIGCONT");
      }
      await acknowledged(url, nats, "paused", more.at(-1)!.streamSeq);
      live.kill("SIGINT");
      const { exit, summary } = await ended(live, "the paused live");
      const text = `${JSON.stringify(summary)}\n${output(exit)}`;
      const all = [...first, ...more];
      const lost = new Map<string, number>();
      for (const symbol of SYMBOLS) {
        const figures = streamOf(summary, symbol);
        assert.equal(
          figures.received + figures.lost,
          tradesOf(all, symbol),
          `${symbol}: ${text}`,
        );
        lost.set(symbol, figures.lost);
      }
      // At most max_ack_pending messages were on their way when it paused.
      assert.ok(
        summary.lost >= tradesIn(more.slice(4, 12)),
        `lost ${summary.lost}: ${text}`,
      );
      assertLossWarnings(output(exit), lost);
    } finally {
      await publisher.close();
    }
  },
});

for (const deliver of ["all", "new"] as const) {
  natsTest({
    name:
      `live --nats --deliver ${deliver}: a durable consumer deleted while live runs is recreated with its start policy, reported once; ${
        deliver === "all"
          ? "nothing is delivered twice"
          : "the trades published meanwhile are reported lost"
      }`,
    permissions: ROLE_PERMISSIONS,
    loopbackOnly: true,
    async fn(_t, url) {
      const { config, nats, publisher } = await setUp(url, {});
      await using _config = config;
      try {
        await using live = durableLive(config, "gone", { deliver });
        await live.waitFor(/durable consumer "gone" \(created\)/);
        const before = await publisher.publishMany(6);
        await acknowledged(url, nats, "gone", before.at(-1)!.streamSeq);
        // Paused, so the deletion and the next messages all come before
        // live can react.
        live.kill("SIGSTOP");
        let meanwhile: Published[];
        try {
          await publisher.jsm.consumers.delete(nats.stream, "gone");
          meanwhile = await publisher.publishMany(6);
        } finally {
          live.kill("SIGCONT");
        }
        await live.waitFor(/durable consumer "gone" \(recreated/);
        const after = await publisher.publishMany(6);
        await acknowledged(url, nats, "gone", after.at(-1)!.streamSeq);
        // Long enough for a repeated warning (heartbeats every 1.5 s).
        await delay(4000);
        live.kill("SIGINT");
        const { exit, summary } = await ended(live, "live");
        const text = `${JSON.stringify(summary)}\n${output(exit)}`;
        const gone = output(exit).split("\n").filter((line) =>
          line.includes('consumer "gone" is gone from the server')
        );
        assert.equal(gone.length, 1, text);
        assert.match(
          gone[0],
          new RegExp(
            `WARN  trading_core: consumer "gone" is gone from the server \\((deleted|not found)\\); recreating it with deliver ${deliver}`,
          ),
        );
        const lostTrades = deliver === "all" ? [] : meanwhile;
        assert.equal(summary.lost, tradesIn(lostTrades), text);
        assert.equal(
          summary.received,
          tradesIn([...before, ...meanwhile, ...after]) - summary.lost,
          text,
        );
        const lost = new Map<string, number>();
        for (const symbol of SYMBOLS) {
          lost.set(symbol, tradesOf(lostTrades, symbol));
          assert.equal(streamOf(summary, symbol).lost, lost.get(symbol), text);
        }
        assertLossWarnings(output(exit), lost);
      } finally {
        await publisher.close();
      }
    },
  });
}
