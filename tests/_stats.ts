/**
 * Benchmark fixtures: statistics of measurements.
 *
 * @module
 */

/** The value below which a share `q` (0 to 1) of the `sorted` values lie. */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
