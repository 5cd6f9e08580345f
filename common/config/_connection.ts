/**
 * How a role reaches NATS (`[transport.nats]`, `[data_source.nats.connection]`):
 * servers, authentication and TLS, with credentials never echoed.
 *
 * @module
 */

import { DEFAULT_NATS_URL } from "./_defaults.ts";
import type { Section } from "./_reader.ts";
import type { NatsAuth, NatsConnectionConfig, NatsTls } from "./types.ts";

/** `nats://user:pass@host` → `nats://(hidden)@host`: never echo credentials. */
export function hideUrlCredentials(url: string): string {
  return url.replace(/^((?:[a-z][a-z0-9+.-]*:\/\/)?)[^/@]*@/i, "$1(hidden)@");
}

function checkServerUrl(server: string): string {
  let url: URL;
  try {
    url = new URL(server.includes("://") ? server : `nats://${server}`);
  } catch {
    throw new RangeError(
      `Invalid server: expected a URL such as "nats://127.0.0.1:4222" or "tls://host:4222"`,
    );
  }
  if (url.protocol !== "nats:" && url.protocol !== "tls:") {
    throw new RangeError(
      `Invalid server: expected the scheme nats:// or tls://, got "${url.protocol}//"`,
    );
  }
  if (url.hostname === "" || (url.pathname !== "" && url.pathname !== "/")) {
    throw new RangeError(
      `Invalid server: expected a URL such as "nats://127.0.0.1:4222" with a host and no path`,
    );
  }
  if (url.username !== "" || url.password !== "") {
    // Credentials in a URL end up in logs and process lists: keep them in the auth table.
    throw new RangeError(
      `Invalid server: expected no credentials in the URL; put them in the auth table (token, user and password, nkey_seed, jwt, creds_file)`,
    );
  }
  return server;
}

const NKEY_USER_SEED = /^SU[A-Z2-7]{56}$/;
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function checkSeed(seed: string): string {
  if (!NKEY_USER_SEED.test(seed)) {
    throw new RangeError(
      `Invalid seed: expected a user NKey seed (58 characters starting with "SU")`,
    );
  }
  return seed;
}

function checkJwt(jwt: string): string {
  if (!JWT.test(jwt)) {
    throw new RangeError(
      `Invalid jwt: expected a user JWT (three base64url parts separated by ".")`,
    );
  }
  return jwt;
}

/** The variable that sets each auth key, for the hint of a missing half. */
const AUTH_VARIABLE: Record<string, string> = {
  user: "NATS_USER",
  password: "NATS_PASSWORD",
};

/**
 * One half of a pair without the other. When the given half came from the
 * environment, the problem is about that key, where it came from, with the
 * variable that would complete it: `….password (from NATS_PASSWORD): the user
 * is missing: …; set NATS_USER too, or user in the config file`.
 */
function missingHalf(section: Section, given: string, missing: string): void {
  const together = "user and password go together";
  if (section.precedence(given) < 2) {
    section.problem(missing, `missing: ${together}`);
    return;
  }
  section.problem(
    given,
    `the ${missing} is missing: ${together}; set ${
      AUTH_VARIABLE[missing]
    } too, or ${missing} in the config file`,
  );
}

/**
 * Where the set `keys` of one method came from, each place once, the
 * variables and flags together: `from NATS_USER, NATS_PASSWORD`, `in x.toml,
 * from NATS_PASSWORD`.
 */
function describeOrigins(section: Section, keys: string[]): string {
  const places = new Set<string>();
  const origins = new Set<string>();
  for (const key of keys) {
    if (section.precedence(key) === 0) continue;
    const where = section.where(key);
    const origin = /^\(from (.*)\)$/.exec(where)?.[1];
    if (origin === undefined) places.add(where.replace(/^\((.*)\)$/, "$1"));
    else origins.add(origin);
  }
  if (origins.size > 0) places.add(`from ${[...origins].join(", ")}`);
  return [...places].join(", ");
}

/**
 * The methods of `set` (each its name, then its keys), with where each came
 * from when that differs between them: `token (from NATS_TOKEN), creds_file
 * (in x.toml)`. Never a value.
 */
function describeMethods(section: Section, set: string[][]): string {
  const wheres = set.map(([, ...keys]) => describeOrigins(section, keys));
  if (new Set(wheres).size === 1) return set.map(([name]) => name).join(", ");
  return set.map(([name], i) => `${name} (${wheres[i]})`).join(", ");
}

function readAuth(section: Section): NatsAuth {
  const token = section.optionalString("token", { secret: true });
  const user = section.optionalString("user");
  const password = section.optionalString("password", { secret: true });
  const seed = section.optionalString("nkey_seed", {
    secret: true,
    check: checkSeed,
  });
  const jwt = section.optionalString("jwt", { secret: true, check: checkJwt });
  const credsFile = section.optionalString("creds_file");
  section.done();
  const set = [
    token !== undefined && ["token", "token"],
    (user !== undefined || password !== undefined) &&
    ["user+password", "user", "password"],
    seed !== undefined && jwt === undefined && ["nkey_seed", "nkey_seed"],
    jwt !== undefined && ["jwt+nkey_seed", "jwt", "nkey_seed"],
    credsFile !== undefined && ["creds_file", "creds_file"],
  ].filter((m): m is string[] => m !== false);
  const methods =
    "expected exactly one of: token | user + password | nkey_seed | jwt + nkey_seed | creds_file";
  if (set.length > 1) {
    section.problem(
      "",
      `several auth methods set (${describeMethods(section, set)}); ${methods}`,
    );
    return { kind: "none" };
  }
  if (token !== undefined) return { kind: "token", token };
  if (user !== undefined || password !== undefined) {
    if (user === undefined || password === undefined) {
      const [missing, given] = user === undefined
        ? ["user", "password"]
        : ["password", "user"];
      missingHalf(section, given, missing);
      return { kind: "none" };
    }
    return { kind: "user", user, password };
  }
  if (jwt !== undefined) {
    if (seed === undefined) {
      section.problem(
        "nkey_seed",
        "missing: a jwt needs the user's nkey_seed to sign with",
      );
      return { kind: "none" };
    }
    return { kind: "jwt", jwt, seed };
  }
  if (seed !== undefined) return { kind: "nkey", seed };
  if (credsFile !== undefined) return { kind: "creds", file: credsFile };
  return { kind: "none" };
}

function readTls(section: Section, servers: string[]): NatsTls | undefined {
  const caFile = section.optionalString("ca_file");
  const certFile = section.optionalString("cert_file");
  const keyFile = section.optionalString("key_file");
  const handshakeFirst = section.boolean("handshake_first", false);
  section.done();
  if ((certFile === undefined) !== (keyFile === undefined)) {
    section.problem(
      certFile === undefined ? "cert_file" : "key_file",
      "missing: cert_file and key_file go together",
    );
  }
  const wanted = caFile !== undefined || certFile !== undefined ||
    keyFile !== undefined || handshakeFirst ||
    servers.some((s) => s.toLowerCase().startsWith("tls://"));
  return wanted ? { caFile, certFile, keyFile, handshakeFirst } : undefined;
}

/** The connection keys of a NATS section; `name` is the default connection name. */
export function readConnection(
  section: Section,
  name: string,
): NatsConnectionConfig {
  const servers = section.stringList("servers", [DEFAULT_NATS_URL], {
    check: checkServerUrl,
    what: "server",
    shown: hideUrlCredentials,
  });
  if (servers.length === 0) {
    section.problem("servers", "expected at least one server URL");
  }
  return {
    servers,
    name: section.string("name", name),
    auth: readAuth(section.section("auth")),
    tls: readTls(section.section("tls"), servers),
    connectTimeoutMs: section.duration("connect_timeout", 5000),
  };
}
