// How problems quote what the user wrote: TOML's inf and nan, and a flag
// number too large for a float, as written (never as JSON's null), and odd
// keys quoted as TOML quotes them, so every problem is one line. Needs no
// permissions.

import assert from "node:assert/strict";
import { toNumber } from "../runtime/cli.ts";
import { IN_FILE, problemOf, problemsOf } from "../../tests/_config.ts";

const EXPECTED = "expected a number, 0 or more";

Deno.test("non-finite values: rate = inf, -inf, +inf and nan are quoted as TOML writes them", () => {
  for (
    const [written, shown] of [
      ["inf", "inf"],
      ["+inf", "inf"],
      ["-inf", "-inf"],
      ["nan", "nan"],
      ["-nan", "nan"],
    ]
  ) {
    assert.equal(
      problemOf(`[data_manager.synthetic]\nrate = ${written}\n`),
      `Invalid value ${shown} at data_manager.synthetic.rate ${IN_FILE}: ${EXPECTED}`,
      written,
    );
  }
  assert.equal(
    problemOf("[data_manager.replay]\nspeed = nan\n"),
    `Invalid value nan at data_manager.replay.speed ${IN_FILE}: ${EXPECTED}`,
  );
});

Deno.test("non-finite values: inside a list or table, and where an integer or a string is expected", () => {
  assert.equal(
    problemOf("[data_manager]\nsymbols = [inf, nan]\n"),
    `Invalid value [inf,nan] at data_manager.symbols ${IN_FILE}: expected an array of strings`,
  );
  assert.equal(
    problemOf("[data_manager]\nmax_trades = inf\n"),
    `Invalid value inf at data_manager.max_trades ${IN_FILE}: expected an integer from 0 to ${Number.MAX_SAFE_INTEGER}`,
  );
  assert.equal(
    problemOf("[log]\nlevel = { x = -inf }\n"),
    `Invalid value {"x":-inf} at log.level ${IN_FILE}: expected a string`,
  );
});

Deno.test("non-finite values: --rate 1e999 is quoted as typed, not as null", () => {
  assert.equal(toNumber("1e999"), "1e999");
  assert.equal(toNumber("-1e400"), "-1e400");
  assert.equal(
    problemOf(undefined, {
      overrides: [{
        key: "data_manager.synthetic.rate",
        value: toNumber("1e999"),
        origin: "--rate",
      }],
    }),
    `Invalid value "1e999" at data_manager.synthetic.rate (from --rate): ${EXPECTED}`,
  );
});

Deno.test("odd keys: a key holding a newline, a dot or nothing is quoted in its path, so the problem stays one line", () => {
  assert.deepEqual(
    problemsOf(
      '[trading_core]\nmetrics = { "new\\nline" = 1, "a.b" = 2, "" = 3 }\n',
    ),
    [
      `trading_core.metrics."new\\nline" ${IN_FILE}: unknown key; valid keys here: port, host, stale_after`,
      `trading_core.metrics."a.b" ${IN_FILE}: unknown key; valid keys here: port, host, stale_after`,
      `trading_core.metrics."" ${IN_FILE}: unknown key; valid keys here: port, host, stale_after`,
    ],
  );
});
