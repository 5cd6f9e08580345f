/**
 * What `backoff` learns of a feed's rhythm: the gap between arrivals (trades
 * found after an idle period) and how regular it is, as moving averages, and
 * from them a short window around the next expected arrival in which a
 * consumer should be spinning rather than asleep (a futex wake-up across
 * cores costs 55–90 µs on a VM; a spinning poll sees the trade at once).
 * Pure arithmetic on the times it is given: no clock, no system call.
 *
 * @module
 */

/** Weight of a new gap in the mean gap (1/8, as TCP's smoothed RTT). */
const MEAN_WEIGHT = 1 / 8;
/** Weight of a new phase error in the mean deviation (1/4, as TCP's RTT variance). */
const DEVIATION_WEIGHT = 1 / 4;
/**
 * Share of a phase error that moves the next expected arrival: the rest
 * of it is taken for jitter (a late wake-up of the producer or of this
 * consumer), so that one late arrival does not push the next window late.
 */
const PHASE_GAIN = 1 / 4;
/** Weight of a new wake-up lateness in its mean. */
const LATENESS_WEIGHT = 1 / 8;
/** Weight of a hit or miss in the hit rate. */
const HIT_WEIGHT = 1 / 8;
/** Gaps learned before the first window. */
const MIN_GAPS = 4;
/** Deviations the window reaches on either side of the expected arrival. */
const DEVIATIONS = 2;
/** The window starts at least this long before the expected arrival, ms. */
const MIN_BEFORE_MS = 0.003;
/** ... and ends at least this long after it, ms. */
const MIN_AFTER_MS = 0.005;
/** A gap's distance from the mean counts at most this many deviations (plus {@linkcode MIN_CLIP_MS}). */
const CLIP_DEVIATIONS = 4;
/** ... ms. */
const MIN_CLIP_MS = 0.01;
/** A gap this many times the mean (and 1 ms longer) is a pause, not part of the rhythm. */
const PAUSE_FACTOR = 4;
/** After this many pauses in a row, the rhythm has changed: learn afresh. */
const PAUSES_TO_RELEARN = 4;
/** An arrival further than this share of the mean gap from the expected one starts the rhythm afresh from it. */
const RELOCK_SHARE = 0.5;
/** Below this hit rate the windows stop (they burn CPU for nothing)... */
const MIN_HIT_RATE = 0.1;
/** ... except on every this-many-th arrival, to notice the rhythm come back. */
const PROBE_EVERY = 16;

/** The CPU a consumer may spend spinning in the windows. */
export interface SpinBudget {
  /** Largest window as a share of the mean gap (0.15: at most 15% of a core while the feed is regular). */
  share: number;
  /** Largest window, ms (a slow feed costs next to nothing). */
  maxWindowMs: number;
}

/** The default budget: 15% of the gap, at most 100 µs per arrival (`maxWindowMs` 0: no windows). */
export const DEFAULT_SPIN_BUDGET: Readonly<SpinBudget> = {
  share: 0.15,
  maxWindowMs: 0.1,
};

/**
 * Learns the inter-arrival gap of a feed and proposes, after each arrival,
 * a spin window around the next one: {@linkcode spinFrom} to
 * {@linkcode spinTo} (NaN: no window), to be woken for at
 * {@linkcode wakeAt} (earlier by the learned lateness of timed wake-ups).
 */
export class ArrivalGaps {
  /** Start of the spin window, ms (NaN: none). */
  spinFrom = NaN;
  /** End of the spin window, ms (NaN: none): past it, sleep until woken. */
  spinTo = NaN;
  /** When to end a sleep to be spinning at {@linkcode spinFrom}, ms (NaN: no window). */
  wakeAt = NaN;
  #budget: SpinBudget;
  #last = NaN;
  /** The next expected arrival, ms (NaN: unknown). */
  #expected = NaN;
  #mean = 0;
  #deviation = 0;
  #gaps = 0;
  #pauses = 0;
  #lateness = 0;
  #hitRate = 1;
  #arrivals = 0;

  /** A learner spending at most `budget` on windows. */
  constructor(budget: SpinBudget = DEFAULT_SPIN_BUDGET) {
    if (
      !(budget.share > 0 && budget.share <= 1) || !(budget.maxWindowMs >= 0)
    ) {
      throw new RangeError(
        `Invalid spin budget (share ${budget.share}, max window ${budget.maxWindowMs} ms): expected a share in (0, 1] and a max window ≥ 0 ms`,
      );
    }
    this.#budget = { ...budget };
  }

  /** The mean gap between arrivals, ms (0 until learned). */
  get meanGapMs(): number {
    return this.#mean;
  }

  /** The mean distance of arrivals from the expected time, ms. */
  get deviationMs(): number {
    return this.#deviation;
  }

  /** How late timed wake-ups end, on average, ms. */
  get latenessMs(): number {
    return this.#lateness;
  }

  /** Share of recent windows that the arrival fell in (1 at first). */
  get hitRate(): number {
    return this.#hitRate;
  }

  /**
   * Trades were found at `nowMs` after an idle period, `trades` (≥ 1) of
   * them since the last arrival (a producer running late publishes two at
   * once), and came after `sinceMs` (when the consumer was not polling: a
   * nap; by default `nowMs`): judges the window (hit if the arrival was seen
   * in it), learns the gap per trade and the distance from the expected
   * time (taking the middle of `sinceMs`..`nowMs`), and sets the window
   * around the next arrival.
   */
  arrived(nowMs: number, trades = 1, sinceMs = nowMs): void {
    if (!Number.isNaN(this.spinTo)) {
      const hit = sinceMs === nowMs && nowMs >= this.spinFrom &&
          nowMs <= this.spinTo
        ? 1
        : 0;
      this.#hitRate += (hit - this.#hitRate) * HIT_WEIGHT;
    }
    nowMs = sinceMs + (nowMs - sinceMs) / 2;
    const gap = nowMs - this.#last;
    this.#last = nowMs;
    this.#arrivals++;
    if (gap >= 0) this.#learn(gap / Math.max(1, trades));
    let anchor = nowMs;
    const error = nowMs - this.#expected;
    if (Math.abs(error) < this.#mean * RELOCK_SHARE) {
      this.#deviation += (Math.abs(error) - this.#deviation) *
        DEVIATION_WEIGHT;
      anchor = this.#expected + error * PHASE_GAIN;
    }
    this.#expected = this.#gaps > 0 ? anchor + this.#mean : NaN;
    this.#plan();
  }

  /**
   * A timed wake-up planned for `plannedMs` ended at `nowMs`: learns the
   * lateness (a wake-up the machine delayed by more than the largest
   * window counts as that).
   */
  wokeLate(plannedMs: number, nowMs: number): void {
    const late = Math.min(nowMs - plannedMs, this.#budget.maxWindowMs);
    if (!(late >= 0)) return;
    this.#lateness += (late - this.#lateness) * LATENESS_WEIGHT;
  }

  /** Forgets the rhythm; keeps the wake-up lateness. */
  reset(): void {
    this.#gaps = 0;
    this.#mean = 0;
    this.#deviation = 0;
    this.#pauses = 0;
    this.#hitRate = 1;
    this.#expected = NaN;
    this.spinFrom = this.spinTo = this.wakeAt = NaN;
  }

  #learn(gap: number): void {
    if (this.#gaps > 0 && gap > this.#mean * PAUSE_FACTOR + 1) {
      if (++this.#pauses < PAUSES_TO_RELEARN) return;
      this.reset();
    }
    this.#pauses = 0;
    if (this.#gaps === 0) {
      this.#mean = gap;
      this.#deviation = gap / 16;
    } else {
      // Clipped: one odd gap (a stall) moves the mean only so far.
      const clip = CLIP_DEVIATIONS * this.#deviation + MIN_CLIP_MS;
      const error = Math.max(-clip, Math.min(clip, gap - this.#mean));
      this.#mean += error * MEAN_WEIGHT;
    }
    this.#gaps++;
  }

  #plan(): void {
    this.spinFrom = this.spinTo = this.wakeAt = NaN;
    if (this.#gaps < MIN_GAPS || Number.isNaN(this.#expected)) return;
    if (
      this.#hitRate < MIN_HIT_RATE && this.#arrivals % PROBE_EVERY !== 0
    ) return;
    // Everything spun: the wake-up's lateness, then the window.
    const cap = Math.min(
      this.#budget.share * this.#mean,
      this.#budget.maxWindowMs,
    );
    if (!(cap > 0)) return;
    const lead = Math.min(this.#lateness, cap / 2);
    const spread = DEVIATIONS * this.#deviation;
    let before = MIN_BEFORE_MS + spread;
    let after = MIN_AFTER_MS + spread;
    if (lead + before + after > cap) {
      const scale = (cap - lead) / (before + after);
      before *= scale;
      after *= scale;
    }
    this.spinFrom = this.#expected - before;
    this.spinTo = this.#expected + after;
    this.wakeAt = this.spinFrom - lead;
  }
}
