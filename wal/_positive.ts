// The check of an option that must be a number above zero. Private to the
// WAL.

/**
 * `value`, or `fallback` when it is `undefined`.
 *
 * @throws {RangeError} `value` is not a number above zero; the message says "Cannot create `what`".
 */
export function positive(
  name: string,
  value: number | undefined,
  fallback: number,
  what: string,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0)) {
    throw new RangeError(`Cannot create ${what}: ${name} must be a number > 0: received ${value}`);
  }
  return value;
}
