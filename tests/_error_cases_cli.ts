/**
 * Error paths of the command line and the config file, for both roles: bad
 * flags, bad flag values, bad config files (tests/error_paths_test.ts).
 *
 * @module
 */

import type { Role } from "./_ipc_roles.ts";
import { configText, type ErrorPath, escape } from "./_error_paths.ts";

/** Flags with bad values, per role: each must be refused naming the flag and the value. */
const BAD_VALUES: Record<Role, [string, string][]> = {
  serve: [
    ["--max-trades", "abc"],
    ["--max-trades", "-1"],
    ["--max-trades", "1.5"],
    ["--rate", "fast"],
    ["--rate", "-5"],
    ["--seed", "x"],
    ["--seed", "4294967296"],
    ["--speed", "fast"],
    ["--speed", "-1"],
    ["--metrics-port", "abc"],
    ["--metrics-port", "70000"],
    ["--metrics-port", "-1"],
    ["--progress", "1x"],
    ["--log-level", "loud"],
    ["--log-format", "xml"],
    ["--source", "ftp"],
    ["--on-error", "ignore"],
    ["--endpoint", "ftp://example.com"],
    ["--symbols", "BTC USDT"],
    ["--exchange", "bin ance"],
    ["--stream", "a.b"],
    ["--nats-url", "nats://"],
    ["--nats-url", "http://127.0.0.1:4222"],
  ],
  live: [
    ["--max-trades", "abc"],
    ["--max-trades", "-1"],
    ["--metrics-port", "abc"],
    ["--metrics-port", "70000"],
    ["--console-port", "web"],
    ["--console-port", "65536"],
    ["--progress", "1x"],
    ["--wait", "hover"],
    ["--from", "middle"],
    ["--deliver", "some"],
    ["--replay", "fast"],
    ["--bars", "7x"],
    ["--symbols", "BTC USDT"],
    ["--nats-url", "nats://"],
  ],
};

function badValueCases(role: Role): ErrorPath[] {
  return BAD_VALUES[role].map(([flag, value]) => ({
    what: `${flag} ${value}`,
    role,
    // A value starting with "-" is attached (see the usage cases).
    args: value.startsWith("-") ? [`${flag}=${value}`] : [flag, value],
    code: 2,
    // "Invalid value -1 at data_manager.max_trades (from --max-trades): …"
    error: new RegExp(
      `${escape(value)}"? at [\\w.[\\]]+ \\(from ${escape(flag)}\\)`,
    ),
  }));
}

function usageCases(role: Role): ErrorPath[] {
  const name = role === "serve" ? "data_manager" : "trading_core";
  return [
    {
      what: "an unknown flag",
      role,
      args: ["--bogus"],
      code: 2,
      error: new RegExp(
        `^${name}: Unknown option '--bogus' \\(--help lists the flags\\)$`,
      ),
    },
    {
      what: "a positional argument",
      role,
      args: ["extra"],
      code: 2,
      error: new RegExp(`^${name}: .*'extra'`),
    },
    {
      what: "a flag without its value",
      role,
      args: ["--symbols"],
      code: 2,
      error: new RegExp(
        `^${name}: Option '--symbols <value>' argument missing`,
      ),
    },
    {
      what: "a flag followed by another flag",
      role,
      args: ["--symbols", "--ipc"],
      code: 2,
      error: new RegExp(
        `^${name}: Option '--symbols' argument is ambiguous: --ipc starts with "-"; give --symbols its value, or write --symbols=--ipc if that is it \\(--help lists the flags\\)$`,
      ),
    },
    {
      what: "a negative number not attached to its flag",
      role,
      args: ["--max-trades", "-1"],
      code: 2,
      error: new RegExp(
        `^${name}: Option '--max-trades' argument is ambiguous: -1 starts with "-"; give --max-trades its value, or write --max-trades=-1 if that is it`,
      ),
    },
    {
      what: "a flag given twice",
      role,
      args: ["--symbols", "BTCUSDT", "--symbols", "ETHUSDT"],
      code: 2,
      error: new RegExp(
        `^${name}: --symbols is given twice \\("BTCUSDT" and "ETHUSDT"\\)`,
      ),
    },
    {
      what: "a switch given a value",
      role,
      args: ["--ipc=yes"],
      code: 2,
      error: new RegExp(`^${name}: Option '--ipc' does not take an argument`),
    },
  ];
}

function configCases(role: Role): ErrorPath[] {
  const section = role === "serve" ? "data_manager" : "data_source";
  return [
    {
      what: "config file missing",
      role,
      args: async (config) => {
        await Deno.remove(config.path);
        return { args: [] };
      },
      code: 2,
      error: /Config file ".*roles\.toml" not found/,
    },
    {
      what: "config file is a directory",
      role,
      args: async (config) => {
        await Deno.remove(config.path);
        await Deno.mkdir(config.path);
        return { args: [] };
      },
      code: 2,
      error: /Config file ".*roles\.toml" cannot be read: .*directory/i,
    },
    {
      what: "config file outside --allow-read",
      role,
      args: () => ({ args: [], config: "/etc/hostname" }),
      code: 2,
      error:
        /Config file "\/etc\/hostname" cannot be read: run with --allow-read=\/etc\/hostname/,
    },
    {
      what: "config file not TOML",
      role,
      args: configText("this is not toml\n"),
      code: 2,
      error: /Invalid TOML in .*roles\.toml at line 1, column \d+/,
    },
    {
      what: "config file of binary garbage",
      role,
      args: async (config) => {
        await Deno.writeFile(config.path, new Uint8Array([0xff, 0, 0x8b, 7]));
        return { args: [] };
      },
      code: 2,
      error: /Invalid TOML in .*roles\.toml at line 1/,
    },
    {
      what: "NATS_URL malformed",
      role,
      args: () => ({
        args: ["--nats"],
        env: { NATS_URL: "http://127.0.0.1:4222" },
      }),
      code: 2,
      error:
        /Invalid server "http:\/\/127\.0\.0\.1:4222" at [\w.]+servers\[0\] \(from NATS_URL\): expected the scheme nats:\/\/ or tls:\/\//,
    },
    {
      what: "config key of the wrong type",
      role,
      args: configText(`[${section}]\nsymbols = 5\n`),
      code: 2,
      error: new RegExp(
        `Invalid value 5 at ${section}\\.symbols in .*roles\\.toml: expected`,
      ),
    },
    {
      what: "unknown config key",
      role,
      args: configText(`[${section}]\nsymbolz = ["BTCUSDT"]\n`),
      code: 2,
      error: new RegExp(`${section}\\.symbolz`),
    },
    {
      what: "unknown config section",
      role,
      args: configText(`[nonsense]\nkey = 1\n`),
      code: 2,
      error: /nonsense/,
    },
  ];
}

/** The command-line and config-file cases of `role`. */
export function cliCases(role: Role): ErrorPath[] {
  return [...usageCases(role), ...badValueCases(role), ...configCases(role)];
}
