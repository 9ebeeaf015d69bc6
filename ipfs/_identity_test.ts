import assert from "node:assert/strict";
import { base64pad } from "npm:multiformats@14.0.5/bases/base64";
import { testEachStrategy } from "../runtime/testing.ts";
import { decodeKey, encodeKey, loadIdentity, peerIdOf } from "./_identity.ts";
import { InvalidInputError } from "./errors.ts";
import { withTempDir } from "../tests/_files.ts";

function hex(text: string): Uint8Array {
  return new Uint8Array(text.match(/../g)!.map((pair) => parseInt(pair, 16)));
}

// The Ed25519 test vector of the libp2p peer-ID spec; the peer ID was
// computed by @libp2p/peer-id (js-libp2p) from the public key.
const PRIVATE_KEY = hex(
  "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d" +
    "1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
);
const PUBLIC_KEY = hex("080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e");
const PEER_ID = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";

testEachStrategy("the peer ID of the libp2p test vector", async () => {
  assert.equal(await peerIdOf(PUBLIC_KEY), PEER_ID);
  const key = decodeKey(PRIVATE_KEY);
  assert.equal(key.type, 1);
  assert.deepEqual(encodeKey(1, key.data.slice(32)), PUBLIC_KEY);
  assert.throws(() => decodeKey(new Uint8Array([1, 2, 3])), TypeError);
  // Keys over 42 bytes are hashed with sha2-256 ("Qm..." peer IDs).
  assert.match(await peerIdOf(new Uint8Array(100)), /^Qm/);
});

testEachStrategy("an identity is made once and loaded after", async () => {
  await withTempDir(async (dir) => {
    const made = await loadIdentity(`${dir}/self.json`, dir, true);
    assert.match(made.id, /^12D3KooW/);
    assert.equal(await peerIdOf(made.publicKey), made.id);
    assert.equal((await Deno.stat(`${dir}/self.json`)).mode! & 0o777, 0o600);
    const stored = JSON.parse(await Deno.readTextFile(`${dir}/self.json`));
    assert.equal(stored.PeerID, made.id);
    const loaded = await loadIdentity(`${dir}/self.json`, dir, true);
    assert.equal(loaded.id, made.id);
    assert.deepEqual(loaded.publicKey, made.publicKey);
    // The loaded private key signs for the stored public key.
    const message = new TextEncoder().encode("m");
    const signature = await crypto.subtle.sign("Ed25519", loaded.privateKey, message);
    const verifier = await crypto.subtle.importKey(
      "raw",
      decodeKey(made.publicKey).data.slice(),
      "Ed25519",
      false,
      ["verify"],
    );
    assert.equal(await crypto.subtle.verify("Ed25519", verifier, signature, message), true);
  });
});

testEachStrategy("a Kubo-style identity with the spec's key loads", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/self.json`;
    await Deno.writeTextFile(
      file,
      JSON.stringify({ PeerID: PEER_ID, PrivKey: base64pad.baseEncode(PRIVATE_KEY) }),
    );
    const identity = await loadIdentity(file, dir, false);
    assert.equal(identity.id, PEER_ID);
    assert.deepEqual(identity.publicKey, PUBLIC_KEY);
  });
});

testEachStrategy("a damaged identity file is refused", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/self.json`;
    const wrongPublic = PRIVATE_KEY.slice();
    wrongPublic[40] ^= 1;
    const cases = [
      "not json",
      JSON.stringify({ PeerID: PEER_ID }),
      JSON.stringify({ PeerID: PEER_ID, PrivKey: "!!" }),
      JSON.stringify({ PeerID: "12D3KooWother", PrivKey: base64pad.baseEncode(PRIVATE_KEY) }),
      JSON.stringify({ PeerID: PEER_ID, PrivKey: base64pad.baseEncode(wrongPublic) }),
      JSON.stringify({
        PeerID: PEER_ID,
        PrivKey: base64pad.baseEncode(encodeKey(0, new Uint8Array(64))),
      }),
    ];
    for (const text of cases) {
      await Deno.writeTextFile(file, text);
      await assert.rejects(loadIdentity(file, dir, false), InvalidInputError, text);
    }
  });
});
