// Tests of `[registry]`: its defaults follow each role's use of NATS, its
// durations must hold together, a hot standby needs comparable trade ids,
// and `symbols = ["*"]` reads every symbol (the ring: from the registry).

import assert from "node:assert/strict";
import { IN_FILE, load, problemOf } from "../../tests/_config.ts";

const STANDBY = { key: "registry.standby", value: true, origin: "--standby" };

Deno.test("registry: serve registers when it publishes to NATS, live reads it when it reads NATS or every ring symbol; both keys override", () => {
  assert.equal(load(undefined).registry.register, false);
  assert.equal(load(undefined).registry.watch, false);
  const nats = load(
    '[transport.nats]\nenabled = true\n[data_source]\ntype = "nats"\n',
  );
  assert.equal(nats.registry.register, true);
  assert.equal(nats.registry.watch, true);
  const every = load('[data_source]\nsymbols = ["*"]\n');
  assert.equal(every.dataSource.type, "ipc");
  assert.deepEqual(every.dataSource.symbols, []);
  assert.equal(every.dataSource.everySymbol, true);
  assert.equal(every.registry.watch, true);
  const off = load(
    '[transport.nats]\nenabled = true\n[registry]\nregister = false\nwatch = false\n[data_source]\nsymbols = ["*"]\n',
  );
  assert.equal(off.registry.register, false);
  assert.equal(off.registry.watch, false);
});

Deno.test("registry: --symbols '*' on NATS is every subject, as an empty list", () => {
  const config = load(undefined, {
    overrides: [
      { key: "data_source.type", value: "nats", origin: "--nats" },
      { key: "data_source.symbols", value: ["*"], origin: "--symbols" },
      {
        key: "data_source.nats.consumer.symbols",
        value: ["*"],
        origin: "--symbols",
      },
    ],
  });
  assert.deepEqual(config.dataSource.nats.consumer.symbols, []);
  assert.equal(config.dataSource.everySymbol, true);
});

Deno.test("registry: a TTL shorter than two heartbeats, a max age shorter than the TTL and a bad bucket name are refused, each naming its key", () => {
  assert.equal(
    problemOf('[registry]\nheartbeat_interval = "2s"\nttl = "3s"\n'),
    `registry.ttl ${IN_FILE}: invalid duration "3s": expected at least twice registry.heartbeat_interval (2s), or one late heartbeat expires the entry`,
  );
  assert.match(
    problemOf('[registry]\nmax_age = "2s"\n'),
    /^registry\.max_age .*: invalid duration "2s": expected at least registry\.ttl \(5s\)/,
  );
  assert.match(
    problemOf('[registry]\nbucket = "a.b"\n'),
    /^Invalid value "a\.b" at registry\.bucket .*expected 1 to 200 letters, digits, "_" or "-"/,
  );
});

Deno.test("registry: --standby needs the registry, and with the synthetic source fixed trade ids", () => {
  assert.match(
    problemOf("[data_manager.synthetic]\nfirst_trade_id = 1\n", {
      overrides: [STANDBY],
    }),
    /^registry\.standby .*--standby.*: invalid value true with registry\.register = false/,
  );
  const nats = { key: "transport.nats.enabled", value: true, origin: "--nats" };
  assert.match(
    problemOf(undefined, { overrides: [nats, STANDBY] }),
    /trade ids taken from the clock.*data_manager\.synthetic\.first_trade_id/,
  );
  const fixed = load("[data_manager.synthetic]\nfirst_trade_id = 1\n", {
    overrides: [nats, STANDBY],
  });
  assert.equal(fixed.registry.standby, true);
});

Deno.test("registry: a catch-up with every symbol is refused (it switches to listed rings), naming symbols", () => {
  assert.match(
    problemOf('[data_source]\nsymbols = ["*"]\ncatch_up = "15m"\n'),
    /^data_source\.symbols .*cannot catch up every symbol \("\*"\): the rings it switches to are listed; expected a list of symbols/,
  );
});

Deno.test("registry: a ring durable with every symbol is refused (its positions are per listed ring), naming symbols", () => {
  assert.match(
    problemOf(
      '[data_source]\nsymbols = ["*"]\n[data_source.ipc]\ndurable_name = "desk1"\n',
    ),
    /^data_source\.symbols .*a ring durable \(data_source\.ipc\.durable_name, --ring-durable\) cannot follow every symbol \("\*"\)/,
  );
});
