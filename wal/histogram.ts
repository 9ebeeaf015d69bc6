/**
 * Histograms with fixed bucket bounds, as Prometheus keeps them: counts per
 * bucket, the sum and the count of observations. The write-ahead log's
 * telemetry ({@linkcode WalTelemetry}) is made of them.
 *
 * @module
 */

/** One bucket of a {@linkcode HistogramSnapshot}. */
export interface HistogramBucket {
  /** The upper bound (inclusive); `Infinity` for the last bucket. */
  le: number;
  /** Observations at or below `le`: cumulative, as in Prometheus. */
  count: number;
}

/** What {@linkcode Histogram.snapshot} returns. */
export interface HistogramSnapshot {
  /** Cumulative buckets in increasing order of bound, the last one `le: Infinity`. */
  buckets: HistogramBucket[];
  /** The sum of the observed values. */
  sum: number;
  /** How many values were observed. */
  count: number;
}

/**
 * A histogram with fixed bucket bounds, as Prometheus keeps them: counts per
 * bucket, the sum and the count of observations.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Histogram } from "@ipfs-kit/kit/wal";
 *
 * const histogram = new Histogram([0.01, 0.1, 1]);
 * for (const seconds of [0.005, 0.05, 0.5, 5]) histogram.observe(seconds);
 * const { buckets, count } = histogram.snapshot();
 * assert(buckets.map((b) => b.count).join() === "1,2,3,4" && count === 4);
 * ```
 */
export class Histogram {
  readonly #bounds: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  /**
   * Creates a histogram.
   *
   * @param bounds Finite bucket upper bounds, strictly increasing; a `+Inf`
   * bucket is always added.
   * @throws {RangeError} The bounds are empty, not finite or not increasing.
   */
  constructor(bounds: readonly number[]) {
    if (!Array.isArray(bounds) || bounds.length === 0) {
      throw new RangeError("Cannot create histogram: bounds must be a non-empty array");
    }
    for (let i = 0; i < bounds.length; i++) {
      if (!Number.isFinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1]))) {
        throw new RangeError(
          `Cannot create histogram: bounds must be finite and strictly increasing: received ${
            bounds.join(", ")
          }`,
        );
      }
    }
    this.#bounds = Object.freeze([...bounds]);
    this.#counts = new Array(bounds.length + 1).fill(0);
  }

  /** The bucket upper bounds, without `+Inf`. */
  get bounds(): readonly number[] {
    return this.#bounds;
  }

  /**
   * Records one value. `NaN` is ignored.
   *
   * @param value The value, in the histogram's unit.
   */
  observe(value: number): void {
    if (Number.isNaN(value)) return;
    const bounds = this.#bounds;
    // Binary search for the first bound >= value.
    let lo = 0;
    let hi = bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (bounds[mid] < value) lo = mid + 1;
      else hi = mid;
    }
    this.#counts[lo]++;
    this.#sum += value;
    this.#count++;
  }

  /**
   * The histogram's current state.
   *
   * @returns Cumulative buckets, sum and count.
   */
  snapshot(): HistogramSnapshot {
    const buckets: HistogramBucket[] = [];
    let running = 0;
    for (let i = 0; i <= this.#bounds.length; i++) {
      running += this.#counts[i];
      buckets.push({ le: i < this.#bounds.length ? this.#bounds[i] : Infinity, count: running });
    }
    return { buckets, sum: this.#sum, count: this.#count };
  }
}
