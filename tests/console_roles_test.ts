// The live console's HTTP and SSE side against the real roles: `serve`
// publishing on the ring, `live --console-port 0` read by a fetch-based
// Server-Sent Events client (no browser: the browser tests are
// console_browser_test.ts). The snapshot then updates at most
// updates_per_second, the figures equal /metrics once the trades stop, the
// transport view lists this live's ring readers, the chart gets bars and the
// tape trades; a browser going away logs nothing; a stalled client (a socket
// that never reads) neither slows the read loop nor holds a SIGINT up; a port
// in use and a host not permitted are one line and exit 1. Over NATS, the
// transport view is the consumer's backlog.

import assert from "node:assert/strict";
import { delay } from "../common/runtime/delay.ts";
import { gatedTest, natsTest } from "./_permissions.ts";
import {
  output,
  ROLE_PERMISSIONS,
  type RoleConfig,
  roleConfig,
  RoleProcess,
} from "./_ipc_roles.ts";
import { freePort, waitUntil } from "./_metrics_scrape.ts";
import { type SseEvent, SseReader } from "./_sse.ts";
import { ringSnapshot } from "../common/ipc/ring_status.ts";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type {
  SnapshotEvent,
  StreamRow,
  UpdateEvent,
} from "../trading_core/console/mod.ts";

/** The roles, and fetching their endpoints on loopback. */
const PERMISSIONS: Deno.PermissionDescriptor[] = [
  ...ROLE_PERMISSIONS,
  { name: "net", host: "127.0.0.1" },
];

/** How live says where its console is (the contract's pattern). */
const CONSOLE_LINE = /console on (http:\/\/[^ ]+\/)/;

/** The first SIGINT stops live within this, ms (generous: a loaded 2-vCPU VM). */
const SIGINT_MS = 3000;

/** Trades of serve --max-trades in the run that checks the figures. */
const TRADES = 12_000;

/** The `[trading_core.console]` table appended to `config`. */
async function consoleTable(config: RoleConfig, keys: string): Promise<void> {
  await Deno.writeTextFile(config.path, `\n[trading_core.console]\n${keys}\n`, {
    append: true,
  });
}

/** Starts live with the console and returns it with the console's URL. */
async function liveWithConsole(
  config: RoleConfig,
  args: string[] = [],
): Promise<{ live: RoleProcess; url: string }> {
  const live = new RoleProcess("live", config, [
    "--console-port",
    "0",
    ...args,
  ]);
  const [match] = await live.waitFor(CONSOLE_LINE);
  return { live, url: match[1] };
}

/** `marketbus_trades_received_total` per symbol, from live's /metrics text. */
async function receivedBySymbol(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const found: Record<string, number> = {};
  for (
    const [, symbol, count] of text.matchAll(
      /^marketbus_trades_received_total\{[^}]*symbol="([^"]+)"[^}]*\} (\d+)$/gm,
    )
  ) found[symbol] = Number(count);
  return found;
}

/** The trades column of the page's table, by symbol, from the rows seen so far. */
function tradesBySymbol(
  names: Map<number, string>,
  rows: Map<number, StreamRow>,
): Record<string, number> {
  return Object.fromEntries(
    [...rows].map(([index, row]) => [names.get(index)!, row[1]]),
  );
}

gatedTest({
  name:
    "live --console-port: a snapshot then updates at most updates_per_second; the table equals /metrics once the trades stop; transport, chart and tape filled",
  permissions: PERMISSIONS,
  async fn() {
    await using config = await roleConfig();
    await consoleTable(config, "updates_per_second = 4");
    const metricsPort = freePort();
    const { live, url } = await liveWithConsole(config, [
      "--metrics-port",
      String(metricsPort),
    ]);
    await using _live = live;
    await live.waitFor(/waiting for ring/, config.symbols.length);
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(
      page.headers.get("content-security-policy")!,
      /script-src 'self'/,
    );
    assert.match(await page.text(), /<table id="streams">/);
    await using sse = await SseReader.open(`${url}events?interval=1s`);
    assert.equal(sse.status, 200);
    const snapshot: SnapshotEvent = JSON.parse(
      (await sse.nextOf("snapshot")).data,
    );
    assert.equal(sse.retry, 2000);
    assert.deepEqual(snapshot.meta.intervals, ["1s", "1m"]);
    assert.equal(snapshot.meta.bars, "console");
    await using serve = new RoleProcess("serve", config, [
      "--rate",
      "4000",
      "--max-trades",
      String(TRADES),
    ]);
    const names = new Map<number, string>();
    const rows = new Map<number, StreamRow>();
    const updates: SseEvent[] = [];
    let trades = 0;
    const chart = { bars: 0, tape: 0, open: false };
    // Every ring with this live's reader in the transport view, once seen.
    let readersSeen = false;
    const take = (data: SnapshotEvent | UpdateEvent) => {
      for (const [index, , symbol] of data.table?.streams ?? []) {
        names.set(index, symbol);
      }
      for (const row of data.table?.rows ?? []) rows.set(row[0], row);
      if (data.table?.totals) trades = data.table.totals.trades;
      if (data.chart) {
        chart.bars += data.chart.bars.length;
        chart.tape += data.chart.tape.length;
        chart.open ||= data.chart.open !== null;
      }
      const rings = data.transport?.rings ?? [];
      readersSeen ||= rings.length === config.symbols.length &&
        rings.every((ring) =>
          ring.readers.some((r) => r.self && r.pid === live.pid)
        );
    };
    take(snapshot);
    while (trades < TRADES) {
      const event = await sse.nextOf("update", 15_000);
      updates.push(event);
      take(JSON.parse(event.data));
    }
    // Bounded rate: over any second, at most updates_per_second (+1 for timer jitter).
    for (let i = 5; i < updates.length; i++) {
      const span = updates[i].at - updates[i - 5].at;
      assert.ok(
        span > 900,
        `5 updates within ${Math.round(span)} ms: more than 4/s`,
      );
    }
    assert.deepEqual([...names.values()].sort(), [...config.symbols].sort());
    const shown = tradesBySymbol(names, rows);
    const metrics = await receivedBySymbol(metricsPort);
    const exposition =
      await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(exposition, /^marketbus_console_clients 1$/m, "this page");
    assert.match(exposition, /^marketbus_console_clients_dropped_total 0$/m);
    assert.deepEqual(
      shown,
      metrics,
      "the page's trades are /metrics' once the trades stop",
    );
    assert.equal(Object.values(shown).reduce((a, b) => a + b), TRADES);
    for (const row of rows.values()) {
      assert.equal(row[4], 0, "nothing lost");
      assert.match(row[9], /^(alive|closed)$/, "the producer's state");
      assert.equal(typeof row[7], "number", "a latency p50");
    }
    assert.ok(chart.tape > 0 && chart.open, JSON.stringify(chart));
    await waitUntil("a closed 1 s bar", async () => {
      if (chart.bars > 0) return true;
      take(JSON.parse((await sse.nextOf("update")).data));
      return undefined;
    });
    assert.ok(
      readersSeen,
      "the transport view listed this live's reader on every ring",
    );
    await serve.finish();
  },
});

gatedTest({
  name:
    'live --console-port with a strategy: the chart shows live\'s own bars at trading_core.bars.intervals (meta.bars "live")',
  permissions: PERMISSIONS,
  async fn() {
    await using config = await roleConfig();
    const { live, url } = await liveWithConsole(config, [
      "--strategy",
      "strategies/ma_crossover.ts",
      "--bars",
      "1s,5s",
    ]);
    await using _live = live;
    await using serve = new RoleProcess("serve", config, ["--rate", "3000"]);
    await using sse = await SseReader.open(
      `${url}events?exchange=binance&symbol=ETHUSDT&interval=1s`,
    );
    const snapshot: SnapshotEvent = JSON.parse(
      (await sse.nextOf("snapshot")).data,
    );
    assert.deepEqual(snapshot.meta.intervals, ["1s", "5s"]);
    assert.equal(snapshot.meta.bars, "live");
    {
      await using other = await SseReader.open(`${url}events?interval=1m`);
      const fallback: SnapshotEvent = JSON.parse(
        (await other.nextOf("snapshot")).data,
      );
      assert.equal(fallback.chart.interval, "1s", "1m is not one of live's");
      assert.match(fallback.chart.note ?? "", /"1m" is not charted/);
    }
    let bars = 0;
    while (bars === 0) {
      const update: UpdateEvent = JSON.parse(
        (await sse.nextOf("update", 15_000)).data,
      );
      if (update.chart) {
        assert.equal(update.chart.symbol, "ETHUSDT");
        bars += update.chart.bars.length;
      }
    }
    serve.kill("SIGINT");
    await serve.finish();
  },
});

/** A connection that asks for /events and never reads: a stalled browser. */
async function stalledClient(url: string): Promise<Deno.TcpConn> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  await conn.write(
    new TextEncoder().encode(
      `GET /events HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`,
    ),
  );
  return conn;
}

gatedTest({
  name:
    "live --console-port: stalled and vanishing browsers cost the read loop nothing and log nothing; the first SIGINT stops live within its bound with event streams open",
  permissions: PERMISSIONS,
  async fn() {
    await using config = await roleConfig();
    await consoleTable(config, "updates_per_second = 20");
    const metricsPort = freePort();
    const { live, url } = await liveWithConsole(config, [
      "--metrics-port",
      String(metricsPort),
    ]);
    await using _live = live;
    await using serve = new RoleProcess("serve", config, ["--rate", "20000"]);
    await live.waitFor(/attached to/, config.symbols.length);
    const logged = live.output.length;
    // Stalled clients: their sockets are never read.
    const stalled = await Promise.all(
      [1, 2, 3].map(() => stalledClient(url)),
    );
    try {
      // Vanishing ones: read a little, go away mid-stream.
      for (let i = 0; i < 10; i++) {
        const sse = await SseReader.open(`${url}events`);
        await sse.nextOf("snapshot");
        if (i % 2 === 0) await sse.nextOf("update");
        await sse.cancel();
      }
      await using reader = await SseReader.open(`${url}events?interval=1m`);
      await reader.nextOf("snapshot");
      const first = await receivedBySymbol(metricsPort);
      await delay(2_000);
      // Still flowing, nothing lost: the read loop kept up.
      const next = await receivedBySymbol(metricsPort);
      for (const symbol of config.symbols) {
        assert.ok(
          next[symbol] - first[symbol] > 5_000,
          `${symbol}: ${first[symbol]} → ${next[symbol]}`,
        );
      }
      const text =
        await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`))
          .text();
      for (const line of text.match(/^marketbus_trades_lost_total.*$/gm)!) {
        assert.match(line, / 0$/, line);
      }
      const update = await reader.nextOf("update");
      assert.ok(update.data.length > 0);
      assert.equal(
        live.output.slice(logged),
        "",
        "nothing logged for browsers coming, stalling and going",
      );
      const sent = live.kill("SIGINT");
      const exit = await live.finish(15_000);
      const ms = Math.round(exit.exitedAt - sent);
      assert.equal(exit.timedOut, false, output(exit));
      assert.equal(exit.code, 0, output(exit));
      assert.ok(ms < SIGINT_MS, `stopped ${ms} ms after SIGINT`);
      console.log(`live stopped ${ms} ms after SIGINT with 3 stalled streams`);
      assert.doesNotMatch(output(exit), /error| {4}at /i);
      // The open stream was ended, not cut.
      for (;;) if ((await reader.next()) === undefined) break;
      assert.equal(reader.done, true);
    } finally {
      for (const conn of stalled) conn.close();
    }
    serve.kill("SIGINT");
    await serve.finish();
  },
});

gatedTest({
  name:
    "live --console-port: a port in use, a host not permitted: one line naming the address and what to change, exit 1",
  permissions: PERMISSIONS,
  async fn() {
    await using config = await roleConfig();
    using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = taken.addr.port;
    await using busy = new RoleProcess("live", config, [
      "--console-port",
      String(port),
    ]);
    const exit = await busy.finish();
    assert.equal(exit.code, 1, output(exit));
    const lines = exit.stderr.trim().split("\n").filter((l) => /ERROR/.test(l));
    assert.equal(lines.length, 1, output(exit));
    assert.match(
      lines[0],
      new RegExp(
        `Cannot serve the console on 127\\.0\\.0\\.1:${port}: address already in use; pick another --console-port \\(trading_core\\.console\\.port\\)$`,
      ),
    );
    assert.doesNotMatch(output(exit), / {4}at |stopped after/);
    // live's task allows loopback only: another host is refused, saying the flag.
    await consoleTable(config, 'host = "0.0.0.0"');
    const free = freePort();
    await using wide = new RoleProcess("live", config, [
      "--console-port",
      String(free),
    ]);
    const refused = await wide.finish();
    assert.equal(refused.code, 1, output(refused));
    assert.match(
      output(refused),
      new RegExp(
        `Cannot serve the console on 0\\.0\\.0\\.0:${free}: needs --allow-net=0\\.0\\.0\\.0:${free}\\n`,
      ),
    );
    assert.doesNotMatch(output(refused), / {4}at /);
  },
});

natsTest({
  name:
    "live --nats --console-port: the transport view shows the NATS consumer connected, its backlog down to 0 once every trade is read; every row's state is the consumer's",
  permissions: PERMISSIONS,
  loopbackOnly: true,
  async fn(_t, url) {
    await using config = await roleConfig({ nats: { url } });
    const total = 60_000;
    await using serve = new RoleProcess("serve", config, [
      "--nats",
      "--no-ipc",
      "--rate",
      "0",
      "--max-trades",
      String(total),
    ]);
    const served = await serve.finish();
    assert.equal(served.code, 0, output(served));
    const { live, url: consoleUrl } = await liveWithConsole(config, [
      "--nats",
      "--deliver",
      "all",
    ]);
    await using _live = live;
    await using sse = await SseReader.open(`${consoleUrl}events`);
    const snapshot: SnapshotEvent = JSON.parse(
      (await sse.nextOf("snapshot")).data,
    );
    assert.equal(snapshot.meta.bars, "console");
    let trades = 0;
    let nats = snapshot.transport?.nats;
    const states = new Set<string>();
    const drained = () =>
      nats?.connected === true && nats.pending === 0 && nats.ack_pending === 0;
    while (trades < total || !drained()) {
      const update: UpdateEvent = JSON.parse(
        (await sse.nextOf("update", 20_000)).data,
      );
      if (update.table?.totals) trades = update.table.totals.trades;
      for (const row of update.table?.rows ?? []) states.add(row[9]);
      if (update.transport) {
        assert.equal(update.transport.rings, null, "NATS only: no rings");
        nats = update.transport.nats ?? undefined;
      }
    }
    assert.equal(trades, total);
    assert.deepEqual([...states], ["connected"]);
    live.kill("SIGINT");
    const exit = await live.finish();
    assert.equal(exit.code, 0, output(exit));
  },
});

gatedTest({
  name:
    "live --console-port: a SIGSTOPped second reader's lag in the transport view is ringSnapshot's (within a second of trades); a loss forced on live gives its chart a bar with complete 0",
  permissions: PERMISSIONS,
  async fn() {
    const rate = 3000;
    await using config = await roleConfig({ capacity: 1024 });
    const perSymbol = rate / config.symbols.length;
    await using serve = new RoleProcess("serve", config, [
      "--rate",
      String(rate),
    ]);
    const { live, url } = await liveWithConsole(config);
    await using _live = live;
    await using other = new RoleProcess("live", config, []);
    await live.waitFor(/attached to/, config.symbols.length);
    await other.waitFor(/attached to/, config.symbols.length);
    await using sse = await SseReader.open(`${url}events?interval=1s`);
    await sse.nextOf("snapshot");
    other.kill("SIGSTOP");
    try {
      await delay(2_500);
      // The next transport part: the stopped reader's lag, against the ring's own.
      let checked = 0;
      while (checked === 0) {
        const update: UpdateEvent = JSON.parse(
          (await sse.nextOf("update", 15_000)).data,
        );
        for (const ring of update.transport?.rings ?? []) {
          const shown = ring.readers.find((r) => r.pid === other.pid);
          assert.ok(shown, `${ring.name}: the second reader is listed`);
          const snapshot = ringSnapshot(ring.name);
          assert.equal(snapshot.kind, "ring");
          const actual = snapshot.kind === "ring"
            ? snapshot.readers.find((r) => r.pid === other.pid)!.lag
            : NaN;
          assert.ok(shown.lag > 100, `${ring.name}: lag ${shown.lag}`); // stopped 2.5 s
          assert.ok(
            Math.abs(actual - shown.lag) <= 2 * perSymbol,
            `${ring.name}: view ${shown.lag}, ringSnapshot ${actual}`,
          );
          checked++;
        }
      }
      assert.equal(checked, config.symbols.length);
    } finally {
      other.kill("SIGCONT");
    }
    // A loss: live stopped past its 1024-slot ring.
    live.kill("SIGSTOP");
    await delay(1_500);
    live.kill("SIGCONT");
    let lost = 0;
    let incomplete = 0;
    await waitUntil("a bar with complete 0 after the loss", async () => {
      const update: UpdateEvent = JSON.parse(
        (await sse.nextOf("update", 15_000)).data,
      );
      if (update.table?.totals) lost = update.table.totals.lost;
      for (const bar of update.chart?.bars ?? []) {
        if (bar[7] === 0) incomplete++;
      }
      return lost > 0 && incomplete > 0 ? true : undefined;
    });
    serve.kill("SIGINT");
    await serve.finish();
  },
});

natsTest({
  name:
    "live --nats --console-port: a backlog built while live is SIGSTOPped shows as pending > 0 in the transport view, between JetStream's consumer info before and after",
  permissions: PERMISSIONS,
  loopbackOnly: true,
  async fn(_t, natsUrl) {
    // One trade a message: a backlog of many messages, that takes live a while.
    await using config = await roleConfig({
      nats: { url: natsUrl, publish: { batch_max_trades: 1 } },
    });
    const { live, url } = await liveWithConsole(config, [
      "--nats",
      "--deliver",
      "all",
    ]);
    await using _live = live;
    await using sse = await SseReader.open(`${url}events`);
    await sse.nextOf("snapshot");
    const nc = await connect({ servers: natsUrl, noAsyncTraces: true });
    try {
      const jsm = await jetstreamManager(nc);
      const pending = async () => {
        const consumers = await jsm.consumers.list(config.nats!.stream).next();
        assert.equal(consumers.length, 1, "live's one consumer");
        return consumers[0].num_pending;
      };
      const publish = async (trades: number) => {
        await using serve = new RoleProcess("serve", config, [
          "--nats",
          "--no-ipc",
          "--rate",
          "0",
          "--max-trades",
          String(trades),
        ]);
        assert.equal((await serve.finish()).code, 0);
      };
      await publish(1000); // live's consumer exists once the stream does
      for (let trades = 0; trades < 1000;) {
        const update: UpdateEvent = JSON.parse(
          (await sse.nextOf("update", 20_000)).data,
        );
        trades = update.table?.totals?.trades ?? trades;
      }
      live.kill("SIGSTOP");
      let before: number;
      try {
        await publish(100_000);
        before = await pending(); // nothing read yet: the most there will be
      } finally {
        live.kill("SIGCONT");
      }
      assert.ok(before > 0, `a backlog: ${before}`);
      let shown = 0;
      while (shown === 0) {
        const update: UpdateEvent = JSON.parse(
          (await sse.nextOf("update", 20_000)).data,
        );
        const nats = update.transport?.nats;
        if (nats) shown = nats.pending;
        if (nats && nats.pending === 0 && update.table?.totals?.trades) {
          assert.fail(`backlog never shown (JetStream said ${before})`);
        }
      }
      const after = await pending();
      console.log(
        `NATS pending: JetStream ${before}, view ${shown}, then ${after}`,
      );
      assert.ok(
        after <= shown && shown <= before,
        `JetStream ${before} ≥ view ${shown} ≥ JetStream after ${after}`,
      );
    } finally {
      await nc.close();
    }
  },
});
