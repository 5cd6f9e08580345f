// The tests under tests/ start servers, spawn the roles and use files: under a
// plain `deno test --allow-net` each must be skipped with the reason in its
// name, never failed (README, "Tests and permissions"). So none may be a bare
// `Deno.test` unless it is one of the few listed here that need nothing more,
// or gates itself by hand (`ignore:` in its definition). `.ci/run` checks the
// outcome by running `deno test --allow-net`; this catches the cause in
// `deno task test` too, where every permission is granted and it cannot show.

import assert from "node:assert/strict";
import {
  gatedTest,
  natsSkipReason,
  natsTest,
  OWN_SERVER_REASON,
  READ_PERMISSIONS,
  testNeeding,
} from "./_permissions.ts";

/** Tests under tests/ that need no more than `--allow-net`, by file. */
const PURE: Record<string, readonly string[]> = {
  "binance_stream_client_test.ts": [
    "BinanceTradeStream builds combined-stream URLs",
    "BinanceTradeStream splits streams over connections",
    "BinanceTradeStream rejects bad arguments naming the value",
    "BinanceTradeStream backs off exponentially, capped, while refused",
    "BinanceTradeStream warns why a connection never opened, once per attempt",
    "BinanceTradeStream stops at once on an aborted signal and runs once at a time",
    "BinanceTradeStream stops while a handshake hangs",
    "BinanceTradeStream gives up a handshake that hangs for the silence timeout and tries again",
    "BinanceTradeStream rejects a bad silence timeout",
  ],
  "docs_commands_test.ts": [
    "docCommands finds fenced and inline deno commands, continuation lines joined",
    "docCommands does not join code spans across a blank line",
    "parseCommand cuts comments, && and pipes, and keeps quoted words whole",
    "planCommand bounds serve, live and demo, and names why others are not run",
    "withoutOptional drops usage brackets and lists their flags",
  ],
  "least_privilege_test.ts": [
    "least privilege: serve, live, demo, symbols and backtest grant exactly the reviewed permissions, scoped except --allow-ffi",
    "least privilege: deno task compile bakes in the serve and live permissions (trading_core without strategies/)",
  ],
  "nats_feed_test.ts": [
    "NatsFeed rejects a deliver policy without its start",
  ],
  "nats_server_test.ts": ["permissionFlags merges scoped flags per kind"],
  "permission_gate_test.ts": [
    "ungatedTests finds bare tests and lets gated, hand-gated and pure ones through",
    "gatedTest, testNeeding, natsTest: a missing permission is an ignored test whose name says which flag and why",
  ],
};

/** The first string argument of a `Deno.test(` call, or its `name:` key. */
const NAME = /^Deno\.test\(\s*(?:\{\s*name:\s*)?("(?:[^"\\]|\\.)*")/;

/**
 * The `Deno.test(` calls of `source` that are neither in `pure` nor gated by
 * hand, as `line N: name`.
 */
function ungatedTests(source: string, pure: readonly string[]): string[] {
  const found: string[] = [];
  for (const match of source.matchAll(/^[ \t]*Deno\.test\(/gm)) {
    const call = source.slice(match.index).trimStart();
    // The definition up to its body: a hand-made gate sets `ignore` there.
    const head = call.slice(0, call.search(/\bfn\b|=>/) + 1 || undefined);
    if (/\bignore:/.test(head)) continue;
    const quoted = NAME.exec(call)?.[1];
    const name = quoted === undefined ? undefined : JSON.parse(quoted);
    if (name !== undefined && pure.includes(name)) continue;
    const line = source.slice(0, match.index).split("\n").length;
    found.push(`line ${line}: ${name ?? call.split("\n")[0]}`);
  }
  return found;
}

const test = testNeeding(READ_PERMISSIONS);

test("every test under tests/ is gated on its permissions, or listed as pure", async () => {
  const dir = new URL("./", import.meta.url);
  const problems: string[] = [];
  const seenPure = new Set<string>();
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !entry.name.endsWith("_test.ts")) continue;
    const source = await Deno.readTextFile(new URL(entry.name, dir));
    const pure = PURE[entry.name] ?? [];
    for (const name of pure) {
      if (source.includes(JSON.stringify(name))) seenPure.add(name);
    }
    for (const problem of ungatedTests(source, pure)) {
      problems.push(`tests/${entry.name} ${problem}`);
    }
  }
  assert.deepEqual(
    problems,
    [],
    "bare Deno.test under tests/: register it with gatedTest, natsTest or testNeeding (tests/_permissions.ts), or list it in PURE if --allow-net is all it needs",
  );
  // A stale entry would let a new test of that name through unchecked.
  assert.deepEqual(
    Object.values(PURE).flat().filter((name) => !seenPure.has(name)),
    [],
    "PURE lists tests that no longer exist",
  );
});

Deno.test("ungatedTests finds bare tests and lets gated, hand-gated and pure ones through", () => {
  const source = [
    'Deno.test("spawns a server", async () => {});',
    "Deno.test(`compose.yaml: ${name}`, () => check());",
    'Deno.test({ name: "object form", async fn() {} });',
    'Deno.test({ name: "gated by hand", ignore: !granted, fn() {} });',
    'Deno.test({\n  name: why ? `x [skipped: ${why}]` : "x",\n  ignore: !!why,\n  async fn() {},\n});',
    '  Deno.test("pure", () => {});',
    '// a comment about Deno.test("x") is no test',
    'gatedTest({ name: "gated", permissions: [], fn() {} });',
    'test("through testNeeding", () => {});',
  ].join("\n");
  assert.deepEqual(ungatedTests(source, ["pure"]), [
    "line 1: spawns a server",
    "line 2: Deno.test(`compose.yaml: ${name}`, () => check());",
    "line 3: object form",
  ]);
});

/** The definitions `register` passes to `Deno.test`, which is stubbed meanwhile. */
function registered(register: () => void): Deno.TestDefinition[] {
  const definitions: Deno.TestDefinition[] = [];
  const original = Deno.test;
  Object.assign(Deno, {
    test: (definition: Deno.TestDefinition) => definitions.push(definition),
  });
  try {
    register();
  } finally {
    Object.assign(Deno, { test: original });
  }
  return definitions;
}

/** Never granted by the test commands (no --allow-sys); `-A` grants it. */
const SYS = { name: "sys", kind: "hostname" } as const;
const SYS_GRANTED = Deno.permissions.querySync(SYS).state === "granted";

Deno.test("gatedTest, testNeeding, natsTest: a missing permission is an ignored test whose name says which flag and why", () => {
  const fn = () => {};
  const [gated, needing, nats, plain] = registered(() => {
    gatedTest({ name: "g", permissions: [SYS], reason: OWN_SERVER_REASON, fn });
    testNeeding([SYS])("t", fn);
    natsTest({ name: "n", permissions: [SYS], fn });
    testNeeding([])("p", fn);
  });
  if (SYS_GRANTED) {
    assert.deepEqual([gated.name, needing.name, plain.name], ["g", "t", "p"]);
    return;
  }
  assert.deepEqual(
    [gated, needing, nats].map((d) => [d.name, d.ignore]),
    [
      [`g [skipped: needs --allow-sys=hostname: ${OWN_SERVER_REASON}]`, true],
      ["t [skipped: needs --allow-sys=hostname]", true],
      ["n [skipped: needs --allow-sys=hostname]", true],
    ],
  );
  assert.deepEqual([plain.name, plain.ignore, plain.fn], ["p", undefined, fn]);
});

testNeeding([{ name: "env", variable: "NATS_URL" }])(
  "natsSkipReason: a NATS_URL off loopback skips the tests that run the roles, naming it",
  () => {
    const before = Deno.env.get("NATS_URL");
    try {
      Deno.env.set("NATS_URL", "nats://192.0.2.1:4222");
      const remote = Deno.permissions.querySync({
        name: "net",
        host: "192.0.2.1:4222",
      }).state === "granted";
      assert.equal(
        natsSkipReason({ loopbackOnly: true }),
        remote
          ? "NATS_URL is 192.0.2.1:4222, outside the serve/live tasks' --allow-net=127.0.0.1,localhost"
          : "NATS_URL is set; grant --allow-net=192.0.2.1:4222",
      );
      Deno.env.set("NATS_URL", "nats://127.0.0.1:4222,nats://localhost:4223");
      assert.equal(natsSkipReason({ loopbackOnly: true }), undefined);
    } finally {
      if (before === undefined) Deno.env.delete("NATS_URL");
      else Deno.env.set("NATS_URL", before);
    }
  },
);
