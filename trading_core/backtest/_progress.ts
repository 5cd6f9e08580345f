/**
 * The backtest's progress on a terminal: one line on stderr, redrawn every
 * 500 ms, with the share of the input read, the trades, their rate and an
 * estimate of the time left.
 *
 * @module
 */

import {
  formatBytes,
  formatCount,
  formatRate,
} from "../../common/runtime/format.ts";
import { StatusLine } from "../../common/runtime/status_line.ts";

/** Time between redraws, ms. */
export const PROGRESS_EVERY_MS = 500;

/** What a progress line shows. */
export interface ProgressFigures {
  /** Input bytes read so far (compressed, if so). */
  bytesRead: number;
  /** Input bytes in all. */
  totalBytes: number;
  /** Trades processed so far. */
  trades: number;
  /** Seconds since the run started. */
  seconds: number;
}

/** `37.5% of 1.2 GiB, 3,000,000 trades (2.00M/s), ETA 12s`. */
export function progressText(figures: ProgressFigures): string {
  const { bytesRead, totalBytes, trades, seconds } = figures;
  const share = totalBytes > 0 ? Math.min(1, bytesRead / totalBytes) : 1;
  const rate = seconds > 0 ? trades / seconds : 0;
  const eta = share > 0 && share < 1
    ? `, ETA ${formatSeconds(seconds * (1 - share) / share)}`
    : "";
  return `${(share * 100).toFixed(1)}% of ${formatBytes(totalBytes)}, ${
    formatCount(trades)
  } trades (${formatRate(rate)})${eta}`;
}

/** `45s`, `12m05s`, `2h03m`. */
export function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${pad(Math.floor(s / 60) % 60)}m`;
}

function pad(value: number): string {
  return String(value).padStart(2, "0");
}

const encoder = new TextEncoder();

/** A status line on stderr, for when stderr is a terminal. */
export function stderrStatus(): StatusLine {
  return new StatusLine({
    writer: {
      write(text: string): void {
        const bytes = encoder.encode(text);
        let at = 0;
        while (at < bytes.length) {
          at += Deno.stderr.writeSync(bytes.subarray(at));
        }
      },
    },
  });
}

/** Redraws `status` with {@linkcode progressText} of `figures()` every {@linkcode PROGRESS_EVERY_MS}; `stop` erases it. */
export function startProgressLine(
  status: StatusLine,
  figures: () => ProgressFigures,
): { stop(): void } {
  const timer = setInterval(
    () => status.show([progressText(figures())]),
    PROGRESS_EVERY_MS,
  );
  return {
    stop() {
      clearInterval(timer);
      status.clear();
    },
  };
}
