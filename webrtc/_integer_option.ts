/**
 * Checking an integer option of the WebRTC floor's constructors.
 *
 * @module
 */

/**
 * `value`, or `fallback` when it is undefined.
 *
 * @throws {TypeError} `value` is not a safe integer.
 * @throws {RangeError} `value` is outside `[min, max]`.
 */
export function integerOption(
  value: unknown,
  fallback: number,
  min: number,
  max: number,
  name: string,
  what: string,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new TypeError(`${what}: ${name} must be an integer: received ${String(value)}`);
  }
  if (value < min || value > max) {
    throw new RangeError(`${what}: ${name} must be from ${min} to ${max}: received ${value}`);
  }
  return value;
}
