/**
 * What `live` tells as it runs, beside its trades: the progress lines (a
 * line per stream, or the summary form above
 * `trading_core.progress_summary_above` streams), and the per-stream log
 * lines (the feed's events, the catch-up's switches) through the digest,
 * which folds them with many streams and is flushed at each progress line.
 *
 * @module
 */

import type { Config } from "../common/config/mod.ts";
import type { Logger } from "../common/runtime/log.ts";
import type {
  ProgressContext,
  ProgressLine,
} from "../common/runtime/progress.ts";
import type { CaughtUp, FeedEvent } from "../common/transport/feed.ts";
import { streamName } from "../common/transport/mod.ts";
import { AT_ONCE, EventDigest } from "./_event_digest.ts";
import { LiveProgress } from "./live_progress.ts";
import type { LiveState } from "./metrics.ts";

/** Feed events logged as info; the others are warnings. */
const ROUTINE: ReadonlySet<FeedEvent["kind"]> = new Set([
  "attached",
  "waiting",
  "recovered",
  "restarted",
]);

/** Options of {@linkcode LiveReporting}. */
export interface LiveReportingOptions {
  /** What `live` reads and counts. */
  state: LiveState;
  /** The role's logger. */
  log: Logger;
}

/** `live`'s progress lines and per-stream log lines. */
export class LiveReporting {
  #state: LiveState;
  #log: Logger;
  #summaryAbove: number;
  #progress: LiveProgress;
  #digest: EventDigest;

  /** The reporting of `options.state` as `config` says (threshold, progress interval). */
  constructor(config: Config, options: LiveReportingOptions) {
    const { state, log } = options;
    const { catchUp } = state;
    this.#state = state;
    this.#log = log;
    this.#summaryAbove = config.tradingCore.progressSummaryAbove;
    this.#progress = new LiveProgress(state.stats, {
      summaryAbove: this.#summaryAbove,
      caughtUp: catchUp && (() => catchUp.caughtUp()),
    });
    // Folded lines are told at the next progress line: none without progress.
    const progressOn = config.log.progressIntervalMs > 0;
    this.#digest = new EventDigest(log, {
      active: () => this.#many() && progressOn,
    });
  }

  /**
   * The progress lines for the `seconds` since the last call (for a
   * terminal of `context.width`, if any), after the lines the digest folded
   * meanwhile.
   */
  lines(seconds: number, context: ProgressContext = {}): ProgressLine[] {
    this.#digest.flush();
    return this.#progress.lines(this.#state.feed.stats(), seconds, context);
  }

  /** Logs what the digest folded since the last progress line (at exit, before the summary). */
  flush(): void {
    this.#digest.flush();
  }

  /** Streams listed per kind in the exit summary's paper lines: all, or with many streams {@linkcode AT_ONCE}. */
  listed(): number | undefined {
    return this.#many() ? AT_ONCE : undefined;
  }

  /** A feed event as a log line: warnings but for the routine ones; a stream's through the digest. */
  event(event: FeedEvent): void {
    const level = ROUTINE.has(event.kind) ? "info" : "warn";
    if (event.stream >= 0) this.#digest.tell({ ...event, level });
    else if (level === "info") this.#log.info(event.message);
    else this.#log.warn(event.message);
  }

  /** A stream's switch from the history to the ring, as an info line through the digest. */
  caughtUp(event: CaughtUp): void {
    const { exchange, symbol, stream } = event;
    const message = caughtUpLine(event);
    this.#digest.tell({
      kind: "caught up",
      level: "info",
      exchange,
      symbol,
      stream,
      message,
    });
  }

  /** More streams than the threshold. */
  #many(): boolean {
    return this.#state.stats.streams.length > this.#summaryAbove;
  }
}

/** The log line of a stream's switch from the history to the ring. */
function caughtUpLine(event: CaughtUp): string {
  const last = event.lastSeq === null
    ? "none of it"
    : event.lastEpoch === event.epoch
    ? `the last seq ${event.lastSeq}`
    : `the last seq ${event.lastSeq} of run epoch ${event.lastEpoch}`;
  return `${streamName(event)}: caught up in ${
    (event.ms / 1000).toFixed(1)
  } s, ${event.replayed} trades replayed from JetStream (${last}); reading the ring from here, run epoch ${event.epoch}`;
}
