/**
 * The command line of `deno task symbols`: its flags and usage text.
 *
 * @module
 */

import {
  natsUrlFlag,
  parseRoleArgs,
  type RoleArgs,
  type RoleFlag,
} from "../common/runtime/cli.ts";

/** The name its messages start with. */
export const TOOL = "symbolstat";

/** The connection it reads the registry over: the consumer's. */
const NATS = "data_source.nats.connection";

/** Usage text of `deno task symbols`. */
export const SYMBOLS_USAGE = `Usage: deno task symbols [flags]

Lists the symbol registry (NATS KV bucket registry.bucket): every
(exchange, symbol) a serve publishes or published, its publisher (host, pid,
since), state (alive, expired, stopped; standby entries too), heartbeat age,
rate, ring, epoch and source. Read-only; needs no role running.

Flags:
  --config FILE        TOML config (the task passes config/development.toml;
                       without it config/marketbus.toml if present, else the
                       built-in defaults)
  --nats-url URL[,URL] NATS servers                        ${NATS}.servers
  --bucket NAME        the registry's KV bucket            registry.bucket
  --json               print one JSON document
  --log-level LEVEL    warn | error: config warnings on stderr  log.level
  --print-config       print the resolved config and exit
  -h, --help           show this help

Exit status: 0 (also with an empty registry), 1 when NATS cannot be reached
(within data_source.nats.connection.connect_timeout) or refuses the
credentials, 2 for a bad command line or config.`;

/** Reading the registry is what this tool does: the NATS variables then apply to its connection. */
const READS_REGISTRY = {
  key: "registry.watch",
  convert: () => true,
} as const;

/** The flags of `deno task symbols` and the config keys they set. */
const SYMBOLS_FLAGS: Record<string, RoleFlag> = {
  "nats-url": natsUrlFlag(NATS, READS_REGISTRY),
  bucket: { type: "string", sets: { key: "registry.bucket" } },
  json: { type: "boolean" },
};

/** What the command line of `deno task symbols` asks for. */
export interface SymbolsArgs {
  /** The flags shared with the roles: `--config`, the config overrides, `--print-config`, `--help`. */
  role: RoleArgs;
  /** JSON rather than a table. */
  json: boolean;
}

/**
 * Parses the command line of `deno task symbols`.
 *
 * @throws {TypeError} for an unknown flag, a positional argument, or a flag
 * missing its value or given twice.
 */
export function parseSymbolsArgs(args: string[]): SymbolsArgs {
  const role = parseRoleArgs(args, SYMBOLS_FLAGS);
  role.overrides.push({ key: READS_REGISTRY.key, value: true, origin: TOOL });
  return { role, json: role.switches.json === true };
}
