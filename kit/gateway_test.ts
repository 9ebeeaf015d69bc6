/**
 * The gateway handler against the IPFS gateway specs' cases (path gateway
 * and trustless gateway), over an embedded node served by `Deno.serve` on
 * 127.0.0.1: ranges at block edges, 304, CAR round trips through
 * `@ipld/car` (roots and every block's hash checked), raw blocks, HEAD,
 * directories, 400/404/406/416 shapes.
 */

import assert from "node:assert/strict";
import { CarReader } from "npm:@ipld/car@5.4.7/reader";
import { equals } from "npm:multiformats@14.0.5/bytes";
import { sha256 } from "npm:multiformats@14.0.5/hashes/sha2";
import { testEachStrategy } from "../runtime/testing.ts";
import { withNode } from "../tests/_node.ts";
import { randomBytes } from "../tests/_bytes.ts";
import type { EmbeddedNode } from "../ipfs/embedded_node.ts";
import { createGatewayHandler } from "./gateway.ts";

const BLOCK = 262_144;

/** Runs `fn` with a node and the gateway over it on a real socket. */
function withGateway(fn: (url: string, node: EmbeddedNode) => Promise<void>): Promise<void> {
  return withNode(async (node) => {
    const handler = createGatewayHandler(node);
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
    try {
      await fn(`http://127.0.0.1:${server.addr.port}`, node);
    } finally {
      await server.shutdown();
    }
  });
}

async function bytesOf(response: Response): Promise<Uint8Array> {
  return new Uint8Array(await response.arrayBuffer());
}

testEachStrategy(
  "gateway: a file, with its CID as ETag, immutable caching and sniffed type",
  async () => {
    await withGateway(async (url, node) => {
      const { cid } = await node.add("hello world\n");
      const response = await fetch(`${url}/ipfs/${cid}`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("etag"), `"${cid}"`);
      assert.equal(response.headers.get("cache-control"), "public, max-age=29030400, immutable");
      assert.equal(response.headers.get("content-type"), "text/plain; charset=utf-8");
      assert.equal(response.headers.get("content-length"), "12");
      assert.equal(response.headers.get("x-ipfs-path"), `/ipfs/${cid}`);
      assert.equal(response.headers.get("accept-ranges"), "bytes");
      assert.equal(await response.text(), "hello world\n");

      const cached = await fetch(`${url}/ipfs/${cid}`, {
        headers: { "if-none-match": `"${cid}"` },
      });
      assert.equal(cached.status, 304);
      assert.equal(await cached.text(), "");
      const other = await fetch(`${url}/ipfs/${cid}`, { headers: { "if-none-match": `"nope"` } });
      assert.equal(other.status, 200);
      await other.body?.cancel();

      const head = await fetch(`${url}/ipfs/${cid}`, { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("content-length"), "12");
      assert.equal(await head.text(), "");

      const png = await node.add(
        new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0]),
      );
      const sniffed = await fetch(`${url}/ipfs/${png.cid}`);
      assert.equal(sniffed.headers.get("content-type"), "image/png");
      await sniffed.body?.cancel();
      const binary = await fetch(`${url}/ipfs/${(await node.add(randomBytes(1000))).cid}`);
      assert.equal(binary.headers.get("content-type"), "application/octet-stream");
      await binary.body?.cancel();
    });
  },
);

testEachStrategy("gateway: ranges at block edges, several ranges, and 416", async () => {
  await withGateway(async (url, node) => {
    const bytes = randomBytes(3 * BLOCK + 100);
    const { cid } = await node.add(bytes);
    for (
      const [start, end] of [[0, 0], [BLOCK - 1, BLOCK], [BLOCK, 2 * BLOCK - 1], [
        2 * BLOCK - 5,
        3 * BLOCK + 99,
      ]]
    ) {
      const response = await fetch(`${url}/ipfs/${cid}`, {
        headers: { range: `bytes=${start}-${end}` },
      });
      assert.equal(response.status, 206);
      assert.equal(response.headers.get("content-range"), `bytes ${start}-${end}/${bytes.length}`);
      assert.deepEqual(await bytesOf(response), bytes.subarray(start, end + 1));
    }
    const suffix = await fetch(`${url}/ipfs/${cid}`, { headers: { range: "bytes=-10" } });
    assert.deepEqual(await bytesOf(suffix), bytes.subarray(bytes.length - 10));
    const open = await fetch(`${url}/ipfs/${cid}`, { headers: { range: `bytes=${3 * BLOCK}-` } });
    assert.deepEqual(await bytesOf(open), bytes.subarray(3 * BLOCK));

    const multi = await fetch(`${url}/ipfs/${cid}`, {
      headers: { range: `bytes=0-9,${BLOCK - 2}-${BLOCK + 1}` },
    });
    assert.equal(multi.status, 206);
    const type = multi.headers.get("content-type")!;
    assert.match(type, /^multipart\/byteranges; boundary=/);
    const body = await bytesOf(multi);
    assert.equal(Number(multi.headers.get("content-length")), body.length);
    const text = new TextDecoder("latin1").decode(body);
    assert.match(text, new RegExp(`content-range: bytes 0-9/${bytes.length}`));
    assert.match(
      text,
      new RegExp(`content-range: bytes ${BLOCK - 2}-${BLOCK + 1}/${bytes.length}`),
    );
    const second = text.indexOf(`content-range: bytes ${BLOCK - 2}`);
    const start = text.indexOf("\r\n\r\n", second) + 4;
    assert.deepEqual(body.subarray(start, start + 4), bytes.subarray(BLOCK - 2, BLOCK + 2));

    const unsatisfiable = await fetch(`${url}/ipfs/${cid}`, {
      headers: { range: `bytes=${bytes.length}-` },
    });
    assert.equal(unsatisfiable.status, 416);
    assert.equal(unsatisfiable.headers.get("content-range"), `bytes */${bytes.length}`);
    await unsatisfiable.body?.cancel();
  });
});

testEachStrategy(
  "gateway: a CAR round trip through @ipld/car, roots and every block verified",
  async () => {
    await withGateway(async (url, node) => {
      const file = randomBytes(2 * BLOCK + 7);
      const results = await node.addAll([
        { path: "site/index.html", content: "<h1>hi</h1>" },
        { path: "site/data/big.bin", content: file },
      ], { cidVersion: 1 });
      const root = results.at(-1)!.cid;
      const big = results.find((entry) => entry.path === "site/data/big.bin")!.cid;
      for (
        const request of [
          fetch(`${url}/ipfs/${root}?format=car`),
          fetch(`${url}/ipfs/${root}`, { headers: { accept: "application/vnd.ipld.car" } }),
        ]
      ) {
        const response = await request;
        assert.equal(response.status, 200);
        assert.match(
          response.headers.get("content-type")!,
          /^application\/vnd\.ipld\.car; version=1/,
        );
        const reader = await CarReader.fromBytes(await bytesOf(response));
        assert.deepEqual((await reader.getRoots()).map(String), [root.toString()]);
        let count = 0;
        for await (const block of reader.blocks()) {
          const digest = await sha256.digest(block.bytes);
          assert.ok(equals(digest.bytes, block.cid.multihash.bytes), `block ${block.cid} verifies`);
          count++;
        }
        // site, index.html, data, big.bin (root + 3 leaves).
        assert.equal(count, 7);
      }
      // A path: the path's blocks first, then the file's DAG; the root is the file.
      const pathCar = await CarReader.fromBytes(
        await bytesOf(await fetch(`${url}/ipfs/${root}/data/big.bin?format=car`)),
      );
      assert.deepEqual((await pathCar.getRoots()).map(String), [big.toString()]);
      const cids = [];
      for await (const block of pathCar.blocks()) cids.push(block.cid.toString());
      assert.equal(cids[0], root.toString());
      assert.ok(cids.includes(big.toString()));
      assert.equal(cids.length, 2 + 4);
      const scoped = await CarReader.fromBytes(
        await bytesOf(await fetch(`${url}/ipfs/${big}?format=car&dag-scope=block`)),
      );
      const only = [];
      for await (const block of scoped.blocks()) only.push(block.cid.toString());
      assert.deepEqual(only, [big.toString()]);
    });
  },
);

testEachStrategy("gateway: raw blocks, by format and by Accept", async () => {
  await withGateway(async (url, node) => {
    const { cid } = await node.add("raw me", { cidVersion: 0 });
    const block = await node.block.get(cid);
    for (
      const request of [
        fetch(`${url}/ipfs/${cid}?format=raw`),
        fetch(`${url}/ipfs/${cid}`, { headers: { accept: "application/vnd.ipld.raw" } }),
      ]
    ) {
      const response = await request;
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "application/vnd.ipld.raw");
      assert.equal(response.headers.get("etag"), `"${cid}.raw"`);
      assert.deepEqual(await bytesOf(response), block);
    }
    const cached = await fetch(`${url}/ipfs/${cid}?format=raw`, {
      headers: { "if-none-match": `"${cid}.raw"` },
    });
    assert.equal(cached.status, 304);
    await cached.body?.cancel();
  });
});

testEachStrategy(
  "gateway: directories redirect, serve index.html or an escaped listing",
  async () => {
    await withGateway(async (url, node) => {
      const site = (await node.addAll([
        { path: "site/index.html", content: "<h1>home</h1>" },
        { path: "site/a.txt", content: "a" },
      ])).at(-1)!.cid;
      const redirect = await fetch(`${url}/ipfs/${site}`, { redirect: "manual" });
      assert.equal(redirect.status, 301);
      assert.equal(redirect.headers.get("location"), `/ipfs/${site}/`);
      await redirect.body?.cancel();
      const index = await fetch(`${url}/ipfs/${site}/`);
      assert.equal(index.headers.get("content-type"), "text/html; charset=utf-8");
      assert.equal(await index.text(), "<h1>home</h1>");

      const dir = (await node.addAll([
        { path: `d/<img src=x onerror="a('1')">&.txt`, content: "x" },
        { path: "d/sub/b.txt", content: "b" },
      ])).at(-1)!.cid;
      const listing = await fetch(`${url}/ipfs/${dir}/`);
      assert.equal(listing.status, 200);
      const html = await listing.text();
      assert.ok(!html.includes("<img"), "names are escaped");
      assert.ok(html.includes("&#60;img src=x onerror=&#34;a(&#39;1&#39;)&#34;&#62;&#38;.txt"));
      assert.match(html, /href="\.\/sub\/"/);
      const file = await fetch(`${url}/ipfs/${dir}/sub/b.txt`);
      assert.equal(await file.text(), "b");
    });
  },
);

testEachStrategy("gateway: 400, 404, 405, 406 and 501 answers", async () => {
  await withGateway(async (url, node) => {
    const { cid } = await node.add("x");
    const expect = async (request: Promise<Response>, status: number) => {
      const response = await request;
      assert.equal(response.status, status, await response.clone().text());
      assert.equal(response.headers.get("content-type"), "text/plain; charset=utf-8");
      assert.ok((await response.text()).length > 0);
    };
    await expect(fetch(`${url}/ipfs/not-a-cid`), 400);
    await expect(fetch(`${url}/ipfs/${cid}/nope`), 404);
    await expect(
      fetch(`${url}/ipfs/bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku`),
      404,
    );
    await expect(fetch(`${url}/elsewhere`), 404);
    await expect(fetch(`${url}/ipfs/${cid}`, { method: "POST" }), 405);
    await expect(fetch(`${url}/ipfs/${cid}?format=tar`), 400);
    await expect(
      fetch(`${url}/ipfs/${cid}`, { headers: { accept: "application/vnd.ipld.dag-json" } }),
      406,
    );
    await expect(
      fetch(`${url}/ipns/k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8`),
      501,
    );
  });
});
