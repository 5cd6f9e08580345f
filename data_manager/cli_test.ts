import assert from "node:assert/strict";
import { parseConfig } from "../common/config/mod.ts";
import { parseServeArgs } from "./cli.ts";

function configFrom(args: string[], text?: string, env = {}) {
  const parsed = parseServeArgs(args);
  return parseConfig(text, {
    file: "dm.toml",
    overrides: parsed.overrides,
    env,
  });
}

Deno.test("serve: no flags keeps the file and defaults", () => {
  const parsed = parseServeArgs([]);
  assert.deepEqual(parsed, {
    configPath: undefined,
    overrides: [],
    printConfig: false,
    help: false,
  });
});

Deno.test("serve: flags override the file", () => {
  const config = configFrom(
    [
      "--config",
      "x.toml",
      "--symbols",
      "btcusdt, solusdt",
      "--exchange",
      "Kraken",
      "--source",
      "replay",
      "--stream",
      "TRADES",
      "--no-ipc",
      "--log-level",
      "debug",
    ],
    `[data_manager]\nsymbols = ["ETHUSDT"]\nexchange = "binance"\n[transport.ipc]\nenabled = true\n`,
  );
  assert.deepEqual(config.dataManager, {
    exchange: "kraken",
    symbols: ["BTCUSDT", "SOLUSDT"],
    source: "replay",
  });
  assert.equal(config.transport.ipc.enabled, false);
  assert.equal(config.transport.nats.enabled, false);
  assert.equal(config.transport.nats.jetstream.streamName, "TRADES");
  assert.equal(config.log.level, "debug");
});

Deno.test("serve: --nats-url implies --nats and beats NATS_URL", () => {
  const config = configFrom(
    ["--nats-url", "nats://a:4222,nats://b:4222"],
    undefined,
    { NATS_URL: "nats://env:4222" },
  );
  assert.equal(config.transport.nats.enabled, true);
  assert.deepEqual(config.transport.nats.servers, [
    "nats://a:4222",
    "nats://b:4222",
  ]);
});

Deno.test("serve: a bad flag value names the flag", () => {
  assert.throws(
    () => configFrom(["--source", "kafka"]),
    (error: Error) => {
      assert.match(
        error.message,
        /Invalid value "kafka" at data_manager.source \(from --source\): expected one of "synthetic", "binance", "replay"/,
      );
      return true;
    },
  );
});

Deno.test("serve: unknown flags and missing values are usage errors", () => {
  assert.throws(() => parseServeArgs(["--bogus"]), TypeError);
  assert.throws(() => parseServeArgs(["--symbols"]), TypeError);
  assert.throws(() => parseServeArgs(["positional"]), TypeError);
});

Deno.test("serve: --print-config and --help", () => {
  assert.equal(parseServeArgs(["--print-config"]).printConfig, true);
  assert.equal(parseServeArgs(["-h"]).help, true);
});
