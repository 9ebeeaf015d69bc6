import assert from "node:assert/strict";
import { CID } from "npm:multiformats@14.0.5/cid";
import { decodeValue, encodeFields, encodeValue } from "./_codec.ts";
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

Deno.test("strings of every kind round-trip: escapes, multi-byte, surrogate pairs, lone ones", () => {
  const texts = [
    "",
    'quote " backslash \\ slash /',
    "controls \u0000\u0001\b\t\n\f\r\u001f\u007f",
    "two bytes \u00e9\u07ff, three \u0800\uffff\u20ac",
    "pair \ud83d\ude00 and lone \ud800 \udc00 \udbff!",
    "x".repeat(20_000) + "\u00e9".repeat(5_000), // longer than a staging slot
  ];
  for (const text of texts) {
    const encoded = encodeValue({ text, [text.slice(0, 40)]: text.length }, "Cannot test", "v");
    const decoded = decodeValue(encoded.bytes) as Record<string, unknown>;
    assert.equal(decoded.text, text);
    assert.equal(decoded[text.slice(0, 40)], text.length);
    assert.deepEqual(encoded.value, decoded);
    // The JSON is what JSON.parse reads back: valid UTF-8 throughout.
    const length = new DataView(encoded.bytes.buffer, encoded.bytes.byteOffset).getUint32(1, true);
    const json = new TextDecoder("utf-8", { fatal: true }).decode(
      encoded.bytes.subarray(5, 5 + length),
    );
    assert.equal((JSON.parse(json) as { text: string }).text, text);
    encoded.release();
  }
});

Deno.test("encodeFields writes the caller's fields, then the value, and copies only the value", () => {
  const bytes = new Uint8Array(3000).fill(9); // too big for a shared chunk of the copy
  const params = { bytes, list: [new Uint8Array([1]), "two"], nested: { $tag: new Uint8Array(0) } };
  const encoded = encodeFields(
    ["id", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "type", 'we"ird', "maxAttempts", 10, "at", 1.5e12 + 0.25],
    "params",
    params,
    "Cannot submit operation",
    "params",
  );
  const decoded = decodeValue(encoded.bytes) as Record<string, unknown>;
  assert.deepEqual(Object.keys(decoded), ["id", "type", "maxAttempts", "at", "params"]);
  assert.equal(decoded.type, 'we"ird');
  assert.equal(decoded.at, 1.5e12 + 0.25);
  assert.deepEqual(decoded.params, params);
  assert.deepEqual(encoded.value, params);
  const copy = encoded.value as typeof params;
  assert.notEqual(copy.bytes.buffer, bytes.buffer);
  assert.notEqual(
    copy.bytes.buffer,
    encoded.bytes.buffer,
    "the copy shares nothing with the record",
  );
  assert.notEqual(copy.list[0], params.list[0]);
  bytes.fill(0);
  assert.equal(copy.bytes[0], 9);
  // Errors name the path below the context, once.
  assert.throws(
    () =>
      encodeFields(
        ["id", "x"],
        "params",
        { when: new Date() },
        "Cannot submit operation",
        "params",
      ),
    /^TypeError: Cannot submit operation: params\.when must hold only JSON values/,
  );
  assert.throws(
    () => encodeFields(["id", "x"], "params", { a: [1, { f: () => 1 }] }, "Cannot test", "params"),
    /params\.a\[1\]\.f must hold only JSON values, Uint8Array and CID: received function/,
  );
  encoded.release();
});

Deno.test("a record not released is never overwritten by later ones; a released one may be", () => {
  const kept = encodeValue({ kept: new Uint8Array(200).fill(7), text: "kept" }, "Cannot test", "v");
  const snapshot = kept.bytes.slice();
  // Enough records to cycle through several staging chunks, released at once.
  for (let i = 0; i < 5000; i++) {
    encodeValue({ i, data: new Uint8Array(300).fill(i & 255) }, "Cannot test", "v").release();
  }
  assert.deepEqual(kept.bytes, snapshot);
  assert.deepEqual(decodeValue(kept.bytes), { kept: new Uint8Array(200).fill(7), text: "kept" });
  kept.release();
  kept.release(); // idempotent
});

Deno.test("encoding from inside a getter of the value being encoded works", () => {
  const inner = { value: "inner" };
  const outer = {
    get nested() {
      return decodeValue(encodeValue(inner, "Cannot test", "inner").bytes);
    },
    after: new Uint8Array([5, 6]),
  };
  const encoded = encodeValue(outer, "Cannot test", "v");
  assert.deepEqual(decodeValue(encoded.bytes), {
    nested: { value: "inner" },
    after: new Uint8Array([5, 6]),
  });
});

Deno.test("ids count up across every character boundary within a millisecond", () => {
  const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  const value = (id: string) => [...id].reduce((n, c) => n * 32n + BigInt(ALPHABET.indexOf(c)), 0n);
  for (
    const start of [
      "01ARZ3NDEKTSV4RRFFQ69G5FZZ",
      "01ARZ3NDEKTSV4RRFFQ6ZZZZZZ",
      "01ARZ3NDEKTSV4ZZZZZZZZZZZZ",
    ]
  ) {
    const ids = new UlidGenerator();
    ids.observe(start);
    let previous = start;
    for (let i = 0; i < 2100; i++) {
      const id = ids.next(0);
      assert.equal(value(id), value(previous) + 1n, `${previous} -> ${id}`);
      previous = id;
    }
  }
});
