// The pure part of the NATS connection: options built from the config (auth
// of every kind, TLS files, reconnect policy) and the auth error's message.
// Connecting to real servers is tested in tests/nats_publisher_test.ts.

import assert from "node:assert/strict";
import { join } from "node:path";
import { errors, nkeys } from "@nats-io/nats-core";
import { gatedTest } from "../../tests/_permissions.ts";
import { ConfigError } from "../config/error.ts";
import type { NatsAuth, NatsConnectionConfig } from "../config/mod.ts";
import {
  connectNats,
  NatsAuthError,
  natsAuthError,
  natsConnectionOptions,
  RECONNECT_JITTER_MS,
  RECONNECT_JITTER_TLS_MS,
  RECONNECT_WAIT_MS,
} from "./connection.ts";

const FILES = [{ name: "read" }, { name: "write" }] as const;
const NONCE = "nonce-from-the-server";

function connection(
  overrides: Partial<NatsConnectionConfig> = {},
): NatsConnectionConfig {
  return {
    servers: ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223"],
    name: "marketbus-test",
    auth: { kind: "none" },
    tls: undefined,
    connectTimeoutMs: 1500,
    ...overrides,
  };
}

/** What the options' authenticator sends in CONNECT for `NONCE`. */
async function credentialsFor(
  auth: NatsAuth,
): Promise<Record<string, unknown>> {
  const options = await natsConnectionOptions(connection({ auth }));
  const authenticator = options.authenticator;
  assert.ok(typeof authenticator === "function", "an authenticator is set");
  return { ...authenticator(NONCE) };
}

function assertSignedBy(
  sent: Record<string, unknown>,
  pair: nkeys.KeyPair,
): void {
  assert.equal(sent.nkey, pair.getPublicKey());
  const signature = Uint8Array.from(
    atob(String(sent.sig).replaceAll("-", "+").replaceAll("_", "/")),
    (c) => c.charCodeAt(0),
  );
  assert.ok(
    nkeys.fromPublic(pair.getPublicKey()).verify(
      new TextEncoder().encode(NONCE),
      signature,
    ),
    "the nonce is signed with the seed",
  );
}

function userSeed(pair: nkeys.KeyPair): string {
  return new TextDecoder().decode(pair.getSeed());
}

Deno.test("natsConnectionOptions: servers, name, traces, timeout and reconnect policy", async () => {
  const options = await natsConnectionOptions(connection());
  assert.deepEqual(options.servers, [
    "nats://127.0.0.1:4222",
    "nats://127.0.0.1:4223",
  ]);
  assert.equal(options.name, "marketbus-test");
  assert.equal(options.noAsyncTraces, true);
  assert.equal(options.timeout, 1500);
  assert.equal(options.reconnect, true);
  assert.equal(options.maxReconnectAttempts, -1);
  assert.equal(options.waitOnFirstConnect, true);
  assert.equal(options.reconnectTimeWait, RECONNECT_WAIT_MS);
  assert.equal(options.reconnectJitter, RECONNECT_JITTER_MS);
  assert.equal(options.reconnectJitterTLS, RECONNECT_JITTER_TLS_MS);
  assert.equal(options.ignoreAuthErrorAbort, false);
  assert.equal(options.authenticator, undefined);
  assert.equal(options.tls, undefined);
});

Deno.test("natsConnectionOptions: token and user + password authenticators", async () => {
  assert.deepEqual(await credentialsFor({ kind: "token", token: "s3cr3t" }), {
    auth_token: "s3cr3t",
  });
  assert.deepEqual(
    await credentialsFor({ kind: "user", user: "alice", password: "pw" }),
    { user: "alice", pass: "pw" },
  );
});

Deno.test("natsConnectionOptions: an nkey seed signs the server's nonce", async () => {
  const pair = nkeys.createUser();
  assertSignedBy(
    await credentialsFor({ kind: "nkey", seed: userSeed(pair) }),
    pair,
  );
});

Deno.test("natsConnectionOptions: a JWT is sent with the seed's signature", async () => {
  const pair = nkeys.createUser();
  const sent = await credentialsFor({
    kind: "jwt",
    jwt: "eyJhbGciOiJlZDI1NTE5In0.eyJzdWIiOiJVIn0.c2ln",
    seed: userSeed(pair),
  });
  assert.equal(sent.jwt, "eyJhbGciOiJlZDI1NTE5In0.eyJzdWIiOiJVIn0.c2ln");
  assertSignedBy(sent, pair);
});

Deno.test("natsConnectionOptions: a seed that cannot sign is a ConfigError without the seed", async () => {
  const seed = "SUAINVALIDSEEDAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
  await assert.rejects(
    natsConnectionOptions(connection({ auth: { kind: "nkey", seed } })),
    (error: Error) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.match(error.message, /Invalid NATS nkey seed/);
      assert.ok(!error.message.includes(seed), error.message);
      return true;
    },
  );
});

gatedTest({
  name:
    "natsConnectionOptions: a creds file gives its JWT and signs with its seed",
  permissions: FILES,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "marketbus-creds-" });
    try {
      const pair = nkeys.createUser();
      const jwt = "eyJhbGciOiJlZDI1NTE5In0.eyJzdWIiOiJVIn0.c2ln";
      const file = join(dir, "user.creds");
      await Deno.writeTextFile(
        file,
        `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n` +
          `************************* IMPORTANT *************************\n\n` +
          `-----BEGIN USER NKEY SEED-----\n${
            userSeed(pair)
          }\n------END USER NKEY SEED------\n`,
      );
      const sent = await credentialsFor({ kind: "creds", file });
      assert.equal(sent.jwt, jwt);
      assertSignedBy(sent, pair);

      const missing = join(dir, "missing.creds");
      await assert.rejects(
        natsConnectionOptions(
          connection({ auth: { kind: "creds", file: missing } }),
        ),
        (error: Error) => {
          assert.ok(error instanceof ConfigError, String(error));
          assert.ok(error.message.includes(`"${missing}"`), error.message);
          assert.match(error.message, /cannot be read/);
          return true;
        },
      );

      const garbled = join(dir, "garbled.creds");
      await Deno.writeTextFile(garbled, "not a creds file\n");
      await assert.rejects(
        natsConnectionOptions(
          connection({ auth: { kind: "creds", file: garbled } }),
        ),
        (error: Error) => {
          assert.ok(error instanceof ConfigError, String(error));
          assert.ok(error.message.includes(`"${garbled}"`), error.message);
          return true;
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

gatedTest({
  name:
    "natsConnectionOptions: TLS files are read into the options; a missing one is a ConfigError",
  permissions: FILES,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "marketbus-tls-" });
    try {
      const pem = (what: string) =>
        `-----BEGIN ${what}-----\nAAAA\n-----END ${what}-----\n`;
      const caFile = join(dir, "ca.pem");
      const certFile = join(dir, "client.pem");
      const keyFile = join(dir, "client.key");
      await Deno.writeTextFile(caFile, pem("CERTIFICATE"));
      await Deno.writeTextFile(certFile, pem("CERTIFICATE"));
      await Deno.writeTextFile(keyFile, pem("PRIVATE KEY"));
      const options = await natsConnectionOptions(
        connection({
          tls: { caFile, certFile, keyFile, handshakeFirst: true },
        }),
      );
      assert.deepEqual(options.tls, {
        handshakeFirst: true,
        ca: pem("CERTIFICATE"),
        cert: pem("CERTIFICATE"),
        key: pem("PRIVATE KEY"),
      });
      // TLS required without files: the system CAs verify the server
      const plain = await natsConnectionOptions(
        connection({ tls: { handshakeFirst: false } }),
      );
      assert.deepEqual(plain.tls, { handshakeFirst: false });

      const missing = join(dir, "missing-ca.pem");
      await assert.rejects(
        natsConnectionOptions(
          connection({ tls: { caFile: missing, handshakeFirst: false } }),
        ),
        (error: Error) => {
          assert.ok(error instanceof ConfigError, String(error));
          assert.ok(
            error.message.includes(`TLS CA file "${missing}"`),
            error.message,
          );
          return true;
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("natsAuthError: names the server and the auth kind, never the secret", () => {
  const violation = new errors.AuthorizationError("Authorization Violation");
  const cases: [NatsAuth, string, string | undefined][] = [
    [{ kind: "token", token: "t0ken-secret" }, "(token)", "t0ken-secret"],
    [
      { kind: "user", user: "alice", password: "pa55word" },
      '(user "alice" + password)',
      "pa55word",
    ],
    [
      { kind: "creds", file: "/etc/u.creds" },
      '(creds file "/etc/u.creds")',
      undefined,
    ],
    [{ kind: "none" }, "(no credentials configured)", undefined],
  ];
  const pair = nkeys.createUser();
  const seed = userSeed(pair);
  cases.push([{ kind: "nkey", seed }, `(nkey ${pair.getPublicKey()})`, seed]);
  for (const [auth, shown, secret] of cases) {
    const error = natsAuthError(violation, connection({ auth }), {
      server: "127.0.0.1:4222",
    });
    assert.ok(error instanceof NatsAuthError);
    assert.equal(error.server, "127.0.0.1:4222");
    assert.equal(error.authKind, auth.kind);
    assert.equal(error.cause, violation);
    assert.ok(
      error.message.startsWith(
        `NATS server 127.0.0.1:4222 rejected the credentials ${shown}: Authorization Violation`,
      ),
      error.message,
    );
    if (secret !== undefined) {
      assert.ok(!error.message.includes(secret), error.message);
    }
  }
  // without a server: every configured one
  assert.match(
    natsAuthError(violation, connection())!.message,
    /^NATS server nats:\/\/127\.0\.0\.1:4222, nats:\/\/127\.0\.0\.1:4223 rejected/,
  );
  const expired = new errors.UserAuthenticationExpiredError(
    "User Authentication Expired",
  );
  assert.ok(natsAuthError(expired, connection()) instanceof NatsAuthError);
  assert.equal(natsAuthError(new Error("timeout"), connection()), undefined);
  assert.equal(
    natsAuthError(new errors.ConnectionError("refused"), connection()),
    undefined,
  );
});

gatedTest({
  name:
    "connectNats: an abort ends the wait for a server that accepts the socket but never says INFO, at once, not after connect_timeout",
  permissions: [{ name: "net", host: "127.0.0.1" }],
  async fn() {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of listener) held.push(conn); // says nothing
    })();
    const controller = new AbortController();
    const started = performance.now();
    const connecting = connectNats(
      connection({
        servers: [`nats://127.0.0.1:${listener.addr.port}`],
        connectTimeoutMs: 20_000,
      }),
      {
        log: { debug() {}, info() {}, warn() {}, error() {} },
        signal: controller.signal,
      },
    );
    setTimeout(() => controller.abort(new Error("stopped")), 300);
    await assert.rejects(connecting, /stopped/);
    const ms = performance.now() - started;
    assert.ok(ms < 2000, `ended ${Math.round(ms)} ms after the start`);
    listener.close();
    await accepting.catch(() => {});
    for (const conn of held) conn.close();
  },
});
