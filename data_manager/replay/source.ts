/**
 * Replay of a recorded trade file (Binance trades CSV or the project's
 * NDJSON, gzipped or not) as a {@linkcode TradeSource}: as fast as the
 * transports take it, or at the original pace × a speed factor.
 *
 * A gap line of an NDJSON recording (trades its recorder missed) is replayed
 * in order with the trades: with a count, as {@linkcode TradeSink.gap} (the
 * next record's `seq` skips exactly that many and carries `TradeFlags.Gap`);
 * without one, as `TradeFlags.Reconnect` on the symbol's next record (trades
 * may be missing before it, how many is unknown). A recorded trade's own
 * `Gap` flag is cleared: only a gap line says where this replay's seqs skip.
 *
 * @module
 */

import { encodeTrade } from "../../common/wire/codec.ts";
import { delay, whenAborted } from "../../common/runtime/delay.ts";
import { formatCount } from "../../common/runtime/format.ts";
import { readWallClock } from "../../common/runtime/clock.ts";
import { yieldToEventLoop } from "../../common/runtime/delay.ts";
import type { Logger } from "../../common/runtime/log.ts";
import { TRADE_RECORD_SIZE, TradeFlags } from "../../common/wire/trade.ts";
import type { ReplayFormat } from "../../common/config/types.ts";
import {
  type GapRow,
  readRowBatches,
  TIME_UNIT_NAMES,
  type TradeFileRow,
} from "../../common/trade_file/mod.ts";
import type { TradeSink, TradeSource } from "../source.ts";

/** Options of {@linkcode ReplaySource}. */
export interface ReplaySourceOptions {
  /** The file. */
  file: string;
  /** 0 = as fast as possible; otherwise original timing × this factor. */
  speed: number;
  /** Bad rows: skip (reported) or stop. */
  onError: "skip" | "stop";
  /** File format. */
  format: ReplayFormat;
  /** Symbol of a Binance CSV's trades (default: from the file name). */
  symbol?: string;
  /** Exchange of a Binance CSV's trades. */
  exchange: string;
  /** Where bad rows and skipped symbols are reported. */
  log: Logger;
  /** The caller verified the gzip stream to its end ({@linkcode verifyGzip}): do not again. */
  verified?: boolean;
}

/**
 * A replay that read its whole file without publishing a trade: the file had
 * no rows, or every row was bad (skipped) or of a symbol not configured.
 */
export class NothingReplayedError extends Error {
  /** Creates the error; `message` says why nothing was published. */
  constructor(message: string) {
    super(message);
    this.name = "NothingReplayedError";
  }
}

/** The sink's room is checked at least every this many trades. */
const ROOM_EVERY = 64;
/** Bad rows are logged one by one up to this many… */
const BAD_ROWS_LOGGED = 20;
/** …then at most once per this many ms, with the count since and the latest. */
const BAD_ROWS_LOG_INTERVAL_MS = 10_000;
/** Symbols not configured are each warned about once, up to this many, then only counted. */
const OTHER_SYMBOLS_LOGGED = 10;
/** Symbols not configured are counted one by one up to this many (memory stays bounded). */
const OTHER_SYMBOLS_COUNTED = 1000;
/** The symbols not configured a final message names, most rows first. */
const OTHER_SYMBOLS_NAMED = 5;

/** Trades from a recorded file, flagged replayed, receive time = replay time. */
export class ReplaySource implements TradeSource {
  /** Source kind. */
  readonly kind = "replay";
  /** Symbols, by index; rows of other symbols are skipped and counted. */
  readonly symbols: readonly string[];
  #options: ReplaySourceOptions;
  #index: Map<string, number>;
  #rows = 0;
  #published = 0;
  /** Gap lines replayed, the trades they say are missing, those without a count. */
  #gaps = 0;
  #missing = 0;
  #uncounted = 0;
  /** Per symbol index: flags for its next record, from a gap line without a count. */
  #nextFlags: Uint16Array;
  #badRows = 0;
  #otherSymbols = 0;
  /** Rows per symbol not configured, in the order they were met. */
  #others = new Map<string, number>();
  #done = false;
  #waiting = false;
  #size = 0;
  #bytesRead = 0;
  #startedAt = 0;
  /** When bad rows were last logged (`performance.now()`), past the first {@linkcode BAD_ROWS_LOGGED}. */
  #badLoggedAt = 0;
  /** The bad rows counted when they were last logged. */
  #badLoggedCount = 0;

  /** A replay of `options.file` for `symbols`. */
  constructor(symbols: readonly string[], options: ReplaySourceOptions) {
    if (!(options.speed >= 0 && Number.isFinite(options.speed))) {
      throw new RangeError(
        `Invalid replay speed ${options.speed}: expected a number ≥ 0 (0 = as fast as possible)`,
      );
    }
    this.symbols = symbols;
    this.#options = options;
    this.#index = new Map(symbols.map((symbol, i) => [symbol, i]));
    this.#nextFlags = new Uint16Array(symbols.length);
  }

  /** Waiting for the next trade's original time, or finished. */
  idle(): boolean {
    return this.#waiting || this.#done;
  }

  /** Progress fragment: % of the file done, ETA, rows read and published, gap lines, bad rows, other symbols. */
  summary(): string {
    let progress = "";
    if (this.#size > 0 && this.#bytesRead > 0) {
      const done = Math.min(1, this.#bytesRead / this.#size);
      const elapsed = (performance.now() - this.#startedAt) / 1000;
      const eta = done > 0 ? elapsed * (1 - done) / done : Infinity;
      progress = `${(done * 100).toFixed(1)}% done${
        this.#done || !Number.isFinite(eta) ? "" : `, ETA ${eta.toFixed(0)}s`
      }, `;
    }
    const uncounted = this.#uncounted === 0
      ? ""
      : `, ${formatCount(this.#uncounted)} of an unknown count`;
    const gaps = this.#gaps === 0
      ? ""
      : `, ${formatCount(this.#gaps)} gap line${this.#gaps === 1 ? "" : "s"} (${
        formatCount(this.#missing)
      } trades missing${uncounted})`;
    return `replay ${progress}${formatCount(this.#rows)} rows, ${
      formatCount(this.#published)
    } published${gaps}, ${this.#badRows} bad, ${
      formatCount(this.#otherSymbols)
    } of other symbols${this.#done ? " (done)" : ""}`;
  }

  /**
   * Reads the file into `sink` until its end or `signal` aborts. The first
   * row of each symbol that is not configured is reported (up to
   * {@linkcode OTHER_SYMBOLS_LOGGED} symbols); all are counted.
   *
   * @throws {TradeFileRowError} at the first bad row with `onError: "stop"`.
   * @throws {TradeFileReadError} when the file cannot be read to its end.
   * @throws {NothingReplayedError} at the end of a file that published
   * nothing, saying why.
   */
  async run(sink: TradeSink, options: { signal: AbortSignal }): Promise<void> {
    const { signal } = options;
    const { file, speed } = this.#options;
    const record = new Uint8Array(TRADE_RECORD_SIZE);
    const clock = { seconds: 0, nanos: 0 };
    let firstEventMs: number | undefined;
    let startedAt = 0;
    this.#badLoggedAt = 0;
    this.#badLoggedCount = 0;
    // Only for progress: the reader reports a file it cannot read.
    this.#size = await Deno.stat(file).then((info) => info.size, () => 0);
    this.#startedAt = performance.now();
    const rows = this.#readRows();
    // A read can block for good (a FIFO without a writer): wait for it or
    // for the signal, whichever comes first.
    const aborted = whenAborted(signal).then(() => undefined);
    let stuck = false;
    try {
      while (true) {
        const next = await Promise.race([rows.next(), aborted]);
        if (next === undefined) {
          stuck = true;
          return;
        }
        if (next.done) break;
        const batch = next.value;
        for (let i = 0; i < batch.length; i++) {
          if (signal.aborted) return;
          const row = batch[i];
          this.#rows++;
          const index = this.#index.get(row.symbol);
          if (index === undefined) {
            this.#otherSymbol(row);
            continue;
          }
          if (row.type === "gap") {
            this.#gap(sink, index, row);
            continue;
          }
          if (speed > 0) {
            const eventMs = Number(row.tsEvent / 1_000_000n);
            if (firstEventMs === undefined) {
              firstEventMs = eventMs;
              startedAt = performance.now();
            }
            const wait = startedAt + (eventMs - firstEventMs) / speed -
              performance.now();
            if (wait >= 1) {
              this.#waiting = true;
              await delay(wait, signal);
              this.#waiting = false;
              if (signal.aborted) return;
            }
          } else if (this.#published % ROOM_EVERY === 0) {
            const room = sink.room();
            if (room) await Promise.race([room, aborted]);
          }
          readWallClock(clock);
          // A consumer's own marks never go back on the wire.
          row.flags = (row.flags & ~(TradeFlags.Gap | TradeFlags.Snapshot)) |
            TradeFlags.Replayed |
            this.#nextFlags[index];
          this.#nextFlags[index] = 0;
          row.tsRecv = BigInt(clock.seconds) * 1_000_000_000n +
            BigInt(clock.nanos);
          encodeTrade(row, record);
          sink.publish(index, record);
          this.#published++;
        }
        await yieldToEventLoop();
      }
    } finally {
      // Closes the file; a read still pending closes it when it settles.
      if (stuck) rows.return().catch(() => {});
      else await rows.return();
    }
    this.#done = true;
    if (this.#published === 0) throw this.#nothingPublished();
  }

  /**
   * Replays gap line `row` of symbol index `index`: a count goes to the
   * sink, an unknown one flags the symbol's next record `Reconnect`.
   */
  #gap(sink: TradeSink, index: number, row: GapRow): void {
    this.#gaps++;
    if (row.count === null) {
      this.#uncounted++;
      this.#nextFlags[index] |= TradeFlags.Reconnect;
      return;
    }
    this.#missing += row.count;
    sink.gap(index, row.count);
  }

  /** The file's rows (trades and gap lines) in batches; reports the time unit it detects, bad rows and bytes read. */
  #readRows(): AsyncGenerator<TradeFileRow[], void, undefined> {
    const { file, onError, format, symbol, exchange, log } = this.#options;
    return readRowBatches(file, {
      format,
      onError,
      symbol,
      exchange,
      plausibility: true,
      verifyGzip: !this.#options.verified,
      onTimeUnit: (unit, line) =>
        log.info(
          `replay: ${file}: times are in ${
            TIME_UNIT_NAMES[unit]
          } (detected from the magnitude of the time on line ${line})`,
        ),
      onBytesRead: (bytes) => this.#bytesRead = bytes,
      onBadRow: (line, reason) => this.#badRow(line, reason),
    });
  }

  /**
   * Counts a bad row; logs the first {@linkcode BAD_ROWS_LOGGED} one by one,
   * then at most once per {@linkcode BAD_ROWS_LOG_INTERVAL_MS}.
   */
  #badRow(line: number, reason: string): void {
    const { file, log } = this.#options;
    this.#badRows++;
    if (this.#badRows <= BAD_ROWS_LOGGED) {
      log.warn(`replay: ${file} line ${line}: ${reason}`);
      if (this.#badRows === BAD_ROWS_LOGGED) {
        log.warn(
          `replay: more bad rows are counted and logged at most every ${
            BAD_ROWS_LOG_INTERVAL_MS / 1000
          } s`,
        );
        this.#badLoggedAt = performance.now();
        this.#badLoggedCount = this.#badRows;
      }
    } else if (
      performance.now() - this.#badLoggedAt >= BAD_ROWS_LOG_INTERVAL_MS
    ) {
      log.warn(
        `replay: ${
          formatCount(this.#badRows - this.#badLoggedCount)
        } more bad rows, the latest ${file} line ${line}: ${reason}`,
      );
      this.#badLoggedAt = performance.now();
      this.#badLoggedCount = this.#badRows;
    }
  }

  /** Counts a row (trade or gap line) of a symbol not configured; warns at its symbol's first. */
  #otherSymbol(row: TradeFileRow): void {
    this.#otherSymbols++;
    const seen = this.#others.get(row.symbol);
    if (seen !== undefined) {
      this.#others.set(row.symbol, seen + 1);
      return;
    }
    if (this.#others.size >= OTHER_SYMBOLS_COUNTED) return;
    this.#others.set(row.symbol, 1);
    const { file, log } = this.#options;
    if (this.#others.size <= OTHER_SYMBOLS_LOGGED) {
      log.warn(
        `replay: ${file} line ${row.line}: symbol ${row.symbol} is not configured (configured: ${
          this.symbols.join(", ")
        }); its rows are skipped`,
      );
    } else if (this.#others.size === OTHER_SYMBOLS_LOGGED + 1) {
      log.warn(
        "replay: more symbols not configured; only counting them from now on",
      );
    }
  }

  /** Why a replay that reached the end of its file published nothing. */
  #nothingPublished(): NothingReplayedError {
    const { file, onError } = this.#options;
    const total = this.#rows + this.#badRows;
    if (total === 0) {
      return new NothingReplayedError(
        `published 0 trades: ${file} has no trade rows`,
      );
    }
    const reasons: string[] = [];
    if (this.#otherSymbols > 0) {
      const named = [...this.#others]
        .sort((a, b) => b[1] - a[1])
        .slice(0, OTHER_SYMBOLS_NAMED)
        .map(([symbol, rows]) => `${symbol} ×${formatCount(rows)}`);
      if (this.#others.size > OTHER_SYMBOLS_NAMED) named.push("…");
      reasons.push(
        `${
          this.#otherSymbols === total
            ? "every row was"
            : `${formatCount(this.#otherSymbols)} were`
        } of symbols not configured (${named.join(", ")}); configured: ${
          this.symbols.join(", ")
        }`,
      );
    }
    if (this.#badRows > 0) {
      reasons.push(
        `${formatCount(this.#badRows)} bad (on_error = "${onError}")`,
      );
    }
    if (this.#gaps > 0) {
      reasons.push(`${formatCount(this.#gaps)} gap lines (no trades)`);
    }
    return new NothingReplayedError(
      `published 0 of ${formatCount(total)} rows of ${file}: ${
        reasons.join("; ")
      }`,
    );
  }
}
