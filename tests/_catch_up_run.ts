// The run of the catch-up roles tests: `serve --nats` publishes, `live
// --catch-up` starts later, records every trade it delivers; the recording
// must hold every seq once, in order, per symbol, each symbol caught up once.

import assert from "node:assert/strict";
import { join } from "node:path";
import { delay } from "../common/runtime/delay.ts";
import { harnessPermissions, PROMCHECK_PERMISSIONS } from "./_permissions.ts";
import { check, freePort, healthz, scrape, value } from "./_metrics_scrape.ts";
import {
  finishAfterDrain,
  output,
  publishedTrades,
  ROLE_PERMISSIONS,
  roleConfig,
  RoleProcess,
} from "./_ipc_roles.ts";
import { startNatsServer } from "./nats_server.ts";

/** Spawning the roles (deno) and nats-server, temp files, ring clean-up, loopback NATS. */
export const PERMISSIONS: Deno.PermissionDescriptor[] = [
  ...ROLE_PERMISSIONS,
  ...harnessPermissions(),
  ...PROMCHECK_PERMISSIONS,
];

/** The seqs per symbol of an NDJSON recording, in file order; gap lines fail. */
export async function recordedSeqs(
  path: string,
): Promise<Map<string, number[]>> {
  const seqs = new Map<string, number[]>();
  const text = await Deno.readTextFile(path);
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const row = JSON.parse(line);
    assert.equal(row.type, undefined, `a gap was recorded: ${line}`);
    const list = seqs.get(row.symbol) ?? [];
    list.push(row.seq);
    seqs.set(row.symbol, list);
  }
  return seqs;
}

/**
 * One run: serve at `rate`, live --catch-up started `lateMs` later (`since`:
 * its flags; `streamPerExchange`: both roles with `stream_per_exchange`).
 */
export async function catchUpRun(
  rate: number,
  lateMs: number,
  options: { since?: string[]; streamPerExchange?: boolean } = {},
): Promise<void> {
  const since = options.since ?? ["--catch-up", "1m"];
  await using server = await startNatsServer();
  await using config = await roleConfig({
    nats: { url: server.url, streamPerExchange: options.streamPerExchange },
    capacity: 4096, // small: the history must reach past what it no longer holds
  });
  const record = join(config.dir, "caught.ndjson");
  const port = freePort();
  await using serve = new RoleProcess("serve", config, [
    "--nats",
    "--rate",
    String(rate),
  ]);
  await serve.waitFor(/publishing to stream/);
  await delay(lateMs);
  await using live = new RoleProcess("live", config, [
    ...since,
    "--summary-json",
    "--metrics-port",
    String(port),
    "--record",
    record,
  ], { write: [record] });
  const symbols = config.symbols.length;
  await live.waitFor(/caught up in/, symbols, 60_000);
  // Caught up: /healthz passes its catch-up check, the gauge is 1 per symbol.
  const health = await healthz(port);
  assert.deepEqual(check(health, "caught_up"), {
    name: "caught_up",
    ok: true,
    detail: "caught up: every stream reads the ring",
  });
  const metrics = await scrape(port);
  for (const symbol of config.symbols) {
    const labels = { transport: "catch_up", exchange: "binance", symbol };
    assert.equal(value(metrics, "marketbus_caught_up", labels), 1);
  }
  // From here on the ring alone can deliver what is published.
  await server.halt(0);
  await delay(500 + Math.random() * 1000);
  serve.kill("SIGINT");
  const served = await serve.finish(30_000);
  const published = publishedTrades(output(served));
  const exit = await finishAfterDrain(live, symbols);
  const seqs = await recordedSeqs(record);
  const what = `${since.join(" ")}${
    options.streamPerExchange ? " (stream_per_exchange)" : ""
  }, rate ${rate}, ${lateMs} ms late`;
  let total = 0;
  for (const symbol of config.symbols) {
    const list = seqs.get(symbol) ?? [];
    total += list.length;
    const bad = list.findIndex((seq, i) => seq !== i + 1);
    assert.equal(
      bad,
      -1,
      `${what}: ${symbol} seq ${list[bad]} at ${bad} (…${
        list.slice(Math.max(0, bad - 3), bad + 3)
      }); live:\n${output(exit)}`,
    );
  }
  assert.equal(total, published, `${what}: live:\n${output(exit)}`);
  const caught = [...output(exit).matchAll(/(\w+): caught up in/g)]
    .map((found) => found[1]).sort();
  assert.deepEqual(caught, [...config.symbols].sort());
  if (since.includes("--snapshot")) {
    // A preview per symbol first; the recording above holds every seq from 1
    // (the snapshot's among them, in its place, once) and nothing was skipped.
    const previews = [
      ...output(exit).matchAll(
        /(\w+): snapshot: latest stored trade seq (\d+) .*delivered first, a preview/g,
      ),
    ];
    assert.deepEqual(
      previews.map((found) => found[1]).sort(),
      [...config.symbols].sort(),
      `${what}: live:\n${output(exit)}`,
    );
    for (const [, symbol, seq] of previews) {
      assert.ok(Number(seq) >= 1 && Number(seq) <= seqs.get(symbol)!.length);
    }
    assert.doesNotMatch(output(exit), /snapshot: skipped/);
  }
  assert.equal(exit.code, 0, `${what}: live exited ${exit.code}`);
}
