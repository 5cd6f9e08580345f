// The symbol registry with real processes and a real nats-server (issue 17,
// items 6 and 7): a second serve for symbols a live serve publishes is
// refused naming the owner, and `deno task symbols` lists it; a --standby
// serve takes over when the owner is killed (SIGKILL) and continues the
// stream with no trade twice and a gap of exactly the trades it lost;
// live's /healthz turns 503 naming the symbol and the publisher once the
// publisher's heartbeat expired; live --symbols '*' on the ring reads what
// the registry lists and follows a symbol that appears later.

import assert from "node:assert/strict";
import { harnessPermissions, natsTest } from "./_permissions.ts";
import {
  assertCleanExit,
  output,
  ROLE_PERMISSIONS,
  roleArgs,
  RoleProcess,
  streamOf,
  summaryOf,
} from "./_ipc_roles.ts";
import { registryConfig, storedTrades } from "./_registry_roles.ts";
import {
  check,
  freePort,
  healthz,
  scrape,
  value,
  waitUntil,
} from "./_metrics_scrape.ts";
import { PROJECT_ROOT } from "./nats_server.ts";

/** Spawning the roles (deno) and nats-server, temp files, ring clean-up, loopback NATS. */
const PERMISSIONS: Deno.PermissionDescriptor[] = [
  ...ROLE_PERMISSIONS,
  ...harnessPermissions(),
];

natsTest({
  name:
    "registry roles: a second serve for symbols a live serve publishes exits 1 in one line naming its host, pid and since; deno task symbols --json lists the owner",
  permissions: PERMISSIONS,
  loopbackOnly: true,
  fn: async (_t, url) => {
    await using config = await registryConfig(url);
    await using owner = new RoleProcess("serve", config, [
      "--nats",
      "--no-ipc",
      "--rate",
      "200",
    ]);
    await owner.waitFor(/publishing synthetic/);
    await using second = new RoleProcess("serve", config, [
      "--nats",
      "--no-ipc",
    ]);
    const refused = await second.finish();
    assert.equal(refused.code, 1, output(refused));
    const errors = refused.stderr.split("\n").filter((l) => / ERROR /.test(l));
    assert.equal(errors.length, 1, output(refused));
    assert.match(
      errors[0],
      new RegExp(
        `already published: binance BTCUSDT,ETHUSDT by host \\S+ pid ${owner.pid} since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z; stop that serve first, or start this one with --standby`,
      ),
    );
    assert.doesNotMatch(output(refused), /\n\s+at /, "no stack trace");

    // `deno task symbols`'s own permissions (plus reading the config).
    const listed = await new Deno.Command(Deno.execPath(), {
      args: [...roleArgs("symbols", config), "--json"],
      cwd: PROJECT_ROOT,
      env: { NO_COLOR: "1" },
    }).output();
    const text = new TextDecoder().decode(listed.stdout);
    assert.equal(listed.code, 0, new TextDecoder().decode(listed.stderr));
    const document = JSON.parse(text);
    const mine = document.entries.filter((e: { prefix: string }) =>
      e.prefix === config.nats!.subjectPrefix
    );
    assert.deepEqual(
      mine.map((e: Record<string, unknown>) => [
        e.symbol,
        e.status,
        e.pid,
        e.source,
      ]),
      [
        ["BTCUSDT", "alive", owner.pid, "synthetic"],
        ["ETHUSDT", "alive", owner.pid, "synthetic"],
      ],
    );
    owner.kill("SIGINT");
    assertCleanExit(await owner.finish(), "owner");
  },
});

natsTest({
  name:
    "registry roles: two serves of the same symbols started together: one publishes, the other exits 1 naming it (never both refused, never a part each), three times",
  permissions: PERMISSIONS,
  loopbackOnly: true,
  fn: async (_t, url) => {
    for (let round = 0; round < 3; round++) {
      await using config = await registryConfig(url);
      const args = ["--nats", "--no-ipc", "--rate", "100"];
      await using a = new RoleProcess("serve", config, args);
      await using b = new RoleProcess("serve", config, args);
      const exits = await Promise.race([
        a.finish().then((exit) => ({ loser: a, winner: b, exit })),
        b.finish().then((exit) => ({ loser: b, winner: a, exit })),
      ]);
      const { loser, winner, exit } = exits;
      assert.equal(exit.code, 1, output(exit));
      assert.match(
        exit.stderr,
        new RegExp(
          `already published: binance BTCUSDT,ETHUSDT by host \\S+ pid ${winner.pid} `,
        ),
        `round ${round}, loser ${loser.pid}`,
      );
      await winner.waitFor(/publishing synthetic/);
      winner.kill("SIGINT");
      assertCleanExit(await winner.finish(), `round ${round} winner`);
    }
  },
});

natsTest({
  name:
    "registry roles: kill -9 the owner and the --standby serve takes over: every stored trade once, in order, seq = trade id throughout (the run continues), and one flagged gap per symbol of exactly the ids it lost, as it logged",
  permissions: PERMISSIONS,
  loopbackOnly: true,
  fn: async (_t, url) => {
    await using config = await registryConfig(url);
    await using owner = new RoleProcess("serve", config, [
      "--nats",
      "--no-ipc",
      "--rate",
      "400",
    ]);
    await owner.waitFor(/publishing synthetic/);
    // Five times faster: at the takeover its buffer of 50 trades per symbol
    // is past what the owner published, so trades are lost, and counted.
    await using standby = new RoleProcess("serve", config, [
      "--nats",
      "--no-ipc",
      "--rate",
      "2000",
      "--standby",
    ]);
    await standby.waitFor(/standing by: published binance BTCUSDT,ETHUSDT/);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    owner.kill("SIGKILL");
    await owner.finish();
    await standby.waitFor(/took over binance \w+ from host \S+ pid \d+/, 2);
    const resumed = await standby.waitFor(
      /binance (\w+): resuming after trade (\d+) \(seq (\d+)\): \d+ buffered trades published, \d+ already published skipped, ([\d,]+) lost \(gap\)/,
      2,
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    standby.kill("SIGINT");
    const stopped = await standby.finish();
    assertCleanExit(stopped, "standby");
    const logged = new Map(
      resumed.map((m) => [m[1], {
        after: Number(m[2]),
        lost: Number(m[4].replaceAll(",", "")),
      }]),
    );

    assert.ok(
      [...logged.values()].some(({ lost }) => lost > 0),
      `the takeover lost nothing: ${output(stopped)}`,
    );
    const stored = await storedTrades(config);
    for (const symbol of config.symbols) {
      const trades = stored.get(symbol) ?? [];
      const { after, lost } = logged.get(symbol)!;
      assert.ok(
        trades.some((t) => t.id > after),
        `${symbol}: nothing after the takeover`,
      );
      let gaps = 0;
      let missing = 0;
      trades.forEach((trade, i) => {
        // Trade ids start at 1 per symbol, and so does the seq: equal all
        // along means no trade twice and every skipped id a skipped seq.
        assert.equal(trade.seq, trade.id, `${symbol} #${i}`);
        const previous = i === 0 ? 0 : trades[i - 1].id;
        assert.ok(trade.id > previous, `${symbol}: id ${trade.id} again`);
        if (trade.id > previous + 1) {
          assert.ok(trade.gap, `${symbol}: unflagged gap before ${trade.id}`);
          gaps++;
          missing += trade.id - previous - 1;
        }
      });
      assert.equal(gaps, lost > 0 ? 1 : 0, symbol);
      assert.equal(missing, lost, `${symbol}: the gap is what it logged`);
    }
  },
});

natsTest({
  name:
    "registry roles: an owner paused (SIGSTOP) past the TTL is taken over; resumed, its lease has run out (NATS publishing suspended), its heartbeat finds the new owner, and it drops its queue (fenced) and exits 1: the stream holds each trade id once, never going backwards",
  permissions: PERMISSIONS,
  loopbackOnly: true,
  fn: async (_t, url) => {
    await using config = await registryConfig(url, { symbols: ["BTCUSDT"] });
    // Fast enough that the resumed owner's source catches up in a burst.
    const args = ["--nats", "--no-ipc", "--rate", "2000"];
    await using owner = new RoleProcess("serve", config, args);
    await owner.waitFor(/publishing synthetic/);
    await using standby = new RoleProcess("serve", config, [
      ...args,
      "--standby",
    ]);
    await standby.waitFor(/standing by: published binance BTCUSDT/);
    owner.kill("SIGSTOP");
    // Its process still exists: only the expired heartbeat frees the symbol.
    const [took] = await standby.waitFor(
      /took over binance BTCUSDT from host \S+ pid (\d+) since \S+ \(its heartbeat unchanged for [\d.]+ s\)/,
    );
    assert.equal(Number(took[1]), owner.pid);
    await standby.waitFor(/resuming after trade/);
    // The standby publishes a while before the owner resumes.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    owner.kill("SIGCONT");
    const fenced = await owner.finish();
    assert.equal(fenced.code, 1, output(fenced));
    assert.match(fenced.stderr, /was taken over by host \S+ pid \d+/);
    assert.match(fenced.stderr, /given up on \(fenced\)/);
    assert.doesNotMatch(output(fenced), /\n\s+at /, "no stack trace");
    // The standby keeps publishing after the owner's exit.
    await new Promise((resolve) => setTimeout(resolve, 500));
    standby.kill("SIGINT");
    assertCleanExit(await standby.finish(), "standby");

    const trades = (await storedTrades(config)).get("BTCUSDT") ?? [];
    assert.ok(trades.length > 0, "nothing stored");
    let backwards = 0;
    const seen = new Set<number>();
    let duplicates = 0;
    trades.forEach((trade, i) => {
      if (seen.has(trade.id)) duplicates++;
      seen.add(trade.id);
      if (i > 0 && trade.id <= trades[i - 1].id) backwards++;
    });
    assert.equal(duplicates, 0, `${duplicates} duplicate trade ids`);
    assert.equal(backwards, 0, `ids went backwards ${backwards} times`);
  },
});

natsTest({
  name:
    "registry roles: with rings on the same host (the default ring + NATS), the standby retires the paused owner's rings and publishes into its own: the stream holds each trade id once, in order, and the resumed owner exits 1",
  permissions: PERMISSIONS,
  loopbackOnly: true,
  fn: async (_t, url) => {
    await using config = await registryConfig(url, { symbols: ["BTCUSDT"] });
    const args = ["--nats", "--rate", "1000"];
    await using owner = new RoleProcess("serve", config, args);
    await owner.waitFor(/publishing synthetic/);
    await using standby = new RoleProcess("serve", config, [
      ...args,
      "--standby",
    ]);
    await standby.waitFor(/standing by: published binance BTCUSDT/);
    owner.kill("SIGSTOP");
    const [retired] = await standby.waitFor(
      /retired ring (\S+): its producer \(pid (\d+)\) lost its registry lease/,
    );
    assert.equal(Number(retired[2]), owner.pid);
    await standby.waitFor(/IPC rings/);
    await standby.waitFor(/resuming after trade/);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    owner.kill("SIGCONT");
    const fenced = await owner.finish();
    assert.equal(fenced.code, 1, output(fenced));
    assert.doesNotMatch(output(fenced), /\n\s+at /, "no stack trace");
    await new Promise((resolve) => setTimeout(resolve, 500));
    standby.kill("SIGINT");
    const stopped = await standby.finish();
    assertCleanExit(stopped, "standby");
    assert.match(stopped.stderr + stopped.stdout, /ipc [1-9][\d,]* msgs/);

    const trades = (await storedTrades(config)).get("BTCUSDT") ?? [];
    trades.forEach((trade, i) => {
      if (i > 0) {
        assert.ok(trade.id > trades[i - 1].id, `id ${trade.id} again`);
      }
    });
    assert.ok(trades.length > 1000, `only ${trades.length} trades stored`);
  },
});

natsTest({
  name:
    "registry roles: live --nats /healthz is 200 while the publisher heartbeats, and 503 naming the symbol and the publisher once it was killed and its heartbeat expired; marketbus_publisher_alive goes 1 → 0",
  permissions: PERMISSIONS,
  loopbackOnly: true,
  fn: async (_t, url) => {
    await using config = await registryConfig(url, { symbols: ["BTCUSDT"] });
    await using serve = new RoleProcess("serve", config, [
      "--nats",
      "--no-ipc",
      "--rate",
      "100",
    ]);
    await serve.waitFor(/publishing synthetic/);
    const port = freePort();
    await using live = new RoleProcess("live", config, [
      "--nats",
      "--metrics-port",
      String(port),
    ]);
    const up = await waitUntil("live healthy", async () => {
      const health = await healthz(port);
      return health.code === 200 &&
          check(health, "publishers").detail.includes("alive")
        ? health
        : undefined;
    });
    assert.match(
      check(up, "publishers").detail,
      new RegExp(
        `binance BTCUSDT: publisher host \\S+ pid ${serve.pid} .* alive`,
      ),
    );
    const labels = {
      transport: "nats",
      exchange: "binance",
      symbol: "BTCUSDT",
    };
    const alive = async () =>
      value(await scrape(port), "marketbus_publisher_alive", labels);
    assert.equal(await alive(), 1);
    serve.kill("SIGKILL");
    await serve.finish();
    const down = await waitUntil("live 503", async () => {
      const health = await healthz(port);
      return health.code === 503 ? health : undefined;
    });
    assert.equal(await alive(), 0);
    const publishers = check(down, "publishers");
    assert.equal(publishers.ok, false);
    assert.match(
      publishers.detail,
      new RegExp(
        `^binance BTCUSDT: publisher host \\S+ pid ${serve.pid} since \\S+ heartbeat expired \\(unchanged for [\\d.]+ s\\), no standby$`,
      ),
    );
    live.kill("SIGINT");
    assertCleanExit(await live.finish(), "live");
  },
});

natsTest({
  name:
    "registry roles: live --symbols '*' on the ring reads the symbols the registry lists, and follows one that a second serve starts later",
  permissions: PERMISSIONS,
  loopbackOnly: true,
  fn: async (_t, url) => {
    await using config = await registryConfig(url, {
      symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT"],
    });
    await using first = new RoleProcess("serve", config, [
      "--nats",
      "--symbols",
      "BTCUSDT,ETHUSDT",
      "--rate",
      "200",
    ]);
    await first.waitFor(/publishing synthetic/);
    await using live = new RoleProcess("live", config, [
      "--ipc",
      "--symbols",
      "*",
      "--summary-json",
    ]);
    await live.waitFor(/registry lists binance BTCUSDT,ETHUSDT/);
    await live.waitFor(/attached to \S+ETHUSDT/);
    await using later = new RoleProcess("serve", config, [
      "--nats",
      "--symbols",
      "SOLUSDT",
      "--rate",
      "200",
    ]);
    await later.waitFor(/publishing synthetic/);
    await live.waitFor(/registry lists binance SOLUSDT/);
    await live.waitFor(/attached to \S+SOLUSDT/);
    await new Promise((resolve) => setTimeout(resolve, 500));
    live.kill("SIGINT");
    const exit = await live.finish();
    assertCleanExit(exit, "live");
    const summary = summaryOf(exit);
    for (const symbol of config.symbols) {
      assert.ok(streamOf(summary, symbol).received > 0, symbol);
    }
    for (const serve of [first, later]) {
      serve.kill("SIGINT");
      assertCleanExit(await serve.finish(), "serve");
    }
  },
});
