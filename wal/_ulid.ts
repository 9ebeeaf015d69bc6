// Time-sortable unique ids after ULID: 48 bits of milliseconds, then 80
// random bits, in Crockford's base32 (26 characters). Ids made by one
// generator are strictly increasing, also within a millisecond and when the
// clock steps back. Private to the WAL.

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const DECODE: Record<string, number> = Object.fromEntries(
  [...ALPHABET].map((char, i) => [char, i]),
);
const RANDOM_BITS = 80n;
const RANDOM_MAX = (1n << RANDOM_BITS) - 1n;
const TIME_MAX = 2 ** 48 - 1;
const ULID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

/** Makes increasing ids. */
export class UlidGenerator {
  #time = 0;
  #random = 0n;

  /** A new id, greater than every id made or observed before. `now`: ms since the epoch. */
  next(now: number): string {
    const time = Math.min(TIME_MAX, Math.max(0, Math.floor(now)));
    if (time > this.#time) {
      this.#time = time;
      this.#random = randomBits() >> 1n; // leave room to count up within the millisecond
    } else if (this.#random < RANDOM_MAX) {
      this.#random++;
    } else {
      this.#time++;
      this.#random = 0n;
    }
    return encode(this.#time, this.#random);
  }

  /** Makes later ids greater than `id` (an id made before, read back from the log). */
  observe(id: string): void {
    const decoded = decode(id);
    if (decoded === undefined) return;
    const [time, random] = decoded;
    if (time > this.#time || (time === this.#time && random > this.#random)) {
      this.#time = time;
      this.#random = random;
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

function randomBits(): bigint {
  const words = crypto.getRandomValues(new Uint32Array(3));
  return ((BigInt(words[0] & 0xffff) << 64n) | (BigInt(words[1]) << 32n) | BigInt(words[2])) &
    RANDOM_MAX;
}

function encode(time: number, random: bigint): string {
  let value = (BigInt(time) << RANDOM_BITS) | random;
  const chars = new Array<string>(26);
  for (let i = 25; i >= 0; i--) {
    chars[i] = ALPHABET[Number(value & 31n)];
    value >>= 5n;
  }
  return chars.join("");
}

function decode(id: string): [number, bigint] | undefined {
  if (!isUlid(id)) return undefined;
  let value = 0n;
  for (const char of id) value = (value << 5n) | BigInt(DECODE[char]);
  return [Number(value >> RANDOM_BITS), value & RANDOM_MAX];
}
