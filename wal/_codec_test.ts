import assert from "node:assert/strict";
import { CID } from "npm:multiformats@14.0.5/cid";
import { decodeValue, encodeValue } from "./_codec.ts";
import { isUlid, UlidGenerator, ulidTime } from "./_ulid.ts";

Deno.test("values round-trip with their bytes and CIDs, and tags never collide", () => {
  const cid = CID.parse("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy");
  const bytes = new Uint8Array([0, 1, 2, 255]);
  const value = {
    text: "h\u00e9llo \ud83d\ude00",
    number: -1.5e-7,
    flags: [true, false, null],
    bytes,
    view: new Uint8Array(bytes.buffer, 1, 2),
    cid,
    $bytes: 0,
    $$cid: "x",
    nested: { $bytes: 1 },
    ["__proto__"]: { polluted: true },
    skipped: undefined,
  };
  Object.defineProperty(value, "__proto__", { value: { own: 1 }, enumerable: true });
  const encoded = encodeValue(value, "Cannot test", "value");
  const decoded = decodeValue(encoded.bytes) as Record<string, unknown>;
  for (const copy of [decoded, encoded.value as Record<string, unknown>]) {
    assert.equal(copy.text, value.text);
    assert.equal(copy.number, value.number);
    assert.deepEqual(copy.flags, [true, false, null]);
    assert.deepEqual(copy.bytes, bytes);
    assert.deepEqual(copy.view, new Uint8Array([1, 2]));
    assert.ok(CID.asCID(copy.cid)?.equals(cid));
    assert.equal(copy.$bytes, 0);
    assert.equal(copy.$$cid, "x");
    assert.deepEqual(copy.nested, { $bytes: 1 });
    assert.ok(!("skipped" in copy));
    assert.ok(Object.hasOwn(copy, "__proto__"));
    assert.equal(Object.getPrototypeOf(copy), Object.prototype, "no prototype pollution");
    assert.equal(({} as Record<string, unknown>).own, undefined);
  }
  // The stored copy does not share the caller's buffer.
  bytes[0] = 99;
  assert.equal((decoded.bytes as Uint8Array)[0], 0);
  assert.throws(() => decodeValue(encoded.bytes.subarray(0, encoded.bytes.length - 1)));
  assert.throws(() => decodeValue(new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 0])));
});

Deno.test("ids are time-sortable, unique and increasing, across observed ids too", () => {
  const ids = new UlidGenerator();
  const made: string[] = [];
  for (let i = 0; i < 1000; i++) made.push(ids.next(1_700_000_000_000 + (i >> 4)));
  // The clock stepping back does not make an id smaller.
  made.push(ids.next(1_600_000_000_000));
  assert.equal(new Set(made).size, made.length);
  for (let i = 1; i < made.length; i++) assert.ok(made[i - 1] < made[i], `${i}`);
  assert.ok(made.every(isUlid));
  assert.equal(ulidTime(made[0]), 1_700_000_000_000);
  assert.equal(ulidTime(made[999]), 1_700_000_000_000 + 62);

  const later = new UlidGenerator();
  later.observe(made.at(-1)!);
  const next = later.next(1_500_000_000_000);
  assert.ok(next > made.at(-1)!, "ids after observing one are greater");
  assert.ok(!isUlid("not-an-id"));
  assert.equal(ulidTime("8ZZZZZZZZZZZZZZZZZZZZZZZZZ"), undefined);
});
