import assert from "node:assert/strict";
import { CID } from "npm:multiformats@14.0.5/cid";
import * as raw from "npm:multiformats@14.0.5/codecs/raw";
import { sha256 } from "npm:multiformats@14.0.5/hashes/sha2";
import {
  BITSWAP_100,
  BITSWAP_110,
  BITSWAP_120,
  cidPrefix,
  decodeMessage,
  encodeMessage,
  encodeMessageParts,
  MalformedMessageError,
  MAX_MESSAGE_SIZE,
  MessageReader,
  readPrefix,
  readVarint,
  type WireMessage,
} from "./_bitswap_message.ts";

const data = new TextEncoder().encode("hello bitswap");
const cid = CID.createV1(raw.code, await sha256.digest(data));

function message(): WireMessage {
  return {
    entries: [
      { cid: cid.bytes, priority: 2 ** 31 - 1, cancel: false, wantType: 0, sendDontHave: true },
      { cid: cid.bytes, priority: 0, cancel: true, wantType: 0, sendDontHave: false },
      { cid: cid.bytes, priority: 5, cancel: false, wantType: 1, sendDontHave: false },
    ],
    full: true,
    blocks: [{ prefix: cidPrefix(cid), data }, { prefix: cidPrefix(cid), data: new Uint8Array() }],
    presences: [{ cid: cid.bytes, type: 1 }, { cid: cid.bytes, type: 0 }],
  };
}

/** Drops the length prefix. */
function body(framed: Uint8Array): Uint8Array {
  const [length, at] = readVarint(framed, 0);
  assert.equal(framed.length - at, length);
  return framed.subarray(at);
}

Deno.test("a 1.2.0 message survives encoding and decoding", () => {
  const decoded = decodeMessage(body(encodeMessage(message(), BITSWAP_120)));
  assert.deepEqual(decoded, message());
  assert.deepEqual(readPrefix(decoded.blocks[0].prefix!), [1, raw.code, sha256.code, 32]);
});

Deno.test("1.1.0 drops presences; 1.0.0 sends blocks bare", () => {
  const v110 = decodeMessage(body(encodeMessage(message(), BITSWAP_110)));
  assert.deepEqual(v110.presences, []);
  assert.deepEqual(v110.blocks, message().blocks);
  const v100 = decodeMessage(body(encodeMessage(message(), BITSWAP_100)));
  assert.deepEqual(v100.blocks, [{ data }, { data: new Uint8Array() }]);
  assert.deepEqual(v100.entries, message().entries);
});

Deno.test("parts carry the blocks' bytes uncopied and join to the message", () => {
  const parts = encodeMessageParts(message(), BITSWAP_120);
  assert(parts.includes(data), "the block's bytes are a part of their own");
  const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.length;
  }
  assert.deepEqual(joined, encodeMessage(message(), BITSWAP_120));
});

Deno.test("the reader cuts messages at any chunking, and refuses oversized or malformed ones", () => {
  const framed = [encodeMessage(message(), BITSWAP_120), encodeMessage(message(), BITSWAP_110)];
  const stream = new Uint8Array([...framed[0], ...framed[1]]);
  for (const size of [1, 3, 64, stream.length]) {
    const reader = new MessageReader();
    const out: Uint8Array[] = [];
    for (let at = 0; at < stream.length; at += size) {
      out.push(...reader.push(stream.subarray(at, at + size)));
    }
    assert.deepEqual(out, framed.map(body));
    assert.equal(reader.buffered, 0);
  }
  const tooBig = new MessageReader();
  const header = [0x80, 0x80, 0x80, 0x04]; // varint 2^23 > 4 MiB
  assert.throws(() => tooBig.push(Uint8Array.from(header)), MalformedMessageError);
  assert(MAX_MESSAGE_SIZE < 2 ** 23);
  // A field whose length overruns the message, and a bad wire type.
  assert.throws(() => decodeMessage(Uint8Array.of(0x0a, 0x05, 0x01)), MalformedMessageError);
  assert.throws(() => decodeMessage(Uint8Array.of(0x0b)), MalformedMessageError);
  // A block without its prefix.
  assert.throws(() => decodeMessage(Uint8Array.of(0x1a, 0x02, 0x12, 0x00)), MalformedMessageError);
});
