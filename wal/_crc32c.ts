// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven,
// slice-by-8. Private to the WAL.

const POLYNOMIAL = 0x82f63b78;

/** Eight 256-entry tables, one after another: table k at `k * 256`. */
const TABLES: Uint32Array = makeTables();

function makeTables(): Uint32Array {
  const tables = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLYNOMIAL : c >>> 1;
    tables[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = tables[n];
    for (let k = 1; k < 8; k++) {
      c = tables[c & 0xff] ^ (c >>> 8);
      tables[k * 256 + n] = c;
    }
  }
  return tables;
}

/**
 * The CRC32C of `data[start..end)`, continuing from `crc` (the CRC of what
 * came before; 0 to start afresh). `crc32c(b, crc32c(a))` equals
 * `crc32c(a ++ b)`.
 */
export function crc32c(data: Uint8Array, crc = 0, start = 0, end: number = data.length): number {
  const t = TABLES;
  let c = ~crc;
  let i = start;
  for (const last = end - 8; i <= last; i += 8) {
    const lo = c ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24));
    const hi = data[i + 4] | (data[i + 5] << 8) | (data[i + 6] << 16) | (data[i + 7] << 24);
    c = t[1792 + (lo & 0xff)] ^ t[1536 + ((lo >>> 8) & 0xff)] ^
      t[1280 + ((lo >>> 16) & 0xff)] ^ t[1024 + (lo >>> 24)] ^
      t[768 + (hi & 0xff)] ^ t[512 + ((hi >>> 8) & 0xff)] ^
      t[256 + ((hi >>> 16) & 0xff)] ^ t[hi >>> 24];
  }
  for (; i < end; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
