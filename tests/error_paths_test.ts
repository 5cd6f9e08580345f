/**
 * Every error path a user can reach, run as real `serve` and `live`
 * processes with their tasks' permissions (plus read access to a temp
 * directory of their own, and write access to it where a case says so):
 * bad flags and flag values, bad config files, bad replay files, bad
 * strategies, unwritable outputs, a busy metrics port, unreachable or
 * forbidden NATS servers, garbage feed frames and NATS payloads. Each must end with the
 * documented status (2 usage/config, 1 runtime; 0 for a role that goes on by
 * design and is stopped with SIGINT), print one line naming what is wrong and
 * where, never a stack trace, and leave no ring behind.
 *
 * @module
 */
import assert from "node:assert/strict";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { cliCases } from "./_error_cases_cli.ts";
import {
  LIVE_CASES,
  REPLAY_CASES,
  SERVE_RUNTIME_CASES,
} from "./_error_cases_runtime.ts";
import {
  CASE_MS,
  check,
  CSV_ROW,
  type ErrorPath,
  file,
  inPool,
  POOL_SIZE,
  runCase,
  SYMBOLS,
} from "./_error_paths.ts";
import { gatedTest, harnessPermissions } from "./_permissions.ts";
import {
  output,
  ROLE_PERMISSIONS,
  roleConfig,
  type RoleExit,
  RoleProcess,
} from "./_ipc_roles.ts";
import { startNatsServer } from "./nats_server.ts";

/** Every case, serve's then live's. */
const CASES: ErrorPath[] = [
  ...(["serve", "live"] as const).flatMap(cliCases),
  ...REPLAY_CASES,
  ...SERVE_RUNTIME_CASES,
  ...LIVE_CASES,
].map((c) => ({ ...c, what: `${c.role}: ${c.what}` }));

gatedTest({
  name:
    "error paths: serve and live end every bad flag, config, file, strategy, output and server with one line, the right status and no stack trace",
  permissions: [...ROLE_PERMISSIONS, { name: "net", host: "127.0.0.1" }],
  async fn(t) {
    const runs = await inPool(CASES, POOL_SIZE, runCase);
    for (const [index, path] of CASES.entries()) {
      await t.step(path.what, () => check(path, runs[index]));
    }
  },
});

gatedTest({
  name:
    "error paths: serve --source replay of a CSV named without its symbol, two symbols configured, exits 2 before any ring or NATS stream exists",
  permissions: [...ROLE_PERMISSIONS, ...harnessPermissions()],
  async fn() {
    await using server = await startNatsServer();
    await using config = await roleConfig({
      symbols: SYMBOLS,
      nats: { url: server.url },
    });
    const trades = await file(config, "trades.csv", CSV_ROW);
    // Whatever appears under the prefix while serve runs, however briefly.
    const seen = new Set<string>();
    const watch = setInterval(() => {
      for (const segment of config.existing()) seen.add(segment);
    }, 1);
    let exit: RoleExit;
    try {
      await using serve = new RoleProcess("serve", config, [
        "--nats",
        "--source",
        "replay",
        "--file",
        trades,
      ]);
      exit = await serve.finish(CASE_MS);
    } finally {
      clearInterval(watch);
    }
    const text = output(exit);
    assert.equal(exit.code, 2, text);
    assert.match(
      exit.stderr,
      /ERROR data_manager: replay: cannot tell the symbol of the Binance CSV ".*trades\.csv" \(data_manager\.replay\.file\): .* lists 2 \(BTCUSDT, ETHUSDT\) where it takes exactly one: give one symbol \(--symbols\), or rename the file\n$/,
    );
    assert.doesNotMatch(text, /^ {4}at |error: Uncaught/m);
    assert.doesNotMatch(text, /IPC rings|NATS .* stream|publishing/);
    assert.deepEqual([...seen], [], "rings were created");
    const nc = await connect({ servers: server.url, noAsyncTraces: true });
    try {
      const jsm = await jetstreamManager(nc);
      const streams: string[] = [];
      for await (const name of jsm.streams.names()) streams.push(name);
      assert.ok(
        !streams.includes(config.nats!.stream),
        `stream ${config.nats!.stream} was created: ${streams}`,
      );
    } finally {
      await nc.close();
    }
  },
});

gatedTest({
  name:
    "error paths: live --nats reading payloads that are not trades counts and reports them, no stack trace, exit 1 on SIGINT (records given up on)",
  permissions: [...ROLE_PERMISSIONS, ...harnessPermissions()],
  async fn() {
    await using server = await startNatsServer();
    await using config = await roleConfig({
      symbols: SYMBOLS,
      nats: { url: server.url },
    });
    const nats = config.nats!;
    // serve creates the stream; one trade, then it exits.
    await using serve = new RoleProcess("serve", config, [
      "--nats",
      "--no-ipc",
      "--max-trades",
      "1",
    ]);
    const served = await serve.finish(CASE_MS);
    assert.equal(served.code, 0, output(served));
    const nc = await connect({ servers: server.url, noAsyncTraces: true });
    try {
      const js = jetstream(nc);
      const subject = `${nats.subjectPrefix}.binance.BTCUSDT.trades`;
      for (
        const payload of [
          "not a trade",
          "",
          "\u0000".repeat(47),
          "\u00ff".repeat(48 * 3 + 1),
        ]
      ) {
        await js.publish(subject, new TextEncoder().encode(payload));
      }
    } finally {
      await nc.close();
    }
    await using live = new RoleProcess("live", config, [
      "--nats",
      "--deliver",
      "all",
    ]);
    await live.waitFor(/skipped and terminated/);
    live.kill("SIGINT");
    const exit = await live.finish(CASE_MS);
    const text = output(exit);
    assert.ok(!exit.timedOut, text);
    assert.equal(exit.code, 1, text);
    assert.match(
      exit.stderr,
      /WARN .*message \d+ on .*BTCUSDT.* skipped and terminated/,
    );
    assert.match(
      exit.stderr,
      /ERROR .*incomplete: [\d,]+ invalid records skipped; exit status 1/,
    );
    assert.doesNotMatch(text, /^ {4}at |error: Uncaught/m);
  },
});
