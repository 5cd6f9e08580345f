// The command line of `deno task symbols`, and its report.

import assert from "node:assert/strict";
import { parseConfig } from "../common/config/mod.ts";
import { parseSymbolsArgs, SYMBOLS_USAGE } from "./cli.ts";
import { formatJson, formatText } from "./report.ts";

Deno.test("symbols: --nats-url, --bucket and --json; the NATS variables apply to the consumer's connection", () => {
  const parsed = parseSymbolsArgs([
    "--nats-url",
    "nats://127.0.0.1:4333",
    "--bucket",
    "other",
    "--json",
  ]);
  assert.equal(parsed.json, true);
  const config = parseConfig(undefined, {
    overrides: parsed.role.overrides,
    env: { NATS_TOKEN: "t0ken" },
  });
  assert.deepEqual(config.dataSource.nats.connection.servers, [
    "nats://127.0.0.1:4333",
  ]);
  assert.equal(config.registry.bucket, "other");
  assert.deepEqual(config.dataSource.nats.connection.auth, {
    kind: "token",
    token: "t0ken",
  });
  assert.throws(() => parseSymbolsArgs(["--bogus"]), /bogus/);
  assert.match(SYMBOLS_USAGE, /--json/);
});

Deno.test("symbols: the report lists each entry with its state, or says the registry is empty", () => {
  const now = 1_000_000;
  const entry = {
    prefix: "market",
    exchange: "binance",
    symbol: "BTCUSDT",
    ring: "/marketbus_binance_BTCUSDT",
    epoch: 255,
    source: "synthetic",
    startedAt: 0,
    host: "h",
    pid: 42,
    rate: 100,
    heartbeatAt: now,
    ttlMs: 5000,
    state: "publishing" as const,
  };
  const rows = [
    {
      key: "market.binance.BTCUSDT",
      stored: { entry, revision: 3, storedAt: now - 400 },
    },
    {
      key: "market.binance.BTCUSDT.standby",
      stored: {
        entry: { ...entry, pid: 43, state: "standby" as const },
        revision: 4,
        storedAt: now - 9000,
      },
    },
  ];
  const report = { bucket: "b", servers: ["nats://x:4222"], rows, now };
  const text = formatText(report);
  assert.match(text, /^registry b on nats:\/\/x:4222: 2 entries\n/);
  assert.match(
    text,
    /market binance BTCUSDT +alive +h pid 42 .* 0\.4 s ago +100\/s +\/marketbus_binance_BTCUSDT +ff +synthetic/,
  );
  assert.match(text, /standby expired +h pid 43/);
  const json = JSON.parse(formatJson(report));
  assert.deepEqual(
    json.entries.map((
      e: { status: string; state: string },
    ) => [e.status, e.state]),
    [["alive", "publishing"], ["expired", "standby"]],
  );
  assert.equal(
    formatText({ ...report, rows: [] }),
    "registry b on nats://x:4222: no symbol registered",
  );
});
