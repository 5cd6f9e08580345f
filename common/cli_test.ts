import assert from "node:assert/strict";
import { configToJson, flagOverrides, splitList } from "./cli.ts";
import { parseConfig } from "./config/mod.ts";

Deno.test("splitList: commas, blanks and spaces", () => {
  assert.deepEqual(splitList("BTCUSDT, ETHUSDT,,"), ["BTCUSDT", "ETHUSDT"]);
  assert.deepEqual(splitList(""), []);
});

Deno.test("flagOverrides: only given flags, in mapping order, origin = flag", () => {
  const overrides = flagOverrides(
    { a: "1", b: undefined, c: true },
    {
      a: { key: "x.a" },
      b: { key: "x.b" },
      c: [{ key: "x.c" }, { key: "x.d", convert: () => "on" }],
    },
  );
  assert.deepEqual(overrides, [
    { key: "x.a", value: "1", origin: "--a" },
    { key: "x.c", value: true, origin: "--c" },
    { key: "x.d", value: "on", origin: "--c" },
  ]);
});

Deno.test("configToJson: hides tokens, passwords, seeds and JWTs", () => {
  const seed = "SU" + "A".repeat(56);
  const jwt = "aaa.bbb.ccc";
  for (
    const auth of [
      `token = "t0k3n-secret"`,
      `user = "u"\npassword = "p4ss-secret"`,
      `nkey_seed = "${seed}"`,
      `jwt = "${jwt}"\nnkey_seed = "${seed}"`,
    ]
  ) {
    const json = configToJson(
      parseConfig(`[transport.nats.auth]\n${auth}\n`, { env: {} }),
    );
    for (const secret of ["t0k3n-secret", "p4ss-secret", seed, jwt]) {
      assert.ok(!json.includes(secret), `${secret} leaked for ${auth}`);
    }
    assert.match(json, /"\(hidden\)"/);
  }
});
