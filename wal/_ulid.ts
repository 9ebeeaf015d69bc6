// Time-sortable unique ids after ULID: 48 bits of milliseconds, then 80
// random bits, in Crockford's base32 (26 characters). Ids made by one
// generator are strictly increasing, also within a millisecond and when the
// clock steps back. Private to the WAL.
//
// The generator is on the submit path, so it avoids BigInt and garbage: the
// 80 random bits are two 40-bit halves held in doubles (exact up to 2^53).
// The time takes the first 10 characters and each half 8; the first 24
// characters are cached and change only every 1,024 ids (or when the time
// does), so an id is one flat string made from their character codes and
// two more. Random words come from `getRandomValues` a batch at a time.

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const DECODE: Record<string, number> = Object.fromEntries(
  [...ALPHABET].map((char, i) => [char, i]),
);
const HALF = 2 ** 40;
const TIME_MAX = 2 ** 48 - 1;
const ULID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
/** The character code of each digit. */
const CODES: readonly number[] = Array.from(ALPHABET, (char) => char.charCodeAt(0));
/** Every 10-bit value as two characters. */
const PAIRS: readonly string[] = Array.from(
  { length: 1024 },
  (_, i) => ALPHABET[i >>> 5] + ALPHABET[i & 31],
);
/** Random words fetched per `getRandomValues` call (4 per millisecond that makes ids). */
const RANDOM_BATCH = 384;

/** Makes increasing ids. */
export class UlidGenerator {
  #time = -1;
  /** The high 40 random bits. */
  #high = 0;
  /** The low 40 random bits. */
  #low = 0;
  /** The first 24 characters: time, high half, the low half but its last 10 bits. */
  #prefix = "";
  /** The character codes of the id: the prefix's, then the last two. */
  readonly #codes: number[] = new Array(26).fill(48);
  #words = new Uint32Array(RANDOM_BATCH);
  #word = RANDOM_BATCH;

  /** A new id, greater than every id made or observed before. `now`: ms since the epoch. */
  next(now: number): string {
    const time = Math.min(TIME_MAX, Math.max(0, Math.floor(now)));
    if (time > this.#time) {
      // Fresh random bits; the top one is clear, which leaves room to count up within the
      // millisecond.
      if (this.#word + 4 > RANDOM_BATCH) {
        crypto.getRandomValues(this.#words);
        this.#word = 0;
      }
      const words = this.#words;
      const i = this.#word;
      this.#word = i + 4;
      this.#time = time;
      this.#high = (words[i] & 0x7f) * 2 ** 32 + words[i + 1];
      this.#low = (words[i + 2] & 0xff) * 2 ** 32 + words[i + 3];
      this.#prefix = "";
    } else if (this.#low < HALF - 1) {
      this.#low++;
      if ((this.#low & 1023) === 0) this.#prefix = "";
    } else if (this.#high < HALF - 1) {
      this.#low = 0;
      this.#high++;
      this.#prefix = "";
    } else {
      this.#time++;
      this.#high = 0;
      this.#low = 0;
      this.#prefix = "";
    }
    const low = this.#low;
    if (this.#prefix === "") {
      const top = Math.floor(low / 1024); // 30 bits
      this.#prefix = encodeTime(this.#time) + encodeHalf(this.#high) + PAIRS[top >>> 20] +
        PAIRS[(top >>> 10) & 1023] + PAIRS[top & 1023];
      const codes = this.#codes;
      for (let i = 0; i < 24; i++) codes[i] = this.#prefix.charCodeAt(i);
    }
    // One flat string: ids are kept (map keys) for long, and a concatenation would keep a
    // rope of two strings instead of one.
    const codes = this.#codes;
    const pair = low % 1024;
    codes[24] = CODES[pair >>> 5];
    codes[25] = CODES[pair & 31];
    return String.fromCharCode.apply(null, codes);
  }

  /** Makes later ids greater than `id` (an id made before, read back from the log). */
  observe(id: string): void {
    const decoded = decode(id);
    if (decoded === undefined) return;
    const [time, high, low] = decoded;
    if (
      time > this.#time ||
      (time === this.#time && (high > this.#high || (high === this.#high && low > this.#low)))
    ) {
      this.#time = time;
      this.#high = high;
      this.#low = low;
      this.#prefix = "";
    }
  }
}

/** Whether `id` has the form of an id from {@linkcode UlidGenerator}. */
export function isUlid(id: unknown): id is string {
  return typeof id === "string" && ULID.test(id);
}

/** The milliseconds an id encodes, or `undefined` for a malformed id. */
export function ulidTime(id: string): number | undefined {
  return decode(id)?.[0];
}

/** 48 bits in 10 characters (the first holds the top 3 bits: 0 to 7). */
function encodeTime(time: number): string {
  const high = Math.floor(time / 2 ** 24); // 24 bits
  const low = time % 2 ** 24; // 24 bits
  return ALPHABET[high >>> 21] + ALPHABET[(high >>> 16) & 31] + ALPHABET[(high >>> 11) & 31] +
    ALPHABET[(high >>> 6) & 31] + ALPHABET[(high >>> 1) & 31] +
    ALPHABET[((high & 1) << 4) | (low >>> 20)] + ALPHABET[(low >>> 15) & 31] +
    ALPHABET[(low >>> 10) & 31] + ALPHABET[(low >>> 5) & 31] + ALPHABET[low & 31];
}

/** 40 bits in 8 characters. */
function encodeHalf(value: number): string {
  const high = Math.floor(value / 2 ** 20); // 20 bits
  const low = value % 2 ** 20; // 20 bits
  return ALPHABET[high >>> 15] + ALPHABET[(high >>> 10) & 31] + ALPHABET[(high >>> 5) & 31] +
    ALPHABET[high & 31] + ALPHABET[low >>> 15] + ALPHABET[(low >>> 10) & 31] +
    ALPHABET[(low >>> 5) & 31] + ALPHABET[low & 31];
}

/** Time, high half, low half; `undefined` for a malformed id. */
function decode(id: string): [number, number, number] | undefined {
  if (!isUlid(id)) return undefined;
  let time = 0;
  for (let i = 0; i < 10; i++) time = time * 32 + DECODE[id[i]];
  let high = 0;
  for (let i = 10; i < 18; i++) high = high * 32 + DECODE[id[i]];
  let low = 0;
  for (let i = 18; i < 26; i++) low = low * 32 + DECODE[id[i]];
  return [time, high, low];
}
