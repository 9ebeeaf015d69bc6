import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { create } from "npm:kubo-rpc-client@7.1.0";
import { probeKubo, requireService } from "../tests/_services.ts";
import { sleep } from "../runtime/sleep.ts";
import { testEachStrategy } from "../runtime/testing.ts";
import { createKuboClient, createKuboRpc, MAX_PIECE, webBody } from "./_kubo_client.ts";
import { concat, randomBytes, readAll } from "../tests/_bytes.ts";

const kubo = await requireService("kubo", probeKubo);

/** A Node stream in byte mode, as the client's multipart body is: strings, then content. */
function multipartLike(content: Uint8Array, onRead?: () => void): Readable {
  const parts: Array<string | Uint8Array> = [
    "--boundary\r\n",
    "Content-Type: x\r\n\r\n",
    content,
    "\r\n--boundary--\r\n",
  ];
  return new Readable({
    read() {
      onRead?.();
      const next = parts.shift();
      this.push(next === undefined ? null : next);
    },
  });
}

// The body adapter

testEachStrategy(
  "Kubo client: a 64 MiB body goes to fetch as views, in bounded pieces",
  async () => {
    const content = new Uint8Array(64 * 1024 * 1024);
    content[0] = 1;
    content[content.length - 1] = 2;
    const pieces: Uint8Array[] = [];
    for await (const piece of webBody(multipartLike(content))) pieces.push(piece);
    assert.ok(pieces.every((piece) => piece.length <= MAX_PIECE));
    const views = pieces.filter((piece) => piece.buffer === content.buffer);
    // Every byte of the content went as a view of the caller's buffer: nothing was copied.
    assert.equal(views.reduce((sum, piece) => sum + piece.length, 0), content.length);
    assert.equal(views.length, content.length / MAX_PIECE);
    const text = new TextDecoder().decode(
      concat(pieces.filter((piece) => piece.buffer !== content.buffer)),
    );
    assert.equal(text, "--boundary\r\nContent-Type: x\r\n\r\n\r\n--boundary--\r\n");
  },
);

testEachStrategy("Kubo client: the body adapter reads only as fetch reads", async () => {
  let reads = 0;
  const chunks = Array.from({ length: 100 }, () => new Uint8Array(100_000));
  const readable = new Readable({
    highWaterMark: 1,
    read() {
      reads++;
      this.push(chunks.shift() ?? null);
    },
  });
  const reader = webBody(readable).getReader();
  const first = await reader.read();
  assert.equal(first.value?.length, 100_000);
  await sleep(20);
  assert.ok(reads < 10, `the Node stream was read ${reads} times for one chunk`);
  await reader.cancel();
  assert.ok(readable.destroyed, "cancelling the body destroys the Node stream");
});

testEachStrategy("Kubo client: the body adapter passes a stream's error on", async () => {
  const readable = new Readable({
    read() {
      this.destroy(new Error("disk gone"));
    },
  });
  await assert.rejects(readAll(webBody(readable)), /disk gone/);
});

testEachStrategy("Kubo client: async iterable bodies are passed as views too", async () => {
  const content = randomBytes(3 * MAX_PIECE + 5);
  async function* body() {
    yield "head";
    yield content;
  }
  const pieces: Uint8Array[] = [];
  for await (const piece of webBody(body())) pieces.push(piece);
  assert.equal(new TextDecoder().decode(pieces[0]), "head");
  assert.ok(pieces.slice(1).every((piece) => piece.buffer === content.buffer));
  assert.deepEqual(concat(pieces.slice(1)), content);
});

testEachStrategy(
  "Kubo client: concurrent creates each get the fix and restore the client",
  async () => {
    const entry = import.meta.resolve("npm:kubo-rpc-client@7.1.0");
    const { HTTP } = await import(new URL("./lib/http.js", entry).href) as {
      HTTP: { prototype: { fetch: unknown } };
    };
    const original = HTTP.prototype.fetch;
    const url = kubo.ignore ? "http://127.0.0.1:1" : kubo.url;
    const rpcs = await Promise.all(Array.from({ length: 20 }, () => createKuboRpc({ url })));
    assert.equal(HTTP.prototype.fetch, original);
    if (!kubo.ignore) {
      // Each client uploads (which only the fix makes work), all at once.
      const cids = await Promise.all(
        rpcs.map((rpc, i) => rpc.client.block.put(new Uint8Array([i]), { timeout: 30_000 })),
      );
      assert.equal(new Set(cids.map(String)).size, 20);
    }
    assert.equal(new Set(rpcs.map((rpc) => rpc.client)).size, 20);
  },
);

// Against a daemon

testEachStrategy(
  "Kubo client: without the fix, Deno's fetch refuses the client's uploads",
  async () => {
    const plain = create({ url: kubo.url });
    await assert.rejects(
      plain.add(new Uint8Array(10), { pin: false, signal: AbortSignal.timeout(30_000) }),
      (error: Error) => /detachable/.test(`${error.message} ${(error.cause as Error)?.message}`),
    );
    const fixed = await createKuboClient({ url: kubo.url });
    assert.ok((await fixed.add(new Uint8Array(10), { pin: false })).cid);
  },
  { ignore: kubo.ignore },
);

testEachStrategy("Kubo client: add uploads under Deno and cat reads it back", async () => {
  const client = await createKuboClient({ url: kubo.url });
  const bytes = randomBytes(700_000);
  const { cid, size } = await client.add(bytes, { pin: false, timeout: 30_000 });
  assert.ok(size > bytes.length);
  assert.deepEqual(await readAll(client.cat(cid, { timeout: 30_000 })), bytes);
  const range = await readAll(client.cat(cid, { offset: 262_000, length: 1_000, timeout: 30_000 }));
  assert.deepEqual(range, bytes.subarray(262_000, 263_000));
}, { ignore: kubo.ignore });

testEachStrategy("Kubo client: block put, dag put and files write upload too", async () => {
  const client = await createKuboClient({ url: kubo.url });
  const bytes = randomBytes(1_000);
  const block = await client.block.put(bytes, { timeout: 30_000 });
  assert.deepEqual(await client.block.get(block, { timeout: 30_000 }), bytes);

  const value = { hello: "dag", n: 42 };
  const dag = await client.dag.put(value, { timeout: 30_000 });
  assert.deepEqual((await client.dag.get(dag, { timeout: 30_000 })).value, value);

  const path = `/ipfs-kit-test-${crypto.randomUUID()}`;
  await client.files.write(path, bytes, { create: true, timeout: 30_000 });
  try {
    assert.deepEqual(await readAll(client.files.read(path, { timeout: 30_000 })), bytes);
  } finally {
    await client.files.rm(path, { timeout: 30_000 });
  }
}, { ignore: kubo.ignore });

testEachStrategy("Kubo client: streamed add input is uploaded chunk by chunk", async () => {
  const client = await createKuboClient({ url: kubo.url, timeout: 30_000 });
  const chunks = [randomBytes(100_000), randomBytes(300_000), randomBytes(5)];
  async function* source() {
    yield* chunks;
  }
  const streamed = await client.add(source(), { pin: false });
  const whole = await client.add(concat(chunks), { pin: false });
  assert.equal(streamed.cid.toString(), whole.cid.toString());
}, { ignore: kubo.ignore });

testEachStrategy(
  "Kubo client: the raw post calls a command through the same HTTP layer",
  async () => {
    const { post } = await createKuboRpc({ url: kubo.url });
    const response = await post("version", { signal: AbortSignal.timeout(30_000) });
    assert.equal(response.status, 200);
    const body = await response.json() as { Version?: unknown };
    assert.equal(typeof body.Version, "string");
    await assert.rejects(
      post("block/stat", { args: ["not-a-cid"], signal: AbortSignal.timeout(30_000) }),
      (error: Error) => error.name === "HTTPError",
    );
  },
  { ignore: kubo.ignore },
);
