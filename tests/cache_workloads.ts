/**
 * Workloads for the cache's tests, benchmarks and hit-ratio script: a seeded
 * PRNG, a Zipf sampler, the ARC paper's trace reader and an LRU simulation.
 * Test code: `tests/` is left out of the published package.
 *
 * @module
 */

/**
 * A seeded PRNG (mulberry32): returns numbers uniform in [0, 1).
 *
 * @param seed Any 32-bit integer.
 * @returns The generator.
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A sampler of ranks `0 .. n - 1`, rank `r` drawn with probability
 * proportional to `1 / (r + 1) ** exponent`.
 *
 * @param n How many ranks.
 * @param exponent The Zipf exponent (0.99 in the benchmarks).
 * @param random The uniform source.
 * @returns The sampler.
 */
export function zipf(n: number, exponent: number, random: () => number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) cdf[i] = sum += 1 / Math.pow(i + 1, exponent);
  for (let i = 0; i < n; i++) cdf[i] /= sum;
  return () => {
    const u = random();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** A trace as its page accesses, and how many requests it had. */
export interface Trace {
  /** Every page access in order. */
  pages: Int32Array;
  /** How many requests (lines). */
  requests: number;
}

/**
 * Reads a gzip-compressed trace in the ARC paper's format: one request a
 * line, `start_block block_count ignored request_id`; the request touches the
 * pages `start_block .. start_block + block_count - 1`.
 *
 * @param url Where the `.gz` file is.
 * @returns The page accesses.
 */
export async function readTrace(url: URL): Promise<Trace> {
  using file = await Deno.open(url);
  const stream = file.readable.pipeThrough(new DecompressionStream("gzip"));
  const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  let pages = new Int32Array(1 << 20);
  let count = 0;
  let requests = 0;
  let field = 0;
  let value = 0;
  let start = 0;
  let digits = false;
  const endField = () => {
    if (!digits) return;
    if (field === 0) start = value;
    else if (field === 1) {
      for (let page = start; page < start + value; page++) {
        if (count === pages.length) {
          const grown = new Int32Array(pages.length * 2);
          grown.set(pages);
          pages = grown;
        }
        pages[count++] = page;
      }
      requests++;
    }
    field++;
    value = 0;
    digits = false;
  };
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      digits = true;
    } else if (c === 10) {
      endField();
      field = 0;
    } else endField();
  }
  endField();
  return { pages: pages.subarray(0, count), requests };
}

/**
 * Simulates an LRU cache of `capacity` unit-size pages over `pages` (small
 * non-negative integers), with a doubly-linked list in typed arrays.
 *
 * @param pages The accesses.
 * @param capacity The cache size in pages.
 * @returns How many accesses hit.
 */
export function lruHits(pages: ArrayLike<number>, capacity: number): number {
  let top = 0;
  for (let i = 0; i < pages.length; i++) top = Math.max(top, pages[i]);
  const head = top + 1; // the sentinel: next is the most recent page, prev the least
  const next = new Int32Array(top + 2);
  const prev = new Int32Array(top + 2);
  const cached = new Uint8Array(top + 2);
  next[head] = prev[head] = head;
  let size = 0;
  let hits = 0;
  for (let i = 0; i < pages.length; i++) {
    const page = pages[i];
    if (cached[page] === 1) {
      hits++;
      next[prev[page]] = next[page];
      prev[next[page]] = prev[page];
    } else if (size === capacity) {
      const victim = prev[head];
      next[prev[victim]] = head;
      prev[head] = prev[victim];
      cached[victim] = 0;
    } else size++;
    cached[page] = 1;
    prev[page] = head;
    next[page] = next[head];
    prev[next[head]] = page;
    next[head] = page;
  }
  return hits;
}
