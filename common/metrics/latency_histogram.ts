/**
 * A fixed-size log-linear histogram of latencies in nanoseconds: O(1)
 * recording without allocation, percentiles within ~3 %.
 *
 * @module
 */

const SUB_BITS = 5;
const SUB_COUNT = 1 << SUB_BITS; // buckets per power of two above the exact range
const EXACT = SUB_COUNT * 2; // values below this are counted exactly
const MAX_EXPONENT = 40; // ~18 minutes in ns; larger values land in the last bucket
const BUCKETS = EXACT + (MAX_EXPONENT - SUB_BITS) * SUB_COUNT;

function bucketOf(value: number): number {
  if (value < EXACT) return value | 0;
  if (value < 2 ** 31) {
    // Integer fast path: `>>>` truncates, the same as flooring the quotient.
    const exponent = 31 - Math.clz32(value);
    return (exponent - SUB_BITS - 1) * SUB_COUNT + EXACT - SUB_COUNT +
      (value >>> (exponent - SUB_BITS));
  }
  const exponent = Math.floor(Math.log2(value));
  if (exponent >= MAX_EXPONENT) return BUCKETS - 1;
  const shift = exponent - SUB_BITS;
  const mantissa = Math.floor(value / 2 ** shift); // in [SUB_COUNT, 2 * SUB_COUNT)
  return EXACT + (exponent - SUB_BITS - 1) * SUB_COUNT + mantissa - SUB_COUNT;
}

/** The smallest value in `bucket` (`bucket` may be `BUCKETS`: the end). */
function lowerOf(bucket: number): number {
  if (bucket < EXACT) return bucket;
  const exponent = Math.floor((bucket - EXACT) / SUB_COUNT) + SUB_BITS + 1;
  const mantissa = (bucket - EXACT) % SUB_COUNT + SUB_COUNT;
  return mantissa * 2 ** (exponent - SUB_BITS);
}

function valueOf(bucket: number): number {
  if (bucket < EXACT) return bucket;
  return (lowerOf(bucket) + lowerOf(bucket + 1)) / 2; // middle of the bucket
}

/** Percentiles of a latency histogram, ns. */
export interface LatencySummary {
  /** Samples recorded. */
  count: number;
  /** Median. */
  p50: number;
  /** 90th percentile. */
  p90: number;
  /** 99th percentile. */
  p99: number;
  /** 99.9th percentile. */
  p999: number;
  /** Largest sample. */
  max: number;
  /** Samples below zero (clock differences), counted as 0. */
  negative: number;
}

/**
 * A histogram's counts at one moment, for
 * {@linkcode LatencyHistogram.intervalPercentile}: a fresh one
 * ({@linkcode latencyMark}) stands for the start, before any sample.
 */
export interface LatencyMark {
  /** Samples per bucket at the mark. */
  readonly counts: Float64Array;
  /** Samples at the mark. */
  count: number;
  /** The histogram's resets at the mark. */
  resets: number;
}

/** A {@linkcode LatencyMark} of an empty histogram: the first interval measured from it is every sample so far. */
export function latencyMark(): LatencyMark {
  return { counts: new Float64Array(BUCKETS), count: 0, resets: 0 };
}

/** Records latencies (ns) and reports percentiles. */
export class LatencyHistogram {
  #counts = new Float64Array(BUCKETS);
  #count = 0;
  #sum = 0;
  #max = 0;
  #negative = 0;
  #resets = 0;

  /** Records one latency in ns; negative values count as 0 and in `negative`. */
  record(nanos: number): void {
    if (nanos < 0) {
      this.#negative++;
      nanos = 0;
    }
    this.#counts[bucketOf(nanos)]++;
    this.#count++;
    this.#sum += nanos;
    if (nanos > this.#max) this.#max = nanos;
  }

  /** Samples recorded. */
  get count(): number {
    return this.#count;
  }

  /** Sum of the samples, ns (negative ones count as 0). */
  get sum(): number {
    return this.#sum;
  }

  /**
   * How many samples are at or below `nanos`, within ~3 %: samples are whole
   * ns (below 64 ns their integer part), and a log-linear bucket counts only
   * when all its values are <= `nanos`. So every sample <= 32/33 of `nanos`
   * (~97 %) is counted and none above `nanos`; exact below 64 ns and from the
   * largest sample up. Monotonic in `nanos`; O(buckets), for scrapes.
   *
   * @throws {RangeError} when `nanos` is NaN.
   */
  countAtOrBelow(nanos: number): number {
    if (Number.isNaN(nanos)) {
      throw new RangeError(`Invalid bound ${nanos}: expected a number of ns`);
    }
    if (nanos < 0) return 0;
    if (nanos >= this.#max) return this.#count;
    const whole = Math.floor(nanos);
    let last = bucketOf(whole); // the bucket holding `whole`: is all of it <= `whole`?
    // (The open-ended last bucket is not: it holds the max, above `whole`.)
    if (last === BUCKETS - 1 || lowerOf(last + 1) - 1 > whole) last--;
    let count = 0;
    for (let bucket = 0; bucket <= last; bucket++) {
      count += this.#counts[bucket];
    }
    return count;
  }

  /**
   * The latency at percentile `p` (0..100), ns; 0 when empty.
   *
   * @throws {RangeError} when `p` is outside 0..100.
   */
  percentile(p: number): number {
    if (!(p >= 0 && p <= 100)) {
      throw new RangeError(`Invalid percentile ${p}: expected 0 to 100`);
    }
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count));
    let seen = 0;
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      seen += this.#counts[bucket];
      if (seen >= rank) return Math.min(valueOf(bucket), this.#max);
    }
    return this.#max;
  }

  /**
   * The latency at percentile `p` (0..100) of the samples recorded since
   * `mark`, ns, within ~3 % (0 when none), then moves `mark` here: each call
   * measures the interval since the previous one. One pass over the buckets
   * up to the largest sample's, nothing allocated, nothing added to
   * {@linkcode LatencyHistogram.record}. A mark from before a
   * {@linkcode LatencyHistogram.reset} starts over from the reset.
   *
   * @throws {RangeError} when `p` is outside 0..100.
   */
  intervalPercentile(mark: LatencyMark, p: number): number {
    if (!(p >= 0 && p <= 100)) {
      throw new RangeError(`Invalid percentile ${p}: expected 0 to 100`);
    }
    const counts = this.#counts;
    const marked = mark.counts;
    if (mark.resets !== this.#resets) { // reset since the mark
      marked.fill(0);
      mark.count = 0;
      mark.resets = this.#resets;
    }
    const samples = this.#count - mark.count;
    mark.count = this.#count;
    if (samples === 0) return 0;
    // Counted from the top: the sample of rank `rank` from the bottom.
    const fromTop = samples - Math.max(1, Math.ceil((p / 100) * samples)) + 1;
    let seen = 0;
    let found = -1;
    for (let bucket = bucketOf(this.#max); bucket >= 0; bucket--) {
      const now = counts[bucket];
      const added = now - marked[bucket];
      if (added === 0) continue;
      marked[bucket] = now;
      seen += added;
      if (found < 0 && seen >= fromTop) found = bucket;
    }
    return Math.min(valueOf(found), this.#max);
  }

  /** Adds every sample of `other`. */
  merge(other: LatencyHistogram): void {
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      this.#counts[bucket] += other.#counts[bucket];
    }
    this.#count += other.#count;
    this.#sum += other.#sum;
    this.#negative += other.#negative;
    this.#max = Math.max(this.#max, other.#max);
  }

  /** Forgets every sample. */
  reset(): void {
    this.#counts.fill(0);
    this.#resets++;
    this.#count = 0;
    this.#sum = 0;
    this.#max = 0;
    this.#negative = 0;
  }

  /** Count and the usual percentiles. */
  summary(): LatencySummary {
    return {
      count: this.#count,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      p999: this.percentile(99.9),
      max: this.#max,
      negative: this.#negative,
    };
  }
}
