import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { ConfigError, parseConfig } from "../common/config/mod.ts";
import { gatedTest } from "../tests/_permissions.ts";
import { LIVE_USAGE, parseLiveArgs } from "./cli.ts";

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

Deno.test("live: --catch-up sets data_source.catch_up, with --durable too; a bad one names the flag", () => {
  assert.deepEqual(configFrom(["--catch-up", "90s"]).dataSource.catchUp, {
    kind: "ago",
    ms: 90_000,
  });
  const durable = configFrom(["--catch-up", "durable", "--durable", "me"]);
  assert.deepEqual(durable.dataSource.catchUp, { kind: "durable" });
  assert.equal(durable.dataSource.nats.consumer.durableName, "me");
  assert.throws(
    () => configFrom(["--catch-up", "later"]),
    /data_source\.catch_up \(from --catch-up\): invalid start "later"/,
  );
  assert.throws(() => parseLiveArgs(["--catch-up"]), TypeError);
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

Deno.test("live: --ipc reads the ring over a file that says nats", () => {
  const config = configFrom(["--ipc"], `[data_source]\ntype = "nats"\n`);
  assert.equal(config.dataSource.type, "ipc");
});

Deno.test("live: --ipc with --nats, --nats-url or --durable is a usage error saying they conflict", () => {
  for (
    const [other, value] of [
      ["--nats", []],
      ["--nats-url", ["nats://h:4222"]],
      ["--durable", ["tc-1"]],
    ] as const
  ) {
    assert.throws(() => parseLiveArgs(["--ipc", other, ...value]), {
      name: "TypeError",
      message:
        `--ipc and ${other} conflict: they set data_source.type to "ipc" and "nats"; give only one`,
    });
  }
});

Deno.test("live: --wait, --from, --max-trades and --progress override the file", () => {
  const config = configFrom(
    [
      "--wait",
      "spin",
      "--from",
      "oldest",
      "--max-trades",
      "100",
      "--progress",
      "250ms",
    ],
    `[data_source]\nmax_trades = 5\n[data_source.ipc]\nwait = "yield"\nspin = "1ms"\n[log]\nprogress_interval = "0"\n`,
  );
  assert.equal(config.dataSource.maxTrades, 100);
  assert.deepEqual(config.dataSource.ipc, {
    shmPathPrefix: "/marketbus_",
    wait: "spin",
    from: "oldest",
    spinMs: 1,
    staleAfterMs: 3000,
    delivery: "lossy",
    tetherTimeoutMs: 5000,
  });
  assert.equal(config.log.progressIntervalMs, 250);
});

Deno.test("live: --progress-summary-above overrides the file; a bad value names the flag and the value; --help lists it", () => {
  const file = `[trading_core]\nprogress_summary_above = 3\n`;
  assert.equal(configFrom([], file).tradingCore.progressSummaryAbove, 3);
  assert.equal(configFrom([]).tradingCore.progressSummaryAbove, 8);
  assert.equal(
    configFrom(["--progress-summary-above", "0"], file).tradingCore
      .progressSummaryAbove,
    0,
  );
  for (const value of ["many", "-1", "2.5"]) {
    assert.throws(() => configFrom([`--progress-summary-above=${value}`]), {
      message: `Invalid value ${
        value === "many" ? '"many"' : value
      } at trading_core.progress_summary_above (from --progress-summary-above): expected an integer from 0 to 1000000`,
    });
  }
  assert.throws(() => parseLiveArgs(["--progress-summary-above"]), TypeError);
  assert.match(
    LIVE_USAGE,
    /--progress-summary-above N\n.* trading_core\.progress_summary_above\n/,
  );
});

Deno.test("live: --delivery and --tether-timeout override the file", () => {
  const text = `[data_source.ipc]\ndelivery = "lossy"\ntether_timeout = "2s"\n`;
  assert.equal(configFrom([], text).dataSource.ipc.delivery, "lossy");
  const ipc = configFrom(
    ["--delivery", "tethered", "--tether-timeout", "250ms"],
    text,
  ).dataSource.ipc;
  assert.equal(ipc.delivery, "tethered");
  assert.equal(ipc.tetherTimeoutMs, 250);
});

Deno.test("live: bad --delivery and --tether-timeout values name the flag and the value", () => {
  assert.throws(() => configFrom(["--delivery", "lossless"]), {
    message:
      `Invalid value "lossless" at data_source.ipc.delivery (from --delivery): expected one of "lossy", "tethered"`,
  });
  assert.throws(() => configFrom(["--tether-timeout", "2m"]), {
    message:
      `data_source.ipc.tether_timeout (from --tether-timeout): invalid duration "2m": expected a duration from 10ms to 1m`,
  });
  assert.throws(() => parseLiveArgs(["--delivery"]), TypeError);
});

Deno.test("live: bad --wait, --from and --max-trades values name the flag and the value", () => {
  assert.throws(
    () => configFrom(["--wait", "busy"]),
    {
      message:
        `Invalid value "busy" at data_source.ipc.wait (from --wait): expected one of "spin", "backoff", "yield"`,
    },
  );
  assert.throws(
    () => configFrom(["--from", "latest"]),
    {
      message:
        `Invalid value "latest" at data_source.ipc.from (from --from): expected one of "newest", "oldest"`,
    },
  );
  assert.throws(
    () => configFrom(["--max-trades", "ten"]),
    {
      message:
        `Invalid value "ten" at data_source.max_trades (from --max-trades): expected an integer from 0 to 9007199254740991`,
    },
  );
});

Deno.test("live: --summary-json is a switch, not a config key", () => {
  const parsed = parseLiveArgs(["--summary-json"]);
  assert.deepEqual(parsed.switches, { "summary-json": true });
  assert.deepEqual(parsed.overrides, []);
  assert.deepEqual(parseLiveArgs([]).switches, {});
  assert.throws(() => parseLiveArgs(["--summary-json=yes"]), TypeError);
});

Deno.test("live: --record and --record-format are switches, checked", () => {
  const parsed = parseLiveArgs([
    "--record",
    "/tmp/s.csv",
    "--record-format",
    "csv",
    "--summary-json",
  ]);
  assert.deepEqual(parsed.switches, {
    record: "/tmp/s.csv",
    "record-format": "csv",
    "summary-json": true,
  });
  assert.deepEqual(parsed.overrides, []);
  assert.deepEqual(parseLiveArgs(["--record", "a.ndjson"]).switches, {
    record: "a.ndjson",
  });
  assert.throws(
    () => parseLiveArgs(["--record", "a", "--record-format", "xml"]),
    /Invalid --record-format "xml": expected ndjson or csv/,
  );
  assert.throws(
    () => parseLiveArgs(["--record-format", "csv"]),
    /--record-format needs --record FILE/,
  );
  assert.throws(() => parseLiveArgs(["--record", ""]), /needs a file name/);
  assert.throws(() => parseLiveArgs(["--record"]), TypeError);
});

Deno.test("live: the paper broker's flags set trading_core.broker; --fills-out sets trading_core.fills_out and needs a strategy", () => {
  const defaults = configFrom([]).tradingCore;
  assert.deepEqual(defaults.broker, {
    startingBalance: 100_000,
    feeBps: 10,
    makerFeeBps: 10,
    slippageBps: 0,
    latencyMs: 0,
    maxOpenOrders: 10_000,
  });
  assert.equal(defaults.fillsOut, undefined);
  const config = configFrom([
    "--strategy",
    "s.ts",
    "--fills-out",
    "data/fills.ndjson",
    "--balance",
    "5000",
    "--fee-bps",
    "7.5",
    "--maker-fee-bps",
    "0",
    "--slippage-bps",
    "1",
    "--fill-latency",
    "250ms",
    "--max-open-orders",
    "500",
  ]).tradingCore;
  assert.equal(config.fillsOut, "data/fills.ndjson");
  assert.deepEqual(config.broker, {
    startingBalance: 5000,
    feeBps: 7.5,
    makerFeeBps: 0,
    slippageBps: 1,
    latencyMs: 250,
    maxOpenOrders: 500,
  });
  const problem = (args: string[]) => {
    try {
      configFrom(args);
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.problems[0];
    }
    assert.fail(`${args.join(" ")} was accepted`);
  };
  assert.equal(
    problem(["--fee-bps", "ten"]),
    `Invalid value "ten" at trading_core.broker.fee_bps (from --fee-bps): expected a number from 0 to 1000`,
  );
  assert.equal(
    problem(["--fill-latency", "soon"]),
    `Invalid duration "soon" at trading_core.broker.latency (from --fill-latency): expected e.g. "500ms", "30s", "1h", "2h30m"`,
  );
  assert.equal(
    problem(["--fills-out", "f.ndjson"]),
    `trading_core.fills_out (from --fills-out): fills come from a strategy's orders: set trading_core.strategy (--strategy) too, or leave fills_out out`,
  );
  assert.match(LIVE_USAGE, /--fills-out FILE/);
  assert.equal(
    problem(["--max-open-orders", "0"]),
    `Invalid value 0 at trading_core.broker.max_open_orders (from --max-open-orders): expected a number from 1 to 10000000`,
  );
  assert.match(LIVE_USAGE, /--fill-latency D/);
  assert.match(LIVE_USAGE, /--max-open-orders N/);
});

Deno.test("live: --overwrite, --append and --on-write-error set trading_core's file keys; --overwrite with --append conflicts", () => {
  const defaults = configFrom([]).tradingCore;
  assert.equal(defaults.onExistingFile, "refuse");
  assert.equal(defaults.onWriteError, "stop");
  assert.equal(
    configFrom(["--overwrite"]).tradingCore.onExistingFile,
    "overwrite",
  );
  assert.equal(
    configFrom(
      ["--append"],
      `[trading_core]\non_existing_file = "overwrite"\n`,
    ).tradingCore.onExistingFile,
    "append",
  );
  assert.equal(
    configFrom(["--on-write-error", "continue"]).tradingCore.onWriteError,
    "continue",
  );
  assert.throws(() => parseLiveArgs(["--overwrite", "--append"]), {
    name: "TypeError",
    message:
      `--overwrite and --append conflict: they set trading_core.on_existing_file to "overwrite" and "append"; give only one`,
  });
  assert.throws(
    () => configFrom(["--on-write-error", "ignore"]),
    /Invalid value "ignore" at trading_core\.on_write_error \(from --on-write-error\): expected one of "stop", "continue"/,
  );
  assert.deepEqual(parseLiveArgs(["--append"]).switches, {});
});

Deno.test("live: --bar-clock sets trading_core.bars.clock (default wall); a bad one names the flag", () => {
  assert.equal(configFrom([]).tradingCore.bars.clock, "wall");
  assert.equal(
    configFrom(["--bar-clock", "trade"]).tradingCore.bars.clock,
    "trade",
  );
  assert.equal(
    configFrom(
      ["--bar-clock", "wall"],
      `[trading_core.bars]\nclock = "trade"\n`,
    ).tradingCore.bars.clock,
    "wall",
  );
  assert.throws(
    () => configFrom(["--bar-clock", "exchange"]),
    /Invalid value "exchange" at trading_core\.bars\.clock \(from --bar-clock\): expected one of "wall", "trade"/,
  );
});

Deno.test("live: --max-clock-jump sets trading_core.bars.max_clock_jump (default 1h, at least 1s); a bad one names the flag", () => {
  assert.equal(configFrom([]).tradingCore.bars.maxClockJumpMs, 3_600_000);
  assert.equal(
    configFrom(["--max-clock-jump", "5m"]).tradingCore.bars.maxClockJumpMs,
    300_000,
  );
  for (const bad of ["soon", "10ms"]) {
    assert.throws(
      () => configFrom(["--max-clock-jump", bad]),
      /trading_core\.bars\.max_clock_jump \(from --max-clock-jump\)/,
      bad,
    );
  }
});

Deno.test("live: --console-port sets trading_core.console.port (default off; 0 = a free port); the console's keys are checked, one line naming the key", () => {
  const off = configFrom([]).tradingCore.console;
  assert.deepEqual(off, {
    port: undefined,
    host: "127.0.0.1",
    updatesPerSecond: 4,
    intervals: ["1s", "1m"],
    maxClients: 32,
  });
  assert.equal(configFrom(["--console-port", "0"]).tradingCore.console.port, 0);
  const file = configFrom(
    ["--console-port", "8090"],
    `[trading_core.console]\nport = 1\nhost = "0.0.0.0"\nupdates_per_second = 20\nintervals = ["5s"]\n`,
  ).tradingCore.console;
  assert.deepEqual(file, {
    port: 8090,
    host: "0.0.0.0",
    updatesPerSecond: 20,
    intervals: ["5s"],
    maxClients: 32,
  });
  assert.match(LIVE_USAGE, /--console-port PORT .*trading_core\.console\.port/);
  assert.throws(
    () => configFrom(["--console-port", "70000"]),
    /trading_core\.console\.port \(from --console-port\): expected an integer from 0 to 65535/,
  );
  assert.throws(() => configFrom(["--console-port", "web"]), /--console-port/);
  const bad: [string, RegExp][] = [
    [
      "updates_per_second = 0",
      /^Invalid value \d+ at trading_core\.console\.updates_per_second in tc\.toml: expected an integer from 1 to 20$/,
    ],
    [
      "updates_per_second = 21",
      /^Invalid value \d+ at trading_core\.console\.updates_per_second in tc\.toml: expected an integer from 1 to 20$/,
    ],
    [
      'host = ""',
      /at trading_core\.console\.host in tc\.toml: expected a host name or address/,
    ],
    [
      'host = "a b"',
      /at trading_core\.console\.host in tc\.toml: expected a host name or address/,
    ],
    [
      'intervals = ["7x"]',
      /^Invalid interval "7x" at trading_core\.console\.intervals\[0\] in tc\.toml/,
    ],
    [
      "intervals = []",
      /^trading_core\.console\.intervals in tc\.toml: expected at least one interval/,
    ],
    [
      'intervals = ["60s", "1m"]',
      /^trading_core\.console\.intervals in tc\.toml: interval "1m" is listed twice/,
    ],
    [
      "max_clients = 1001",
      /^Invalid value 1001 at trading_core\.console\.max_clients in tc\.toml: expected an integer from 1 to 1000$/,
    ],
    [
      "colour = 1",
      /^trading_core\.console\.colour in tc\.toml: unknown key; valid keys here: port, host, updates_per_second, intervals, max_clients$/,
    ],
  ];
  for (const [line, expected] of bad) {
    assert.throws(
      () => configFrom([], `[trading_core.console]\n${line}\n`),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError, line);
        assert.match(error.message, expected, line);
        return true;
      },
    );
  }
});

Deno.test(`live: --exchange '*' with --nats reads every exchange`, () => {
  for (
    const [args, text] of [
      [["--exchange", "*", "--nats"], undefined],
      [["--exchange", "*", "--durable", "d"], undefined],
      [["--exchange", "*"], `[data_source]\ntype = "nats"\n`],
      [["--exchange", "*"], `[data_source.nats]\nstream_name = "S"\n`],
    ] as const
  ) {
    const config = configFrom([...args], text);
    assert.equal(config.dataSource.type, "nats");
    assert.equal(config.dataSource.nats.consumer.exchange, undefined);
    assert.equal(config.dataSource.exchange, "*");
  }
});

Deno.test(`live: --exchange '*' on the ring is one problem: the ring is per exchange`, () => {
  const expected =
    `Invalid value "*" at data_source.exchange (from --exchange): expected one exchange, since the ring (data_source.type = "ipc") is per exchange; for every exchange read NATS (--nats or data_source.type = "nats")`;
  for (
    const [args, text] of [
      [["--exchange", "*", "--ipc"], `[data_source]\ntype = "nats"\n`],
      [["--exchange", "*"], undefined],
    ] as const
  ) {
    assert.throws(() => configFrom([...args], text), {
      name: "ConfigError",
      message: expected,
    });
  }
});

Deno.test("live: --start-sequence sets the consumer's start_sequence", () => {
  const config = configFrom([
    "--nats",
    "--deliver",
    "by_start_sequence",
    "--start-sequence",
    "42",
  ]);
  assert.equal(config.dataSource.nats.consumer.deliver, "by_start_sequence");
  assert.equal(config.dataSource.nats.consumer.startSequence, 42);
  assert.match(LIVE_USAGE, /--start-sequence N .*start_sequence/);
});

Deno.test("live: a bad --start-sequence is one line naming the flag and the value", () => {
  const deliver = ["--deliver", "by_start_sequence"];
  for (const value of ["0", "1.5", "x", "-3"]) {
    assert.throws(
      () => configFrom([...deliver, `--start-sequence=${value}`]),
      {
        name: "ConfigError",
        message: `Invalid value ${
          /^[-\d.]+$/.test(value) ? value : `"${value}"`
        } at data_source.nats.consumer.start_sequence (from --start-sequence): expected an integer from 1 to 9007199254740991`,
      },
    );
  }
  assert.throws(() => parseLiveArgs(["--start-sequence"]), TypeError);
});

/** The role's config error on stderr: one line, no stack. */
function assertOneLine(stderr: string): void {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, stderr);
  assert.ok(!stderr.includes("    at "), stderr);
}

gatedTest({
  name:
    `live --exchange '*' --print-config: every exchange with --nats; exit 2 and one line with --ipc`,
  permissions: [
    { name: "run", command: Deno.execPath() },
    { name: "read" },
    { name: "write" },
  ],
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "marketbus_live_cli_" });
    try {
      const config = `${dir}/live.toml`;
      await Deno.writeTextFile(config, `[log]\nprogress_interval = "0"\n`);
      const main = fileURLToPath(new URL("./main.ts", import.meta.url));
      const run = async (...flags: string[]) => {
        const { code, stdout, stderr } = await new Deno.Command(
          Deno.execPath(),
          {
            args: [
              "run",
              "-A",
              main,
              "--config",
              config,
              "--exchange",
              "*",
              ...flags,
              "--print-config",
            ],
            stdout: "piped",
            stderr: "piped",
          },
        ).output();
        const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
        return { code, stdout: decode(stdout), stderr: decode(stderr) };
      };
      const nats = await run("--nats");
      assert.equal(nats.code, 0, nats.stderr);
      const printed = JSON.parse(nats.stdout);
      assert.equal(printed.dataSource.type, "nats");
      assert.equal(printed.dataSource.exchange, "*");
      assert.equal(printed.dataSource.nats.consumer.exchange, undefined);
      const ipc = await run("--ipc");
      assert.equal(ipc.code, 2, ipc.stderr);
      assertOneLine(ipc.stderr);
      assert.match(
        ipc.stderr,
        /^trading_core: Invalid value "\*" at data_source\.exchange \(from --exchange\): .*per exchange/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("live: --symbols '*' reads every symbol: on the ring from the registry, on NATS every subject", () => {
  const ring = configFrom(["--symbols", "*"]);
  assert.equal(ring.dataSource.type, "ipc");
  assert.deepEqual(ring.dataSource.symbols, []);
  assert.equal(ring.dataSource.everySymbol, true);
  assert.equal(ring.registry.watch, true);
  const nats = configFrom(["--nats", "--symbols", "*"]);
  assert.deepEqual(nats.dataSource.nats.consumer.symbols, []);
  assert.match(LIVE_USAGE, /'\*' = every one/);
});

Deno.test("live: --snapshot sets data_source.snapshot (default false) on NATS and, with a NATS server configured, on the ring", () => {
  assert.equal(configFrom([]).dataSource.snapshot, false);
  assert.equal(configFrom(["--nats", "--snapshot"]).dataSource.snapshot, true);
  const ring = configFrom(
    ["--ipc", "--snapshot"],
    `[data_source.nats.connection]\nservers = ["nats://h:4222"]\n`,
  );
  assert.equal(ring.dataSource.type, "ipc");
  assert.equal(ring.dataSource.snapshot, true);
  assert.deepEqual(ring.dataSource.nats.connection.servers, [
    "nats://h:4222",
  ]);
  // NATS_URL counts as configured: the snapshot uses the consumer's connection.
  const parsed = parseLiveArgs(["--snapshot"]);
  const fromEnv = parseConfig(undefined, {
    overrides: parsed.overrides,
    env: { NATS_URL: "nats://e:4222" },
  });
  assert.equal(fromEnv.dataSource.type, "ipc");
  assert.deepEqual(fromEnv.dataSource.nats.connection.servers, [
    "nats://e:4222",
  ]);
  // ... and a ring-only live without --snapshot still ignores it.
  const ignored = parseConfig(undefined, {
    env: { NATS_URL: "nats://e:4222" },
  });
  assert.deepEqual(ignored.dataSource.nats.connection.servers, [
    "nats://127.0.0.1:4222",
  ]);
});

Deno.test("live: --snapshot on the ring with no NATS server configured is one problem naming the flag and the keys to set", () => {
  assert.throws(
    () => configFrom(["--snapshot"]),
    (error: Error) => {
      assert.equal(
        error.message,
        "data_source.snapshot (from --snapshot): the ring's snapshot is read from NATS JetStream, and no NATS server is configured: set data_source.nats.connection.servers (or NATS_URL), or read NATS (--nats)",
      );
      return error instanceof ConfigError;
    },
  );
  assert.throws(
    () => configFrom([], `[data_source]\nsnapshot = true\n`),
    /^ConfigError: data_source.snapshot in tc.toml: the ring's snapshot is read from NATS JetStream/,
  );
  assert.throws(
    () => configFrom([], `[data_source]\nsnapshot = "yes"\n`),
    /^ConfigError: Invalid value "yes" at data_source.snapshot in tc.toml: expected/,
  );
});

Deno.test("live: --ring-durable sets data_source.ipc.durable_name and reads the rings; a bad name, NATS or a catch-up is one line naming the flag", () => {
  const durable = configFrom(["--ring-durable", "desk-1"]).dataSource;
  assert.equal(durable.ipc.durableName, "desk-1");
  assert.equal(durable.type, "ipc");
  assert.equal(configFrom([]).dataSource.ipc.durableName, undefined);
  assert.throws(
    () => configFrom(["--ring-durable", "desk.1"]),
    (error) => {
      assert.ok(error instanceof ConfigError);
      assert.match(
        error.message,
        /^Invalid value "desk\.1" at data_source\.ipc\.durable_name \(from --ring-durable\): expected 1 to 64 letters, digits, "_" or "-"$/,
      );
      return true;
    },
  );
  assert.throws(
    () => configFrom(["--ring-durable", "d", "--catch-up", "1m"]),
    /data_source\.ipc\.durable_name.*a ring durable resumes from its own position: leave data_source\.catch_up \(--catch-up\) out/,
  );
  assert.throws(
    () => configFrom(["--ring-durable", "d", "--nats"]),
    TypeError, // two flags setting data_source.type
  );
  assert.throws(
    () =>
      configFrom(
        [],
        `[data_source]\ntype = "nats"\n[data_source.ipc]\ndurable_name = "d"\n`,
      ),
    /data_source\.ipc\.durable_name.*a ring durable reads the rings: expected data_source\.type = "ipc"/,
  );
});
