/**
 * The environment variables the loader reads, with the names the `nats` CLI
 * uses: `NATS_URL` (servers) and the credentials `NATS_TOKEN`, `NATS_USER` +
 * `NATS_PASSWORD` and `NATS_CREDS`. Each sets the same key of each role's
 * connection in use, above the file and below the flags; a connection not in
 * use (a ring-only role) ignores them, since they may be set for other tools.
 *
 * @module
 */

/** Every variable the loader reads, in the order they apply. */
export const NATS_ENV_VARIABLES = [
  "NATS_URL",
  "NATS_TOKEN",
  "NATS_USER",
  "NATS_PASSWORD",
  "NATS_CREDS",
] as const;

/** The variables the loader reads; an empty value is the same as unset. */
export type NatsEnv = Partial<
  Record<(typeof NATS_ENV_VARIABLES)[number], string | undefined>
>;

/** The auth key each credential variable sets. */
const AUTH_KEYS = {
  NATS_TOKEN: "token",
  NATS_USER: "user",
  NATS_PASSWORD: "password",
  NATS_CREDS: "creds_file",
} as const;

/** Both roles' connection tables: the publisher's and the consumer's. */
export const NATS_CONNECTIONS = [
  "transport.nats",
  "data_source.nats.connection",
] as const;

/**
 * Reads the variables of {@linkcode NATS_ENV_VARIABLES} that the process may
 * read (never prompts, never throws); unset, empty or not granted ones are
 * left out.
 */
export function readNatsEnv(): NatsEnv {
  const env: NatsEnv = {};
  for (const name of NATS_ENV_VARIABLES) {
    const state = Deno.permissions.querySync({ name: "env", variable: name });
    if (state.state !== "granted") continue;
    const value = Deno.env.get(name);
    if (value !== undefined && value !== "") env[name] = value;
  }
  return env;
}

/** One key the environment sets. */
export interface EnvOverride {
  /** Dotted key path. */
  key: string;
  /** The value (never printed for secrets: the reader hides them). */
  value: unknown;
  /** The variable, for messages. */
  origin: string;
}

/**
 * The keys `env` sets in `connections` (of {@linkcode NATS_CONNECTIONS}):
 * `NATS_URL`'s comma-separated servers (spaces and empty entries dropped)
 * and each credential as it is.
 */
export function envOverrides(
  env: NatsEnv,
  connections: readonly string[],
): EnvOverride[] {
  const overrides: EnvOverride[] = [];
  const url = env.NATS_URL;
  if (url !== undefined && url !== "") {
    const servers = url.split(",").map((s) => s.trim()).filter((s) => s);
    for (const connection of connections) {
      overrides.push({
        key: `${connection}.servers`,
        value: servers,
        origin: "NATS_URL",
      });
    }
  }
  for (const connection of connections) {
    for (const [name, key] of Object.entries(AUTH_KEYS)) {
      const value = env[name as keyof typeof AUTH_KEYS];
      if (value === undefined || value === "") continue;
      overrides.push({ key: `${connection}.auth.${key}`, value, origin: name });
    }
  }
  return overrides;
}

/**
 * The auth tables `overrides` write into that the file does not have, each
 * with the variables that fill it (`NATS_TOKEN, NATS_USER`), so a problem
 * about the table says where it came from.
 */
export function envAuthTables(
  overrides: readonly EnvOverride[],
  inFile: (path: string) => boolean,
): Map<string, string> {
  const tables = new Map<string, string[]>();
  for (const { key, origin } of overrides) {
    const table = key.slice(0, key.lastIndexOf("."));
    if (!table.endsWith(".auth") || inFile(table)) continue;
    tables.set(table, [...tables.get(table) ?? [], origin]);
  }
  return new Map(
    [...tables].map(([table, names]) => [table, names.join(", ")]),
  );
}
