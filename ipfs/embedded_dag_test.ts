/**
 * The embedded node's `dag put`, `dag get` and `dag resolve`: dag-cbor,
 * dag-json, dag-pb and raw nodes, paths through maps, lists and links, and
 * the typed errors of malformed paths and values.
 */

import assert from "node:assert/strict";
import * as dagCbor from "npm:@ipld/dag-cbor@10.0.2";
import * as dagJson from "npm:@ipld/dag-json@11.0.1";
import * as dagPb from "npm:@ipld/dag-pb@4.2.0";
import { testEachStrategy } from "../runtime/testing.ts";
import { MAX_BLOCK_SIZE } from "./content_store.ts";
import { InvalidCidError, InvalidInputError, NotFoundError } from "./errors.ts";
import { sha256Cid, withNode } from "../tests/_node.ts";

const encoder = new TextEncoder();

testEachStrategy("dag put stores dag-cbor by default, with the CID Kubo gives", async () => {
  await withNode(async (node) => {
    // The empty map: a CID every IPFS implementation agrees on.
    const empty = await node.dag.put({});
    assert.equal(empty.toString(), "bafyreigbtj4x7ip5legnfznufuopl4sg4knzc2cof6duas4b3q2fy6swua");
    const value = { name: "x", n: 42, list: [1, "two", null], bytes: new Uint8Array([1, 2]) };
    const cid = await node.dag.put(value);
    assert.ok(cid.equals(sha256Cid(0x71, dagCbor.encode(value))));
    assert.deepEqual(await node.block.get(cid), dagCbor.encode(value));
    assert.deepEqual((await node.dag.get(cid)).value, value);
    assert.equal((await node.dag.get(cid)).remainderPath, "");
  });
});

testEachStrategy("dag put with dag-json, raw and dag-pb store codecs", async () => {
  await withNode(async (node) => {
    const value = { hello: "world", link: await node.dag.put({ a: 1 }) };
    const json = await node.dag.put(value, { storeCodec: "dag-json" });
    assert.ok(json.equals(sha256Cid(0x0129, dagJson.encode(value))));
    assert.deepEqual((await node.dag.get(json)).value, value);

    const bytes = encoder.encode("raw bytes");
    const rawCid = await node.dag.put(bytes, { storeCodec: "raw" });
    assert.ok(rawCid.equals(sha256Cid(0x55, bytes)));
    assert.deepEqual((await node.dag.get(rawCid)).value, bytes);

    const { cid: file } = await node.add("file", { pin: false });
    const pbNode = { Data: new Uint8Array([8, 1]), Links: [{ Name: "f", Hash: file, Tsize: 12 }] };
    const pb = await node.dag.put(pbNode, { storeCodec: "dag-pb" });
    assert.equal(pb.version, 1);
    assert.ok(pb.equals(sha256Cid(0x70, dagPb.encode(pbNode))));
  });
});

testEachStrategy("dag put decodes an input codec before storing", async () => {
  await withNode(async (node) => {
    const value = { a: [1, 2, 3], b: { c: "d" } };
    const direct = await node.dag.put(value);
    const fromJson = await node.dag.put(dagJson.encode(value), { inputCodec: "dag-json" });
    assert.ok(fromJson.equals(direct));
    const asJson = await node.dag.put(dagCbor.encode(value), {
      inputCodec: "dag-cbor",
      storeCodec: "dag-json",
    });
    assert.ok(asJson.equals(sha256Cid(0x0129, dagJson.encode(value))));
    await assert.rejects(
      node.dag.put(encoder.encode("{not json"), { inputCodec: "dag-json" }),
      InvalidInputError,
    );
    await assert.rejects(node.dag.put({ a: 1 }, { inputCodec: "dag-json" }), InvalidInputError);
  });
});

testEachStrategy("dag put rejects what cannot be encoded, storing nothing", async () => {
  await withNode(async (node) => {
    await assert.rejects(node.dag.put({ bad: undefined }), InvalidInputError);
    await assert.rejects(node.dag.put({ f: () => 1 }), InvalidInputError);
    await assert.rejects(node.dag.put({ n: NaN }), InvalidInputError);
    await assert.rejects(node.dag.put("not bytes", { storeCodec: "raw" }), InvalidInputError);
    await assert.rejects(
      node.dag.put({ Links: "no" }, { storeCodec: "dag-pb" }),
      InvalidInputError,
    );
    // @ts-expect-error: testing a codec the types exclude
    await assert.rejects(node.dag.put({}, { storeCodec: "git-raw" }), InvalidInputError);
    await assert.rejects(node.dag.put({ big: new Uint8Array(MAX_BLOCK_SIZE) }), {
      name: "RangeError",
      message: `Cannot put dag node: size exceeds 1 MiB limit: received ${MAX_BLOCK_SIZE + 10}`,
    });
    // A pinned node needs its links present.
    const absent = sha256Cid(0x71, encoder.encode("absent"));
    await assert.rejects(node.dag.put({ link: absent }, { pin: true }), NotFoundError);
    assert.equal((await node.repo.stat()).numObjects, 0);
    assert.deepEqual(await node.pin.ls(), []);
  });
});

testEachStrategy("dag get and resolve follow paths through maps, lists and links", async () => {
  await withNode(async (node) => {
    const leaf = await node.dag.put({ text: "deep", list: ["a", "b"] }, { storeCodec: "dag-json" });
    const middle = await node.dag.put({ items: [{ ref: leaf }, 7] });
    const root = await node.dag.put({ middle, meta: { version: 3 } }, { pin: true });

    const get = async (path: string) => (await node.dag.get(path)).value;
    assert.equal(await get(`${root}/meta/version`), 3);
    assert.equal(await get(`/ipfs/${root}/middle/items/1`), 7);
    assert.equal(await get(`${root}/middle/items/0/ref/text`), "deep");
    assert.equal(await get(`${root}/middle/items/0/ref/list/1`), "b");
    // A path ending on a link gives the linked node.
    assert.deepEqual(await get(`${root}/middle/items/0/ref`), { text: "deep", list: ["a", "b"] });
    // The path option adds to the path in the argument.
    assert.equal(
      (await node.dag.get(`${root}/middle`, { path: "items/0/ref/text" })).value,
      "deep",
    );
    assert.equal((await node.dag.get(root, { path: "/meta//version/" })).value, 3);

    const resolved = await node.dag.resolve(`${root}/middle/items/0/ref/list/0`);
    assert.ok(resolved.cid.equals(leaf));
    assert.equal(resolved.remainderPath, "list/0");
    const onLink = await node.dag.resolve(`${root}/middle`);
    assert.ok(onLink.cid.equals(middle));
    assert.equal(onLink.remainderPath, "");
    const inRoot = await node.dag.resolve(`${root}/meta/version`);
    assert.ok(inRoot.cid.equals(root));
    assert.equal(inRoot.remainderPath, "meta/version");
  });
});

testEachStrategy("dag paths through dag-pb use link names and the data model", async () => {
  await withNode(async (node) => {
    const results = await node.addAll([{ path: "d/hello.txt", content: "hello world\n" }]);
    const [file, dir] = results;
    const byName = await node.dag.get(`${dir.cid}/hello.txt`);
    const fileNode = byName.value as dagPb.PBNode;
    assert.deepEqual(fileNode, dagPb.decode(await node.block.get(file.cid)));
    const byModel = await node.dag.get(`${dir.cid}/Links/0/Hash`);
    assert.deepEqual(byModel.value, fileNode);
    assert.equal((await node.dag.get(`${dir.cid}/Links/0/Name`)).value, "hello.txt");
    const resolved = await node.dag.resolve(`${dir.cid}/hello.txt`);
    assert.ok(resolved.cid.equals(file.cid));
  });
});

testEachStrategy("malformed dag paths give typed errors", async () => {
  await withNode(async (node) => {
    const missing = sha256Cid(0x71, encoder.encode("missing"));
    const root = await node.dag.put({ list: [1, 2], n: 5, s: "str", gone: missing });
    const notFound = [`${root}/nope`, `${root}/list/2`, `${root}/gone`, `${root}/gone/x`];
    for (const path of notFound) {
      await assert.rejects(node.dag.get(path), NotFoundError, path);
    }
    const invalid = [`${root}/list/x`, `${root}/list/-1`, `${root}/list/01`, `${root}/n/x`];
    for (const path of [...invalid, `${root}/s/0`]) {
      await assert.rejects(node.dag.get(path), InvalidInputError, path);
      await assert.rejects(node.dag.resolve(path), InvalidInputError, path);
    }
    await assert.rejects(node.dag.get("nope/a"), InvalidCidError);
    await assert.rejects(node.dag.get("/ipfs/"), InvalidCidError);
    await assert.rejects(node.dag.resolve("bafy-not-a-cid/x"), InvalidCidError);
    // @ts-expect-error: testing a non-string path
    await assert.rejects(node.dag.get(root, { path: 5 }), InvalidInputError);
    const rawCid = await node.dag.put(encoder.encode("raw"), { storeCodec: "raw" });
    await assert.rejects(node.dag.get(`${rawCid}/0`), InvalidInputError);
    const [dir] = await node.addAll([{ path: "d" }]);
    await assert.rejects(node.dag.get(`${dir.cid}/absent-name`), NotFoundError);
    // Resolving to a link does not need the linked block; reading it does.
    assert.ok((await node.dag.resolve(`${root}/gone`)).cid.equals(missing));
  });
});
