// A symbol or exchange that cannot name its shared-memory ring is a config
// problem, checked with the ring code's own segmentName, for the role that
// uses the ring: serve's data_manager.* with transport.ipc.enabled, live's
// data_source.* with type = "ipc". Needs no permissions.

import assert from "node:assert/strict";
import { DEFAULT_SHM_PATH_PREFIX } from "./mod.ts";
import { IN_FILE, load, problemOf } from "../../tests/_config.ts";

/** What each ring problem ends with, after the segment name and its length. */
const SHM_RULE = `must be "/" then 1 to 254 letters, digits, ".", "_" or "-"`;

function assertRingProblem(
  problem: string,
  head: string,
  parts: { name: string; from: string; without: string },
): void {
  assert.ok(
    problem.startsWith(head),
    `${problem}\n  does not start with ${head}`,
  );
  assert.ok(!problem.includes("\n"), `not one line: ${problem}`);
  for (
    const part of [
      `the segment name "${parts.name}" (${parts.name.length} characters, ${parts.from} + exchange + "_" + symbol)`,
      SHM_RULE,
      parts.without,
    ]
  ) {
    assert.ok(problem.includes(part), `${problem}\n  lacks ${part}`);
  }
}

const SERVE = {
  from: "transport.ipc.shm_path_prefix",
  without: "or publish without the ring (--no-ipc)",
};
const LIVE = {
  from: "data_source.ipc.shm_path_prefix",
  without: 'or read NATS (--nats or data_source.type = "nats")',
};

Deno.test("ring names: serve's symbol €UR is one config problem naming the key, the value and the segment name", () => {
  const problem = problemOf('[data_manager]\nsymbols = ["BTCUSDT", "€ur"]\n');
  assertRingProblem(
    problem,
    `Invalid symbol "€ur" at data_manager.symbols[1] ${IN_FILE}: expected a symbol that can name its shared-memory ring: `,
    { name: `${DEFAULT_SHM_PATH_PREFIX}binance_€UR`, ...SERVE },
  );
});

Deno.test("ring names: --symbols €UR is reported as the flag's", () => {
  const problem = problemOf(undefined, {
    overrides: [{
      key: "data_manager.symbols",
      value: ["€UR"],
      origin: "--symbols",
    }],
  });
  assertRingProblem(
    problem,
    `Invalid symbol "€UR" at data_manager.symbols[0] (from --symbols): expected a symbol that can name its shared-memory ring: `,
    { name: "/marketbus_binance_€UR", ...SERVE },
  );
});

Deno.test("ring names: a long prefix plus a 200-character symbol is too long for a segment name", () => {
  const symbol = "S".repeat(200);
  const prefix = `/${"p".repeat(49)}_`;
  // With the default prefix the same symbol fits (219 characters).
  assert.deepEqual(
    load(`[data_manager]\nsymbols = ["${symbol}"]\n`).dataManager.symbols,
    [symbol],
  );
  const problem = problemOf(
    `[data_manager]\nsymbols = ["${symbol}"]\n[transport.ipc]\nshm_path_prefix = "${prefix}"\n`,
  );
  assertRingProblem(
    problem,
    `Invalid symbol "${symbol}" at data_manager.symbols[0] ${IN_FILE}: expected a symbol that can name its shared-memory ring: `,
    { name: `${prefix}binance_${symbol}`, ...SERVE },
  );
});

Deno.test("ring names: a bad exchange is reported once, not once per symbol", () => {
  const problem = problemOf('[data_manager]\nexchange = "bïnance"\n');
  assertRingProblem(
    problem,
    `Invalid value "bïnance" at data_manager.exchange ${IN_FILE}: expected an exchange that can name its shared-memory rings: `,
    { name: "/marketbus_bïnance_BTCUSDT", ...SERVE },
  );
});

Deno.test("ring names: a prefix too long for the default symbols blames the prefix", () => {
  const prefix = `/${"p".repeat(200)}`;
  const problem = problemOf(
    `[transport.ipc]\nshm_path_prefix = "${prefix}"\n[data_manager]\nexchange = "${
      "e".repeat(48)
    }"\n`,
  );
  assert.ok(
    problem.startsWith(
      `Invalid value "${prefix}" at transport.ipc.shm_path_prefix ${IN_FILE}: expected a prefix short enough to name the shared-memory rings: `,
    ),
    problem,
  );
});

Deno.test("ring names: serve without the ring (--no-ipc) and live on NATS accept symbols that only NATS can carry", () => {
  const config = load(
    '[data_manager]\nsymbols = ["€UR"]\n[transport.ipc]\nenabled = false\n[data_source]\ntype = "nats"\nsymbols = ["€UR"]\n',
  );
  assert.deepEqual(config.dataManager.symbols, ["€UR"]);
  assert.deepEqual(config.dataSource.symbols, ["€UR"]);
});

Deno.test("ring names: live's data_source.symbols on the ring are checked with data_source.ipc's prefix", () => {
  const problem = problemOf(
    '[transport.ipc]\nenabled = false\n[data_source]\ntype = "ipc"\nsymbols = ["€UR"]\n',
  );
  assertRingProblem(
    problem,
    `Invalid symbol "€UR" at data_source.symbols[0] ${IN_FILE}: expected a symbol that can name its shared-memory ring: `,
    { name: "/marketbus_binance_€UR", ...LIVE },
  );
  const symbol = "L".repeat(200);
  const prefix = `/${"q".repeat(60)}`;
  const long = problemOf(undefined, {
    overrides: [
      { key: "transport.ipc.enabled", value: false, origin: "--no-ipc" },
      { key: "data_source.symbols", value: [symbol], origin: "--symbols" },
      {
        key: "data_source.nats.consumer.symbols",
        value: [symbol],
        origin: "--symbols",
      },
      { key: "data_source.ipc.shm_path_prefix", value: prefix, origin: "-" },
    ],
  });
  assertRingProblem(
    long,
    `Invalid symbol "${symbol}" at data_source.symbols[0] (from --symbols): expected a symbol that can name its shared-memory ring: `,
    { name: `${prefix}binance_${symbol}`, ...LIVE },
  );
});
