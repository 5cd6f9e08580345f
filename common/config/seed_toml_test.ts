// A config written as the seed design's Phase 4 TOML does what that design
// meant: `[transport.nats]` with servers publishes to NATS, `[data_source.nats]`
// alone reads NATS, and a NATS publisher keeps 100 MB per subject unless told
// otherwise. An explicit key always wins; flags win over all.

import assert from "node:assert/strict";
import { DEFAULT_MAX_BYTES_PER_SUBJECT } from "./mod.ts";
import { IN_FILE, load, problemOf } from "../../tests/_config.ts";

/** max_msgs_per_subject for 100 MB with the default subjects (216 bytes a message, file storage). */
const DEFAULT_BUDGET_MSGS = 462_962; // floor(100_000_000 / 216)

const SERVERS = `[transport.nats]\nservers = ["nats://h:4222"]\n`;

function enabledFlag(value = true) {
  return { key: "transport.nats.enabled", value, origin: "--nats" };
}

// ---------------------------------------------------------------------------
// transport.nats.enabled

Deno.test("publisher: [transport.nats] with servers and no enabled publishes to NATS", () => {
  assert.equal(load(SERVERS).transport.nats.enabled, true);
});

Deno.test("publisher: [transport.nats] without servers does not", () => {
  for (
    const text of [
      `[transport.nats]\nname = "dm"\n`,
      `[transport.nats.jetstream]\nstream_name = "S"\n`,
      "",
    ]
  ) {
    assert.equal(load(text).transport.nats.enabled, false, text);
  }
});

Deno.test("publisher: an explicit enabled always wins", () => {
  assert.equal(
    load(`${SERVERS}enabled = false\n`).transport.nats.enabled,
    false,
  );
  assert.equal(
    load(`[transport.nats]\nenabled = true\n`).transport.nats.enabled,
    true,
  );
});

Deno.test("publisher: NATS_URL does not turn publishing on (and is ignored while it is off)", () => {
  const config = load(undefined, { env: { NATS_URL: "nats://h:4222" } });
  assert.equal(config.transport.nats.enabled, false);
  assert.deepEqual(config.transport.nats.servers, ["nats://127.0.0.1:4222"]);
  // with servers in the file too, the file's servers still count
  assert.equal(
    load(SERVERS, { env: { NATS_URL: "nats://g:4222" } }).transport.nats
      .enabled,
    true,
  );
});

// ---------------------------------------------------------------------------
// The 100 MB per-subject default of a NATS publisher

Deno.test("publisher: the default per-subject budget is the design's 100 MB", () => {
  assert.equal(DEFAULT_MAX_BYTES_PER_SUBJECT, 100_000_000);
});

Deno.test("publisher: a NATS publisher without a per-subject limit keeps 100 MB per subject", () => {
  for (
    const [text, overrides] of [
      [SERVERS, []],
      [`[transport.nats]\nenabled = true\n`, []],
      ["", [enabledFlag()]],
    ] as const
  ) {
    const js = load(text, { overrides: [...overrides] }).transport.nats
      .jetstream;
    assert.equal(js.maxBytesPerSubject, 100_000_000, text);
    assert.equal(js.maxMsgsPerSubject, DEFAULT_BUDGET_MSGS, text);
  }
});

Deno.test("publisher: the default budget follows storage and symbols like an explicit one", () => {
  const js = load(
    `${SERVERS}[transport.nats.jetstream]\nstorage = "memory"\n`,
  ).transport.nats.jetstream;
  assert.equal(js.maxMsgsPerSubject, 505_050); // floor(100_000_000 / 198)
});

Deno.test("publisher: without NATS publishing no per-subject limit is set", () => {
  const js = load(`[transport.nats]\nenabled = false\n`).transport.nats
    .jetstream;
  assert.equal(js.maxBytesPerSubject, undefined);
  assert.equal(js.maxMsgsPerSubject, -1);
});

Deno.test("publisher: an explicit per-subject key wins over the default budget", () => {
  const cases: [string, number | undefined, number][] = [
    [`max_msgs_per_subject = 1000`, undefined, 1000],
    [`max_msgs_per_subject = -1`, undefined, -1],
    [`max_bytes_per_subject = -1`, undefined, -1],
    [`max_bytes_per_subject = "1MB"`, 1_000_000, 4629],
  ];
  for (const [line, bytes, msgs] of cases) {
    const js = load(`${SERVERS}[transport.nats.jetstream]\n${line}\n`)
      .transport.nats.jetstream;
    assert.equal(js.maxBytesPerSubject, bytes, line);
    assert.equal(js.maxMsgsPerSubject, msgs, line);
  }
});

// ---------------------------------------------------------------------------
// The design's Phase 4 TOML as a whole

/** Both roles as the seed design wrote them: no enabled, no type. */
const SEED_TOML = `
[data_manager]
exchange = "binance"
symbols = ["BTCUSDT", "ETHUSDT"]

[transport.nats]
servers = ["nats://127.0.0.1:4222"]

[transport.nats.jetstream]
stream_name = "MARKET_DATA"
subject_prefix = "market"
retention = "limits"
max_age = "24h"

[data_source.nats]
stream_name = "MARKET_DATA"
subject_prefix = "market"

[data_source.nats.connection]
servers = ["nats://127.0.0.1:4222"]

[data_source.nats.consumer]
durable_name = "trading-core"
exchange = "binance"
symbols = ["BTCUSDT"]
replay_policy = "Instant"
`;

Deno.test("the design's Phase 4 TOML publishes to and reads from NATS as it meant", () => {
  const config = load(SEED_TOML);
  const { nats } = config.transport;
  assert.equal(nats.enabled, true);
  assert.deepEqual(nats.servers, ["nats://127.0.0.1:4222"]);
  assert.equal(nats.jetstream.maxBytesPerSubject, 100_000_000);
  assert.equal(nats.jetstream.maxMsgsPerSubject, DEFAULT_BUDGET_MSGS);
  assert.equal(nats.jetstream.maxAgeMs, 24 * 3_600_000);
  assert.equal(config.transport.ipc.enabled, true);
  const source = config.dataSource;
  assert.equal(source.type, "nats");
  assert.equal(source.nats.consumer.durableName, "trading-core");
  assert.equal(source.nats.consumer.exchange, "binance");
  assert.deepEqual(source.nats.consumer.symbols, ["BTCUSDT"]);
  assert.deepEqual(source.symbols, ["BTCUSDT"]);
  assert.equal(source.nats.consumer.deliver, "all");
  assert.equal(source.nats.consumer.replay, "instant");
  assert.equal(config.warnings.length, 1);
});

Deno.test("the design's TOML plus [data_source.ipc] needs data_source.type", () => {
  assert.equal(
    problemOf(`${SEED_TOML}\n[data_source.ipc]\nwait = "spin"\n`),
    `data_source.type ${IN_FILE}: missing: the file has both [data_source.ipc] and [data_source.nats]; set data_source.type = "ipc" or "nats" (or give --ipc or --nats)`,
  );
});

Deno.test("the design's TOML: flags and explicit keys still win", () => {
  const config = load(
    SEED_TOML.replace(
      `servers = ["nats://127.0.0.1:4222"]\n\n[transport.nats.jetstream]`,
      `servers = ["nats://127.0.0.1:4222"]\nenabled = false\n\n[transport.nats.jetstream]`,
    ),
    {
      overrides: [{ key: "data_source.type", value: "ipc", origin: "--ipc" }],
    },
  );
  assert.equal(config.transport.nats.enabled, false);
  assert.equal(config.transport.nats.jetstream.maxMsgsPerSubject, -1);
  assert.equal(config.dataSource.type, "ipc");
});
