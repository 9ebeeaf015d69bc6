import assert from "node:assert/strict";
import { probeKubo, requireService } from "../tests/_services.ts";
import { createKuboClient } from "./_kubo_client.ts";

const kubo = await requireService("kubo", probeKubo);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of source) parts.push(part);
  return concat(parts);
}

function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let at = 0; at < length; at += 65_536) {
    crypto.getRandomValues(bytes.subarray(at, Math.min(at + 65_536, length)));
  }
  return bytes;
}

Deno.test({
  name: "Kubo client: add uploads under Deno and cat reads it back",
  ignore: kubo.ignore,
  fn: async () => {
    const client = await createKuboClient({ url: kubo.url });
    const bytes = randomBytes(700_000);
    const { cid, size } = await client.add(bytes, { pin: false, timeout: 30_000 });
    assert.ok(size > bytes.length);
    assert.deepEqual(await collect(client.cat(cid, { timeout: 30_000 })), bytes);
    const range = await collect(
      client.cat(cid, { offset: 262_000, length: 1_000, timeout: 30_000 }),
    );
    assert.deepEqual(range, bytes.subarray(262_000, 263_000));
  },
});

Deno.test({
  name: "Kubo client: block put, dag put and files write upload too",
  ignore: kubo.ignore,
  fn: async () => {
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
      assert.deepEqual(await collect(client.files.read(path, { timeout: 30_000 })), bytes);
    } finally {
      await client.files.rm(path, { timeout: 30_000 });
    }
  },
});

Deno.test({
  name: "Kubo client: streamed add input is uploaded chunk by chunk",
  ignore: kubo.ignore,
  fn: async () => {
    const client = await createKuboClient({ url: kubo.url, timeout: 30_000 });
    const chunks = [randomBytes(100_000), randomBytes(300_000), randomBytes(5)];
    async function* source() {
      yield* chunks;
    }
    const streamed = await client.add(source(), { pin: false });
    const whole = await client.add(concat(chunks), { pin: false });
    assert.equal(streamed.cid.toString(), whole.cid.toString());
  },
});
