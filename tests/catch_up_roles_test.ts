// Catch-up then live with real processes: `serve --nats` (ring and
// JetStream, one run epoch) publishes; `live --catch-up 1m` starts at a
// random moment later, replays JetStream, switches each symbol to its ring
// and records every trade it delivers. The recording must hold every seq
// from 1 to the last published, once, in order, per symbol; each symbol
// reports caught up once. After the switch the nats-server is stopped: the
// trades published after that can only come from the ring.

import assert from "node:assert/strict";
import { join } from "node:path";
import { delay } from "../common/runtime/delay.ts";
import { gatedTest, OWN_SERVER_REASON } from "./_permissions.ts";
import { check, freePort, healthz, waitUntil } from "./_metrics_scrape.ts";
import {
  finishAfterDrain,
  output,
  publishedTrades,
  roleConfig,
  RoleProcess,
} from "./_ipc_roles.ts";
import { catchUpRun, PERMISSIONS, recordedSeqs } from "./_catch_up_run.ts";
import { startNatsServer } from "./nats_server.ts";
import { ringSnapshots } from "../common/ipc/ring_status.ts";

gatedTest({
  name:
    "live --catch-up 1m started at random moments under load: every trade of serve --nats once, in order, caught up per symbol, then from the ring alone",
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  async fn() {
    for (let run = 0; run < 3; run++) {
      const rate = [8_000, 15_000, 30_000][run];
      await catchUpRun(rate, Math.round(1500 + Math.random() * 3000));
    }
  },
});

gatedTest({
  name:
    "live --catch-up durable --durable NAME --deliver all: the durable consumer's history, then the ring, every trade once",
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  async fn() {
    await catchUpRun(15_000, 2000, {
      since: [
        "--catch-up",
        "durable",
        "--durable",
        "catchup",
        "--deliver",
        "all",
      ],
    });
  },
});

gatedTest({
  name:
    "live --catch-up 1m --snapshot: each symbol's snapshot first as a preview, then every trade once and in order from the history (the snapshot's in its place), nothing skipped, then the ring",
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  async fn() {
    await catchUpRun(15_000, 2000, {
      since: ["--catch-up", "1m", "--snapshot"],
    });
  },
});

/** The first SIGINT stops a role within this, ms (generous: a loaded 2-vCPU VM). */
const SIGINT_MS = 2000;

gatedTest({
  name:
    "live --catch-up: the first SIGINT stops it within 2 s while it catches up, replaying JetStream or waiting for it",
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  async fn() {
    for (const natsDown of [false, true]) {
      await using server = await startNatsServer();
      await using config = await roleConfig({ nats: { url: server.url } });
      await using serve = new RoleProcess("serve", config, [
        "--nats",
        "--rate",
        "30000",
      ]);
      await serve.waitFor(/publishing to stream/);
      await delay(3000); // history to replay
      // Down, the history cannot be read: it catches up for good.
      if (natsDown) await server.halt(0);
      const port = freePort();
      await using live = new RoleProcess("live", config, [
        "--catch-up",
        "1m",
        "--metrics-port",
        String(port),
      ]);
      const detail = await waitUntil("/healthz", async () => {
        const health = await healthz(port);
        return check(health, "caught_up").detail;
      });
      if (natsDown) assert.match(detail, /^catching up: /);
      const sent = live.kill("SIGINT");
      const exit = await live.finish(15_000);
      const ms = Math.round(exit.exitedAt - sent);
      const what = `NATS ${natsDown ? "down" : "up"}, "${detail}"`;
      assert.equal(exit.timedOut, false, `${what}: ${output(exit)}`);
      assert.ok(ms < SIGINT_MS, `${what}: stopped ${ms} ms after SIGINT`);
    }
  },
});

gatedTest({
  name:
    "live --catch-up with a strategy whose onStart never settles: the first SIGINT stops it within 2 s, nothing subscribed",
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  async fn() {
    await using server = await startNatsServer();
    await using config = await roleConfig({ nats: { url: server.url } });
    await using serve = new RoleProcess("serve", config, [
      "--nats",
      "--rate",
      "5000",
    ]);
    await serve.waitFor(/publishing to stream/);
    const strategy = join(config.dir, "hanging_start.ts");
    await Deno.writeTextFile(
      strategy,
      `export default {
  onStart() { console.log("onStart hangs"); return new Promise(() => {}); },
  onTrade() {},
  onBar() {},
};
`,
    );
    await using live = new RoleProcess("live", config, [
      "--catch-up",
      "1m",
      "--strategy",
      strategy,
    ]);
    await live.waitFor(/onStart hangs/);
    await delay(Math.random() * 500);
    const sent = live.kill("SIGINT");
    const exit = await live.finish(15_000);
    const ms = Math.round(exit.exitedAt - sent);
    assert.equal(exit.timedOut, false, output(exit));
    assert.ok(ms < SIGINT_MS, `stopped ${ms} ms after SIGINT: ${output(exit)}`);
    assert.match(output(exit), /onStart had not finished when stopping/);
    assert.doesNotMatch(output(exit), /caught up in/);
  },
});

gatedTest({
  name:
    "live --catch-up from after a publisher went quiet: every symbol switches once the history has nothing pending (none of it replayed), delivering none of its ring's trades (all before SINCE), and /healthz's caught_up passes",
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  async fn() {
    await using server = await startNatsServer();
    await using config = await roleConfig({ nats: { url: server.url } });
    await using serve = new RoleProcess("serve", config, [
      "--nats",
      "--rate",
      "300",
    ]);
    await serve.waitFor(/publishing to stream/);
    await delay(1000);
    serve.kill("SIGSTOP"); // quiet from here: its rings keep what they hold
    try {
      await delay(500);
      const since = new Date().toISOString();
      const port = freePort();
      const record = join(config.dir, "quiet.ndjson");
      await using live = new RoleProcess("live", config, [
        "--catch-up",
        since,
        "--metrics-port",
        String(port),
        "--record",
        record,
      ], { write: [record] });
      const symbols = config.symbols.length;
      const caught = await live.waitFor(
        /(\w+): caught up in [\d.]+ s, 0 trades replayed from JetStream \(none of it\)/,
        symbols,
        30_000,
      );
      assert.deepEqual(
        caught.map((found) => found[1]).sort(),
        [...config.symbols].sort(),
      );
      const health = await healthz(port);
      assert.deepEqual(check(health, "caught_up"), {
        name: "caught_up",
        ok: true,
        detail: "caught up: every stream reads the ring",
      });
      live.kill("SIGINT");
      const exit = await live.finish(15_000);
      assert.equal(exit.timedOut, false, output(exit));
      // The rings' trades were all received before SINCE: none delivered.
      const recorded = await Deno.readTextFile(record).catch(() => "");
      assert.equal(recorded, "", `trades before ${since} delivered`);
    } finally {
      serve.kill("SIGCONT");
    }
  },
});

/** Each symbol's recording: seqs, and "restart" for a producer restart gap; any other gap line fails. */
async function recordedRuns(path: string): Promise<Map<string, string[]>> {
  const rows = new Map<string, string[]>();
  for (const line of (await Deno.readTextFile(path)).split("\n")) {
    if (line === "") continue;
    const row = JSON.parse(line);
    if (row.type === "gap") {
      assert.equal(row.cause, "producer restart", `a gap: ${line}`);
    }
    const list = rows.get(row.symbol) ?? [];
    list.push(row.type === "gap" ? "restart" : String(row.seq));
    rows.set(row.symbol, list);
  }
  return rows;
}

gatedTest({
  name:
    "live --catch-up while serve is killed -9 and started again: the first run whole and in order (its ring's last trades, never stored, included), a producer restart gap, the second run in order from 1, caught up in the second run",
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  async fn() {
    await using server = await startNatsServer();
    await using config = await roleConfig({ nats: { url: server.url } });
    const record = join(config.dir, "restart.ndjson");
    const args = ["--nats", "--rate", "40000"];
    await using first = new RoleProcess("serve", config, args);
    await first.waitFor(/publishing to stream/);
    await delay(4000); // history to replay
    const port = freePort();
    await using live = new RoleProcess("live", config, [
      "--catch-up",
      "1m",
      "--metrics-port",
      String(port),
      "--record",
      record,
    ], { write: [record] });
    await waitUntil("/healthz", async () => {
      await healthz(port);
      return true;
    });
    first.kill("SIGKILL"); // while catching up: its last trades may be in its rings only
    await first.exited;
    // The first run's last seq per symbol, as its rings hold it.
    const written = new Map<string, number>();
    for (const ring of ringSnapshots(config.prefix)) {
      if (ring.kind !== "ring") continue;
      written.set(ring.name.split("_").at(-1)!, ring.writePosition);
    }
    await using second = new RoleProcess("serve", config, args);
    await second.waitFor(/publishing to stream/);
    const [[, epoch]] = await second.waitFor(/run epoch (\d+)/);
    const symbols = config.symbols.length;
    const caught = await live.waitFor(
      /caught up in .*run epoch (\d+)/,
      symbols,
      60_000,
    );
    await delay(1000);
    second.kill("SIGINT");
    await second.finish(30_000);
    const exit = await finishAfterDrain(live, symbols);
    const text = output(exit);
    const runs = await recordedRuns(record);
    // Switched in the second run: the restart came while it caught up.
    assert.deepEqual(caught.map((found) => found[1]), caught.map(() => epoch));
    for (const symbol of config.symbols) {
      const rows = runs.get(symbol) ?? [];
      const cut = rows.indexOf("restart");
      assert.ok(
        cut > 0,
        `${symbol}: no producer restart gap: ${rows.slice(0, 5)}…`,
      );
      assert.equal(rows.lastIndexOf("restart"), cut, `${symbol}: two restarts`);
      for (const run of [rows.slice(0, cut), rows.slice(cut + 1)]) {
        const bad = run.findIndex((seq, i) => Number(seq) !== i + 1);
        assert.equal(bad, -1, `${symbol}: seq ${run[bad]} at ${bad}:\n${text}`);
        assert.ok(run.length > 0, `${symbol}: an empty run`);
      }
      // The first run whole, its last trades (in its ring only) included.
      assert.equal(
        cut,
        written.get(symbol),
        `${symbol}: the first run:\n${text}`,
      );
    }
    assert.equal(exit.code, 0, text);
  },
});

gatedTest({
  name:
    "live --catch-up durable after a durable run acknowledged everything of a publisher gone quiet: nothing replayed, its ring's trades left out (the latest stored trade, read with its run epoch, past the consumer's ack floor), then live; the two runs together every trade once, in order",
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  async fn() {
    await using server = await startNatsServer();
    await using config = await roleConfig({ nats: { url: server.url } });
    const symbols = config.symbols.length;
    const durable = ["--durable", "again", "--deliver", "all"];
    await using serve = new RoleProcess("serve", config, [
      "--nats",
      "--rate",
      "300",
    ]);
    await serve.waitFor(/publishing to stream/);
    await delay(1500);
    serve.kill("SIGSTOP"); // quiet: JetStream and its rings hold the same trades
    const records = [0, 1].map((run) => join(config.dir, `run${run}.ndjson`));
    try {
      await delay(500);
      // The first run, a NATS durable consumer, acknowledges everything
      // stored. (A catch-up run would switch to its ring early, and a later
      // durable run replay from that switch again: docs/nats.md.)
      await using first = new RoleProcess("live", config, [
        "--nats",
        ...durable,
        "--record",
        records[0],
      ], { write: [records[0]] });
      await first.waitFor(/connected to/, 1, 30_000);
      await delay(3000);
      first.kill("SIGINT");
      const firstExit = await first.finish(15_000);
      assert.equal(firstExit.code, 0, output(firstExit));
      // The second: nothing pending, nothing replayed; switched past the
      // latest stored trade of each symbol, none of its ring's trades again.
      const port = freePort();
      await using second = new RoleProcess("live", config, [
        "--catch-up",
        "durable",
        ...durable,
        "--metrics-port",
        String(port),
        "--record",
        records[1],
      ], { write: [records[1]] });
      await second.waitFor(
        /caught up in [\d.]+ s, 0 trades replayed from JetStream \(none of it\)/,
        symbols,
        30_000,
      );
      assert.equal(check(await healthz(port), "caught_up")?.ok, true);
      serve.kill("SIGCONT"); // new trades: from the ring alone
      await delay(1000);
      serve.kill("SIGINT");
      const published = publishedTrades(output(await serve.finish(30_000)));
      const secondExit = await finishAfterDrain(second, symbols);
      const text = output(secondExit);
      assert.doesNotMatch(text, /given up on|trades lost/, text);
      const [one, two] = await Promise.all(records.map(recordedSeqs));
      let total = 0;
      for (const symbol of config.symbols) {
        const both = [...one.get(symbol) ?? [], ...two.get(symbol) ?? []];
        total += both.length;
        const bad = both.findIndex((seq, i) => seq !== i + 1);
        assert.equal(bad, -1, `${symbol}: ${both.slice(bad - 3, bad + 3)}`);
        assert.ok((two.get(symbol) ?? []).length > 0, `${symbol}: none live`);
      }
      assert.equal(total, published, text);
      assert.equal(secondExit.code, 0, text);
    } finally {
      serve.kill("SIGCONT");
    }
  },
});
