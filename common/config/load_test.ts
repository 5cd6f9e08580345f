// Tests of the configuration loader (load.ts, _reader.ts): defaults,
// precedence (defaults < file < NATS_URL < flags), normalisation and every
// error path, each asserting the key path, the value and what was expected.
// Almost everything goes through parseConfig and needs no permissions; the
// tests that read the shipped files in config/ are ignored without
// --allow-read.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  type Config,
  ConfigError,
  DEFAULT_EXCHANGE,
  DEFAULT_MAX_BYTES_PER_SUBJECT,
  DEFAULT_NATS_URL,
  DEFAULT_SHM_PATH_PREFIX,
  DEFAULT_SYMBOLS,
  loadConfig,
  parseConfig,
} from "./mod.ts";
import {
  BOTH_NATS,
  FILE,
  IN_FILE,
  load,
  problemOf,
  problemsOf,
} from "../../tests/_config.ts";

/** A valid user NKey seed (format only): "SU" + 56 base32 characters. */
const SEED = `SU${"A".repeat(56)}`;
/** A syntactically valid user JWT. */
const JWT = "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJVQUJDIn0.c2lnbmF0dXJl";

const READ_GRANTED = Deno.permissions.querySync({ name: "read" }).state ===
  "granted";

/** A test that reads files: ignored, with the reason in its name, without --allow-read. */
function readTest(name: string, fn: () => Promise<void>): void {
  if (READ_GRANTED) {
    Deno.test(name, fn);
  } else {
    Deno.test({
      name: `${name} [skipped: needs --allow-read]`,
      ignore: true,
      fn,
    });
  }
}

function assertIncludes(message: string, ...parts: string[]): void {
  for (const part of parts) {
    assert.ok(
      message.includes(part),
      `${JSON.stringify(message)}\n  does not contain ${JSON.stringify(part)}`,
    );
  }
}

function assertExcludes(message: string, ...parts: string[]): void {
  for (const part of parts) {
    assert.ok(
      !message.includes(part),
      `${JSON.stringify(message)}\n  must not contain ${JSON.stringify(part)}`,
    );
  }
}

/** The whole ConfigError message (all problems) for `text`. */
function errorMessageOf(text: string): string {
  try {
    load(text);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.message;
  }
  throw new assert.AssertionError({ message: "expected a ConfigError" });
}

const TOKEN_EXPECTED =
  `expected a non-empty subject token without ".", "*", ">", whitespace or control characters`;
const NAME_EXPECTED =
  `expected 1 to 255 characters without ".", "*", ">", "/", "\\", whitespace or control characters`;
const SHM_EXPECTED =
  `expected "/" followed by at most 200 letters, digits, ".", "_" or "-", e.g. "/marketbus_"`;
const AUTH_EXPECTED =
  "expected exactly one of: token | user + password | nkey_seed | jwt + nkey_seed | creds_file";

// ---------------------------------------------------------------------------
// Defaults

const DEFAULT_CONFIG: Config = {
  file: undefined,
  dataManager: {
    exchange: "binance",
    symbols: ["BTCUSDT", "ETHUSDT"],
    source: "synthetic",
    maxTrades: 0,
    synthetic: {
      seed: 1,
      rate: 1000,
      burstSize: 0,
      burstIntervalMs: 1000,
      firstTradeId: undefined,
    },
    binance: {
      endpoint: "wss://stream.binance.com:9443",
      silenceTimeoutMs: 30_000,
    },
    replay: { file: undefined, speed: 0, onError: "stop", format: "auto" },
    metrics: { port: 0, host: "127.0.0.1", staleAfterMs: 10_000 },
  },
  transport: {
    nats: {
      enabled: false,
      servers: ["nats://127.0.0.1:4222"],
      name: "marketbus-data-manager",
      auth: { kind: "none" },
      tls: undefined,
      connectTimeoutMs: 5000,
      jetstream: {
        streamName: "MARKET_DATA",
        streamExchange: undefined,
        subjectPrefix: "market",
        retention: "limits",
        storage: "file",
        maxAgeMs: 3_600_000,
        maxMsgsPerSubject: -1,
        maxBytesPerSubject: undefined,
        maxBytes: -1,
        replicas: 1,
        duplicateWindowMs: 120_000,
      },
      publish: {
        maxInFlight: 256,
        batchMaxTrades: 64,
        queueMaxTrades: 1_000_000,
        flushTimeoutMs: 5000,
      },
    },
    ipc: {
      enabled: true,
      shmPathPrefix: "/marketbus_",
      capacity: 65536,
      heartbeatIntervalMs: 100,
      maxTetherTimeoutMs: 60_000,
      backlog: 262_144,
      waitForReaders: 0,
    },
  },
  dataSource: {
    type: "ipc",
    exchange: "binance",
    symbols: ["BTCUSDT", "ETHUSDT"],
    everySymbol: false,
    maxTrades: 0,
    snapshot: false,
    ipc: {
      shmPathPrefix: "/marketbus_",
      wait: "backoff",
      from: "newest",
      spinMs: 0.02,
      staleAfterMs: 3000,
      delivery: "lossy",
      tetherTimeoutMs: 5000,
    },
    nats: {
      connection: {
        servers: ["nats://127.0.0.1:4222"],
        name: "marketbus-trading-core",
        auth: { kind: "none" },
        tls: undefined,
        connectTimeoutMs: 5000,
      },
      consumer: {
        durableName: undefined,
        exchange: "binance",
        symbols: ["BTCUSDT", "ETHUSDT"],
        deliver: "new",
        startTime: undefined,
        startSequence: undefined,
        replay: "instant",
        maxAckPending: 1000,
        ackWaitMs: 30_000,
      },
      streamName: "MARKET_DATA",
      streamPerExchange: false,
      subjectPrefix: "market",
    },
  },
  tradingCore: {
    strategy: undefined,
    barsOut: undefined,
    fillsOut: undefined,
    onExistingFile: "refuse",
    onWriteError: "stop",
    bars: {
      intervals: ["1s", "1m"],
      closeDelayMs: 250,
      clock: "wall",
      maxClockJumpMs: 3_600_000,
    },
    broker: {
      startingBalance: 100_000,
      feeBps: 10,
      makerFeeBps: 10,
      slippageBps: 0,
      latencyMs: 0,
      maxOpenOrders: 10_000,
    },
    console: {
      port: undefined,
      host: "127.0.0.1",
      updatesPerSecond: 4,
      intervals: ["1s", "1m"],
      maxClients: 32,
    },
    metrics: { port: 0, host: "127.0.0.1", staleAfterMs: 10_000 },
    progressSummaryAbove: 8,
  },
  registry: {
    bucket: "marketbus_symbols",
    heartbeatIntervalMs: 1000,
    ttlMs: 5000,
    maxAgeMs: 86_400_000,
    register: false,
    watch: false,
    standby: false,
    standbyBuffer: 65_536,
  },
  log: { level: "info", format: "text", progressIntervalMs: 5000 },
  warnings: [],
};

Deno.test("defaults: no file gives exactly the built-in values", () => {
  assert.deepEqual(parseConfig(undefined), DEFAULT_CONFIG);
  assert.deepEqual(parseConfig(undefined, { env: {} }), DEFAULT_CONFIG);
});

Deno.test("defaults: an empty file gives the same values and names the file", () => {
  assert.deepEqual(load(""), { ...DEFAULT_CONFIG, file: FILE });
  assert.deepEqual(load("# only a comment\n"), {
    ...DEFAULT_CONFIG,
    file: FILE,
  });
});

Deno.test("defaults: the exported constants match the defaults", () => {
  assert.equal(DEFAULT_EXCHANGE, "binance");
  assert.deepEqual(DEFAULT_SYMBOLS, ["BTCUSDT", "ETHUSDT"]);
  assert.equal(DEFAULT_NATS_URL, "nats://127.0.0.1:4222");
  assert.equal(DEFAULT_SHM_PATH_PREFIX, "/marketbus_");
  assert.equal(DEFAULT_MAX_BYTES_PER_SUBJECT, 100_000_000);
});

Deno.test("defaults: an empty table is the same as an absent one", () => {
  const config = load(`
[data_manager]
[data_manager.synthetic]
[transport.nats]
[transport.nats.auth]
[transport.nats.tls]
[transport.nats.jetstream]
[transport.ipc]
[data_source]
type = "ipc" # [data_source.ipc] and [data_source.nats] together need the type
[data_source.ipc]
[data_source.nats.connection]
[data_source.nats.connection.auth]
[data_source.nats.connection.tls]
[data_source.nats.consumer]
[log]
`);
  assert.deepEqual(config, { ...DEFAULT_CONFIG, file: FILE });
});

// ---------------------------------------------------------------------------
// The shipped files (need --allow-read)

const CONFIG_DIR = fileURLToPath(new URL("../../config/", import.meta.url));

for (
  const name of [
    "development.toml",
    "data_manager.example.toml",
    "trading_core.example.toml",
  ]
) {
  readTest(
    `shipped config/${name} loads without problems or warnings`,
    async () => {
      const config = await loadConfig(`${CONFIG_DIR}${name}`, { env: {} });
      assert.equal(config.file, `${CONFIG_DIR}${name}`);
      assert.deepEqual(config.warnings, []);
    },
  );
}

readTest(
  "shipped config/development.toml has the documented values",
  async () => {
    const config = await loadConfig(`${CONFIG_DIR}development.toml`, {
      env: {},
    });
    assert.deepEqual(config.dataManager.symbols, [
      "BTCUSDT",
      "ETHUSDT",
      "SOLUSDT",
    ]);
    assert.deepEqual(config.dataSource.symbols, [
      "BTCUSDT",
      "ETHUSDT",
      "SOLUSDT",
    ]);
    assert.equal(
      config.dataSource.nats.consumer.durableName,
      "trading-core-dev",
    );
    assert.equal(config.transport.nats.enabled, false);
    assert.equal(config.transport.nats.jetstream.maxMsgsPerSubject, -1);
  },
);

readTest(
  "shipped config/compose*.toml keep their meaning: NATS both ways, unlimited per symbol",
  async () => {
    for (const name of ["compose.toml", "compose_cluster.toml"]) {
      const config = await loadConfig(`${CONFIG_DIR}${name}`, { env: {} });
      assert.deepEqual(config.warnings, [], name);
      assert.equal(config.transport.nats.enabled, true, name);
      assert.equal(config.transport.ipc.enabled, false, name);
      assert.equal(config.transport.nats.jetstream.maxMsgsPerSubject, -1, name);
      assert.equal(config.dataSource.type, "nats", name);
      assert.deepEqual(config.dataSource.nats.consumer.symbols, [
        "BTCUSDT",
        "ETHUSDT",
        "SOLUSDT",
      ]);
    }
  },
);

readTest(
  "shipped example files differ from the defaults only where they say so",
  async () => {
    const publisher = await loadConfig(
      `${CONFIG_DIR}data_manager.example.toml`,
      { env: {} },
    );
    assert.deepEqual(publisher.dataManager, DEFAULT_CONFIG.dataManager);
    assert.deepEqual(publisher.transport, DEFAULT_CONFIG.transport);
    const consumer = await loadConfig(
      `${CONFIG_DIR}trading_core.example.toml`,
      { env: {} },
    );
    assert.deepEqual(consumer.dataSource, {
      ...DEFAULT_CONFIG.dataSource,
      nats: {
        ...DEFAULT_CONFIG.dataSource.nats,
        consumer: {
          ...DEFAULT_CONFIG.dataSource.nats.consumer,
          durableName: "trading-core-1",
        },
      },
    });
  },
);

readTest(
  "loadConfig applies NATS_URL and overrides on top of a file",
  async () => {
    const config = await loadConfig(`${CONFIG_DIR}development.toml`, {
      env: { NATS_URL: "nats://a:4222,nats://b:4222" },
      overrides: [
        {
          key: "data_manager.symbols",
          value: ["xrpusdt"],
          origin: "--symbols",
        },
        // NATS_URL applies to a connection in use only.
        { key: "transport.nats.enabled", value: true, origin: "--nats" },
        { key: "data_source.type", value: "nats", origin: "--nats" },
      ],
    });
    assert.deepEqual(config.transport.nats.servers, [
      "nats://a:4222",
      "nats://b:4222",
    ]);
    assert.deepEqual(config.dataSource.nats.connection.servers, [
      "nats://a:4222",
      "nats://b:4222",
    ]);
    assert.deepEqual(config.dataManager.symbols, ["XRPUSDT"]);
  },
);

readTest(
  "loadConfig of a missing file is a ConfigError naming the path",
  async () => {
    const path = `${CONFIG_DIR}does-not-exist.toml`;
    await assert.rejects(
      () => loadConfig(path, { env: {} }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual(error.problems, [`Config file "${path}" not found`]);
        assert.equal(error.message, `Config file "${path}" not found`);
        return true;
      },
    );
  },
);

readTest(
  "loadConfig of a directory is a ConfigError naming the path",
  async () => {
    await assert.rejects(
      () => loadConfig(CONFIG_DIR, { env: {} }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.problems.length, 1);
        assert.ok(
          error.problems[0].startsWith(
            `Config file "${CONFIG_DIR}" cannot be read: `,
          ),
          error.problems[0],
        );
        return true;
      },
    );
  },
);

Deno.test({
  name: "loadConfig without read permission says which flag to add",
  permissions: { read: false, env: false },
  fn: async () => {
    const path = `${CONFIG_DIR}development.toml`;
    await assert.rejects(
      () => loadConfig(path),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual(error.problems, [
          `Config file "${path}" cannot be read: run with --allow-read=${path}`,
        ]);
        return true;
      },
    );
  },
});

Deno.test("loadConfig without a path needs no permission and gives the defaults", async () => {
  assert.deepEqual(
    await loadConfig(undefined, { env: {} }),
    DEFAULT_CONFIG,
  );
});

// ---------------------------------------------------------------------------
// Precedence and origins

Deno.test("precedence: a file value beats the default", () => {
  const config = load(`
[data_manager]
symbols = ["SOLUSDT"]
`);
  assert.deepEqual(config.dataManager.symbols, ["SOLUSDT"]);
});

Deno.test("precedence: an override beats the file", () => {
  const config = load(
    `
[data_manager]
symbols = ["SOLUSDT"]
exchange = "kraken"
`,
    {
      overrides: [{
        key: "data_manager.symbols",
        value: ["ethusdt", "btcusdt"],
        origin: "--symbols",
      }],
    },
  );
  assert.deepEqual(config.dataManager.symbols, ["ETHUSDT", "BTCUSDT"]);
  assert.equal(config.dataManager.exchange, "kraken"); // not overridden
});

Deno.test("precedence: an override creates missing tables", () => {
  const config = load(undefined, {
    overrides: [{
      key: "transport.nats.jetstream.stream_name",
      value: "TRADES",
      origin: "--stream",
    }],
  });
  assert.equal(config.transport.nats.jetstream.streamName, "TRADES");
  assert.equal(config.file, FILE);
});

Deno.test("precedence: later overrides beat earlier ones", () => {
  const config = load(undefined, {
    overrides: [
      { key: "log.level", value: "debug", origin: "--a" },
      { key: "log.level", value: "error", origin: "--b" },
    ],
  });
  assert.equal(config.log.level, "error");
});

Deno.test("precedence: NATS_URL (comma-separated) beats the file for both roles", () => {
  const config = load(
    `
[transport.nats]
servers = ["nats://file:4222"]
[data_source.nats.connection]
servers = ["nats://file:4222"]
`,
    { env: { NATS_URL: " nats://a:4222 , tls://b:4223,,localhost:4224 " } },
  );
  const servers = ["nats://a:4222", "tls://b:4223", "localhost:4224"];
  assert.deepEqual(config.transport.nats.servers, servers);
  assert.deepEqual(config.dataSource.nats.connection.servers, servers);
});

Deno.test("precedence: an empty NATS_URL is ignored", () => {
  const config = load(
    `
[transport.nats]
servers = ["nats://file:4222"]
`,
    { env: { NATS_URL: "" } },
  );
  assert.deepEqual(config.transport.nats.servers, ["nats://file:4222"]);
  assert.deepEqual(config.dataSource.nats.connection.servers, [
    DEFAULT_NATS_URL,
  ]);
});

Deno.test("precedence: an override beats NATS_URL, only for its own key", () => {
  const config = load(
    `
[transport.nats]
servers = ["nats://file:4222"]
[data_source]
type = "nats"
`,
    {
      env: { NATS_URL: "nats://env:4222" },
      overrides: [{
        key: "transport.nats.servers",
        value: ["nats://flag:4222"],
        origin: "--nats-url",
      }],
    },
  );
  assert.deepEqual(config.transport.nats.servers, ["nats://flag:4222"]);
  assert.deepEqual(config.dataSource.nats.connection.servers, [
    "nats://env:4222",
  ]);
});

Deno.test("origin: a bad override value names the flag", () => {
  assert.equal(
    problemOf(`[data_manager]\nsymbols = ["BTCUSDT"]\n`, {
      overrides: [{
        key: "data_manager.symbols",
        value: ["BTC.USDT"],
        origin: "--symbols",
      }],
    }),
    `Invalid symbol "BTC.USDT" at data_manager.symbols[0] (from --symbols): ${TOKEN_EXPECTED}`,
  );
});

Deno.test("origin: a non-value problem about an overridden key names the flag", () => {
  assert.equal(
    problemOf(undefined, {
      overrides: [{
        key: "data_manager.symbols",
        value: [],
        origin: "--symbols",
      }],
    }),
    "data_manager.symbols (from --symbols): expected at least one symbol to publish",
  );
});

Deno.test("origin: a bad NATS_URL names NATS_URL for both roles", () => {
  assert.deepEqual(
    problemsOf(BOTH_NATS, { env: { NATS_URL: "http://h:4222" } }),
    [
      `Invalid server "http://h:4222" at transport.nats.servers[0] (from NATS_URL): expected the scheme nats:// or tls://, got "http://"`,
      `Invalid server "http://h:4222" at data_source.nats.connection.servers[0] (from NATS_URL): expected the scheme nats:// or tls://, got "http://"`,
    ],
  );
});

Deno.test("origin: a NATS_URL of only commas leaves no server", () => {
  assert.deepEqual(problemsOf(BOTH_NATS, { env: { NATS_URL: " , ," } }), [
    "transport.nats.servers (from NATS_URL): expected at least one server URL",
    "data_source.nats.connection.servers (from NATS_URL): expected at least one server URL",
  ]);
});

Deno.test("origin: a file value names the file; no file names the built-in default", () => {
  assertIncludes(
    problemOf(`[log]\nlevel = "loud"\n`),
    `at log.level ${IN_FILE}:`,
  );
  assertIncludes(
    problemOf(`[log]\nlevel = "loud"\n`, { file: "other/y.toml" }),
    "at log.level in other/y.toml:",
  );
  // deliver comes from a flag; the missing start_time is nobody's value.
  assert.equal(
    problemOf(undefined, {
      file: undefined,
      overrides: [{
        key: "data_source.nats.consumer.deliver",
        value: "by_start_time",
        origin: "--deliver",
      }],
    }),
    `data_source.nats.consumer.start_time (built-in default): missing: deliver = "by_start_time" needs start_time`,
  );
});

Deno.test("origin: an override under a non-table value cannot be applied", () => {
  assert.deepEqual(
    problemsOf(`[data_source]\ntype = "nats"\nnats = 5\n`, {
      env: { NATS_URL: "nats://a:4222" },
    }),
    [
      `Cannot apply NATS_URL: data_source.nats.connection.servers sits under a key that is not a table ${IN_FILE}`,
      `Invalid value 5 at data_source.nats ${IN_FILE}: expected a table`,
    ],
  );
});

Deno.test("origin: an override of an unknown key is an unknown key from that flag", () => {
  assert.equal(
    problemOf(undefined, {
      overrides: [{ key: "data_manager.symbolz", value: ["A"], origin: "--x" }],
    }),
    `data_manager.symbolz (from --x): unknown key (did you mean "symbols"?)`,
  );
});

// ---------------------------------------------------------------------------
// Normalisation

Deno.test("normalisation: exchanges are lower-cased, symbols upper-cased", () => {
  const config = load(`
[data_manager]
exchange = "BiNaNcE"
symbols = ["btcusdt", "EthUsdt"]
[data_source]
type = "ipc"
exchange = "KRAKEN"
symbols = ["xbtusd"]
[data_source.nats.consumer]
exchange = "KraKen"
symbols = ["XbtUsd"]
`);
  assert.equal(config.dataManager.exchange, "binance");
  assert.deepEqual(config.dataManager.symbols, ["BTCUSDT", "ETHUSDT"]);
  assert.equal(config.dataSource.exchange, "kraken");
  assert.deepEqual(config.dataSource.symbols, ["XBTUSD"]);
  assert.equal(config.dataSource.nats.consumer.exchange, "kraken");
  assert.deepEqual(config.dataSource.nats.consumer.symbols, ["XBTUSD"]);
});

Deno.test("normalisation: the consumer defaults to data_source's exchange and symbols", () => {
  const config = load(`
[data_source]
exchange = "KRAKEN"
symbols = ["xbtusd", "ethusd"]
`);
  assert.equal(config.dataSource.nats.consumer.exchange, "kraken");
  assert.deepEqual(config.dataSource.nats.consumer.symbols, [
    "XBTUSD",
    "ETHUSD",
  ]);
});

Deno.test("normalisation: symbols equal after upper-casing are duplicates", () => {
  assert.equal(
    problemOf(`[data_manager]\nsymbols = ["btcusdt", "BTCUSDT"]\n`),
    `data_manager.symbols ${IN_FILE}: symbol "BTCUSDT" is listed twice`,
  );
});

// ---------------------------------------------------------------------------
// Wrong types (_reader.ts)

Deno.test("type: a string key given a number", () => {
  assert.equal(
    problemOf(`[data_manager]\nexchange = 5\n`),
    `Invalid value 5 at data_manager.exchange ${IN_FILE}: expected a string`,
  );
});

Deno.test("type: an optional string key given a boolean", () => {
  assert.equal(
    problemOf(`[data_source.nats.consumer]\ndurable_name = true\n`),
    `Invalid value true at data_source.nats.consumer.durable_name ${IN_FILE}: expected a string`,
  );
});

Deno.test("type: a boolean key given a string", () => {
  assert.equal(
    problemOf(`[transport.ipc]\nenabled = "yes"\n`),
    `Invalid value "yes" at transport.ipc.enabled ${IN_FILE}: expected true or false`,
  );
});

Deno.test("type: an integer key given a float", () => {
  assert.equal(
    problemOf(`[transport.ipc]\ncapacity = 1.5\n`),
    `Invalid value 1.5 at transport.ipc.capacity ${IN_FILE}: expected an integer from 64 to 16777216`,
  );
});

Deno.test("type: an integer key given a string", () => {
  assert.equal(
    problemOf(`[data_source.nats.consumer]\nmax_ack_pending = "1000"\n`),
    `Invalid value "1000" at data_source.nats.consumer.max_ack_pending ${IN_FILE}: expected an integer from 1 to 2147483647`,
  );
});

Deno.test("type: a string list given a string", () => {
  assert.equal(
    problemOf(`[data_manager]\nsymbols = "BTCUSDT"\n`),
    `Invalid value "BTCUSDT" at data_manager.symbols ${IN_FILE}: expected an array of strings`,
  );
});

Deno.test("type: a string list holding a number", () => {
  assert.equal(
    problemOf(`[transport.nats]\nservers = ["nats://a:4222", 4222]\n`),
    `Invalid value ["nats://a:4222",4222] at transport.nats.servers ${IN_FILE}: expected an array of strings`,
  );
});

Deno.test("type: a table given a scalar (section and sub-table)", () => {
  assert.deepEqual(
    problemsOf(`data_manager = 5\n[transport.nats]\nauth = "tok"\n`),
    [
      `Invalid value 5 at data_manager ${IN_FILE}: expected a table`,
      `Invalid value "tok" at transport.nats.auth ${IN_FILE}: expected a table`,
    ],
  );
});

Deno.test("type: a duration given a number", () => {
  assert.equal(
    problemOf(`[transport.nats.jetstream]\nmax_age = 3600\n`),
    `Invalid duration 3600 at transport.nats.jetstream.max_age ${IN_FILE}: expected a duration string, e.g. "500ms", "30s", "1h", "2h30m"`,
  );
});

Deno.test("type: a duration with bad syntax", () => {
  assert.equal(
    problemOf(`[transport.nats]\nconnect_timeout = "5 seconds"\n`),
    `Invalid duration "5 seconds" at transport.nats.connect_timeout ${IN_FILE}: expected e.g. "500ms", "30s", "1h", "2h30m"`,
  );
});

Deno.test("type: a byte size given a boolean", () => {
  assert.equal(
    problemOf(`[transport.nats.jetstream]\nmax_bytes = true\n`),
    `Invalid byte size true at transport.nats.jetstream.max_bytes ${IN_FILE}: expected a string or a number`,
  );
});

Deno.test("type: a choice given an unknown value, no close match", () => {
  assert.equal(
    problemOf(`[data_manager]\nsource = "kafka"\n`),
    `Invalid value "kafka" at data_manager.source ${IN_FILE}: expected one of "synthetic", "binance", "replay"`,
  );
});

Deno.test("type: a choice given a number", () => {
  assert.equal(
    problemOf(`[data_source]\ntype = 1\n`),
    `Invalid value 1 at data_source.type ${IN_FILE}: expected a string`,
  );
});

Deno.test("type: choices are case-sensitive, with a suggestion", () => {
  assert.equal(
    problemOf(`[data_source]\ntype = "NATS"\n`),
    `Invalid value "NATS" at data_source.type ${IN_FILE}: expected one of "ipc", "nats" (did you mean "nats"?)`,
  );
});

Deno.test("type: an integer too large for TOML is a TOML error with its position", () => {
  assert.equal(
    problemOf(`[transport.ipc]\ncapacity = 9007199254740993\n`),
    `Invalid TOML in ${FILE} at line 2, column 12: Invalid TOML document: integer value cannot be represented losslessly`,
  );
});

// ---------------------------------------------------------------------------
// Unknown keys, at every level

/** [table header ("" = top level), typo, suggestion, every valid key there] */
const LEVELS: [string, string, string, string[]][] = [
  ["", "datasource", "data_source", [
    "data_manager",
    "transport",
    "data_source",
    "trading_core",
    "registry",
    "log",
  ]],
  ["data_manager", "symbol", "symbols", [
    "exchange",
    "symbols",
    "source",
    "max_trades",
    "synthetic",
    "binance",
    "replay",
    "metrics",
  ]],
  ["data_manager.metrics", "prot", "port", ["port", "host", "stale_after"]],
  ["trading_core", "strategi", "strategy", [
    "strategy",
    "bars_out",
    "fills_out",
    "on_existing_file",
    "on_write_error",
    "bars",
    "broker",
    "console",
    "metrics",
    "progress_summary_above",
  ]],
  ["trading_core.console", "updates_per_sec", "updates_per_second", [
    "port",
    "host",
    "updates_per_second",
    "intervals",
    "max_clients",
  ]],
  ["trading_core.broker", "fee_bp", "fee_bps", [
    "starting_balance",
    "fee_bps",
    "maker_fee_bps",
    "slippage_bps",
    "max_open_orders",
    "latency",
  ]],
  ["trading_core.bars", "intervall", "intervals", [
    "intervals",
    "close_delay",
    "max_clock_jump",
    "clock",
  ]],
  ["data_manager.binance", "endpiont", "endpoint", [
    "endpoint",
    "silence_timeout",
  ]],
  ["data_manager.replay", "speeed", "speed", [
    "file",
    "speed",
    "on_error",
    "format",
  ]],
  ["data_manager.synthetic", "burst_sise", "burst_size", [
    "seed",
    "rate",
    "burst_size",
    "burst_interval",
    "first_trade_id",
  ]],
  ["transport", "ipcc", "ipc", ["nats", "ipc"]],
  ["transport.nats", "enable", "enabled", [
    "enabled",
    "servers",
    "name",
    "auth",
    "tls",
    "connect_timeout",
    "jetstream",
    "publish",
  ]],
  ["transport.nats.auth", "tokn", "token", [
    "token",
    "user",
    "password",
    "nkey_seed",
    "jwt",
    "creds_file",
  ]],
  ["transport.nats.tls", "ca_fil", "ca_file", [
    "ca_file",
    "cert_file",
    "key_file",
    "handshake_first",
  ]],
  ["transport.nats.jetstream", "max_ages", "max_age", [
    "stream_name",
    "stream_per_exchange",
    "subject_prefix",
    "retention",
    "storage",
    "max_age",
    "max_bytes_per_subject",
    "max_msgs_per_subject",
    "max_bytes",
    "replicas",
    "duplicate_window",
  ]],
  ["transport.ipc", "capacty", "capacity", [
    "enabled",
    "shm_path_prefix",
    "capacity",
    "heartbeat_interval",
    "max_tether_timeout",
    "backlog",
    "wait_for_readers",
  ]],
  ["data_source", "typ", "type", [
    "type",
    "exchange",
    "symbols",
    "max_trades",
    "catch_up",
    "catch_up_hold",
    "snapshot",
    "ipc",
    "nats",
  ]],
  ["data_source.ipc", "stale_afer", "stale_after", [
    "shm_path_prefix",
    "wait",
    "from",
    "spin",
    "stale_after",
    "delivery",
    "tether_timeout",
    "publisher_uid",
    "durable_name",
  ]],
  ["data_source.nats", "conection", "connection", [
    "stream_name",
    "stream_per_exchange",
    "subject_prefix",
    "connection",
    "consumer",
  ]],
  ["transport.nats.publish", "max_inflight", "max_in_flight", [
    "max_in_flight",
    "batch_max_trades",
    "queue_max_trades",
    "flush_timeout",
  ]],
  ["data_source.nats.connection", "server", "servers", [
    "servers",
    "name",
    "auth",
    "tls",
    "connect_timeout",
  ]],
  ["data_source.nats.connection.auth", "passwd", "password", [
    "token",
    "user",
    "password",
    "nkey_seed",
    "jwt",
    "creds_file",
  ]],
  ["data_source.nats.connection.tls", "key_fil", "key_file", [
    "ca_file",
    "cert_file",
    "key_file",
    "handshake_first",
  ]],
  ["data_source.nats.consumer", "durable_nam", "durable_name", [
    "durable_name",
    "exchange",
    "symbols",
    "replay_policy",
    "deliver",
    "replay",
    "start_time",
    "start_sequence",
    "max_ack_pending",
    "ack_wait",
  ]],
  ["log", "levle", "level", ["level", "format", "progress_interval"]],
];

for (const [table, typo, suggestion, valid] of LEVELS) {
  const header = table === "" ? "" : `[${table}]\n`;
  const at = table === "" ? "" : `${table}.`;
  const where = table === "" ? "top level" : table;

  Deno.test(`unknown key in ${where}: the closest valid key is suggested`, () => {
    assert.equal(
      problemOf(`${header}${typo} = 1\n`),
      `${at}${typo} ${IN_FILE}: unknown key (did you mean "${suggestion}"?)`,
    );
  });

  Deno.test(`unknown key in ${where}: without a close match, the valid keys are listed`, () => {
    const message = problemOf(`${header}zzzzzzzzzzzz = 1\n`);
    const prefix =
      `${at}zzzzzzzzzzzz ${IN_FILE}: unknown key; valid keys here: `;
    assert.ok(message.startsWith(prefix), message);
    assert.deepEqual(
      message.slice(prefix.length).split(", ").sort(),
      [...valid].sort(),
    );
  });
}

Deno.test("unknown key: a secret's value is not printed with its misspelt key", () => {
  const message = problemOf(`[transport.nats.auth]\ntokn = "hunter2-secret"\n`);
  assertExcludes(message, "hunter2-secret");
});

// ---------------------------------------------------------------------------
// Symbols and exchanges

Deno.test("symbols: a bad symbol names its index and quotes it", () => {
  assert.equal(
    problemOf(`[data_manager]\nsymbols = ["BTCUSDT", "BTC USDT"]\n`),
    `Invalid symbol "BTC USDT" at data_manager.symbols[1] ${IN_FILE}: ${TOKEN_EXPECTED}`,
  );
});

Deno.test("symbols: every bad item is reported, then the list falls back whole", () => {
  assert.deepEqual(
    problemsOf(`[data_manager]\nsymbols = ["", "A.B", "C*", "D>", "OK"]\n`),
    [
      `Invalid symbol "" at data_manager.symbols[0] ${IN_FILE}: ${TOKEN_EXPECTED}`,
      `Invalid symbol "A.B" at data_manager.symbols[1] ${IN_FILE}: ${TOKEN_EXPECTED}`,
      `Invalid symbol "C*" at data_manager.symbols[2] ${IN_FILE}: ${TOKEN_EXPECTED}`,
      `Invalid symbol "D>" at data_manager.symbols[3] ${IN_FILE}: ${TOKEN_EXPECTED}`,
    ],
  );
});

Deno.test("symbols: a duplicate is reported for each section", () => {
  assert.deepEqual(
    problemsOf(`
[data_manager]
symbols = ["BTCUSDT", "BTCUSDT"]
[data_source]
symbols = ["ETHUSDT", "ethusdt"]
[data_source.nats.consumer]
symbols = ["SOLUSDT", "SolUsdt"]
`),
    [
      `data_manager.symbols ${IN_FILE}: symbol "BTCUSDT" is listed twice`,
      `data_source.symbols ${IN_FILE}: symbol "ETHUSDT" is listed twice`,
      `data_source.nats.consumer.symbols ${IN_FILE}: symbol "SOLUSDT" is listed twice`,
    ],
  );
});

Deno.test("symbols: data_manager needs at least one", () => {
  assert.equal(
    problemOf(`[data_manager]\nsymbols = []\n`),
    `data_manager.symbols ${IN_FILE}: expected at least one symbol to publish`,
  );
});

Deno.test("symbols: data_source of type ipc needs at least one", () => {
  assert.equal(
    problemOf(`[data_source]\ntype = "ipc"\nsymbols = []\n`),
    `data_source.symbols ${IN_FILE}: expected at least one symbol: a ring is per symbol`,
  );
});

Deno.test("symbols: data_source of type nats may list none (every symbol)", () => {
  const config = load(`[data_source]\ntype = "nats"\nsymbols = []\n`);
  assert.deepEqual(config.dataSource.symbols, []);
  assert.deepEqual(config.dataSource.nats.consumer.symbols, []);
});

Deno.test("symbols: the NATS consumer may list none, even for an ipc source", () => {
  const config = load(
    `[data_source]\ntype = "ipc"\n[data_source.nats.consumer]\nsymbols = []\n`,
  );
  assert.deepEqual(config.dataSource.nats.consumer.symbols, []);
  assert.deepEqual(config.dataSource.symbols, ["BTCUSDT", "ETHUSDT"]);
});

Deno.test("symbols: a bad consumer symbol names the consumer path", () => {
  assert.equal(
    problemOf(`[data_source.nats.consumer]\nsymbols = ["BTC\\tUSDT"]\n`),
    `Invalid symbol "BTC\\tUSDT" at data_source.nats.consumer.symbols[0] ${IN_FILE}: ${TOKEN_EXPECTED}`,
  );
});

Deno.test("exchange: a bad exchange is quoted with what was expected", () => {
  assert.deepEqual(
    problemsOf(`
[data_manager]
exchange = "bin.ance"
[data_source]
exchange = ""
[data_source.nats.consumer]
exchange = "a b"
`),
    [
      `Invalid value "bin.ance" at data_manager.exchange ${IN_FILE}: ${TOKEN_EXPECTED}`,
      `Invalid value "" at data_source.exchange ${IN_FILE}: ${TOKEN_EXPECTED}`,
      `Invalid value "a b" at data_source.nats.consumer.exchange ${IN_FILE}: ${TOKEN_EXPECTED}`,
    ],
  );
});

Deno.test(`exchange: "*" is only allowed where NATS reads (data_source_test.ts has the rest)`, () => {
  assertIncludes(
    problemOf(`[data_source]\nexchange = "*"\n`),
    `Invalid value "*" at data_source.exchange ${IN_FILE}: expected one exchange`,
  );
  assert.equal(
    problemOf(`[data_manager]\nexchange = "*"\n`),
    `Invalid value "*" at data_manager.exchange ${IN_FILE}: ${TOKEN_EXPECTED}`,
  );
  const config = load(`[data_source.nats.consumer]\nexchange = "*"\n`);
  assert.equal(config.dataSource.nats.consumer.exchange, undefined);
});

// ---------------------------------------------------------------------------
// Servers

Deno.test("servers: nats://, tls:// and bare host:port are accepted as written", () => {
  const config = load(`
[transport.nats]
servers = ["nats://a:4222", "tls://b:4443", "c:4222", "nats://[::1]:4222", "nats://d:4222/"]
`);
  assert.deepEqual(config.transport.nats.servers, [
    "nats://a:4222",
    "tls://b:4443",
    "c:4222",
    "nats://[::1]:4222",
    "nats://d:4222/",
  ]);
});

Deno.test("servers: a wrong scheme", () => {
  assert.equal(
    problemOf(`[transport.nats]\nservers = ["ws://h:4222"]\n`),
    `Invalid server "ws://h:4222" at transport.nats.servers[0] ${IN_FILE}: expected the scheme nats:// or tls://, got "ws://"`,
  );
});

Deno.test("servers: a port out of range", () => {
  assert.equal(
    problemOf(`[data_source.nats.connection]\nservers = ["nats://h:99999"]\n`),
    `Invalid server "nats://h:99999" at data_source.nats.connection.servers[0] ${IN_FILE}: expected a URL such as "nats://127.0.0.1:4222" or "tls://host:4222"`,
  );
});

Deno.test("servers: a port that is not a number", () => {
  assert.equal(
    problemOf(`[transport.nats]\nservers = ["nats://h:port"]\n`),
    `Invalid server "nats://h:port" at transport.nats.servers[0] ${IN_FILE}: expected a URL such as "nats://127.0.0.1:4222" or "tls://host:4222"`,
  );
});

Deno.test("servers: a path", () => {
  assert.equal(
    problemOf(`[transport.nats]\nservers = ["nats://h:4222/x"]\n`),
    `Invalid server "nats://h:4222/x" at transport.nats.servers[0] ${IN_FILE}: expected a URL such as "nats://127.0.0.1:4222" with a host and no path`,
  );
});

Deno.test("servers: no host", () => {
  assert.equal(
    problemOf(`[transport.nats]\nservers = ["nats://"]\n`),
    `Invalid server "nats://" at transport.nats.servers[0] ${IN_FILE}: expected a URL such as "nats://127.0.0.1:4222" with a host and no path`,
  );
});

Deno.test("servers: an empty list", () => {
  assert.equal(
    problemOf(`[data_source.nats.connection]\nservers = []\n`),
    `data_source.nats.connection.servers ${IN_FILE}: expected at least one server URL`,
  );
});

Deno.test("connection: name and connect_timeout", () => {
  const config = load(`
[transport.nats]
name = "pub-1"
connect_timeout = "1m30s"
[data_source.nats.connection]
name = "sub-1"
connect_timeout = "250ms"
`);
  assert.equal(config.transport.nats.name, "pub-1");
  assert.equal(config.transport.nats.connectTimeoutMs, 90_000);
  assert.equal(config.dataSource.nats.connection.name, "sub-1");
  assert.equal(config.dataSource.nats.connection.connectTimeoutMs, 250);
});

// ---------------------------------------------------------------------------
// Auth

Deno.test("auth: none by default", () => {
  assert.deepEqual(load("").transport.nats.auth, { kind: "none" });
});

Deno.test("auth: token", () => {
  assert.deepEqual(
    load(`[transport.nats.auth]\ntoken = "s3cr3t"\n`).transport.nats.auth,
    { kind: "token", token: "s3cr3t" },
  );
});

Deno.test("auth: user + password", () => {
  assert.deepEqual(
    load(`[data_source.nats.connection.auth]\nuser = "u"\npassword = "p"\n`)
      .dataSource.nats.connection.auth,
    { kind: "user", user: "u", password: "p" },
  );
});

Deno.test("auth: nkey_seed", () => {
  assert.deepEqual(
    load(`[transport.nats.auth]\nnkey_seed = "${SEED}"\n`).transport.nats.auth,
    { kind: "nkey", seed: SEED },
  );
});

Deno.test("auth: jwt + nkey_seed", () => {
  assert.deepEqual(
    load(`[transport.nats.auth]\njwt = "${JWT}"\nnkey_seed = "${SEED}"\n`)
      .transport.nats.auth,
    { kind: "jwt", jwt: JWT, seed: SEED },
  );
});

Deno.test("auth: creds_file", () => {
  assert.deepEqual(
    load(`[transport.nats.auth]\ncreds_file = "/etc/a.creds"\n`).transport
      .nats.auth,
    { kind: "creds", file: "/etc/a.creds" },
  );
});

Deno.test("auth: token + user/password conflict, secrets not printed", () => {
  const message = problemOf(`
[transport.nats.auth]
token = "tok-SECRET-1"
user = "u"
password = "pw-SECRET-2"
`);
  assert.equal(
    message,
    `transport.nats.auth ${IN_FILE}: several auth methods set (token, user+password); ${AUTH_EXPECTED}`,
  );
  assertExcludes(message, "tok-SECRET-1", "pw-SECRET-2");
});

Deno.test("auth: nkey_seed + creds_file conflict", () => {
  const message = problemOf(`
[data_source.nats.connection.auth]
nkey_seed = "${SEED}"
creds_file = "/etc/a.creds"
`);
  assert.equal(
    message,
    `data_source.nats.connection.auth ${IN_FILE}: several auth methods set (nkey_seed, creds_file); ${AUTH_EXPECTED}`,
  );
  assertExcludes(message, SEED);
});

Deno.test("auth: jwt + seed + token conflict names jwt+nkey_seed", () => {
  const message = problemOf(`
[transport.nats.auth]
token = "tok-SECRET"
jwt = "${JWT}"
nkey_seed = "${SEED}"
`);
  assert.equal(
    message,
    `transport.nats.auth ${IN_FILE}: several auth methods set (token, jwt+nkey_seed); ${AUTH_EXPECTED}`,
  );
  assertExcludes(message, "tok-SECRET", JWT, SEED);
});

Deno.test("auth: a password alone is a user+password conflict with creds", () => {
  assert.equal(
    problemOf(`[transport.nats.auth]\npassword = "p"\ncreds_file = "c"\n`),
    `transport.nats.auth ${IN_FILE}: several auth methods set (user+password, creds_file); ${AUTH_EXPECTED}`,
  );
});

Deno.test("auth: user without password", () => {
  assert.equal(
    problemOf(`[transport.nats.auth]\nuser = "u"\n`),
    `transport.nats.auth.password ${IN_FILE}: missing: user and password go together`,
  );
});

Deno.test("auth: password without user, password not printed", () => {
  const message = problemOf(
    `[transport.nats.auth]\npassword = "pw-SECRET"\n`,
  );
  assert.equal(
    message,
    `transport.nats.auth.user ${IN_FILE}: missing: user and password go together`,
  );
  assertExcludes(message, "pw-SECRET");
});

Deno.test("auth: jwt without nkey_seed, jwt not printed", () => {
  const message = problemOf(`[transport.nats.auth]\njwt = "${JWT}"\n`);
  assert.equal(
    message,
    `transport.nats.auth.nkey_seed ${IN_FILE}: missing: a jwt needs the user's nkey_seed to sign with`,
  );
  assertExcludes(message, JWT);
});

Deno.test("auth: a bad nkey_seed is hidden", () => {
  for (
    const seed of [
      "SUsecret-too-short",
      `SA${"A".repeat(56)}`, // an account seed, not a user seed
      `SU${"a".repeat(56)}`, // lower case
      `SU${"A".repeat(57)}`,
    ]
  ) {
    const message = problemOf(`[transport.nats.auth]\nnkey_seed = "${seed}"\n`);
    assert.equal(
      message,
      `Invalid value "(hidden)" at transport.nats.auth.nkey_seed ${IN_FILE}: expected a user NKey seed (58 characters starting with "SU")`,
    );
    assertExcludes(message, seed);
  }
});

Deno.test("auth: a bad jwt is hidden", () => {
  const jwt = "not-a-jwt-SECRET";
  const message = problemOf(
    `[transport.nats.auth]\njwt = "${jwt}"\nnkey_seed = "${SEED}"\n`,
  );
  assert.equal(
    message,
    `Invalid value "(hidden)" at transport.nats.auth.jwt ${IN_FILE}: expected a user JWT (three base64url parts separated by ".")`,
  );
  assertExcludes(message, jwt, SEED);
});

Deno.test("auth: a bad seed with a jwt is hidden", () => {
  const message = errorMessageOf(
    `[transport.nats.auth]\njwt = "${JWT}"\nnkey_seed = "SUsecret"\n`,
  );
  assertIncludes(
    message,
    `Invalid value "(hidden)" at transport.nats.auth.nkey_seed ${IN_FILE}: expected a user NKey seed`,
  );
  assertExcludes(message, "SUsecret", JWT);
});

// Regression: the `secret` flag only hides the value when a check function rejects
// it, not when the value has the wrong TOML type (_reader.ts, Section#read).
Deno.test("auth: a secret of the wrong type is not printed either", () => {
  const leaks: string[] = [];
  for (
    const [key, text, secret] of [
      ["password", `user = "u"\npassword = 918273645`, "918273645"],
      ["token", `token = ["tok-SECRET"]`, "tok-SECRET"],
      ["nkey_seed", `nkey_seed = 5550123`, "5550123"],
      ["jwt", `jwt = 8675309\nnkey_seed = "${SEED}"`, "8675309"],
    ]
  ) {
    const message = errorMessageOf(`[transport.nats.auth]\n${text}\n`);
    assertIncludes(message, `transport.nats.auth.${key}`, "expected a string");
    if (message.includes(secret)) leaks.push(message);
  }
  assert.deepEqual(leaks, [], "secret values printed");
});

// ---------------------------------------------------------------------------
// TLS

Deno.test("tls: off by default", () => {
  const config = load("");
  assert.equal(config.transport.nats.tls, undefined);
  assert.equal(config.dataSource.nats.connection.tls, undefined);
});

Deno.test("tls: cert_file without key_file", () => {
  assert.equal(
    problemOf(`[transport.nats.tls]\ncert_file = "c.pem"\n`),
    `transport.nats.tls.key_file ${IN_FILE}: missing: cert_file and key_file go together`,
  );
});

Deno.test("tls: key_file without cert_file", () => {
  assert.equal(
    problemOf(`[data_source.nats.connection.tls]\nkey_file = "k.pem"\n`),
    `data_source.nats.connection.tls.cert_file ${IN_FILE}: missing: cert_file and key_file go together`,
  );
});

Deno.test("tls: every key set", () => {
  assert.deepEqual(
    load(`
[transport.nats.tls]
ca_file = "ca.pem"
cert_file = "c.pem"
key_file = "k.pem"
handshake_first = true
`).transport.nats.tls,
    {
      caFile: "ca.pem",
      certFile: "c.pem",
      keyFile: "k.pem",
      handshakeFirst: true,
    },
  );
});

Deno.test("tls: ca_file alone turns it on", () => {
  assert.deepEqual(
    load(`[data_source.nats.connection.tls]\nca_file = "ca.pem"\n`).dataSource
      .nats.connection.tls,
    {
      caFile: "ca.pem",
      certFile: undefined,
      keyFile: undefined,
      handshakeFirst: false,
    },
  );
});

Deno.test("tls: handshake_first alone turns it on; false alone does not", () => {
  assert.equal(
    load(`[transport.nats.tls]\nhandshake_first = true\n`).transport.nats.tls
      ?.handshakeFirst,
    true,
  );
  assert.equal(
    load(`[transport.nats.tls]\nhandshake_first = false\n`).transport.nats
      .tls,
    undefined,
  );
});

Deno.test("tls: a tls:// server URL turns it on (file and NATS_URL)", () => {
  const tlsOn = {
    caFile: undefined,
    certFile: undefined,
    keyFile: undefined,
    handshakeFirst: false,
  };
  const config = load(
    `[transport.nats]\nservers = ["nats://a:4222", "tls://b:4222"]\n`,
  );
  assert.deepEqual(config.transport.nats.tls, tlsOn);
  assert.equal(config.dataSource.nats.connection.tls, undefined);
  const env = load(BOTH_NATS, { env: { NATS_URL: "tls://b:4222" } });
  assert.deepEqual(env.transport.nats.tls, tlsOn);
  assert.deepEqual(env.dataSource.nats.connection.tls, tlsOn);
});

// Regression: URL schemes are case-insensitive and checkServerUrl accepts
// "TLS://host" (URL lower-cases the protocol), but readTls only looks for
// the literal prefix "tls://", so TLS stays off.
Deno.test("tls: an upper-case TLS:// server URL turns it on too", () => {
  const config = load(`[transport.nats]\nservers = ["TLS://b:4222"]\n`);
  assert.notEqual(config.transport.nats.tls, undefined);
});

// ---------------------------------------------------------------------------
// JetStream

Deno.test("jetstream: every key set", () => {
  assert.deepEqual(
    load(`
[transport.nats.jetstream]
stream_name = "TRADES-1"
subject_prefix = "prod.market"
retention = "interest"
storage = "memory"
max_age = "24h"
max_msgs_per_subject = 100000
max_bytes = "10GiB"
replicas = 3
duplicate_window = "5m"
`).transport.nats.jetstream,
    {
      streamName: "TRADES-1",
      streamExchange: undefined,
      subjectPrefix: "prod.market",
      retention: "interest",
      storage: "memory",
      maxAgeMs: 86_400_000,
      maxMsgsPerSubject: 100000,
      maxBytesPerSubject: undefined,
      maxBytes: 10 * 2 ** 30,
      replicas: 3,
      duplicateWindowMs: 300_000,
    },
  );
});

Deno.test("jetstream: a stream name with a dot", () => {
  assert.equal(
    problemOf(`[transport.nats.jetstream]\nstream_name = "MARKET.DATA"\n`),
    `Invalid value "MARKET.DATA" at transport.nats.jetstream.stream_name ${IN_FILE}: ${NAME_EXPECTED}`,
  );
});

Deno.test("jetstream: a stream name with a path separator, wildcard, space or empty", () => {
  for (const name of ["MARKET/DATA", "MARKET\\\\DATA", "M*", "M>", "M D", ""]) {
    const message = problemOf(
      `[transport.nats.jetstream]\nstream_name = "${name}"\n`,
    );
    assertIncludes(
      message,
      "at transport.nats.jetstream.stream_name",
      NAME_EXPECTED,
    );
  }
});

Deno.test("jetstream: a stream name of 256 characters; 255 is fine", () => {
  assertIncludes(
    problemOf(
      `[transport.nats.jetstream]\nstream_name = "${"S".repeat(256)}"\n`,
    ),
    `Invalid value "${
      "S".repeat(256)
    }" at transport.nats.jetstream.stream_name`,
    NAME_EXPECTED,
  );
  assert.equal(
    load(`[transport.nats.jetstream]\nstream_name = "${"S".repeat(255)}"\n`)
      .transport.nats.jetstream.streamName,
    "S".repeat(255),
  );
});

Deno.test("jetstream: a bad subject prefix", () => {
  for (const prefix of ["market.", ".market", "mar ket", "market.*", "m..x"]) {
    assert.equal(
      problemOf(`[transport.nats.jetstream]\nsubject_prefix = "${prefix}"\n`),
      `Invalid value "${prefix}" at transport.nats.jetstream.subject_prefix ${IN_FILE}: expected non-empty dot-separated tokens without "*", ">", whitespace or control characters`,
    );
  }
});

Deno.test("jetstream: a bad retention suggests the closest", () => {
  assert.equal(
    problemOf(`[transport.nats.jetstream]\nretention = "limit"\n`),
    `Invalid value "limit" at transport.nats.jetstream.retention ${IN_FILE}: expected one of "limits", "interest", "workqueue" (did you mean "limits"?)`,
  );
  assertIncludes(
    problemOf(`[transport.nats.jetstream]\nretention = "work_queue"\n`),
    `(did you mean "workqueue"?)`,
  );
});

Deno.test("jetstream: a bad retention without a close match", () => {
  assert.equal(
    problemOf(`[transport.nats.jetstream]\nretention = "fifo"\n`),
    `Invalid value "fifo" at transport.nats.jetstream.retention ${IN_FILE}: expected one of "limits", "interest", "workqueue"`,
  );
});

Deno.test("jetstream: a bad storage", () => {
  assert.equal(
    problemOf(`[transport.nats.jetstream]\nstorage = "disk"\n`),
    `Invalid value "disk" at transport.nats.jetstream.storage ${IN_FILE}: expected one of "file", "memory"`,
  );
});

Deno.test("jetstream: a bad max_age", () => {
  assert.equal(
    problemOf(`[transport.nats.jetstream]\nmax_age = "forever"\n`),
    `Invalid duration "forever" at transport.nats.jetstream.max_age ${IN_FILE}: expected e.g. "500ms", "30s", "1h", "2h30m"`,
  );
});

Deno.test(`jetstream: max_age "0" keeps forever and allows any duplicate_window`, () => {
  const js = load(`
[transport.nats.jetstream]
max_age = "0"
duplicate_window = "48h"
`).transport.nats.jetstream;
  assert.equal(js.maxAgeMs, 0);
  assert.equal(js.duplicateWindowMs, 172_800_000);
});

Deno.test("jetstream: replicas out of 1..5", () => {
  for (const replicas of [0, 6, -1]) {
    assert.equal(
      problemOf(`[transport.nats.jetstream]\nreplicas = ${replicas}\n`),
      `Invalid value ${replicas} at transport.nats.jetstream.replicas ${IN_FILE}: expected an integer from 1 to 5`,
    );
  }
  for (const replicas of [1, 5]) {
    assert.equal(
      load(`[transport.nats.jetstream]\nreplicas = ${replicas}\n`).transport
        .nats.jetstream.replicas,
      replicas,
    );
  }
});

// The stored size of one single-trade message, by hand (file store):
// 22 + subject + 4 + header + payload 48 + 8, header = 27 + msg-id length + 29 (the run epoch),
// msg id = "{exchange}:{SYMBOL}:18446744073709551615:1:4294967295", longest symbol.

Deno.test("jetstream: max_bytes_per_subject maps onto max_msgs_per_subject (defaults)", () => {
  // subject "market.binance.BTCUSDT.trades" = 29 bytes
  // id "binance:BTCUSDT:18446744073709551615:1:4294967295" = 49 bytes → header 76 + 29
  // 22 + 29 + 4 + 105 + 48 + 8 = 216; 64 MiB = 67108864; 67108864 / 216 = 310689.19
  const js = load(`
[transport.nats.jetstream]
max_bytes_per_subject = "64MiB"
`).transport.nats.jetstream;
  assert.equal(js.maxBytesPerSubject, 67_108_864);
  assert.equal(js.maxMsgsPerSubject, 310_689);
});

Deno.test("jetstream: max_bytes_per_subject is sized by the longest symbol", () => {
  // subject "market.binance.1000SHIBUSDT.trades" = 34 bytes
  // id "binance:1000SHIBUSDT:18446744073709551615:1:4294967295" = 54 bytes → header 81
  // 22 + 34 + 4 + 81 + 29 + 48 + 8 = 226; 67108864 / 226 = 296941.87
  const js = load(`
[data_manager]
symbols = ["BTCUSDT", "1000shibusdt", "ETHUSDT"]
[transport.nats.jetstream]
max_bytes_per_subject = "64MiB"
`).transport.nats.jetstream;
  assert.equal(js.maxMsgsPerSubject, 296_941);
});

Deno.test("jetstream: max_bytes_per_subject uses the exchange and the prefix", () => {
  // subject "prod.market.coinbase.BTCUSDT.trades" = 35 bytes
  // id "coinbase:BTCUSDT:18446744073709551615:1:4294967295" = 50 bytes → header 77
  // 22 + 35 + 4 + 77 + 29 + 48 + 8 = 223; 1000000 / 223 = 4484.30
  const js = load(`
[data_manager]
exchange = "CoinBase"
symbols = ["btcusdt"]
[transport.nats.jetstream]
subject_prefix = "prod.market"
max_bytes_per_subject = "1MB"
`).transport.nats.jetstream;
  assert.equal(js.maxBytesPerSubject, 1_000_000);
  assert.equal(js.maxMsgsPerSubject, 4_484);
});

Deno.test("jetstream: max_bytes_per_subject with memory storage", () => {
  // memory store: subject 29 + header 76 + 29 + payload 48 + 16 = 198
  // 67108864 / 198 = 338933.66
  const js = load(`
[transport.nats.jetstream]
storage = "memory"
max_bytes_per_subject = 67108864
`).transport.nats.jetstream;
  assert.equal(js.maxMsgsPerSubject, 338_933);
});

Deno.test("jetstream: a per-subject budget below one message keeps one", () => {
  for (const budget of [0, 1, 215]) {
    assert.equal(
      load(`[transport.nats.jetstream]\nmax_bytes_per_subject = ${budget}\n`)
        .transport.nats.jetstream.maxMsgsPerSubject,
      1,
    );
  }
  assert.equal(
    load(`[transport.nats.jetstream]\nmax_bytes_per_subject = 432\n`)
      .transport.nats.jetstream.maxMsgsPerSubject,
    2,
  );
});

Deno.test("jetstream: max_bytes_per_subject = -1 is unlimited and not mapped", () => {
  const js = load(`
[transport.nats.jetstream]
max_bytes_per_subject = -1
max_msgs_per_subject = 500
`).transport.nats.jetstream;
  assert.equal(js.maxBytesPerSubject, undefined);
  assert.equal(js.maxMsgsPerSubject, 500);
});

Deno.test("jetstream: max_bytes_per_subject and max_msgs_per_subject together", () => {
  assert.equal(
    problemOf(`
[transport.nats.jetstream]
max_bytes_per_subject = "64MiB"
max_msgs_per_subject = 1000
`),
    `transport.nats.jetstream.max_bytes_per_subject ${IN_FILE}: set either max_bytes_per_subject or max_msgs_per_subject, not both`,
  );
});

Deno.test("jetstream: a bad max_bytes_per_subject", () => {
  for (
    const [toml, shown] of [[`"64 MeB"`, `"64 MeB"`], [`-5`, `-5`], [
      `"-1"`,
      `"-1"`,
    ], [`1.5`, `1.5`]]
  ) {
    assert.equal(
      problemOf(
        `[transport.nats.jetstream]\nmax_bytes_per_subject = ${toml}\n`,
      ),
      `Invalid byte size ${shown} at transport.nats.jetstream.max_bytes_per_subject ${IN_FILE}: expected a whole number of bytes, e.g. 1048576, "512KiB", "64MiB", "1GB"`,
    );
  }
});

Deno.test("jetstream: max_msgs_per_subject range", () => {
  assert.equal(
    problemOf(`[transport.nats.jetstream]\nmax_msgs_per_subject = -2\n`),
    `Invalid value -2 at transport.nats.jetstream.max_msgs_per_subject ${IN_FILE}: expected an integer from -1 to 9007199254740991`,
  );
  assert.equal(
    load(`[transport.nats.jetstream]\nmax_msgs_per_subject = -1\n`).transport
      .nats.jetstream.maxMsgsPerSubject,
    -1,
  );
});

Deno.test("jetstream: max_bytes as a byte string, a number and -1", () => {
  const maxBytes = (value: string) =>
    load(`[transport.nats.jetstream]\nmax_bytes = ${value}\n`).transport.nats
      .jetstream.maxBytes;
  assert.equal(maxBytes(`"10GiB"`), 10_737_418_240);
  assert.equal(maxBytes(`"1GB"`), 1_000_000_000);
  assert.equal(maxBytes(`"512 kib"`), 524_288);
  assert.equal(maxBytes(`1048576`), 1_048_576);
  assert.equal(maxBytes(`-1`), -1);
});

Deno.test("jetstream: a bad max_bytes", () => {
  for (const value of [`"10 gigs"`, `"-1"`, `-2`, `""`]) {
    assert.equal(
      problemOf(`[transport.nats.jetstream]\nmax_bytes = ${value}\n`),
      `Invalid byte size ${value} at transport.nats.jetstream.max_bytes ${IN_FILE}: expected a whole number of bytes, e.g. 1048576, "512KiB", "64MiB", "1GB"`,
    );
  }
});

Deno.test("jetstream: duplicate_window greater than max_age", () => {
  assert.equal(
    problemOf(`
[transport.nats.jetstream]
max_age = "1m"
duplicate_window = "5m"
`),
    `transport.nats.jetstream.duplicate_window ${IN_FILE}: 5m exceeds max_age 1m: expected a window no longer than max_age`,
  );
  assert.equal(
    load(`
[transport.nats.jetstream]
max_age = "1m"
duplicate_window = "60s"
`).transport.nats.jetstream.duplicateWindowMs,
    60_000,
  );
});

Deno.test("jetstream: duplicate_window against the default max_age (1h)", () => {
  assert.equal(
    problemOf(`[transport.nats.jetstream]\nduplicate_window = "2h"\n`),
    `transport.nats.jetstream.duplicate_window ${IN_FILE}: 2h exceeds max_age 1h: expected a window no longer than max_age`,
  );
});

// Regression: duplicate_window was not set, yet its default (2m) is checked against
// a short max_age and blamed on the file; nats-server itself lowers the
// default window to max_age in that case.
Deno.test("jetstream: a max_age under 2m alone is valid (default duplicate_window follows it)", () => {
  const js = load(`[transport.nats.jetstream]\nmax_age = "1m"\n`).transport
    .nats.jetstream;
  assert.equal(js.maxAgeMs, 60_000);
  assert.equal(js.duplicateWindowMs, 60_000);
});

// ---------------------------------------------------------------------------
// IPC

Deno.test("ipc: capacity not a power of two", () => {
  assert.equal(
    problemOf(`[transport.ipc]\ncapacity = 100\n`),
    `transport.ipc.capacity ${IN_FILE}: invalid value 100: expected a power of two, e.g. 65536`,
  );
});

Deno.test("ipc: capacity out of 64..16777216", () => {
  for (const capacity of [32, 0, -64, 33554432]) {
    assert.equal(
      problemOf(`[transport.ipc]\ncapacity = ${capacity}\n`),
      `Invalid value ${capacity} at transport.ipc.capacity ${IN_FILE}: expected an integer from 64 to 16777216`,
    );
  }
  for (const capacity of [64, 16777216]) {
    assert.equal(
      load(`[transport.ipc]\ncapacity = ${capacity}\n`).transport.ipc.capacity,
      capacity,
    );
  }
});

Deno.test("ipc: a bad shm_path_prefix (publisher and consumer)", () => {
  assert.deepEqual(
    problemsOf(`
[transport.ipc]
shm_path_prefix = "marketbus_"
[data_source.ipc]
shm_path_prefix = "/a/b"
`),
    [
      `Invalid value "marketbus_" at transport.ipc.shm_path_prefix ${IN_FILE}: ${SHM_EXPECTED}`,
      `Invalid value "/a/b" at data_source.ipc.shm_path_prefix ${IN_FILE}: ${SHM_EXPECTED}`,
    ],
  );
  assertIncludes(
    problemOf(`[transport.ipc]\nshm_path_prefix = "/${"a".repeat(201)}"\n`),
    SHM_EXPECTED,
  );
});

Deno.test("ipc: every key set", () => {
  const config = load(`
[transport.ipc]
enabled = false
shm_path_prefix = "/mb.test-1_"
capacity = 1024
heartbeat_interval = "250ms"
max_tether_timeout = "2s"
backlog = 4096
wait_for_readers = 2
[data_source.ipc]
shm_path_prefix = "/"
wait = "spin"
from = "oldest"
spin = "50us"
stale_after = "1m"
delivery = "tethered"
tether_timeout = "1.5s"
publisher_uid = 1001
`);
  assert.deepEqual(config.transport.ipc, {
    enabled: false,
    shmPathPrefix: "/mb.test-1_",
    capacity: 1024,
    heartbeatIntervalMs: 250,
    maxTetherTimeoutMs: 2000,
    backlog: 4096,
    waitForReaders: 2,
  });
  assert.deepEqual(config.dataSource.ipc, {
    shmPathPrefix: "/",
    wait: "spin",
    from: "oldest",
    spinMs: 0.05,
    staleAfterMs: 60_000,
    delivery: "tethered",
    tetherTimeoutMs: 1500,
    publisherUid: 1001,
  });
});

Deno.test("ipc source: publisher_uid is a uid, 0 to 4294967294", () => {
  for (const uid of [0, 4_294_967_294]) {
    assert.equal(
      load(`[data_source.ipc]\npublisher_uid = ${uid}\n`).dataSource.ipc
        .publisherUid,
      uid,
    );
  }
  for (const bad of ["-1", "4294967295", "1.5", '"mallory"']) {
    assert.equal(
      problemOf(`[data_source.ipc]\npublisher_uid = ${bad}\n`),
      `Invalid value ${bad} at data_source.ipc.publisher_uid ${IN_FILE}: expected an integer from 0 to 4294967294`,
    );
  }
});

Deno.test("ipc: heartbeat_interval from 1ms to 10s", () => {
  for (const [text, ms] of [["1ms", 1], ["10s", 10_000], ["2.5s", 2500]]) {
    assert.equal(
      load(`[transport.ipc]\nheartbeat_interval = "${text}"\n`).transport.ipc
        .heartbeatIntervalMs,
      ms,
    );
  }
  for (const text of ["0", "999us", "10s1ns", "1m"]) {
    assert.equal(
      problemOf(`[transport.ipc]\nheartbeat_interval = "${text}"\n`),
      `transport.ipc.heartbeat_interval ${IN_FILE}: invalid duration "${text}": expected a duration from 1ms to 10s`,
    );
  }
});

Deno.test("ipc: heartbeat_interval that is not a duration", () => {
  assert.equal(
    problemOf(`[transport.ipc]\nheartbeat_interval = 100\n`),
    `Invalid duration 100 at transport.ipc.heartbeat_interval ${IN_FILE}: expected a duration string, e.g. "500ms", "30s", "1h", "2h30m"`,
  );
});

const IPC_SOURCE = "[data_source.ipc]\n";

Deno.test("ipc source: each wait strategy and start position", () => {
  for (const wait of ["spin", "backoff", "yield"] as const) {
    assert.equal(
      load(`${IPC_SOURCE}wait = "${wait}"\n`).dataSource.ipc.wait,
      wait,
    );
  }
  for (const from of ["newest", "oldest"] as const) {
    assert.equal(
      load(`${IPC_SOURCE}from = "${from}"\n`).dataSource.ipc.from,
      from,
    );
  }
});

Deno.test("ipc source: a bad wait or from, with and without a suggestion", () => {
  assert.equal(
    problemOf(`${IPC_SOURCE}wait = "backof"\n`),
    `Invalid value "backof" at data_source.ipc.wait ${IN_FILE}: expected one of "spin", "backoff", "yield" (did you mean "backoff"?)`,
  );
  assert.equal(
    problemOf(`${IPC_SOURCE}wait = 1\n`),
    `Invalid value 1 at data_source.ipc.wait ${IN_FILE}: expected a string`,
  );
  assert.equal(
    problemOf(`${IPC_SOURCE}from = "start"\n`),
    `Invalid value "start" at data_source.ipc.from ${IN_FILE}: expected one of "newest", "oldest"`,
  );
});

Deno.test("ipc source: spin from 0 to 10ms, in fractional ms", () => {
  for (const [text, ms] of [["0", 0], ["500ns", 0.0005], ["10ms", 10]]) {
    assert.equal(
      load(`${IPC_SOURCE}spin = "${text}"\n`).dataSource.ipc.spinMs,
      ms,
    );
  }
  assert.equal(
    problemOf(`${IPC_SOURCE}spin = "11ms"\n`),
    `data_source.ipc.spin ${IN_FILE}: invalid duration "11ms": expected a duration from 0s to 10ms`,
  );
  assert.equal(
    problemOf(`${IPC_SOURCE}spin = "20 us"\n`),
    `Invalid duration "20 us" at data_source.ipc.spin ${IN_FILE}: expected e.g. "500ms", "30s", "1h", "2h30m"`,
  );
});

Deno.test("ipc source: stale_after of at least 100ms", () => {
  assert.equal(
    load(`${IPC_SOURCE}stale_after = "100ms"\n`).dataSource.ipc.staleAfterMs,
    100,
  );
  for (const text of ["0", "99ms"]) {
    assert.equal(
      problemOf(`${IPC_SOURCE}stale_after = "${text}"\n`),
      `data_source.ipc.stale_after ${IN_FILE}: invalid duration "${text}": expected a duration of at least 100ms`,
    );
  }
});

Deno.test("ipc source: an out-of-range override names the flag", () => {
  assert.equal(
    problemOf(undefined, {
      overrides: [{
        key: "data_source.ipc.stale_after",
        value: "1ms",
        origin: "--x",
      }],
    }),
    `data_source.ipc.stale_after (from --x): invalid duration "1ms": expected a duration of at least 100ms`,
  );
});

// ---------------------------------------------------------------------------
// Trade limits and the synthetic source

const SYNTHETIC = "[data_manager.synthetic]\n";
const COUNT_EXPECTED = "expected an integer from 0 to 9007199254740991";

Deno.test("max_trades: publisher and consumer, 0 up to the largest exact integer", () => {
  for (const value of [0, 1, 9007199254740991]) {
    const config = load(`
[data_manager]
max_trades = ${value}
[data_source]
max_trades = ${value}
`);
    assert.equal(config.dataManager.maxTrades, value);
    assert.equal(config.dataSource.maxTrades, value);
  }
});

Deno.test("max_trades: negative, fractional or a string", () => {
  assert.deepEqual(
    problemsOf(`
[data_manager]
max_trades = -1
[data_source]
max_trades = 1.5
`),
    [
      `Invalid value -1 at data_manager.max_trades ${IN_FILE}: ${COUNT_EXPECTED}`,
      `Invalid value 1.5 at data_source.max_trades ${IN_FILE}: ${COUNT_EXPECTED}`,
    ],
  );
  assert.equal(
    problemOf(`[data_source]\nmax_trades = "10"\n`),
    `Invalid value "10" at data_source.max_trades ${IN_FILE}: ${COUNT_EXPECTED}`,
  );
});

Deno.test("synthetic: every key set", () => {
  assert.deepEqual(
    load(`
${SYNTHETIC}seed = 4294967295
rate = 2.5
burst_size = 500
burst_interval = "250ms"
first_trade_id = 9007199254740991
`).dataManager.synthetic,
    {
      seed: 4294967295,
      rate: 2.5,
      burstSize: 500,
      burstIntervalMs: 250,
      firstTradeId: 9007199254740991,
    },
  );
});

Deno.test("synthetic: seed, burst_size and first_trade_id 0 are valid", () => {
  assert.deepEqual(
    load(`${SYNTHETIC}seed = 0\nburst_size = 0\nfirst_trade_id = 0\n`)
      .dataManager.synthetic,
    { ...DEFAULT_CONFIG.dataManager.synthetic, seed: 0, firstTradeId: 0 },
  );
});

Deno.test("synthetic: seed outside 0..2^32-1", () => {
  for (const value of ["-1", "4294967296", "1.5", `"1"`]) {
    assert.equal(
      problemOf(`${SYNTHETIC}seed = ${value}\n`),
      `Invalid value ${value} at data_manager.synthetic.seed ${IN_FILE}: expected an integer from 0 to 4294967295`,
    );
  }
});

Deno.test("synthetic: rate is any number from 0, integer or not", () => {
  for (const value of [0, 1, 0.25, 1e6]) {
    assert.equal(
      load(`${SYNTHETIC}rate = ${value}\n`).dataManager.synthetic.rate,
      value,
    );
  }
});

Deno.test("synthetic: a negative, string, boolean or non-finite rate", () => {
  for (
    const [toml, shown] of [
      ["-1", "-1"],
      ["-0.5", "-0.5"],
      [`"fast"`, `"fast"`],
      [`"1000"`, `"1000"`],
      ["true", "true"],
    ]
  ) {
    assert.equal(
      problemOf(`${SYNTHETIC}rate = ${toml}\n`),
      `Invalid value ${shown} at data_manager.synthetic.rate ${IN_FILE}: expected a number, 0 or more`,
    );
  }
  for (const toml of ["inf", "-inf", "nan"]) {
    assertIncludes(
      problemOf(`${SYNTHETIC}rate = ${toml}\n`),
      `at data_manager.synthetic.rate ${IN_FILE}: expected a number, 0 or more`,
    );
  }
});

Deno.test("synthetic: burst_size below 0 or fractional", () => {
  for (const value of ["-1", "2.5"]) {
    assert.equal(
      problemOf(`${SYNTHETIC}burst_size = ${value}\n`),
      `Invalid value ${value} at data_manager.synthetic.burst_size ${IN_FILE}: ${COUNT_EXPECTED}`,
    );
  }
});

Deno.test("synthetic: bursts need a rate above 0", () => {
  assert.equal(
    problemOf(`${SYNTHETIC}rate = 0\nburst_size = 10\n`),
    `data_manager.synthetic.burst_size ${IN_FILE}: invalid value 10 with rate = 0: expected 0, since rate 0 already publishes as fast as possible`,
  );
  assert.equal(
    load(`${SYNTHETIC}rate = 0\nburst_size = 0\n`).dataManager.synthetic
      .rate,
    0,
  );
});

Deno.test("synthetic: burst_interval must be more than 0", () => {
  assert.equal(
    load(`${SYNTHETIC}burst_interval = "1ns"\n`).dataManager.synthetic
      .burstIntervalMs,
    1e-6,
  );
  assert.equal(
    problemOf(`${SYNTHETIC}burst_interval = "0"\n`),
    `data_manager.synthetic.burst_interval ${IN_FILE}: invalid duration "0": expected a duration of at least 1ns`,
  );
  assert.equal(
    problemOf(`${SYNTHETIC}burst_interval = 1\n`),
    `Invalid duration 1 at data_manager.synthetic.burst_interval ${IN_FILE}: expected a duration string, e.g. "500ms", "30s", "1h", "2h30m"`,
  );
});

Deno.test("synthetic: first_trade_id negative, too large or a string", () => {
  for (const value of ["-1", "1.5", `"7"`]) {
    assert.equal(
      problemOf(`${SYNTHETIC}first_trade_id = ${value}\n`),
      `Invalid value ${value} at data_manager.synthetic.first_trade_id ${IN_FILE}: ${COUNT_EXPECTED}`,
    );
  }
  assert.equal(
    problemOf(undefined, {
      overrides: [{
        key: "data_manager.synthetic.first_trade_id",
        value: 2 ** 53,
        origin: "--x",
      }],
    }),
    `Invalid value 9007199254740992 at data_manager.synthetic.first_trade_id (from --x): ${COUNT_EXPECTED}`,
  );
});

Deno.test("synthetic: a bad rate override names the flag", () => {
  assert.equal(
    problemOf(undefined, {
      overrides: [{
        key: "data_manager.synthetic.rate",
        value: "fast",
        origin: "--rate",
      }],
    }),
    `Invalid value "fast" at data_manager.synthetic.rate (from --rate): expected a number, 0 or more`,
  );
});

// ---------------------------------------------------------------------------
// Consumer

const CONSUMER = "[data_source.nats.consumer]\n";

Deno.test("consumer: durable_name absent is undefined (ordered consumer)", () => {
  assert.equal(load("").dataSource.nats.consumer.durableName, undefined);
  assert.equal(
    load(`${CONSUMER}durable_name = "tc-1"\n`).dataSource.nats.consumer
      .durableName,
    "tc-1",
  );
});

Deno.test("consumer: a bad durable_name", () => {
  assert.equal(
    problemOf(`${CONSUMER}durable_name = "tc.1"\n`),
    `Invalid value "tc.1" at data_source.nats.consumer.durable_name ${IN_FILE}: ${NAME_EXPECTED}`,
  );
});

Deno.test("consumer: each deliver and replay policy", () => {
  for (const deliver of ["all", "new", "last", "last_per_subject"] as const) {
    assert.equal(
      load(`${CONSUMER}deliver = "${deliver}"\n`).dataSource.nats.consumer
        .deliver,
      deliver,
    );
  }
  for (const replay of ["instant", "original"] as const) {
    assert.equal(
      load(`${CONSUMER}replay = "${replay}"\n`).dataSource.nats.consumer
        .replay,
      replay,
    );
  }
});

Deno.test("consumer: a bad deliver suggests the closest", () => {
  assert.equal(
    problemOf(`${CONSUMER}deliver = "lastt"\n`),
    `Invalid value "lastt" at data_source.nats.consumer.deliver ${IN_FILE}: expected one of "all", "new", "last", "last_per_subject", "by_start_time", "by_start_sequence" (did you mean "last"?)`,
  );
});

Deno.test("consumer: a bad replay", () => {
  assert.equal(
    problemOf(`${CONSUMER}replay = "fast"\n`),
    `Invalid value "fast" at data_source.nats.consumer.replay ${IN_FILE}: expected one of "instant", "original"`,
  );
});

Deno.test("consumer: by_start_time with a TOML datetime or an RFC 3339 string", () => {
  const at = Date.parse("2026-11-26T09:30:00Z");
  for (
    const value of [
      "2026-11-26T09:30:00Z",
      "2026-11-26T10:30:00+01:00",
      `"2026-11-26T09:30:00Z"`,
    ]
  ) {
    const consumer = load(
      `${CONSUMER}deliver = "by_start_time"\nstart_time = ${value}\n`,
    ).dataSource.nats.consumer;
    assert.equal(consumer.deliver, "by_start_time");
    assert.equal(consumer.startTime?.getTime(), at);
  }
});

Deno.test("consumer: by_start_time without start_time", () => {
  assert.equal(
    problemOf(`${CONSUMER}deliver = "by_start_time"\n`),
    `data_source.nats.consumer.start_time ${IN_FILE}: missing: deliver = "by_start_time" needs start_time`,
  );
});

Deno.test("consumer: start_time (TOML datetime) without by_start_time", () => {
  assert.equal(
    problemOf(`${CONSUMER}start_time = 2026-11-26T09:30:00Z\n`),
    `data_source.nats.consumer.start_time ${IN_FILE}: only used with deliver = "by_start_time" (deliver is "new")`,
  );
});

Deno.test("consumer: start_time (string) without by_start_time", () => {
  assert.equal(
    problemOf(
      `${CONSUMER}deliver = "all"\nstart_time = "2026-11-26T09:30:00Z"\n`,
    ),
    `data_source.nats.consumer.start_time ${IN_FILE}: only used with deliver = "by_start_time" (deliver is "all")`,
  );
});

Deno.test("consumer: a start_time that is not a time", () => {
  assert.deepEqual(
    problemsOf(`${CONSUMER}deliver = "by_start_time"\nstart_time = "soon"\n`),
    [
      // not also "missing": it is there, only not a time
      `data_source.nats.consumer.start_time ${IN_FILE}: invalid time "soon": expected an RFC 3339 time with a zone, such as 2026-11-26T09:30:00Z`,
    ],
  );
  assertIncludes(
    problemsOf(`${CONSUMER}deliver = "by_start_time"\nstart_time = 5\n`)[0],
    "data_source.nats.consumer.start_time",
    "invalid time 5: expected an RFC 3339 time",
  );
});

// Regression: readStartTime passes strings to `new Date(text)`, which accepts far
// more than RFC 3339 ("1" is 2001-01-01, "December 17, 1995" too).
Deno.test("consumer: a start_time string that is not RFC 3339 is rejected", () => {
  for (const text of ["1", "December 17, 1995 03:24:00"]) {
    const message = errorMessageOf(
      `${CONSUMER}deliver = "by_start_time"\nstart_time = "${text}"\n`,
    );
    assertIncludes(
      message,
      "data_source.nats.consumer.start_time",
      `"${text}"`,
      "expected an RFC 3339 time",
    );
  }
});

// Regression: a TOML local time (no date) is a Date too, so it is accepted as the
// start time 0000-01-01T09:30:00Z.
Deno.test("consumer: a TOML local time is not a start_time", () => {
  assertIncludes(
    errorMessageOf(
      `${CONSUMER}deliver = "by_start_time"\nstart_time = 09:30:00\n`,
    ),
    "data_source.nats.consumer.start_time",
    "expected an RFC 3339 time",
  );
});

Deno.test("consumer: by_start_sequence with and without start_sequence", () => {
  const consumer = load(
    `${CONSUMER}deliver = "by_start_sequence"\nstart_sequence = 42\n`,
  ).dataSource.nats.consumer;
  assert.equal(consumer.deliver, "by_start_sequence");
  assert.equal(consumer.startSequence, 42);
  assert.equal(
    problemOf(`${CONSUMER}deliver = "by_start_sequence"\n`),
    `data_source.nats.consumer.start_sequence ${IN_FILE}: missing: deliver = "by_start_sequence" needs start_sequence`,
  );
});

Deno.test("consumer: start_sequence without by_start_sequence", () => {
  assert.equal(
    problemOf(`${CONSUMER}deliver = "last"\nstart_sequence = 5\n`),
    `data_source.nats.consumer.start_sequence ${IN_FILE}: only used with deliver = "by_start_sequence" (deliver is "last")`,
  );
});

Deno.test("consumer: start_sequence below 1", () => {
  assert.equal(
    problemOf(`${CONSUMER}deliver = "by_start_sequence"\nstart_sequence = 0\n`),
    `Invalid value 0 at data_source.nats.consumer.start_sequence ${IN_FILE}: expected an integer from 1 to 9007199254740991`,
  );
});

Deno.test("consumer: max_ack_pending range", () => {
  for (const value of [0, 2147483648]) {
    assert.equal(
      problemOf(`${CONSUMER}max_ack_pending = ${value}\n`),
      `Invalid value ${value} at data_source.nats.consumer.max_ack_pending ${IN_FILE}: expected an integer from 1 to 2147483647`,
    );
  }
  assert.equal(
    load(`${CONSUMER}max_ack_pending = 1\n`).dataSource.nats.consumer
      .maxAckPending,
    1,
  );
});

Deno.test("consumer: ack_wait", () => {
  assert.equal(
    load(`${CONSUMER}ack_wait = "1m30s"\n`).dataSource.nats.consumer
      .ackWaitMs,
    90_000,
  );
  assert.equal(
    problemOf(`${CONSUMER}ack_wait = "0"\n`),
    `data_source.nats.consumer.ack_wait ${IN_FILE}: invalid duration "0": expected a duration of at least 1ms`,
  );
  assert.equal(
    problemOf(`${CONSUMER}ack_wait = "30 s"\n`),
    `Invalid duration "30 s" at data_source.nats.consumer.ack_wait ${IN_FILE}: expected e.g. "500ms", "30s", "1h", "2h30m"`,
  );
});

// ---------------------------------------------------------------------------
// The seed's replay_policy

const SEED_WARNING = "data_source.nats.consumer.replay_policy";

Deno.test(`seed replay_policy "Instant" → deliver = "all", replay = "instant", with one warning`, () => {
  const config = load(`${CONSUMER}replay_policy = "Instant"\n`);
  assert.equal(config.dataSource.nats.consumer.replay, "instant");
  assert.equal(config.dataSource.nats.consumer.deliver, "all");
  assert.deepEqual(config.warnings, [
    `${SEED_WARNING} is a legacy key: write deliver = "all" and replay = "instant" instead of replay_policy = "Instant"`,
  ]);
});

Deno.test(`seed replay_policy "Original" → deliver = "all", replay = "original", with one warning`, () => {
  const config = load(`${CONSUMER}replay_policy = "Original"\n`);
  assert.equal(config.dataSource.nats.consumer.replay, "original");
  assert.equal(config.dataSource.nats.consumer.deliver, "all");
  assert.deepEqual(config.warnings, [
    `${SEED_WARNING} is a legacy key: write deliver = "all" and replay = "original" instead of replay_policy = "Original"`,
  ]);
});

Deno.test("seed replay_policy { ByStartTime } → deliver = by_start_time, with one warning", () => {
  for (
    const value of [
      "2026-11-26T09:30:00Z",
      `"2026-11-26T09:30:00Z"`,
    ]
  ) {
    const config = load(
      `${CONSUMER}replay_policy = { ByStartTime = ${value} }\n`,
    );
    const consumer = config.dataSource.nats.consumer;
    assert.equal(consumer.deliver, "by_start_time");
    assert.equal(
      consumer.startTime?.getTime(),
      Date.parse("2026-11-26T09:30:00Z"),
    );
    assert.equal(consumer.replay, "instant");
    assert.deepEqual(config.warnings, [
      `${SEED_WARNING} is a legacy key: write deliver = "by_start_time" and start_time = 2026-11-26T09:30:00.000Z instead of replay_policy = { ByStartTime = ... }`,
    ]);
  }
});

Deno.test("seed replay_policy with deliver, replay or start_sequence is an error", () => {
  for (
    const [key, value] of [
      ["deliver", `"all"`],
      ["replay", `"instant"`],
      ["start_sequence", "5"],
    ]
  ) {
    assert.equal(
      problemOf(`${CONSUMER}replay_policy = "Instant"\n${key} = ${value}\n`),
      `${SEED_WARNING} ${IN_FILE}: the seed's replay_policy cannot be combined with ${key}: use deliver, replay and start_time or start_sequence only`,
    );
  }
});

Deno.test("seed replay_policy with a --deliver flag is an error", () => {
  assertIncludes(
    problemOf(`${CONSUMER}replay_policy = "Original"\n`, {
      overrides: [{
        key: "data_source.nats.consumer.deliver",
        value: "all",
        origin: "--deliver",
      }],
    }),
    "cannot be combined with deliver:",
  );
});

Deno.test("seed replay_policy: bad forms", () => {
  const expected =
    `expected "Instant", "Original" or { ByStartTime = 2026-11-26T09:30:00Z } (or, better, the keys deliver and replay)`;
  for (
    const [toml, shown] of [
      [`"instant"`, `"instant"`],
      [`"ByStartTime"`, `"ByStartTime"`],
      [`5`, `5`],
      [`{ ByStartSequence = 5 }`, `{"ByStartSequence":5}`],
      [`{ ByStartTime = "soon" }`, `{"ByStartTime":"soon"}`],
      [
        `{ ByStartTime = 2026-11-26T09:30:00Z, Extra = 1 }`,
        `{"ByStartTime":"2026-11-26T09:30:00.000Z","Extra":1}`,
      ],
    ]
  ) {
    assert.equal(
      problemOf(`${CONSUMER}replay_policy = ${toml}\n`),
      `${SEED_WARNING} ${IN_FILE}: invalid value ${shown}: ${expected}`,
    );
  }
});

// With { ByStartTime }, a start_time next to it is a conflict, not an unknown key.
Deno.test("seed replay_policy { ByStartTime } with start_time is a conflict, not an unknown key", () => {
  const message = problemOf(`
${CONSUMER}replay_policy = { ByStartTime = 2026-11-26T09:30:00Z }
start_time = 2026-11-26T09:30:00Z
`);
  assertExcludes(message, "unknown key");
  assertIncludes(message, "data_source.nats.consumer");
});

// ---------------------------------------------------------------------------
// Log level

Deno.test("log: each level", () => {
  for (const level of ["debug", "info", "warn", "error"] as const) {
    assert.equal(load(`[log]\nlevel = "${level}"\n`).log.level, level);
  }
});

Deno.test(`log: progress_interval "0" (off) or at least 100ms`, () => {
  for (const [text, ms] of [["0", 0], ["100ms", 100], ["1m", 60_000]]) {
    assert.equal(
      load(`[log]\nprogress_interval = "${text}"\n`).log.progressIntervalMs,
      ms,
    );
  }
  for (const text of ["1ns", "99ms"]) {
    assert.equal(
      problemOf(`[log]\nprogress_interval = "${text}"\n`),
      `log.progress_interval ${IN_FILE}: invalid duration "${text}": expected "0" (off) or a duration of at least 100ms`,
    );
  }
  assert.equal(
    problemOf(`[log]\nprogress_interval = 0\n`),
    `Invalid duration 0 at log.progress_interval ${IN_FILE}: expected a duration string, e.g. "500ms", "30s", "1h", "2h30m"`,
  );
});

Deno.test("log: a bad level, with and without a suggestion", () => {
  assert.equal(
    problemOf(`[log]\nlevel = "wrn"\n`),
    `Invalid value "wrn" at log.level ${IN_FILE}: expected one of "debug", "info", "warn", "error" (did you mean "warn"?)`,
  );
  assert.equal(
    problemOf(`[log]\nlevel = "verbose"\n`),
    `Invalid value "verbose" at log.level ${IN_FILE}: expected one of "debug", "info", "warn", "error"`,
  );
});

// ---------------------------------------------------------------------------
// Invalid TOML, several problems, ConfigError

Deno.test("toml: a syntax error names the file, line and column", () => {
  assert.equal(
    problemOf(`[log]\nlevel = = "info"\n`),
    `Invalid TOML in ${FILE} at line 2, column 9: Invalid TOML document: invalid value`,
  );
});

Deno.test("toml: a redefined table", () => {
  assert.equal(
    problemOf(`[log]\nlevel = "info"\n[log]\n`),
    `Invalid TOML in ${FILE} at line 3, column 2: Invalid TOML document: trying to redefine an already defined table or value`,
  );
});

Deno.test("toml: without a file name, says config", () => {
  assertIncludes(
    problemOf(`x = `, { file: undefined }),
    "Invalid TOML in config at line 1, column 5:",
  );
});

Deno.test("several problems are reported together in one ConfigError", () => {
  let caught: unknown;
  try {
    load(
      `
[data_manager]
exchange = "a b"
symbolz = ["BTCUSDT"]
[transport.ipc]
capacity = 100
[transport.nats]
enabled = true
[transport.nats.jetstream]
retention = "limit"
[data_source]
type = "nats"
[log]
level = "loud"
`,
      { env: { NATS_URL: "http://h:1" } },
    );
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError);
  const expected = [
    `Invalid value "a b" at data_manager.exchange ${IN_FILE}: ${TOKEN_EXPECTED}`,
    `data_manager.symbolz ${IN_FILE}: unknown key (did you mean "symbols"?)`,
    `Invalid server "http://h:1" at transport.nats.servers[0] (from NATS_URL): expected the scheme nats:// or tls://, got "http://"`,
    `Invalid value "limit" at transport.nats.jetstream.retention ${IN_FILE}: expected one of "limits", "interest", "workqueue" (did you mean "limits"?)`,
    `transport.ipc.capacity ${IN_FILE}: invalid value 100: expected a power of two, e.g. 65536`,
    `Invalid server "http://h:1" at data_source.nats.connection.servers[0] (from NATS_URL): expected the scheme nats:// or tls://, got "http://"`,
    `Invalid value "loud" at log.level ${IN_FILE}: expected one of "debug", "info", "warn", "error"`,
  ];
  assert.deepEqual(caught.problems, expected);
  assert.equal(
    caught.message,
    `7 configuration problems:\n  - ${expected.join("\n  - ")}`,
  );
});

Deno.test("ConfigError: one problem is the message; name and class", () => {
  const error = new ConfigError(["only one"]);
  assert.ok(error instanceof Error);
  assert.equal(error.name, "ConfigError");
  assert.equal(error.message, "only one");
  assert.deepEqual(error.problems, ["only one"]);
  assert.equal(
    new ConfigError(["a", "b"]).message,
    "2 configuration problems:\n  - a\n  - b",
  );
});

Deno.test("parseConfig does not modify the overrides it is given", () => {
  const value = ["btcusdt"];
  const overrides = [{ key: "data_manager.symbols", value, origin: "--s" }];
  load("", { overrides });
  assert.deepEqual(value, ["btcusdt"]);
  assert.equal(overrides.length, 1);
});

Deno.test("nats publish: defaults, every key set, and the bounds", () => {
  assert.deepEqual(load("").transport.nats.publish, {
    maxInFlight: 256,
    batchMaxTrades: 64,
    queueMaxTrades: 1_000_000,
    flushTimeoutMs: 5000,
  });
  assert.deepEqual(
    load(`[transport.nats.publish]
max_in_flight = 1
batch_max_trades = 1
queue_max_trades = 10
flush_timeout = "250ms"
`).transport.nats.publish,
    {
      maxInFlight: 1,
      batchMaxTrades: 1,
      queueMaxTrades: 10,
      flushTimeoutMs: 250,
    },
  );
  for (
    const [key, value] of [
      ["max_in_flight", "0"],
      ["max_in_flight", "100001"],
      ["batch_max_trades", "0"],
      ["batch_max_trades", "4097"],
      ["queue_max_trades", "0"],
    ]
  ) {
    assertIncludes(
      problemOf(`[transport.nats.publish]\n${key} = ${value}\n`),
      `transport.nats.publish.${key}`,
    );
  }
  assertIncludes(
    problemOf(`[transport.nats.publish]\nbatch = 3\n`),
    "transport.nats.publish.batch",
  );
});

Deno.test("data_source.nats: stream name and subject prefix, checked like the publisher's", () => {
  const { nats } = load("").dataSource;
  assert.equal(nats.streamName, "MARKET_DATA");
  assert.equal(nats.subjectPrefix, "market");
  const set = load(`[data_source.nats]
stream_name = "TRADES"
subject_prefix = "prod.market"
`).dataSource.nats;
  assert.equal(set.streamName, "TRADES");
  assert.equal(set.subjectPrefix, "prod.market");
  assertIncludes(
    problemOf(`[data_source.nats]\nstream_name = "a.b"\n`),
    "data_source.nats.stream_name",
  );
  assertIncludes(
    problemOf(`[data_source.nats]\nsubject_prefix = "a..b"\n`),
    "data_source.nats.subject_prefix",
  );
});

Deno.test("data_manager.binance: named endpoints, URLs, and what is refused", () => {
  const endpoint = (value: string) =>
    load(`[data_manager.binance]\nendpoint = "${value}"\n`).dataManager
      .binance.endpoint;
  assert.equal(endpoint("binance"), "wss://stream.binance.com:9443");
  assert.equal(endpoint("binance.us"), "wss://stream.binance.us:9443");
  assert.equal(endpoint("testnet"), "wss://stream.testnet.binance.vision");
  assert.equal(endpoint("ws://127.0.0.1:9000/"), "ws://127.0.0.1:9000");
  assertIncludes(
    problemOf(`[data_manager.binance]\nendpoint = "http://x"\n`),
    "data_manager.binance.endpoint",
  );
});

Deno.test("data_manager.replay: needs a file for source replay; speed ≥ 0; on_error and format choices", () => {
  assertIncludes(
    problemOf(`[data_manager]\nsource = "replay"\n`),
    "without data_manager.replay.file",
  );
  const replay = load(`[data_manager]
source = "replay"
[data_manager.replay]
file = "data/BTCUSDT-trades-2024-01-01.csv.gz"
speed = 10
on_error = "skip"
format = "binance-csv"
`).dataManager.replay;
  assert.deepEqual(replay, {
    file: "data/BTCUSDT-trades-2024-01-01.csv.gz",
    speed: 10,
    onError: "skip",
    format: "binance-csv",
  });
  assertIncludes(
    problemOf(`[data_manager.replay]\nspeed = -1\n`),
    "data_manager.replay.speed",
  );
  assertIncludes(
    problemOf(`[data_manager.replay]\non_error = "ignore"\n`),
    "data_manager.replay.on_error",
  );
});

Deno.test("metrics, trading_core and log.format keys are read and checked", () => {
  const config = load(`[data_manager.metrics]
port = 9464
host = "0.0.0.0"
stale_after = "30s"
[trading_core]
strategy = "strategies/ma_crossover.ts"
bars_out = "data/bars.ndjson"
on_existing_file = "append"
on_write_error = "continue"
fills_out = "data/fills.ndjson"
progress_summary_above = 20
[trading_core.bars]
intervals = ["100ms", "5m"]
close_delay = "1s"
clock = "trade"
max_clock_jump = "10m"
[trading_core.broker]
starting_balance = 2500.5
fee_bps = 7.5
maker_fee_bps = 0
slippage_bps = 2
latency = "50ms"
max_open_orders = 250
[trading_core.metrics]
port = 9465
[trading_core.console]
port = 8090
host = "::1"
updates_per_second = 10
intervals = ["5s", "15m"]
max_clients = 3
[log]
format = "json"
`);
  assert.deepEqual(config.dataManager.metrics, {
    port: 9464,
    host: "0.0.0.0",
    staleAfterMs: 30_000,
  });
  assert.deepEqual(config.tradingCore, {
    strategy: "strategies/ma_crossover.ts",
    barsOut: "data/bars.ndjson",
    fillsOut: "data/fills.ndjson",
    onExistingFile: "append",
    onWriteError: "continue",
    bars: {
      intervals: ["100ms", "5m"],
      closeDelayMs: 1000,
      clock: "trade",
      maxClockJumpMs: 600_000,
    },
    broker: {
      startingBalance: 2500.5,
      feeBps: 7.5,
      makerFeeBps: 0,
      slippageBps: 2,
      latencyMs: 50,
      maxOpenOrders: 250,
    },
    console: {
      port: 8090,
      host: "::1",
      updatesPerSecond: 10,
      intervals: ["5s", "15m"],
      maxClients: 3,
    },
    metrics: { port: 9465, host: "127.0.0.1", staleAfterMs: 10_000 },
    progressSummaryAbove: 20,
  });
  assert.equal(config.log.format, "json");
  assert.equal(
    problemOf(`[trading_core]\nprogress_summary_above = -1\n`),
    `Invalid value -1 at trading_core.progress_summary_above ${IN_FILE}: expected an integer from 0 to 1000000`,
  );
  assert.equal(
    problemOf(`[trading_core]\nprogress_summary_above = "8"\n`),
    `Invalid value "8" at trading_core.progress_summary_above ${IN_FILE}: expected an integer from 0 to 1000000`,
  );
  assert.equal(
    problemOf(`[trading_core.metrics]\nport = 65536\n`),
    `Invalid value 65536 at trading_core.metrics.port ${IN_FILE}: expected an integer from 0 to 65535`,
  );
  assert.equal(
    problemOf(`[trading_core.console]\nupdates_per_second = 40\n`),
    `Invalid value 40 at trading_core.console.updates_per_second ${IN_FILE}: expected an integer from 1 to 20`,
  );
  assert.equal(
    problemOf(`[trading_core.console]\nmax_clients = 0\n`),
    `Invalid value 0 at trading_core.console.max_clients ${IN_FILE}: expected an integer from 1 to 1000`,
  );
  assert.equal(
    problemOf(`[trading_core.console]\nport = -1\n`),
    `Invalid value -1 at trading_core.console.port ${IN_FILE}: expected an integer from 0 to 65535`,
  );
  assert.equal(
    problemOf(`[trading_core.bars]\nintervals = ["1s", "7s"]\n`),
    `Invalid interval "7s" at trading_core.bars.intervals[1] ${IN_FILE}: expected a whole number of ms that divides a day (86400000 ms), e.g. "100ms", "1s", "5s", "1m", "15m", "1h", "1d"`,
  );
  assertIncludes(
    problemOf(`[trading_core.bars]\nintervals = ["60s", "1m"]\n`),
    `interval "1m" is listed twice (as 60000 ms)`,
  );
  assert.equal(
    problemOf(`[trading_core.broker]\nfee_bps = -1\n`),
    `Invalid value -1 at trading_core.broker.fee_bps ${IN_FILE}: expected a number from 0 to 1000`,
  );
  assert.equal(
    problemOf(`[trading_core.broker]\nslippage_bps = "2"\n`),
    `Invalid value "2" at trading_core.broker.slippage_bps ${IN_FILE}: expected a number from 0 to 1000`,
  );
  assert.equal(
    problemOf(`[trading_core.broker]\nstarting_balance = -5\n`),
    `Invalid value -5 at trading_core.broker.starting_balance ${IN_FILE}: expected a number from 0 to 1000000000000000`,
  );
  assertIncludes(
    problemOf(`[trading_core.broker]\nlatency = "2h"\n`),
    `trading_core.broker.latency ${IN_FILE}: invalid duration "2h": expected a duration from 0`,
  );
  assertIncludes(
    problemOf(`[trading_core.bars]\nintervals = []\n`),
    "expected at least one interval",
  );
  assertIncludes(
    problemOf(`[trading_core.bars]\nclock = "exchange"\n`),
    `trading_core.bars.clock ${IN_FILE}: expected one of "wall", "trade"`,
  );
  assertIncludes(
    problemOf(`[trading_core]\nbars_out = ""\n`),
    "trading_core.bars_out",
  );
  assertIncludes(
    problemOf(`[trading_core]\non_existing_file = "truncate"\n`),
    "at trading_core.on_existing_file ",
  );
  assertIncludes(
    problemOf(`[trading_core]\non_existing_file = "truncate"\n`),
    'expected one of "refuse", "overwrite", "append"',
  );
  assertIncludes(
    problemOf(`[trading_core]\non_write_error = "ignore"\n`),
    'expected one of "stop", "continue"',
  );
  assertIncludes(
    problemOf(`[data_manager.metrics]\nhost = "a b"\n`),
    "data_manager.metrics.host",
  );
  assertIncludes(
    problemOf(`[log]\nformat = "xml"\n`),
    'expected one of "text", "json"',
  );
});

Deno.test("credentials in a server URL are refused and never echoed", () => {
  const message = problemOf(
    `[transport.nats]\nservers = ["nats://bob:s3cret@127.0.0.1:4222"]\n`,
  );
  assert.equal(
    message,
    `Invalid server "nats://(hidden)@127.0.0.1:4222" at transport.nats.servers[0] ${IN_FILE}: expected no credentials in the URL; put them in the auth table (token, user and password, nkey_seed, jwt, creds_file)`,
  );
  assert.ok(!message.includes("s3cret"));
  assert.ok(
    !problemOf(`[data_source.nats.connection]\nservers = ["tok3n@host:4222"]\n`)
      .includes("tok3n"),
  );
});
