// NATS credentials from the environment, with the names the nats CLI uses:
// NATS_TOKEN, NATS_USER + NATS_PASSWORD, NATS_CREDS. Like NATS_URL they set
// the keys of each role's connection in use (a NATS publisher, a NATS
// source), beat the file key by key, lose to flags, and are never echoed; a
// connection not in use ignores them. Needs no permissions (the env is passed in), but the readNatsEnv
// test, which reads the process's variables when --allow-env grants them.

import assert from "node:assert/strict";
import { configToJson } from "../runtime/cli.ts";
import { NATS_ENV_VARIABLES, type NatsEnv, readNatsEnv } from "./mod.ts";
import {
  BOTH_NATS,
  FILE,
  IN_FILE,
  load,
  problemsOf,
} from "../../tests/_config.ts";

const TOKEN = "tok-env-8d41f2";
const PASSWORD = "pw-env-c07a9e";
const AUTH_EXPECTED =
  "expected exactly one of: token | user + password | nkey_seed | jwt + nkey_seed | creds_file";

/** The auth of both roles, both on NATS unless `text` says otherwise. */
function authOf(text: string | undefined, env: NatsEnv) {
  const config = load(text ?? BOTH_NATS, { env });
  return [config.transport.nats.auth, config.dataSource.nats.connection.auth];
}

function assertNoSecret(text: string): void {
  for (const secret of [TOKEN, PASSWORD]) {
    assert.ok(!text.includes(secret), `${secret} leaked:\n${text}`);
  }
}

Deno.test("env secrets: NATS_TOKEN, NATS_USER + NATS_PASSWORD and NATS_CREDS set both roles' auth", () => {
  assert.deepEqual(authOf(undefined, { NATS_TOKEN: TOKEN }), [
    { kind: "token", token: TOKEN },
    { kind: "token", token: TOKEN },
  ]);
  assert.deepEqual(
    authOf(undefined, { NATS_USER: "bob", NATS_PASSWORD: PASSWORD }),
    [
      { kind: "user", user: "bob", password: PASSWORD },
      { kind: "user", user: "bob", password: PASSWORD },
    ],
  );
  assert.deepEqual(authOf(undefined, { NATS_CREDS: "config/x.creds" }), [
    { kind: "creds", file: "config/x.creds" },
    { kind: "creds", file: "config/x.creds" },
  ]);
  // Empty means unset, as for NATS_URL.
  assert.deepEqual(
    authOf(undefined, {
      NATS_TOKEN: "",
      NATS_USER: "",
      NATS_PASSWORD: "",
      NATS_CREDS: "",
    }),
    [{ kind: "none" }, { kind: "none" }],
  );
});

Deno.test("env secrets: a variable beats the file's key, key by key (user in the file, password from NATS_PASSWORD)", () => {
  assert.deepEqual(
    authOf(BOTH_NATS + '[transport.nats.auth]\ntoken = "file-token"\n', {
      NATS_TOKEN: TOKEN,
    })[0],
    { kind: "token", token: TOKEN },
  );
  assert.deepEqual(
    authOf(
      BOTH_NATS +
        '[transport.nats.auth]\nuser = "pub"\n[data_source.nats.connection.auth]\nuser = "sub"\n',
      { NATS_PASSWORD: PASSWORD },
    ),
    [
      { kind: "user", user: "pub", password: PASSWORD },
      { kind: "user", user: "sub", password: PASSWORD },
    ],
  );
});

Deno.test("env secrets: a method from a variable beside another in the file is one problem per role naming both origins, never the secret", () => {
  const problems = problemsOf(
    BOTH_NATS +
      '[transport.nats.auth]\ncreds_file = "config/p.creds"\n[data_source.nats.connection.auth]\nuser = "sub"\npassword = "file-pw"\n',
    { env: { NATS_TOKEN: TOKEN } },
  );
  assert.deepEqual(problems, [
    `transport.nats.auth ${IN_FILE}: several auth methods set (token (from NATS_TOKEN), creds_file (${IN_FILE})); ${AUTH_EXPECTED}`,
    `data_source.nats.connection.auth ${IN_FILE}: several auth methods set (token (from NATS_TOKEN), user+password (${IN_FILE})); ${AUTH_EXPECTED}`,
  ]);
  const both = problemsOf(BOTH_NATS, {
    env: { NATS_TOKEN: TOKEN, NATS_USER: "bob", NATS_PASSWORD: PASSWORD },
  });
  assert.equal(
    both[0],
    `transport.nats.auth (from NATS_TOKEN, NATS_USER, NATS_PASSWORD): several auth methods set (token (from NATS_TOKEN), user+password (from NATS_USER, NATS_PASSWORD)); ${AUTH_EXPECTED}`,
  );
  // One half in the file, the other from a variable: each origin once.
  assert.equal(
    problemsOf(
      '[transport.nats]\nenabled = true\n[transport.nats.auth]\nuser = "pub"\n',
      { env: { NATS_TOKEN: TOKEN, NATS_PASSWORD: PASSWORD } },
    )[0],
    `transport.nats.auth ${IN_FILE}: several auth methods set (token (from NATS_TOKEN), user+password (${IN_FILE}, from NATS_PASSWORD)); ${AUTH_EXPECTED}`,
  );
  assertNoSecret(both.join("\n"));
});

Deno.test("env secrets: NATS_PASSWORD without a user is a problem about the password, where it came from, never echoing it", () => {
  for (const file of [FILE, undefined]) {
    const problems = problemsOf(BOTH_NATS, {
      file,
      env: { NATS_PASSWORD: PASSWORD },
    });
    assert.equal(
      problems[0],
      `transport.nats.auth.password (from NATS_PASSWORD): the user is missing: user and password go together; set NATS_USER too, or user in the config file`,
    );
    assertNoSecret(problems.join("\n"));
  }
  assert.equal(
    problemsOf(BOTH_NATS, { env: { NATS_USER: "bob" } })[1],
    `data_source.nats.connection.auth.user (from NATS_USER): the password is missing: user and password go together; set NATS_PASSWORD too, or password in the config file`,
  );
});

Deno.test("env secrets: the NATS variables are ignored, not checked, for a connection not in use (ring only)", () => {
  // Set for other tools: a password without a user, a URL with credentials.
  const stray: NatsEnv = {
    NATS_URL: "nats://someone:pw@elsewhere:4222",
    NATS_PASSWORD: PASSWORD,
  };
  for (const text of [undefined, "[transport.ipc]\nenabled = true\n"]) {
    const config = load(text, { env: stray });
    assert.deepEqual(config.transport.nats.auth, { kind: "none" });
    assert.deepEqual(config.transport.nats.servers, ["nats://127.0.0.1:4222"]);
    assert.deepEqual(config.dataSource.nats.connection.auth, { kind: "none" });
  }
  // Each connection on its own: serve on NATS, live on the ring, and the reverse.
  const publisher = load("[transport.nats]\nenabled = true\n", {
    env: { NATS_TOKEN: TOKEN },
  });
  assert.deepEqual(publisher.transport.nats.auth, {
    kind: "token",
    token: TOKEN,
  });
  assert.deepEqual(publisher.dataSource.nats.connection.auth, { kind: "none" });
  const consumer = load('[data_source]\ntype = "nats"\n', {
    env: { NATS_TOKEN: TOKEN },
  });
  assert.deepEqual(consumer.transport.nats.auth, { kind: "none" });
  assert.deepEqual(consumer.dataSource.nats.connection.auth, {
    kind: "token",
    token: TOKEN,
  });
  assert.match(
    problemsOf("[transport.nats]\nenabled = true\n", {
      env: { NATS_TOKEN: TOKEN, NATS_PASSWORD: PASSWORD },
    }).join("\n"),
    /^transport\.nats\.auth \(from NATS_TOKEN, NATS_PASSWORD\): several auth methods/,
  );
  // A flag that turns NATS on (serve --nats, live --nats) brings them in.
  for (
    const [key, value, auth] of [
      ["transport.nats.enabled", true, "transport"],
      ["data_source.type", "nats", "dataSource"],
    ] as const
  ) {
    const config = load(undefined, {
      env: { NATS_TOKEN: TOKEN },
      overrides: [{ key, value, origin: "--nats" }],
    });
    const used = auth === "transport"
      ? config.transport.nats.auth
      : config.dataSource.nats.connection.auth;
    assert.deepEqual(used, { kind: "token", token: TOKEN });
  }
});

Deno.test("env secrets: a variable that cannot apply (auth is not a table) is a problem without the value", () => {
  const problems = problemsOf(
    '[transport.nats]\nenabled = true\nauth = "x"\n',
    {
      env: { NATS_TOKEN: TOKEN },
    },
  );
  assert.ok(
    problems.includes(
      `Cannot apply NATS_TOKEN: transport.nats.auth.token sits under a key that is not a table ${IN_FILE}`,
    ),
    problems.join("\n"),
  );
  assertNoSecret(problems.join("\n"));
});

Deno.test("env secrets: --print-config hides a token and a password from the environment", () => {
  for (
    const env of [
      { NATS_TOKEN: TOKEN },
      { NATS_USER: "bob", NATS_PASSWORD: PASSWORD },
    ]
  ) {
    const printed = configToJson(load(BOTH_NATS, { env }));
    assertNoSecret(printed);
    assert.match(printed, /"\(hidden\)"/);
  }
});

Deno.test("env secrets: readNatsEnv reads exactly the granted, non-empty variables and never throws", () => {
  assert.deepEqual(NATS_ENV_VARIABLES, [
    "NATS_URL",
    "NATS_TOKEN",
    "NATS_USER",
    "NATS_PASSWORD",
    "NATS_CREDS",
  ]);
  const expected: Record<string, string> = {};
  for (const name of NATS_ENV_VARIABLES) {
    const granted = Deno.permissions.querySync({ name: "env", variable: name })
      .state === "granted";
    const value = granted ? Deno.env.get(name) : undefined;
    if (value !== undefined && value !== "") expected[name] = value;
  }
  assert.deepEqual(readNatsEnv(), expected);
});
