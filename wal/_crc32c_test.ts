import assert from "node:assert/strict";
import { crc32c } from "./_crc32c.ts";

const ascii = (text: string) => new TextEncoder().encode(text);

/** Bit-at-a-time reference implementation, to check the slice-by-8 tables against. */
function reference(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

Deno.test("crc32c matches the published check value and RFC 3720 vectors", () => {
  assert.equal(crc32c(ascii("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
  // RFC 3720, appendix B.4.
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
  // An iSCSI Read (10) command PDU.
  const iscsiRead = new Uint8Array(48);
  iscsiRead.set([0x01, 0xc0], 0);
  iscsiRead.set([0x14, 0, 0, 0, 0, 0, 0x04, 0, 0, 0, 0, 0x14, 0, 0, 0, 0x18, 0x28], 16);
  iscsiRead[40] = 0x02;
  assert.equal(crc32c(iscsiRead), 0xd9963a56);
});

Deno.test("crc32c agrees with a bitwise reference at every length and alignment", () => {
  const data = Uint8Array.from({ length: 300 }, (_, i) => (i * 151 + 17) & 0xff);
  for (let length = 0; length <= 70; length++) {
    for (let start = 0; start < 9; start++) {
      const slice = data.subarray(start, start + length);
      assert.equal(crc32c(data, 0, start, start + length), reference(slice));
      assert.equal(crc32c(slice), reference(slice));
    }
  }
  assert.equal(crc32c(data), reference(data));
});

Deno.test("crc32c chains: crc(b, crc(a)) is crc(a ++ b)", () => {
  const whole = ascii("The quick brown fox jumps over the lazy dog, twice over.");
  for (let cut = 0; cut <= whole.length; cut++) {
    const first = crc32c(whole.subarray(0, cut));
    assert.equal(crc32c(whole.subarray(cut), first), crc32c(whole));
    assert.equal(crc32c(whole, first, cut), crc32c(whole));
  }
});
