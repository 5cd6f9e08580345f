/**
 * Permission-gated tests: a test whose permissions were not granted is
 * registered as ignored, with the missing `--allow-*` flags in its name, so a
 * plain `deno test --allow-net` runs the unit tests and visibly skips the rest.
 * Permissions are only queried (`Deno.permissions.querySync`), never requested.
 *
 * @module
 */

import { findNatsServer, startNatsServer } from "./nats_server.ts";

/** Permissions the nats-server harness (tests/nats_server.ts) needs; `run` may be narrowed, see {@linkcode harnessPermissions}. */
export const HARNESS_PERMISSIONS: readonly Deno.PermissionDescriptor[] = [
  { name: "run" },
  { name: "read" },
  { name: "write" },
  { name: "env", variable: "NATS_SERVER_BIN" },
  { name: "env", variable: "PATH" },
  { name: "net", host: "127.0.0.1" },
];

/**
 * {@linkcode HARNESS_PERMISSIONS}, with `run` narrowed to the nats-server
 * binary when it can be located, so `--allow-run=<path to nats-server>` is
 * enough.
 */
export function harnessPermissions(): Deno.PermissionDescriptor[] {
  const rest = HARNESS_PERMISSIONS.filter((d) => d.name !== "run");
  if (missingPermissions(rest).length > 0) return [...HARNESS_PERMISSIONS];
  try {
    return [{ name: "run", command: findNatsServer() }, ...rest];
  } catch {
    // not installed: starting servers will fail with instructions anyway
    return [...HARNESS_PERMISSIONS];
  }
}

/** Reading files: test fixtures, the project's own files. */
export const READ_PERMISSIONS: readonly Deno.PermissionDescriptor[] = [
  { name: "read" },
];

/** Writing temp files (`Deno.makeTempDir`) and reading them back. */
export const TEMP_FILE_PERMISSIONS: readonly Deno.PermissionDescriptor[] = [
  { name: "read" },
  { name: "write" },
];

/** What tests/promcheck.ts needs: find promcheck (`PROMCHECK_BIN` or `.tools/bin`) and run it. */
export const PROMCHECK_PERMISSIONS: readonly Deno.PermissionDescriptor[] = [
  { name: "run" },
  { name: "read" },
  { name: "env", variable: "PROMCHECK_BIN" },
];

/**
 * What in-process ring tests need: FFI for libc. (Deno wants --allow-all to
 * read anything under /dev, so /dev/shm is listed and cleaned through libc
 * too.)
 */
export const SHM_PERMISSIONS: readonly Deno.PermissionDescriptor[] = [
  { name: "ffi" },
];

/** Reading compose.yaml and the files it mounts: the yaml package reads `LOG_TOKENS` and `LOG_STREAM` while parsing. */
export const COMPOSE_PERMISSIONS: readonly Deno.PermissionDescriptor[] = [
  { name: "read" },
  { name: "env", variable: "LOG_TOKENS" },
  { name: "env", variable: "LOG_STREAM" },
];

/**
 * The reason a test that stops, restarts, reconfigures or clusters its own
 * nats-server gives for starting one even when `NATS_URL` is set; pass it as
 * {@linkcode GatedTestDefinition.reason}.
 */
export const OWN_SERVER_REASON =
  "it stops, restarts or configures its own nats-server, which NATS_URL cannot stand in for";

/** A `Deno.test` definition plus the permissions the test needs to run. */
export type GatedTestDefinition =
  & Omit<Deno.TestDefinition, "fn" | "permissions">
  & {
    /** Permissions that must all be granted; otherwise the test is skipped. */
    permissions: readonly Deno.PermissionDescriptor[];
    /** Why it needs them, added to the skipped test's name (e.g. {@linkcode OWN_SERVER_REASON}). */
    reason?: string;
    /** The test body. */
    fn: (t: Deno.TestContext) => void | Promise<void>;
  };

/** A test that needs a NATS server: `NATS_URL` or one started by the harness. */
export type NatsTestDefinition =
  & Omit<Deno.TestDefinition, "fn" | "permissions">
  & {
    /**
     * Permissions the test needs besides the server's (e.g. to spawn the
     * roles); without them it is skipped.
     * @default {[]}
     */
    permissions?: readonly Deno.PermissionDescriptor[];
    /**
     * The test runs the roles with their tasks' `--allow-net` (loopback
     * only), so a `NATS_URL` on another host skips it.
     * @default {false}
     */
    loopbackOnly?: boolean;
    /** The test body; `url` is the server's client URL. */
    fn: (t: Deno.TestContext, url: string) => void | Promise<void>;
  };

/** The command-line flags (e.g. `--allow-env=PATH`) that grant `descriptors`, merged per kind. */
export function permissionFlags(
  descriptors: readonly Deno.PermissionDescriptor[],
): string[] {
  // kind -> scoped values, or null when the whole kind is needed
  const kinds = new Map<string, Set<string> | null>();
  for (const d of descriptors) {
    const scope = scopeOf(d);
    const seen = kinds.get(d.name);
    if (scope === undefined || seen === null) {
      kinds.set(d.name, null);
    } else {
      kinds.set(d.name, (seen ?? new Set<string>()).add(scope));
    }
  }
  return [...kinds].map(([name, scopes]) =>
    scopes ? `--allow-${name}=${[...scopes].join(",")}` : `--allow-${name}`
  );
}

/** The flags for those `descriptors` that are not granted (queried, never prompted). */
export function missingPermissions(
  descriptors: readonly Deno.PermissionDescriptor[],
): string[] {
  const missing = descriptors.filter((d) =>
    Deno.permissions.querySync(d).state !== "granted"
  );
  return permissionFlags(missing);
}

/** Registers a `Deno.test` that is ignored, with the reason in its name, unless all `permissions` are granted. */
export function gatedTest(definition: GatedTestDefinition): void {
  const { permissions, reason, name, ...rest } = definition;
  const missing = missingPermissions(permissions);
  if (missing.length > 0) {
    const why = reason === undefined ? "" : `: ${reason}`;
    Deno.test({
      ...rest,
      name: `${name} [skipped: needs ${missing.join(", ")}${why}]`,
      ignore: true,
    });
  } else {
    Deno.test({ ...rest, name });
  }
}

/**
 * A `Deno.test(name, fn)` for tests that need `permissions`: each test it
 * registers goes through {@linkcode gatedTest}. Name it `test` (or an object
 * of them, `test.tempFiles(…)`): `deno fmt` keeps `test("…", async () => {`
 * on one line as it does `Deno.test`, so gating a test changes one line.
 *
 * @example
 * ```ts
 * const test = testNeeding(TEMP_FILE_PERMISSIONS);
 * test("writes the file", async () => {});
 * ```
 */
export function testNeeding(
  permissions: readonly Deno.PermissionDescriptor[],
): (name: string, fn: (t: Deno.TestContext) => void | Promise<void>) => void {
  return (name, fn) => gatedTest({ name, permissions, fn });
}

/** A test of code that calls libc (the ring, its clock): skipped, saying why, without --allow-ffi. */
export function ffiTest(
  name: string,
  fn: (t: Deno.TestContext) => void | Promise<void>,
): void {
  gatedTest({ name, permissions: SHM_PERMISSIONS, fn });
}

/** `NATS_URL` if it is set and reading it is permitted; `undefined` otherwise. */
export function natsUrlFromEnv(): string | undefined {
  const query = { name: "env", variable: "NATS_URL" } as const;
  if (Deno.permissions.querySync(query).state !== "granted") return undefined;
  return Deno.env.get("NATS_URL") || undefined;
}

/** Options of {@linkcode natsSkipReason}: what the test needs besides a server. */
export type NatsSkipOptions = Pick<
  NatsTestDefinition,
  "permissions" | "loopbackOnly"
>;

/** Why a {@linkcode natsTest} cannot run here, or `undefined` if it can. */
export function natsSkipReason(
  options: NatsSkipOptions = {},
): string | undefined {
  const own = missingPermissions(options.permissions ?? []);
  if (own.length > 0) return `needs ${own.join(", ")}`;
  const url = natsUrlFromEnv();
  if (url !== undefined) {
    const hosts = url.split(",").map((u) => hostOf(u.trim()));
    const missing = missingPermissions(
      hosts.map((host) => ({ name: "net", host })),
    );
    if (missing.length > 0) {
      return `NATS_URL is set; grant ${missing.join(", ")}`;
    }
    const remote = hosts.filter((host) => !isLoopback(host));
    if (options.loopbackOnly && remote.length > 0) {
      return `NATS_URL is ${
        remote.join(", ")
      }, outside the serve/live tasks' --allow-net=127.0.0.1,localhost`;
    }
    return undefined;
  }
  const missing = missingPermissions(harnessPermissions());
  if (missing.length === 0) return undefined;
  return `set NATS_URL and grant --allow-env=NATS_URL, or grant ${
    missing.join(", ")
  } so the harness can start nats-server`;
}

/**
 * Registers a test that gets a NATS server URL: `NATS_URL` when set and
 * readable, else a JetStream server started by the harness for this test.
 * Skipped, with the reason in its name, when neither is possible.
 */
export function natsTest(definition: NatsTestDefinition): void {
  const { name, fn, permissions, loopbackOnly, ...rest } = definition;
  const reason = natsSkipReason({ permissions, loopbackOnly });
  if (reason !== undefined) {
    Deno.test({
      ...rest,
      name: `${name} [skipped: ${reason}]`,
      ignore: true,
      fn: () => {},
    });
    return;
  }
  Deno.test({
    ...rest,
    name,
    fn: async (t) => {
      const url = natsUrlFromEnv();
      if (url !== undefined) return await fn(t, url);
      await using server = await startNatsServer();
      await fn(t, server.url);
    },
  });
}

function scopeOf(d: Deno.PermissionDescriptor): string | undefined {
  switch (d.name) {
    case "run":
      return d.command?.toString();
    case "read":
    case "write":
    case "ffi":
      return d.path?.toString();
    case "env":
      return d.variable;
    case "net":
      return d.host;
    case "sys":
      return d.kind;
    case "import":
      return d.host;
  }
}

function isLoopback(host: string): boolean {
  const name = host.slice(0, host.lastIndexOf(":"));
  return name === "localhost" || name === "[::1]" || name.startsWith("127.");
}

function hostOf(url: string): string {
  try {
    const u = new URL(url.includes("://") ? url : `nats://${url}`);
    return u.port ? `${u.hostname}:${u.port}` : `${u.hostname}:4222`;
  } catch {
    return url;
  }
}
