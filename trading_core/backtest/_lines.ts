/**
 * The one-line messages of a backtest run: its last line, the warning of
 * equity below zero, and a strategy failure made one line.
 *
 * @module
 */

import {
  formatCount,
  formatRate,
  plural,
} from "../../common/runtime/format.ts";
import type { BacktestSummary } from "./result.ts";

/** The last line: trades, their rate, P&L, fills, where the files are. */
export function finalLine(
  summary: BacktestSummary,
  where: { seconds: number; out: string },
): string {
  const { seconds, out } = where;
  return `${formatCount(summary.trades)} ${
    plural(summary.trades, "trade")
  } in ${seconds.toFixed(1)} s (${
    formatRate(summary.trades / Math.max(seconds, 1e-9))
  }), P&L ${summary.pnl.toFixed(2)} (realized ${
    summary.realizedPnl.toFixed(2)
  }, unrealized ${summary.unrealizedPnl.toFixed(2)}), ${
    formatCount(summary.fills)
  } ${
    plural(summary.fills, "fill")
  }; results in ${out}/ (summary.json, fills.ndjson, report.html)`;
}

/** The warning of a run whose equity went below zero, or undefined when it never did. */
export function belowZeroLine(summary: BacktestSummary): string | undefined {
  const at = summary.equityBelowZeroAt;
  if (at === null) return undefined;
  return `equity went below zero at ${new Date(at).toISOString()} (lowest ${
    summary.minEquity.toFixed(2)
  }): the paper broker has no buying-power check, so the strategy traded on credit from there; maxDrawdownRatio is then above 1`;
}

/**
 * A strategy failure (`strategy FILE failed in HOOK: <stack>`) as one line:
 * the message, and where the strategy threw (its first stack frame).
 */
export function oneLine(message: string): string {
  const lines = message.split("\n");
  const frame = lines.find((line) => /^\s+at /.test(line))?.trim();
  return frame === undefined ? lines[0] : `${lines[0]} (${frame})`;
}
