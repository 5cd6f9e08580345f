// Tests of what trading_core reads (`[data_source]`): the one rule for the
// consumer's exchange and symbols (the most specific key wins; two keys set
// by one source must agree), "*" for every exchange, and which transport a
// file selects when it does not say (`data_source.type`).

import assert from "node:assert/strict";
import type { ConfigOverride } from "./mod.ts";
import { IN_FILE, load, problemOf } from "../../tests/_config.ts";

const CONSUMER = "[data_source.nats.consumer]\n";

function flag(key: string, value: unknown, origin: string): ConfigOverride {
  return { key, value, origin };
}

// ---------------------------------------------------------------------------
// The most specific key wins

Deno.test("consumer symbols: the consumer's key alone is what NATS reads, and what --print-config shows", () => {
  const config = load(`${CONSUMER}symbols = ["auda"]\n`);
  assert.equal(config.dataSource.type, "nats");
  assert.deepEqual(config.dataSource.nats.consumer.symbols, ["AUDA"]);
  // the resolved value, not the default the consumer's key replaced
  assert.deepEqual(config.dataSource.symbols, ["AUDA"]);
});

Deno.test("consumer exchange: the consumer's key alone is what NATS reads, and what --print-config shows", () => {
  const config = load(`${CONSUMER}exchange = "AUDX"\n`);
  assert.equal(config.dataSource.nats.consumer.exchange, "audx");
  assert.equal(config.dataSource.exchange, "audx");
});

Deno.test("consumer: data_source's keys apply when the consumer sets none", () => {
  const config = load(
    `[data_source]\ntype = "nats"\nexchange = "AUDX"\nsymbols = ["auda", "audb"]\n`,
  );
  assert.equal(config.dataSource.nats.consumer.exchange, "audx");
  assert.deepEqual(config.dataSource.nats.consumer.symbols, ["AUDA", "AUDB"]);
  assert.equal(config.dataSource.exchange, "audx");
  assert.deepEqual(config.dataSource.symbols, ["AUDA", "AUDB"]);
});

Deno.test("consumer: both keys set to the same value (after normalising) are fine", () => {
  const config = load(`
[data_source]
type = "nats"
exchange = "AUDX"
symbols = ["auda", "AUDB"]
${CONSUMER}exchange = "audx"
symbols = ["AUDA", "audb"]
`);
  assert.equal(config.dataSource.nats.consumer.exchange, "audx");
  assert.deepEqual(config.dataSource.nats.consumer.symbols, ["AUDA", "AUDB"]);
});

Deno.test("consumer symbols: both keys set to different values in one file name both keys, both values and the file", () => {
  assert.equal(
    problemOf(`
[data_source]
type = "nats"
symbols = ["BTCUSDT", "ETHUSDT"]
${CONSUMER}symbols = ["AUDA"]
`),
    `data_source.nats.consumer.symbols ${IN_FILE}: ["AUDA"] conflicts with data_source.symbols = ["BTCUSDT","ETHUSDT"] ${IN_FILE}: set only one of the two keys, or both to the same value`,
  );
});

Deno.test("consumer exchange: both keys set to different values in one file name both keys, both values and the file", () => {
  assert.equal(
    problemOf(`
[data_source]
type = "nats"
exchange = "audx"
${CONSUMER}exchange = "audy"
`),
    `data_source.nats.consumer.exchange ${IN_FILE}: "audy" conflicts with data_source.exchange = "audx" ${IN_FILE}: set only one of the two keys, or both to the same value`,
  );
  assert.equal(
    problemOf(`
[data_source]
type = "nats"
exchange = "audx"
${CONSUMER}exchange = "*"
`),
    `data_source.nats.consumer.exchange ${IN_FILE}: "*" conflicts with data_source.exchange = "audx" ${IN_FILE}: set only one of the two keys, or both to the same value`,
  );
});

Deno.test("consumer: the conflict is an error for an ipc source too", () => {
  assert.match(
    problemOf(`
[data_source]
type = "ipc"
symbols = ["BTCUSDT"]
${CONSUMER}symbols = ["AUDA"]
`),
    /^data_source\.nats\.consumer\.symbols in x\.toml: \["AUDA"\] conflicts with data_source\.symbols/,
  );
});

Deno.test("consumer: flags (which set both keys) beat a conflicting file", () => {
  const config = load(
    `
[data_source]
type = "nats"
exchange = "audx"
symbols = ["BTCUSDT"]
${CONSUMER}exchange = "audy"
symbols = ["AUDA"]
`,
    {
      overrides: [
        flag("data_source.symbols", ["solusdt"], "--symbols"),
        flag("data_source.nats.consumer.symbols", ["solusdt"], "--symbols"),
        flag("data_source.exchange", "Kraken", "--exchange"),
        flag("data_source.nats.consumer.exchange", "Kraken", "--exchange"),
      ],
    },
  );
  assert.deepEqual(config.dataSource.nats.consumer.symbols, ["SOLUSDT"]);
  assert.equal(config.dataSource.nats.consumer.exchange, "kraken");
  assert.deepEqual(config.dataSource.symbols, ["SOLUSDT"]);
  assert.equal(config.dataSource.exchange, "kraken");
});

Deno.test("consumer: an override of the general key alone beats the file's consumer key", () => {
  const config = load(`${CONSUMER}symbols = ["AUDA"]\nexchange = "audx"\n`, {
    overrides: [
      flag("data_source.symbols", ["SOLUSDT"], "--x"),
      flag("data_source.exchange", "kraken", "--y"),
    ],
  });
  assert.deepEqual(config.dataSource.nats.consumer.symbols, ["SOLUSDT"]);
  assert.equal(config.dataSource.nats.consumer.exchange, "kraken");
});

Deno.test("consumer: two overrides that disagree name both origins", () => {
  assert.equal(
    problemOf(undefined, {
      overrides: [
        flag("data_source.symbols", ["SOLUSDT"], "--x"),
        flag("data_source.nats.consumer.symbols", ["AUDA"], "--y"),
      ],
    }),
    `data_source.nats.consumer.symbols (from --y): ["AUDA"] conflicts with data_source.symbols = ["SOLUSDT"] (from --x): set only one of the two keys, or both to the same value`,
  );
});

Deno.test("ipc: the ring reads data_source's keys, never the consumer's", () => {
  const config = load(`
[data_source]
type = "ipc"
${CONSUMER}exchange = "audx"
symbols = ["AUDA"]
`);
  assert.equal(config.dataSource.exchange, "binance");
  assert.deepEqual(config.dataSource.symbols, ["BTCUSDT", "ETHUSDT"]);
  assert.equal(config.dataSource.nats.consumer.exchange, "audx");
  assert.deepEqual(config.dataSource.nats.consumer.symbols, ["AUDA"]);
});

// ---------------------------------------------------------------------------
// "*": every exchange, on NATS only

Deno.test(`exchange "*": data_source.exchange = "*" reads every exchange from NATS`, () => {
  const config = load(`[data_source]\ntype = "nats"\nexchange = "*"\n`);
  assert.equal(config.dataSource.nats.consumer.exchange, undefined);
  assert.equal(config.dataSource.exchange, "*");
});

Deno.test(`exchange "*": on the ring it is one line saying the ring is per exchange`, () => {
  const expected =
    `expected one exchange, since the ring (data_source.type = "ipc") is per exchange; for every exchange read NATS (--nats or data_source.type = "nats")`;
  assert.equal(
    problemOf(`[data_source]\nexchange = "*"\n`),
    `Invalid value "*" at data_source.exchange ${IN_FILE}: ${expected}`,
  );
  assert.equal(
    problemOf(undefined, {
      overrides: [
        flag("data_source.exchange", "*", "--exchange"),
        flag("data_source.nats.consumer.exchange", "*", "--exchange"),
        flag("data_source.type", "ipc", "--ipc"),
      ],
    }),
    `Invalid value "*" at data_source.exchange (from --exchange): ${expected}`,
  );
});

Deno.test(`exchange "*": the consumer's key alone may say "*" even for an ipc source`, () => {
  const config = load(
    `[data_source]\ntype = "ipc"\n${CONSUMER}exchange = "*"\n`,
  );
  assert.equal(config.dataSource.nats.consumer.exchange, undefined);
  assert.equal(config.dataSource.exchange, "binance");
});

// ---------------------------------------------------------------------------
// Which transport: data_source.type, given or inferred from the file

Deno.test("type: [data_source.nats] without [data_source.ipc] and without type selects nats", () => {
  for (
    const text of [
      `[data_source.nats]\nstream_name = "MARKET_DATA"\n`,
      `[data_source.nats.connection]\nservers = ["nats://h:4222"]\n`,
      `[data_source]\nsymbols = []\n[data_source.nats.consumer]\ndurable_name = "d"\n`,
    ]
  ) {
    assert.equal(load(text).dataSource.type, "nats", text);
  }
});

Deno.test("type: [data_source.ipc] alone, or neither section, stays ipc", () => {
  assert.equal(
    load(`[data_source.ipc]\nwait = "spin"\n`).dataSource.type,
    "ipc",
  );
  assert.equal(load(`[data_source]\nsymbols = ["A"]\n`).dataSource.type, "ipc");
  assert.equal(load(undefined).dataSource.type, "ipc");
});

Deno.test("type: both sections without type is an error asking for it", () => {
  assert.equal(
    problemOf(
      `[data_source.ipc]\nwait = "spin"\n[data_source.nats]\nstream_name = "S"\n`,
    ),
    `data_source.type ${IN_FILE}: missing: the file has both [data_source.ipc] and [data_source.nats]; set data_source.type = "ipc" or "nats" (or give --ipc or --nats)`,
  );
});

Deno.test("type: an explicit type always wins over the sections", () => {
  assert.equal(
    load(`[data_source]\ntype = "ipc"\n[data_source.nats]\nstream_name = "S"\n`)
      .dataSource.type,
    "ipc",
  );
  assert.equal(
    load(`[data_source]\ntype = "nats"\n[data_source.ipc]\nwait = "spin"\n`)
      .dataSource.type,
    "nats",
  );
  assert.equal(
    load(
      `[data_source]\ntype = "ipc"\n[data_source.ipc]\n[data_source.nats]\n`,
    ).dataSource.type,
    "ipc",
  );
});

Deno.test("type: --ipc and --nats win over the sections and settle both-present", () => {
  const both =
    `[data_source.ipc]\nwait = "spin"\n[data_source.nats]\nstream_name = "S"\n`;
  for (const type of ["ipc", "nats"]) {
    const overrides = [flag("data_source.type", type, `--${type}`)];
    assert.equal(load(both, { overrides }).dataSource.type, type);
    assert.equal(
      load(`[data_source.nats]\nstream_name = "S"\n`, { overrides }).dataSource
        .type,
      type,
    );
  }
});

Deno.test("type: only the file selects; NATS_URL and consumer flags do not", () => {
  const env = { NATS_URL: "nats://h:4222" };
  assert.equal(load(undefined, { env }).dataSource.type, "ipc");
  assert.equal(
    load(`[data_source.ipc]\nwait = "spin"\n`, { env }).dataSource.type,
    "ipc",
  );
  const overrides = [
    flag("data_source.nats.consumer.deliver", "all", "--deliver"),
  ];
  assert.equal(load(undefined, { overrides }).dataSource.type, "ipc");
});

// ---------------------------------------------------------------------------
// catch_up: the history's start, and the rings it switches to

Deno.test("catch_up: a duration, an RFC 3339 time (string or TOML) or durable", () => {
  const source = (value: string) =>
    load(`[data_source]\ncatch_up = ${value}\n`).dataSource;
  assert.deepEqual(source(`"15m"`).catchUp, { kind: "ago", ms: 900_000 });
  assert.deepEqual(source(`"2026-11-26T09:30:00Z"`).catchUp, {
    kind: "time",
    at: new Date("2026-11-26T09:30:00Z"),
  });
  assert.deepEqual(source(`2026-11-26T09:30:00+01:00`).catchUp, {
    kind: "time",
    at: new Date("2026-11-26T08:30:00Z"),
  });
  assert.equal(load(`[data_source]\n`).dataSource.catchUp, undefined);
  assert.deepEqual(
    load(
      `[data_source]\ncatch_up = "durable"\n${CONSUMER}durable_name = "me"\n`,
    ).dataSource.catchUp,
    { kind: "durable" },
  );
});

Deno.test("catch_up_hold: a power of two from 1 to 2^24, unset by default; anything else is one line", () => {
  assert.equal(load(`[data_source]\n`).dataSource.catchUpHold, undefined);
  assert.equal(
    load(`[data_source]\ncatch_up_hold = 1024\n`).dataSource.catchUpHold,
    1024,
  );
  assert.match(
    problemOf(`[data_source]\ncatch_up_hold = 1000\n`),
    /data_source\.catch_up_hold.*invalid value 1000: expected a power of two, e.g\. 262144/,
  );
  assert.match(
    problemOf(`[data_source]\ncatch_up_hold = 33554432\n`),
    /data_source\.catch_up_hold/,
  );
});

Deno.test("catch_up: a time start with a durable name warns that the name is not used", () => {
  const { warnings, dataSource } = load(
    `[data_source]\ncatch_up = "1m"\n${CONSUMER}durable_name = "me"\n`,
  );
  assert.deepEqual(dataSource.catchUp, { kind: "ago", ms: 60_000 });
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0],
    /^data_source\.nats\.consumer\.durable_name "me" is not used by data_source\.catch_up: .*give "durable"/,
  );
  assert.deepEqual(
    load(
      `[data_source]\ncatch_up = "durable"\n${CONSUMER}durable_name = "me"\n`,
    ).warnings,
    [],
  );
});

Deno.test("catch_up: a bad start, durable without a durable name, every exchange: one line each", () => {
  assert.match(
    problemOf(`[data_source]\ncatch_up = "soon"\n`),
    /data_source\.catch_up .*invalid start "soon": expected a duration before now .*, an RFC 3339 time .*, or "durable"/,
  );
  assert.match(
    problemOf(`[data_source]\ncatch_up = "0s"\n`),
    /invalid start "0s"/,
  );
  assert.match(
    problemOf(`[data_source]\ncatch_up = "durable"\n`),
    /"durable" needs a durable consumer: give data_source\.nats\.consumer\.durable_name \(--durable NAME\)/,
  );
  // The rings are read whatever type says: one exchange, some symbols.
  assert.match(
    problemOf(
      `[data_source]\ntype = "nats"\ncatch_up = "1m"\nexchange = "*"\n`,
    ),
    /data_source\.exchange.*expected one exchange/,
  );
});

Deno.test("catch_up with type nats (--durable implies it) still names the rings' exchange and symbols", () => {
  const config = load(
    `[data_source]\ntype = "nats"\ncatch_up = "durable"\nsymbols = ["auda"]\n${CONSUMER}durable_name = "me"\n`,
  );
  assert.deepEqual(config.dataSource.symbols, ["AUDA"]);
  assert.equal(config.dataSource.exchange, "binance");
});
