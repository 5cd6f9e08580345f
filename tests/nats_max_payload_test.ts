// serve against servers that limit message sizes, and what serve's exit
// status says about trades the NATS publisher gave up on (issue 13 item 1):
// - a server with max_payload 512 stores every trade of a --rate 0 run;
// - a server whose max_payload cannot hold one trade is a one-line error
//   at start, exit 1;
// - with the ring among the transports, NATS drops make serve exit 1 with a
//   line saying how many and why;
// - a NATS server outside --allow-net is refused before any ring exists.
// Each runs serve as a real process with its task's permissions.

import assert from "node:assert/strict";
import { TRADE_RECORD_SIZE } from "../common/wire/trade.ts";
import {
  gatedTest,
  harnessPermissions,
  OWN_SERVER_REASON,
} from "./_permissions.ts";
import {
  LIVENESS_MS,
  output,
  parseCount,
  ROLE_PERMISSIONS,
  type RoleConfig,
  roleConfig,
  type RoleExit,
  type RoleNats,
  RoleProcess,
} from "./_ipc_roles.ts";
import { startNatsServer } from "./nats_server.ts";
import { readStoredMessages } from "./_nats_feed.ts";

/** Spawning serve (deno) and nats-server, temp files, ring clean-up, loopback NATS. */
const PERMISSIONS: Deno.PermissionDescriptor[] = [
  ...ROLE_PERMISSIONS,
  ...harnessPermissions(),
];

/** A never-routable address (TEST-NET-1, RFC 5737), outside serve's --allow-net. */
const UNRELATED_NATS = "nats://192.0.2.1:4222";

/** What the stream holds: messages, and the trades in them with the largest message's size. */
interface Stored {
  messages: number;
  trades: number;
  /** Largest payload plus headers, bytes. */
  largest: number;
}

/** Reads every message of the stream of `nats` with an ordered consumer. */
async function readStored(nats: RoleNats): Promise<Stored> {
  const stored: Stored = { messages: 0, trades: 0, largest: 0 };
  await readStoredMessages(nats, (message) => {
    stored.messages++;
    stored.trades += message.data.length / TRADE_RECORD_SIZE;
    const headerBytes = message.headers?.toString().length ?? 0;
    stored.largest = Math.max(
      stored.largest,
      message.data.length + headerBytes,
    );
  }, { timeoutMs: LIVENESS_MS });
  return stored;
}

/** Runs serve with `args` on `config` to its end. */
async function runServe(config: RoleConfig, args: string[]) {
  await using serve = new RoleProcess("serve", config, args);
  return await serve.finish();
}

/**
 * Runs `serve --nats --no-ipc --rate 0 --max-trades <trades>` to its end
 * against a server of its own with `max_payload`, then `check`s how it
 * ended while the server still runs.
 */
async function serveNatsOnly(
  maxPayload: number,
  trades: number,
  check: (exit: RoleExit, text: string, nats: RoleNats) => Promise<void> | void,
): Promise<void> {
  await using server = await startNatsServer({
    config: { max_payload: maxPayload },
  });
  await using config = await roleConfig({ nats: { url: server.url } });
  const exit = await runServe(config, [
    "--nats",
    "--no-ipc",
    "--rate",
    "0",
    "--max-trades",
    String(trades),
  ]);
  await check(exit, output(exit), config.nats!);
}

gatedTest({
  name:
    "serve --nats --no-ipc --rate 0 against a server with max_payload 512: every one of 20,000 trades is stored, exit 0",
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  async fn() {
    await serveNatsOnly(512, 20_000, async (exit, text, nats) => {
      assert.equal(exit.code, 0, text);
      assert.doesNotMatch(text, /rejected|lost|dropped [1-9]/, text);
      const stored = await readStored(nats);
      assert.equal(stored.trades, 20_000, JSON.stringify(stored));
      assert.ok(stored.largest <= 512, JSON.stringify(stored));
      assert.match(text, /messages hold at most \d+ trades/);
    });
  },
});

gatedTest({
  name:
    "serve --nats against a server whose max_payload cannot hold one trade: one line at start, exit 1, nothing published",
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  async fn() {
    await serveNatsOnly(64, 1000, (exit, text) => {
      assert.equal(exit.code, 1, text);
      const lines = text.split("\n").filter((line) =>
        /max_payload/.test(line) && /one trade/.test(line)
      );
      assert.equal(lines.length, 1, text);
      assert.match(lines[0], /max_payload is 64 bytes/);
      assert.doesNotMatch(text, /^\s+at /m, "a stack trace was printed");
      assert.match(text, /stopped after .*\| nats 0 trades in 0 msgs/);
      assert.match(text, /1,000 trades were not acknowledged/);
    });
  },
});

gatedTest({
  name:
    "serve --nats with the ring: trades NATS drops (queue full) make serve exit 1, saying how many and why",
  permissions: PERMISSIONS,
  reason: OWN_SERVER_REASON,
  async fn() {
    await using server = await startNatsServer();
    await using config = await roleConfig({
      nats: {
        url: server.url,
        publish: {
          queue_max_trades: 100,
          max_in_flight: 1,
          batch_max_trades: 1,
        },
      },
    });
    const exit = await runServe(config, [
      "--nats",
      "--rate",
      "0",
      "--max-trades",
      "20000",
    ]);
    const text = output(exit);
    assert.equal(exit.code, 1, text);
    const line = text.split("\n").find((l) =>
      /trades dropped/.test(l) && /stopped after/.test(l) === false
    );
    assert.ok(line, `no line about dropped trades:\n${text}`);
    assert.match(line, /queue_max_trades/);
    assert.match(line, /ring/);
    const dropped = parseCount(line.match(/([\d,]+) trades dropped/)![1]);
    const stored = await readStored(config.nats!);
    assert.equal(stored.trades + dropped, 20_000, line);
  },
});

gatedTest({
  name:
    "serve --nats with a NATS server outside --allow-net: refused before any ring is created, one line, exit 1",
  permissions: ROLE_PERMISSIONS,
  async fn() {
    await using config = await roleConfig();
    const exit = await runServe(config, ["--nats-url", UNRELATED_NATS]);
    const text = output(exit);
    assert.equal(exit.code, 1, text);
    assert.match(
      exit.stderr,
      /NATS server 192\.0\.2\.1:4222 is outside this process's network permissions/,
    );
    assert.doesNotMatch(text, /IPC rings/, "a ring was created first");
    assert.doesNotMatch(text, /^\s+at /m, "a stack trace was printed");
    assert.deepEqual(config.existing(), []);
  },
});
