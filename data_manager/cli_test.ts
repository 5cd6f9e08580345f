import assert from "node:assert/strict";
import { parseConfig } from "../common/config/mod.ts";
import { parseServeArgs, SERVE_USAGE } from "./cli.ts";

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
    switches: {},
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
      "--file",
      "data/rec.ndjson",
      "--speed",
      "2.5",
      "--on-error",
      "skip",
      "--endpoint",
      "testnet",
      "--stream",
      "TRADES",
      "--no-ipc",
      "--log-level",
      "debug",
    ],
    `[data_manager]\nsymbols = ["ETHUSDT"]\nexchange = "binance"\n[transport.ipc]\nenabled = true\n`,
  );
  assert.equal(config.dataManager.exchange, "kraken");
  assert.deepEqual(config.dataManager.symbols, ["BTCUSDT", "SOLUSDT"]);
  assert.equal(config.dataManager.source, "replay");
  assert.deepEqual(config.dataManager.replay, {
    file: "data/rec.ndjson",
    speed: 2.5,
    onError: "skip",
    format: "auto",
  });
  assert.equal(
    config.dataManager.binance.endpoint,
    "wss://stream.testnet.binance.vision",
  );
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

Deno.test("serve: --rate, --max-trades, --seed and --progress override the file", () => {
  const config = configFrom(
    [
      "--rate",
      "2.5",
      "--max-trades",
      "1e6",
      "--seed",
      "42",
      "--progress",
      "0",
    ],
    `[data_manager]\nmax_trades = 5\n[data_manager.synthetic]\nrate = 10\nseed = 7\nburst_size = 3\n[log]\nprogress_interval = "1s"\n`,
  );
  assert.equal(config.dataManager.maxTrades, 1_000_000);
  assert.deepEqual(config.dataManager.synthetic, {
    seed: 42,
    rate: 2.5,
    burstSize: 3,
    burstIntervalMs: 1000,
    firstTradeId: undefined,
  });
  assert.equal(config.log.progressIntervalMs, 0);
});

Deno.test("serve: --ipc turns the ring on over the file", () => {
  const config = configFrom(["--ipc"], `[transport.ipc]\nenabled = false\n`);
  assert.equal(config.transport.ipc.enabled, true);
});

Deno.test("serve: --wait-readers sets wait_for_readers over the file, checked", () => {
  const text = `[transport.ipc]\nwait_for_readers = 1\n`;
  assert.equal(configFrom([], text).transport.ipc.waitForReaders, 1);
  assert.equal(
    configFrom(["--wait-readers", "2"], text).transport.ipc.waitForReaders,
    2,
  );
  for (const bad of ["two", "65"]) {
    assert.throws(() => configFrom(["--wait-readers", bad]), {
      message: `Invalid value ${
        bad === "two" ? '"two"' : bad
      } at transport.ipc.wait_for_readers (from --wait-readers): expected an integer from 0 to 64`,
    });
  }
});

Deno.test("serve: --ipc with --no-ipc is a usage error saying they conflict", () => {
  for (const args of [["--ipc", "--no-ipc"], ["--no-ipc", "--ipc"]]) {
    assert.throws(() => parseServeArgs(args), {
      name: "TypeError",
      message:
        "--ipc and --no-ipc conflict: they set transport.ipc.enabled to true and false; give only one",
    });
  }
});

Deno.test("serve: a non-numeric or out-of-range number names the flag and the value", () => {
  for (
    const [args, problem] of [
      [
        ["--rate", "fast"],
        `Invalid value "fast" at data_manager.synthetic.rate (from --rate): expected a number, 0 or more`,
      ],
      [
        ["--rate=-5"],
        `Invalid value -5 at data_manager.synthetic.rate (from --rate): expected a number, 0 or more`,
      ],
      [
        ["--max-trades", "lots"],
        `Invalid value "lots" at data_manager.max_trades (from --max-trades): expected an integer from 0 to 9007199254740991`,
      ],
      [
        ["--max-trades", "1.5"],
        `Invalid value 1.5 at data_manager.max_trades (from --max-trades): expected an integer from 0 to 9007199254740991`,
      ],
      [
        ["--seed", "4294967296"],
        `Invalid value 4294967296 at data_manager.synthetic.seed (from --seed): expected an integer from 0 to 4294967295`,
      ],
      [
        ["--progress", "10ms"],
        `log.progress_interval (from --progress): invalid duration "10ms": expected "0" (off) or a duration of at least 100ms`,
      ],
    ] as const
  ) {
    assert.throws(() => configFrom([...args]), (error: Error) => {
      assert.equal(error.message, problem);
      return true;
    });
  }
});

Deno.test("serve: numeric flags need a value; a negative one needs --flag=-N", () => {
  for (const flag of ["--rate", "--max-trades", "--seed", "--progress"]) {
    assert.throws(() => parseServeArgs([flag]), TypeError);
  }
  assert.throws(() => parseServeArgs(["--rate", "-5"]), {
    name: "TypeError",
    message: /Option '--rate' argument is ambiguous/,
  });
});

Deno.test("serve: --live is the design's name for --source binance", () => {
  assert.equal(configFrom(["--live"]).dataManager.source, "binance");
  assert.equal(
    configFrom(["--live"], `[data_manager]\nsource = "replay"\n`).dataManager
      .source,
    "binance",
  );
  assert.equal(
    configFrom(["--live", "--source", "binance"]).dataManager.source,
    "binance",
  );
  assert.match(
    SERVE_USAGE,
    /--live +the live exchange feed +data_manager\.source = "binance"/,
  );
});

Deno.test("serve: --live with another --source is a usage error saying they conflict", () => {
  for (
    const args of [
      ["--live", "--source", "replay"],
      ["--source", "synthetic", "--live"],
    ]
  ) {
    assert.throws(() => parseServeArgs(args), {
      name: "TypeError",
      message:
        /^--(live|source) and --(live|source) conflict: they set data_manager\.source to "(binance|replay|synthetic)" and "(binance|replay|synthetic)"; give only one$/,
    });
  }
  assert.throws(() => parseServeArgs(["--live=yes"]), TypeError);
});

Deno.test("serve: --standby sets registry.standby, and needs a registry and fixed synthetic trade ids", () => {
  const config = configFrom(
    ["--nats", "--standby"],
    "[data_manager.synthetic]\nfirst_trade_id = 1\n",
  );
  assert.equal(config.registry.standby, true);
  assert.equal(config.registry.register, true);
  assert.throws(
    () => configFrom(["--standby", "--live"]),
    /registry\.standby \(from --standby\).*registry\.register = false/,
  );
  assert.match(SERVE_USAGE, /--standby .* registry\.standby/);
});
