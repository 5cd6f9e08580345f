import assert from "node:assert/strict";
import { parseConfig } from "../../common/config/mod.ts";
import { BACKTEST_USAGE, backtestArgs, parseBacktestArgs } from "./cli.ts";

const BASE = ["--strategy", "strategies/flip.ts", "--data", "data/a.ndjson"];

function args(...extra: string[]) {
  return backtestArgs(parseBacktestArgs([...BASE, ...extra]).switches);
}

/** The one-line TypeError `argv` is refused with. */
function refusal(argv: string[]): string {
  try {
    parseBacktestArgs(argv);
  } catch (error) {
    assert.ok(error instanceof TypeError, String(error));
    assert.ok(!error.message.includes("\n"), error.message);
    return error.message;
  }
  throw new Error(`accepted: ${argv.join(" ")}`);
}

Deno.test("backtest: defaults, repeated --data in order, the default --out from the strategy's file name", () => {
  assert.deepEqual(
    backtestArgs(
      parseBacktestArgs([...BASE, "--data", "data/dir", "--data", "b.csv"])
        .switches,
    ),
    {
      strategy: "strategies/flip.ts",
      data: ["data/a.ndjson", "data/dir", "b.csv"],
      from: undefined,
      to: undefined,
      symbols: [],
      exchange: undefined,
      out: "data/backtest/flip",
      onBadRow: "stop",
      quiet: false,
    },
  );
  const given = args(
    "--out",
    "data/x",
    "--symbols",
    "btcusdt,ETHUSDT",
    "--exchange",
    "binance",
    "--on-bad-row",
    "skip",
    "--quiet",
  );
  assert.deepEqual(
    [given.out, given.symbols, given.exchange, given.onBadRow, given.quiet],
    ["data/x", ["BTCUSDT", "ETHUSDT"], "binance", "skip", true],
  );
});

Deno.test("backtest: --from/--to take an RFC 3339 time with a zone (to the ns) or a UTC date; a --to date keeps that whole day", () => {
  const day = 1_704_067_200_000_000_000n; // 2024-01-01T00:00:00Z
  assert.equal(args("--from", "2024-01-01").from, day);
  assert.equal(args("--to", "2024-01-01").to, day + 86_400_000_000_000n);
  assert.equal(
    args("--from", "2024-01-01T00:00:01.000000123Z").from,
    day + 1_000_000_123n,
  );
  assert.equal(args("--from", "2024-01-01T01:00:00+01:00").from, day);
});

Deno.test("backtest: --bars and the broker flags (shared with live) set their trading_core keys", () => {
  const parsed = parseBacktestArgs([
    ...BASE,
    "--bars",
    "1s,5m",
    "--balance",
    "5000",
    "--fee-bps",
    "7.5",
    "--maker-fee-bps",
    "1",
    "--slippage-bps",
    "2",
    "--fill-latency",
    "50ms",
  ]);
  const config = parseConfig(undefined, {
    overrides: parsed.overrides,
    env: {},
  });
  assert.deepEqual(config.tradingCore.bars.intervals, ["1s", "5m"]);
  assert.deepEqual(config.tradingCore.broker, {
    startingBalance: 5000,
    feeBps: 7.5,
    makerFeeBps: 1,
    slippageBps: 2,
    latencyMs: 50,
    maxOpenOrders: 10_000,
  });
  assert.throws(
    () =>
      parseConfig(undefined, {
        overrides: parseBacktestArgs([...BASE, "--fee-bps=-1"]).overrides,
        env: {},
      }),
    /trading_core\.broker\.fee_bps \(from --fee-bps\)/,
  );
});

Deno.test("backtest: bad command lines are one line each, naming the flag and the value", () => {
  const cases: [string[], RegExp][] = [
    [["--data", "a"], /^--strategy FILE is required/],
    [["--strategy", "s.ts"], /^--data FILE\|DIR is required/],
    [
      [...BASE, "--from", "yesterday"],
      /^Invalid --from "yesterday": expected an RFC 3339 time/,
    ],
    [[...BASE, "--from", "2024-02-30"], /^Invalid --from "2024-02-30"/],
    [
      [...BASE, "--from", "2024-02-30T00:00:00Z"],
      /^Invalid --from "2024-02-30T00:00:00Z"/,
    ],
    [
      [...BASE, "--to", "2024-01-01T24:00:00Z"],
      /^Invalid --to "2024-01-01T24:00:00Z"/,
    ],
    [
      [...BASE, "--to", "2024-01-01T10:00:00+24:00"],
      /^Invalid --to "2024-01-01T10:00:00\+24:00"/,
    ],
    [[...BASE, "--from", "1969-12-31"], /^Invalid --from "1969-12-31"/],
    [
      [...BASE, "--from", "1970-01-01T00:30:00+01:00"],
      /^Invalid --from "1970-01-01T00:30:00\+01:00": .*from 1970 on/,
    ],
    [
      [...BASE, "--to", "2024-01-02T10:00:00"],
      /^Invalid --to "2024-01-02T10:00:00": expected an RFC 3339 time with a zone/,
    ],
    [
      [...BASE, "--from", "2024-01-02", "--to", "2024-01-01"],
      /^--to 2024-01-01 is not after --from 2024-01-02/,
    ],
    [[...BASE, "--symbols", "BTC USDT"], /^Invalid --symbols "BTC USDT"/],
    [
      [...BASE, "--exchange", "Binance"],
      /^Invalid --exchange "Binance": expected a lower-case exchange name/,
    ],
    [
      [...BASE, "--on-bad-row", "ignore"],
      /^Invalid --on-bad-row "ignore": expected stop or skip/,
    ],
    [[...BASE, "--strategy", "other.ts"], /^--strategy is given twice/],
    [[...BASE, "--speed", "0"], /Unknown option '--speed'/],
  ];
  for (const [argv, expected] of cases) {
    assert.match(refusal(argv), expected, argv.join(" "));
  }
});

Deno.test("backtest: --help and --print-config need no other flag; the usage lists every flag", () => {
  assert.equal(parseBacktestArgs(["--help"]).help, true);
  assert.equal(parseBacktestArgs(["--print-config"]).printConfig, true);
  const config = parseConfig(undefined, {
    overrides: parseBacktestArgs(["--print-config", "--bars", "5s"]).overrides,
    env: {},
  });
  assert.equal(config.tradingCore.bars.clock, "trade", "what the run uses");
  assert.throws(
    () =>
      parseConfig(undefined, {
        overrides:
          parseBacktestArgs([...BASE, "--max-clock-jump", "soon"]).overrides,
        env: {},
      }),
    /trading_core\.bars\.max_clock_jump \(from --max-clock-jump\)/,
  );
  for (
    const flag of [
      "--strategy",
      "--data",
      "--from",
      "--to",
      "--symbols",
      "--exchange",
      "--out",
      "--bars",
      "--max-clock-jump",
      "--on-bad-row",
      "--quiet",
      "--config",
      "--balance",
      "--fee-bps",
      "--fill-latency",
    ]
  ) assert.ok(BACKTEST_USAGE.includes(flag), flag);
});
