/**
 * `live`'s per-stream log lines (the feed's events: losses, a consumer behind
 * its producer, a producer stalled or dead, rings attached; the catch-up's
 * switches) told as a digest with many streams: above
 * `trading_core.progress_summary_above` streams, per kind, the first
 * {@linkcode AT_ONCE} of a progress interval are logged at once and the rest
 * are counted and told as one line per kind at the next progress line: how
 * many streams, the first names, the first one's message, and for losses the
 * trades those streams lost over the interval, by cause (from the feed's
 * counters: every loss is still counted and its cause logged). At or below
 * the threshold every line is logged at once.
 *
 * @module
 */

import { formatCount, plural } from "../common/runtime/format.ts";
import type { LogFields, Logger } from "../common/runtime/log.ts";
import type { LossCause, StreamStats } from "../common/transport/feed.ts";
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
  /** The first {@linkcode NAMED} streams, as `exchange symbol`. */
  names: string[];
  /** The first folded line. */
  first: string;
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
  /** Per stream: its losses by cause at the last flush. */
  #lostBy: Partial<Record<LossCause, number>>[] = [];

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
      };
      this.#folds.set(note.kind, fold);
    }
    fold.count++;
    if (!fold.streams.has(note.stream)) {
      fold.streams.add(note.stream);
      if (fold.names.length < NAMED) {
        fold.names.push(streamName(note));
      }
    }
  }

  /**
   * Logs one line per kind folded since the last call and starts a new
   * interval; `counters` (the feed's stats, by stream index) give the
   * losses of the streams folded as `lost`.
   */
  flush(counters: readonly StreamStats[]): void {
    for (const [kind, fold] of this.#folds) {
      const lost = kind === "lost" ? this.#lostOver(fold, counters) : undefined;
      this.#write(fold.level, foldedLine(kind, fold, lost), {
        digest: kind,
        moreStreams: fold.streams.size,
        lines: fold.count,
        named: fold.names,
        ...lost && { lostTrades: lost.lost, lostBy: lost.lostBy },
      });
    }
    this.#folds.clear();
    this.#told.clear();
    for (let index = 0; index < counters.length; index++) {
      this.#lostBy[index] = { ...counters[index].lostBy };
    }
  }

  /** The trades `fold`'s streams lost since the last flush, by cause. */
  #lostOver(
    fold: Fold,
    counters: readonly StreamStats[],
  ): { lost: number; lostBy: Partial<Record<LossCause, number>> } {
    const lostBy: Partial<Record<LossCause, number>> = {};
    let lost = 0;
    for (const stream of fold.streams) {
      const now = counters[stream]?.lostBy ?? {};
      const before = this.#lostBy[stream] ?? {};
      for (const [cause, count] of Object.entries(now)) {
        const key = cause as LossCause;
        const more = (count ?? 0) - (before[key] ?? 0);
        if (more <= 0) continue;
        lostBy[key] = (lostBy[key] ?? 0) + more;
        lost += more;
      }
    }
    return { lost, lostBy };
  }

  #write(level: "warn" | "info", message: string, fields?: LogFields): void {
    if (level === "warn") this.#log.warn(message, fields);
    else this.#log.info(message, fields);
  }
}

/** `297 more streams lost trades since the last progress line: 229,025 trades (229,025 overwritten); A, B, C, …; the first: …`. */
function foldedLine(
  kind: string,
  fold: Fold,
  lost:
    | { lost: number; lostBy: Partial<Record<LossCause, number>> }
    | undefined,
): string {
  const count = fold.streams.size;
  const reports = fold.count > count
    ? ` (${formatCount(fold.count)} lines)`
    : "";
  const more = count > fold.names.length ? ", …" : "";
  const trades = lost === undefined
    ? ""
    : `${formatCount(lost.lost)} trades (${
      byCause(lost.lostBy) || "none counted yet"
    }); `;
  return `${formatCount(count)} more ${plural(count, "stream")} ${
    WHAT[kind] ?? kind
  } since the last progress line${reports}: ${trades}${
    fold.names.join(", ")
  }${more}; the first: ${fold.first}`;
}
