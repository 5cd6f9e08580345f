/**
 * `live`'s per-stream log lines (the feed's events: losses, a consumer behind
 * its producer, a producer stalled or dead, rings attached; the catch-up's
 * switches) told as a digest with many streams: above
 * `trading_core.progress_summary_above` streams, per kind, the first
 * {@linkcode AT_ONCE} of a progress interval are logged at once and the rest
 * are counted and told as one line per kind at the next progress line: how
 * many streams, the first names, the first one's message, and for losses
 * the trades the folded lines told lost, by cause (every loss is still
 * counted and its cause logged). At or below the threshold every line is
 * logged at once.
 *
 * @module
 */

import { formatCount, plural } from "../common/runtime/format.ts";
import type { LogFields, Logger } from "../common/runtime/log.ts";
import type { LossCause } from "../common/transport/feed.ts";
import { streamName } from "../common/transport/mod.ts";
import { byCause } from "./live_report.ts";

/** Lines of one kind logged at once per progress interval, above the threshold. */
export const AT_ONCE = 3;
/** Streams named in a folded line. */
const NAMED = 3;

/** A log line about one stream. */
export interface StreamNote {
  /** What happened: a feed event's kind (`lost`, `behind`, `dead`, …) or `caught up`. */
  kind: string;
  /** Logged as a warning, or as info (the routine ones). */
  level: "warn" | "info";
  /** The stream's exchange. */
  exchange: string;
  /** The stream's symbol. */
  symbol: string;
  /** The stream's index. */
  stream: number;
  /** The line. */
  message: string;
  /** With `lost`: the trades the line tells lost, by cause (absent: it does not say). */
  lostBy?: Partial<Record<LossCause, number>>;
}

/** How a folded kind reads: `297 more streams lost trades …`. */
const WHAT: Readonly<Record<string, string>> = {
  lost: "lost trades",
  behind: "fell half a ring or more behind their producer",
  stalled: "saw their producer stall",
  dead: "saw their producer die",
  closed: "saw their producer close",
  recovered: "saw their producer recover",
  waiting: "wait for their ring",
  attached: "attached",
  restarted: "attached to a restarted producer",
  evicted: "were evicted by their producer",
  invalid: "skipped invalid records",
  refused: "refused a segment",
  "caught up": "caught up",
};

/** The lines of one kind folded over an interval. */
interface Fold {
  level: "warn" | "info";
  /** Lines folded. */
  count: number;
  /** The streams they were about, by index. */
  streams: Set<number>;
  /** The first {@linkcode NAMED} streams, by name. */
  names: string[];
  /** The first folded line. */
  first: string;
  /** The trades the folded lines told lost, by cause. */
  lostBy: Partial<Record<LossCause, number>>;
  /** Folded lines that told no count. */
  uncounted: number;
}

/** Options of {@linkcode EventDigest}. */
export interface EventDigestOptions {
  /** Whether lines are folded now (above the threshold, progress on). */
  active: () => boolean;
  /** Lines of one kind logged at once per interval. @default {AT_ONCE} */
  atOnce?: number;
}

/**
 * Per-stream log lines, logged at once or, while
 * {@linkcode EventDigestOptions.active}, folded per kind past the first few
 * of an interval; {@linkcode EventDigest.flush} ends the interval.
 */
export class EventDigest {
  #log: Logger;
  #active: () => boolean;
  #atOnce: number;
  /** Per kind: lines logged at once this interval. */
  #told = new Map<string, number>();
  #folds = new Map<string, Fold>();

  /** A digest logging to `log`. */
  constructor(log: Logger, options: EventDigestOptions) {
    this.#log = log;
    this.#active = options.active;
    this.#atOnce = options.atOnce ?? AT_ONCE;
  }

  /** Logs `note` now, or folds it when its kind had its lines this interval. */
  tell(note: StreamNote): void {
    const told = this.#told.get(note.kind) ?? 0;
    if (told < this.#atOnce || !this.#active()) {
      this.#told.set(note.kind, told + 1);
      this.#write(note.level, note.message);
      return;
    }
    let fold = this.#folds.get(note.kind);
    if (fold === undefined) {
      fold = {
        level: note.level,
        count: 0,
        streams: new Set(),
        names: [],
        first: note.message,
        lostBy: {},
        uncounted: 0,
      };
      this.#folds.set(note.kind, fold);
    }
    fold.count++;
    if (!fold.streams.has(note.stream)) {
      fold.streams.add(note.stream);
      if (fold.names.length < NAMED) fold.names.push(streamName(note));
    }
    if (note.lostBy === undefined) fold.uncounted++;
    for (const [cause, count] of Object.entries(note.lostBy ?? {})) {
      const key = cause as LossCause;
      fold.lostBy[key] = (fold.lostBy[key] ?? 0) + (count ?? 0);
    }
  }

  /** Logs one line per kind folded since the last call and starts a new interval. */
  flush(): void {
    for (const [kind, fold] of this.#folds) {
      const lost = kind === "lost" ? total(fold.lostBy) : undefined;
      this.#write(fold.level, foldedLine(kind, fold, lost), {
        digest: kind,
        moreStreams: fold.streams.size,
        lines: fold.count,
        named: fold.names,
        ...lost !== undefined && { lostTrades: lost, lostBy: fold.lostBy },
      });
    }
    this.#folds.clear();
    this.#told.clear();
  }

  #write(level: "warn" | "info", message: string, fields?: LogFields): void {
    if (level === "warn") this.#log.warn(message, fields);
    else this.#log.info(message, fields);
  }
}

/** The trades of `lostBy`, every cause. */
function total(lostBy: Partial<Record<LossCause, number>>): number {
  let sum = 0;
  for (const count of Object.values(lostBy)) sum += count ?? 0;
  return sum;
}

/**
 * `297 more streams lost trades since the last progress line: 229,025
 * trades (229,025 overwritten); A, B, C, …; the first: …` (`lost`: the
 * trades told lost, with losses).
 */
function foldedLine(
  kind: string,
  fold: Fold,
  lost: number | undefined,
): string {
  const count = fold.streams.size;
  const lines = fold.count > count ? ` (${formatCount(fold.count)} lines)` : "";
  const more = count > fold.names.length ? ", …" : "";
  const uncounted = fold.uncounted > 0
    ? ` and ${formatCount(fold.uncounted)} ${
      plural(fold.uncounted, "line")
    } without a count`
    : "";
  const trades = lost !== undefined
    ? `${formatCount(lost)} trades${
      lost > 0 ? ` (${byCause(fold.lostBy)})` : ""
    }${uncounted}; `
    : "";
  return `${formatCount(count)} more ${plural(count, "stream")} ${
    WHAT[kind] ?? kind
  } since the last progress line${lines}: ${trades}${
    fold.names.join(", ")
  }${more}; the first: ${fold.first}`;
}
