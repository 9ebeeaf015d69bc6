/**
 * HTTP `Range` requests on a file of known size (RFC 9110): `bytes=a-b`,
 * `bytes=a-`, `bytes=-n`, several of them separated by commas.
 *
 * @module
 */

/** One satisfiable range: first and last byte, inclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

/** The most ranges one request may ask for. */
export const MAX_RANGES = 16;

/**
 * Parses a `Range` header against a file of `size` bytes.
 *
 * @returns `undefined` when the header is absent or not a bytes range (the
 * whole file is served, as the RFC allows), `"unsatisfiable"` when no range
 * overlaps the file (416), else the ranges, clamped to the file.
 */
export function parseRange(
  header: string | null,
  size: number,
): ByteRange[] | "unsatisfiable" | undefined {
  if (header === null) return undefined;
  const match = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (match === null) return undefined;
  const parts = match[1].split(",").map((part) => part.trim()).filter((part) => part !== "");
  if (parts.length === 0 || parts.length > MAX_RANGES) return undefined;
  const ranges: ByteRange[] = [];
  for (const part of parts) {
    const range = /^(\d*)\s*-\s*(\d*)$/.exec(part);
    if (range === null || (range[1] === "" && range[2] === "")) return undefined;
    if (range[1] === "") {
      const suffix = Number(range[2]);
      if (suffix === 0) continue;
      ranges.push({ start: Math.max(0, size - suffix), end: size - 1 });
      continue;
    }
    const start = Number(range[1]);
    const end = range[2] === "" ? size - 1 : Math.min(Number(range[2]), size - 1);
    if (range[2] !== "" && Number(range[2]) < start) return undefined;
    if (start >= size) continue;
    ranges.push({ start, end });
  }
  if (ranges.length === 0) return "unsatisfiable";
  return ranges;
}
