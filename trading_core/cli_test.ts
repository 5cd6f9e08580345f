import assert from "node:assert/strict";
import { parseConfig } from "../common/config/mod.ts";
import { parseLiveArgs } from "./cli.ts";

function configFrom(args: string[], text?: string) {
  const parsed = parseLiveArgs(args);
  return parseConfig(text, {
    file: "tc.toml",
    overrides: parsed.overrides,
    env: {},
  });
}

Deno.test("live: defaults read the IPC ring", () => {
  const config = configFrom([]);
  assert.equal(config.dataSource.type, "ipc");
  assert.deepEqual(config.dataSource.symbols, ["BTCUSDT", "ETHUSDT"]);
});

Deno.test("live: --symbols and --exchange beat the consumer's own keys", () => {
  const config = configFrom(
    ["--symbols", "solusdt", "--exchange", "Kraken"],
    `[data_source.nats.consumer]\nsymbols = ["ETHUSDT"]\nexchange = "binance"\n`,
  );
  assert.deepEqual(config.dataSource.symbols, ["SOLUSDT"]);
  assert.equal(config.dataSource.exchange, "kraken");
  assert.deepEqual(config.dataSource.nats.consumer.symbols, ["SOLUSDT"]);
  assert.equal(config.dataSource.nats.consumer.exchange, "kraken");
});

Deno.test("live: --durable, --nats-url imply NATS; deliver/replay/start-time", () => {
  const config = configFrom([
    "--durable",
    "tc-1",
    "--nats-url",
    "nats://h:4222",
    "--deliver",
    "by_start_time",
    "--start-time",
    "2026-11-26T09:30:00Z",
    "--replay",
    "original",
  ]);
  const { type, nats } = config.dataSource;
  assert.equal(type, "nats");
  assert.deepEqual(nats.connection.servers, ["nats://h:4222"]);
  assert.equal(nats.consumer.durableName, "tc-1");
  assert.equal(nats.consumer.deliver, "by_start_time");
  assert.equal(
    nats.consumer.startTime?.toISOString(),
    "2026-11-26T09:30:00.000Z",
  );
  assert.equal(nats.consumer.replay, "original");
});

Deno.test("live: bad flag values name the flag", () => {
  assert.throws(
    () =>
      configFrom(["--start-time", "yesterday", "--deliver", "by_start_time"]),
    /start_time \(from --start-time\): invalid time "yesterday"/,
  );
  assert.throws(
    () => configFrom(["--deliver", "latest"]),
    /Invalid value "latest" at data_source.nats.consumer.deliver \(from --deliver\)/,
  );
});

Deno.test("live: unknown flags are usage errors", () => {
  assert.throws(() => parseLiveArgs(["--durable"]), TypeError);
  assert.throws(() => parseLiveArgs(["--ipc-wait", "spin"]), TypeError);
});
