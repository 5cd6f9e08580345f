import assert from "node:assert/strict";
import {
  configToJson,
  flagOverrides,
  parseRoleArgs,
  type RoleArgs,
  type RoleFlag,
  runRole,
  splitList,
  toNumber,
} from "./cli.ts";
import { type Config, parseConfig } from "../config/mod.ts";

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

Deno.test("toNumber: decimal numbers become numbers, anything else stays as given", () => {
  for (
    const [text, number] of [
      ["1000", 1000],
      [" 42 ", 42],
      ["-1", -1],
      ["+3", 3],
      ["0.5", 0.5],
      [".5", 0.5],
      ["2.", 2],
      ["1e6", 1e6],
      ["1.5E-3", 0.0015],
    ] as const
  ) {
    assert.equal(toNumber(text), number, text);
  }
  for (
    const text of [
      "fast",
      "",
      " ",
      "0x10",
      "1_000",
      "1e",
      "Infinity",
      "NaN",
      "1,5",
    ]
  ) {
    assert.equal(toNumber(text), text, text);
  }
});

const FLAGS: Record<string, RoleFlag> = {
  on: { type: "boolean", sets: { key: "x.enabled" } },
  off: { type: "boolean", sets: { key: "x.enabled", convert: () => false } },
  count: { type: "string", sets: { key: "x.count", convert: toNumber } },
  "summary-json": { type: "boolean" },
  label: { type: "string" },
};

Deno.test("parseRoleArgs: flags without sets are switches, not overrides", () => {
  assert.deepEqual(parseRoleArgs(["--summary-json", "--label", "a b"], FLAGS), {
    configPath: undefined,
    overrides: [],
    switches: { "summary-json": true, label: "a b" },
    printConfig: false,
    help: false,
  });
  assert.deepEqual(parseRoleArgs(["--count", "3"], FLAGS).switches, {});
});

Deno.test("parseRoleArgs: --log-level and --progress are shared by every role", () => {
  assert.deepEqual(
    parseRoleArgs(["--progress", "1s", "--log-level", "debug"], {}).overrides,
    [
      { key: "log.level", value: "debug", origin: "--log-level" },
      { key: "log.progress_interval", value: "1s", origin: "--progress" },
    ],
  );
});

Deno.test("parseRoleArgs: two flags setting one key differently conflict", () => {
  assert.throws(
    () => parseRoleArgs(["--off", "--on"], FLAGS),
    {
      name: "TypeError",
      message:
        "--on and --off conflict: they set x.enabled to true and false; give only one",
    },
  );
});

Deno.test("parseRoleArgs: two flags setting one key alike do not conflict", () => {
  const flags: Record<string, RoleFlag> = {
    a: { type: "boolean", sets: { key: "x.on" } },
    b: {
      type: "string",
      sets: [{ key: "x.b" }, { key: "x.on", convert: () => true }],
    },
  };
  assert.deepEqual(parseRoleArgs(["--a", "--b", "v"], flags).overrides, [
    { key: "x.on", value: true, origin: "--a" },
    { key: "x.b", value: "v", origin: "--b" },
    { key: "x.on", value: true, origin: "--b" },
  ]);
});

Deno.test('parseRoleArgs: a flag followed by something starting with "-": one line saying to give its value or attach it', () => {
  for (const next of ["--on", "-h", "-x", "-1"]) {
    assert.throws(
      () => parseRoleArgs(["--label", next], FLAGS),
      {
        name: "TypeError",
        message:
          `Option '--label' argument is ambiguous: ${next} starts with "-"; give --label its value, or write --label=${next} if that is it`,
      },
    );
  }
  assert.deepEqual(parseRoleArgs(["--label=-x"], FLAGS).switches, {
    label: "-x",
  });
  assert.deepEqual(parseRoleArgs(["--count=-1"], FLAGS).overrides, [
    { key: "x.count", value: -1, origin: "--count" },
  ]);
});

Deno.test("parseRoleArgs: a flag given twice with different values is refused, but for --config", () => {
  assert.throws(
    () => parseRoleArgs(["--count", "1", "--count", "2"], FLAGS),
    {
      name: "TypeError",
      message: '--count is given twice ("1" and "2"); give it once',
    },
  );
  // A task's own --config, then the user's: the last one is loaded.
  assert.equal(
    parseRoleArgs(["--config", "a.toml", "--config", "b.toml"], FLAGS)
      .configPath,
    "b.toml",
  );
  assert.deepEqual(
    parseRoleArgs(["--count", "1", "--count=1", "--on", "--on"], FLAGS)
      .overrides,
    [
      { key: "x.enabled", value: true, origin: "--on" },
      { key: "x.count", value: 1, origin: "--count" },
    ],
  );
});

Deno.test("parseRoleArgs: a multiple flag may be repeated; its switch lists the values in order", () => {
  const flags = { ...FLAGS, data: { type: "string", multiple: true } } as const;
  assert.deepEqual(
    parseRoleArgs(["--data", "a", "--data=b", "--data", "a"], flags).switches,
    { data: ["a", "b", "a"] },
  );
  assert.deepEqual(parseRoleArgs([], flags).switches, {});
  assert.throws(() => parseRoleArgs(["--data"], flags), {
    name: "TypeError",
  });
});

Deno.test("runRole: start gets the config and the parsed command line", async () => {
  let seen: [Config, RoleArgs] | undefined;
  const status = await runRole(["--summary-json", "--progress", "0"], {
    role: "test",
    usage: "usage",
    parse: (args) => parseRoleArgs(args, FLAGS),
    start: (config, args) => {
      seen = [config, args];
      return 7;
    },
  });
  assert.equal(status, 7);
  assert.ok(seen !== undefined);
  const [config, args] = seen;
  assert.equal(config.log.progressIntervalMs, 0);
  assert.deepEqual(args.switches, { "summary-json": true });
});
