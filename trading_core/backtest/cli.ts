/**
 * The `backtest` command line: which strategy over which recordings, the
 * time range and symbols, where the results go.
 *
 * @module
 */

import { basename, extname, join } from "node:path";
import { checkSymbolList } from "../../common/config/symbols.ts";
import type { OnBadRow } from "../../common/trade_file/mod.ts";
import {
  LOG_FLAGS_HELP,
  parseRoleArgs,
  type RoleArgs,
  type RoleFlag,
  splitList,
} from "../../common/runtime/cli.ts";
import { BROKER_FLAGS, BROKER_FLAGS_HELP } from "../broker_flags.ts";

/** Usage text of `deno task backtest`. */
export const BACKTEST_USAGE =
  `Usage: deno task backtest --strategy FILE --data FILE|DIR [--data …] [flags]

Runs a strategy over recorded trades (the project's NDJSON, Binance trades CSV,
gzip, .zip), merged in trade-time order across files, symbols and exchanges, through
the same processing as live (bars close on trade time only), with the paper
broker; writes summary.json, fills.ndjson and report.html.

Flags (those with a config key override it):
  --strategy FILE      the strategy module (required)
  --data FILE|DIR      a recording, or a directory of them (required;
                       repeat for more)
  --from TIME          first trade time kept: RFC 3339 with a zone
                       (2024-01-02T09:30:00Z) or a UTC date (2024-01-02)
  --to TIME            end of the range, exclusive; a date keeps that
                       whole day
  --symbols A,B        symbols kept (default: every one)
  --exchange NAME      exchange kept (default: every one)
  --out DIR            where the results go (default:
                       data/backtest/<strategy file name without extension>)
  --bars A,B           bar intervals, e.g. 1s,1m           trading_core.bars.intervals
  --max-clock-jump D   a trade further ahead of its        trading_core.bars.max_clock_jump
                       symbol's clock (default 1h) is an
                       outlier unless the next confirms it
${BROKER_FLAGS_HELP}
  --on-bad-row R       stop (default) | skip: a bad row in a recording
                       stops the run (exit 1), or is skipped and counted
  --quiet              no progress line on the terminal (nor with
                       --progress 0)
  --config FILE        TOML config, for [trading_core.bars] and
                       [trading_core.broker] (default: config/marketbus.toml
                       if present, else the built-in defaults)
${LOG_FLAGS_HELP}
  --print-config       print the resolved config and exit
  -h, --help           show this help`;

/** The flags of `backtest` and the config keys they set. */
const BACKTEST_FLAGS: Record<string, RoleFlag> = {
  strategy: { type: "string" },
  data: { type: "string", multiple: true },
  from: { type: "string" },
  to: { type: "string" },
  symbols: { type: "string" },
  exchange: { type: "string" },
  out: { type: "string" },
  bars: {
    type: "string",
    sets: { key: "trading_core.bars.intervals", convert: splitList },
  },
  "max-clock-jump": {
    type: "string",
    sets: { key: "trading_core.bars.max_clock_jump" },
  },
  ...BROKER_FLAGS,
  "on-bad-row": { type: "string" },
  quiet: { type: "boolean" },
};

/** What the `backtest` flags ask for, beyond the config. */
export interface BacktestArgs {
  /** The strategy module. */
  strategy: string;
  /** Recordings and directories of them, as given. */
  data: string[];
  /** First ts_event kept, ns (inclusive). */
  from: bigint | undefined;
  /** End of the range, ns (exclusive). */
  to: bigint | undefined;
  /** Symbols kept, upper case; empty: every one. */
  symbols: string[];
  /** Exchange kept, lower case; undefined: every one. */
  exchange: string | undefined;
  /** Output directory. */
  out: string;
  /** What a bad row does. */
  onBadRow: OnBadRow;
  /** No progress line. */
  quiet: boolean;
}

/**
 * Parses `backtest` flags.
 *
 * @throws {TypeError} for an unknown flag, a missing `--strategy` or
 * `--data` (but with `--help` or `--print-config`), or a bad value (one
 * line naming the flag and the value).
 */
export function parseBacktestArgs(args: string[]): RoleArgs {
  const parsed = parseRoleArgs(args, BACKTEST_FLAGS);
  // Always the trade clock: set here so that --print-config shows it.
  parsed.overrides.push({
    key: "trading_core.bars.clock",
    value: "trade",
    origin: "backtest (always the trade clock)",
  });
  // --help and --print-config run nothing: --strategy and --data may be left out.
  if (!parsed.help && !parsed.printConfig) backtestArgs(parsed.switches);
  return parsed;
}

/**
 * The `backtest` switches of a parsed command line, checked.
 *
 * @throws {TypeError} as {@linkcode parseBacktestArgs} says.
 */
export function backtestArgs(
  switches: Readonly<Record<string, string | boolean | string[]>>,
): BacktestArgs {
  const strategy = switches.strategy as string | undefined;
  if (strategy === undefined || strategy.trim() === "") {
    throw new TypeError("--strategy FILE is required: the strategy to run");
  }
  const data = (switches.data ?? []) as string[];
  if (data.length === 0 || data.some((path) => path.trim() === "")) {
    throw new TypeError(
      "--data FILE|DIR is required: a recording or a directory of them (repeat --data for more)",
    );
  }
  const from = switches.from === undefined
    ? undefined
    : parseTime("--from", switches.from as string);
  const to = switches.to === undefined
    ? undefined
    : parseTime("--to", switches.to as string, { endOfDay: true });
  if (from !== undefined && to !== undefined && to <= from) {
    throw new TypeError(
      `--to ${switches.to} is not after --from ${switches.from}: expected a later end`,
    );
  }
  const exchange = switches.exchange as string | undefined;
  if (exchange !== undefined && !/^[a-z0-9_-]+$/.test(exchange)) {
    throw new TypeError(
      `Invalid --exchange ${
        JSON.stringify(exchange)
      }: expected a lower-case exchange name, e.g. binance`,
    );
  }
  const onBadRow = (switches["on-bad-row"] ?? "stop") as string;
  if (onBadRow !== "stop" && onBadRow !== "skip") {
    throw new TypeError(
      `Invalid --on-bad-row ${JSON.stringify(onBadRow)}: expected stop or skip`,
    );
  }
  const out = (switches.out as string | undefined) ??
    join("data", "backtest", basename(strategy, extname(strategy)));
  if (out.trim() === "") throw new TypeError("--out needs a directory");
  return {
    strategy,
    data,
    from,
    to,
    symbols: symbolsOf(switches.symbols as string | undefined),
    exchange,
    out,
    onBadRow,
    quiet: switches.quiet === true,
  };
}

/** `--symbols`, upper case; a bad or repeated one is a TypeError naming it. */
function symbolsOf(text: string | undefined): string[] {
  if (text === undefined) return [];
  const list = splitList(text);
  const { symbols, problems } = checkSymbolList(list);
  if (list.length === 0 || problems.length > 0) {
    const problem = problems[0];
    throw new TypeError(
      `Invalid --symbols ${JSON.stringify(text)}: ${
        problem === undefined
          ? "expected symbols, e.g. BTCUSDT,ETHUSDT"
          : `${JSON.stringify(problem.value)}: ${problem.expected}`
      }`,
    );
  }
  return symbols;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** ms of a UTC date and time of day, NaN unless every field is in range (no Feb 30, no 24:00, no leap second). */
function utcMs(fields: number[]): number {
  const [year, month, day, hour = 0, minute = 0, second = 0] = fields;
  if (hour > 23 || minute > 59 || second > 59) return NaN;
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  date.setUTCFullYear(year); // years 0-99 are not 1900-1999
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 &&
      date.getUTCDate() === day
    ? date.getTime()
    : NaN;
}

/**
 * A `--from`/`--to` value as ns since the epoch: an RFC 3339 time with a
 * zone (fractions to the ns), or a UTC date: its start, or with
 * `options.endOfDay` the next day's start (a `--to` date keeps that whole
 * day). Every field must be in range, and the time not before 1970.
 *
 * @throws {TypeError} naming `flag` and `text` otherwise.
 */
function parseTime(
  flag: string,
  text: string,
  options: { endOfDay?: boolean } = {},
): bigint {
  const expected =
    `expected an RFC 3339 time with a zone (2024-01-02T09:30:00Z) or a UTC date (2024-01-02), from 1970 on`;
  const date = DATE.exec(text);
  const time = date ? null : TIME.exec(text);
  let ms = NaN;
  let fraction = 0n;
  if (date) {
    ms = utcMs(date.slice(1, 4).map(Number)) +
      (options.endOfDay ? 86_400_000 : 0);
  } else if (time) {
    const offset = time[9] === undefined ? 0 : (time[9] === "-" ? -1 : 1) *
      (+time[10] > 23 || +time[11] > 59
        ? NaN
        : (+time[10] * 60 + +time[11]) * 60_000);
    ms = utcMs(time.slice(1, 7).map(Number)) - offset;
    fraction = BigInt((time[7] ?? "").padEnd(9, "0"));
  }
  if (!(ms >= 0)) {
    throw new TypeError(`Invalid ${flag} ${JSON.stringify(text)}: ${expected}`);
  }
  return BigInt(ms) * 1_000_000n + fraction;
}
