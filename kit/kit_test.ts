import assert from "node:assert/strict";
import { testEachStrategy } from "../runtime/testing.ts";
import { probeKubo, requireService } from "../tests/_services.ts";
import type { BlockApi, CatOptions, CidLike, ContentStore } from "../ipfs/content_store.ts";
import { EmbeddedNode } from "../ipfs/embedded_node.ts";
import { InvalidInputError, RepoLockedError } from "../ipfs/errors.ts";
import { ForwardingStore } from "../ipfs/forwarding_store.ts";
import { Kit } from "./kit.ts";
import { type DataDirContext, defaultRepoPath } from "./_data_dir.ts";
import { randomBytes, readAll } from "../tests/_bytes.ts";
import { withTempDir } from "../tests/_files.ts";

const kubo = await requireService("kubo", probeKubo);

/** Sets environment variables for the duration of `fn`, then restores them. */
async function withEnv(
  vars: Record<string, string | undefined>,
  fn: () => Promise<void>,
): Promise<void> {
  const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, Deno.env.get(name)]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
  };
  apply(vars);
  try {
    await fn();
  } finally {
    apply(saved);
  }
}

testEachStrategy("Kit.open: the embedded node on a repo, add and cat round trip", async () => {
  await withTempDir(async (repo) => {
    const bytes = randomBytes(700_000);
    let cid: string;
    {
      await using kit = await Kit.open({ repo });
      assert.equal(kit.backend, "embedded");
      assert.equal(kit.location, repo);
      assert.ok(kit.store instanceof EmbeddedNode);
      const added = await kit.add(bytes);
      cid = added.cid.toString();
      assert.ok(cid.startsWith("Qm"), cid);
      assert.deepEqual(await readAll(kit.cat(added.cid)), bytes);
      assert.equal((await kit.version()).backend, "embedded");
      assert.ok((await kit.health()).ok);
    }
    // Durable: a second kit on the same repository reads it back.
    await using again = await Kit.open({ repo });
    assert.deepEqual(await readAll(again.cat(cid)), bytes);
    assert.deepEqual((await again.pin.ls({ type: "recursive" })).map((pin) => `${pin.cid}`), [
      cid,
    ]);
  });
});

testEachStrategy("Kit reads go through its tiered cache; cache: false turns it off", async () => {
  await withTempDir(async (repo) => {
    const bytes = randomBytes(300_000);
    {
      await using kit = await Kit.open({ repo, sync: false });
      assert.ok(kit.cache !== undefined);
      const { cid } = await kit.add(bytes);
      const before = kit.cache.statistics();
      assert.deepEqual(await readAll(kit.cat(cid)), bytes);
      assert.deepEqual(await readAll(kit.cat(cid)), bytes);
      const after = kit.cache.statistics();
      assert.equal(after.reads - before.reads, 2);
      // The write-through add put the file in the memory tier: both reads hit it.
      assert.equal(after.fromMemory - before.fromMemory, 2);
      assert.equal(after.fromBackend - before.fromBackend, 0);
      // Blocks too.
      const block = await kit.block.put(bytes.subarray(0, 1000));
      assert.deepEqual(await kit.block.get(block), bytes.subarray(0, 1000));
      assert.ok(kit.cache.statistics().reads > after.reads);
    }
    await using bare = await Kit.open({ repo, sync: false, cache: false });
    assert.equal(bare.cache, undefined);
  });
});

testEachStrategy("Kit.open: without repo, the repository is $IPFS_KIT_REPO", async () => {
  await withTempDir(async (dir) => {
    const repo = `${dir}/from-env`;
    await withEnv({ IPFS_KIT_REPO: repo }, async () => {
      assert.equal(Kit.defaultRepo(), repo);
      await using kit = await Kit.open();
      assert.equal(kit.location, repo);
      await kit.add("zero set-up");
    });
    assert.ok((await Deno.stat(`${repo}/blocks`)).isDirectory);
  });
});

testEachStrategy("Kit.open: without repo or IPFS_KIT_REPO, the XDG data folder", async () => {
  await withTempDir(async (dir) => {
    await withEnv({ IPFS_KIT_REPO: undefined, XDG_DATA_HOME: dir }, async () => {
      await using kit = await Kit.open();
      assert.equal(kit.location, `${dir}/ipfs-kit`);
      assert.ok((await Deno.stat(`${dir}/ipfs-kit/blocks`)).isDirectory);
    });
  });
}, { ignore: Deno.build.os !== "linux" }); // elsewhere it would write to the real data folder

Deno.test("defaultRepoPath: each operating system's per-user data folder", () => {
  const context = (
    os: DataDirContext["os"],
    vars: Record<string, string>,
  ): DataDirContext => ({ os, env: (name) => vars[name] });
  assert.equal(
    defaultRepoPath(context("linux", { HOME: "/home/ann" })),
    "/home/ann/.local/share/ipfs-kit",
  );
  assert.equal(
    defaultRepoPath(context("linux", { HOME: "/home/ann", XDG_DATA_HOME: "/data/ann/" })),
    "/data/ann/ipfs-kit",
  );
  // A relative XDG_DATA_HOME is invalid and ignored, as the spec says.
  assert.equal(
    defaultRepoPath(context("linux", { HOME: "/home/ann", XDG_DATA_HOME: "rel" })),
    "/home/ann/.local/share/ipfs-kit",
  );
  assert.equal(
    defaultRepoPath(context("freebsd", { HOME: "/usr/home/bo" })),
    "/usr/home/bo/.local/share/ipfs-kit",
  );
  assert.equal(
    defaultRepoPath(context("darwin", { HOME: "/Users/cy", XDG_DATA_HOME: "/x" })),
    "/Users/cy/Library/Application Support/ipfs-kit",
  );
  assert.equal(
    defaultRepoPath(context("windows", { LOCALAPPDATA: "C:\\Users\\di\\AppData\\Local\\" })),
    "C:\\Users\\di\\AppData\\Local\\ipfs-kit",
  );
  assert.equal(
    defaultRepoPath(context("windows", { USERPROFILE: "C:\\Users\\di" })),
    "C:\\Users\\di\\AppData\\Local\\ipfs-kit",
  );
  for (const os of ["linux", "darwin", "windows"] as const) {
    assert.equal(
      defaultRepoPath(context(os, { IPFS_KIT_REPO: "/srv/kit", HOME: "/h", LOCALAPPDATA: "C:" })),
      "/srv/kit",
    );
  }
  assert.throws(() => defaultRepoPath(context("linux", {})), InvalidInputError);
  assert.throws(() => defaultRepoPath(context("windows", { HOME: "/h" })), InvalidInputError);
});

testEachStrategy("Kit.open: repo and api together are refused", async () => {
  await assert.rejects(
    Kit.open({ repo: "/nowhere", api: "http://127.0.0.1:5001" }),
    (error: unknown) =>
      error instanceof InvalidInputError && /exclude each other/.test(error.message),
  );
});

testEachStrategy("Kit.open: a repository another kit holds is refused", async () => {
  await withTempDir(async (repo) => {
    await using _first = await Kit.open({ repo });
    await assert.rejects(Kit.open({ repo }), RepoLockedError);
  });
});

testEachStrategy("Kit.open: an aborted signal rejects with its reason", async () => {
  await withTempDir(async (repo) => {
    const controller = new AbortController();
    const reason = new Error("stop");
    controller.abort(reason);
    await assert.rejects(
      Kit.open({ repo, signal: controller.signal }),
      (error) => error === reason,
    );
  });
});

/** A layer that counts the reads that reach it and tags its order. */
class CountingLayer extends ForwardingStore {
  cats = 0;
  blockGets = 0;
  closedAt = -1;
  readonly #order: string[];
  readonly #tag: string;

  override readonly block: BlockApi = {
    get: (cid, options) => {
      this.blockGets++;
      return this.below.block.get(cid, options);
    },
    put: (bytes, options) => this.below.block.put(bytes, options),
    has: (cid, options) => this.below.block.has(cid, options),
    stat: (cid, options) => this.below.block.stat(cid, options),
    rm: (cid, options) => this.below.block.rm(cid, options),
  };

  constructor(below: ContentStore, tag: string, order: string[]) {
    super(below);
    this.#tag = tag;
    this.#order = order;
  }

  override cat(path: CidLike, options?: CatOptions): ReadableStream<Uint8Array> {
    this.cats++;
    this.#order.push(`cat ${this.#tag}`);
    return super.cat(path, options);
  }

  override async close(): Promise<void> {
    this.#order.push(`close ${this.#tag}`);
    await super.close();
  }
}

testEachStrategy("Kit layers: reads go through them, top first; close closes all", async () => {
  await withTempDir(async (repo) => {
    const order: string[] = [];
    const layers: CountingLayer[] = [];
    const kit = await Kit.open({
      repo,
      layers: [
        (below) => {
          layers.push(new CountingLayer(below, "cache", order));
          return layers.at(-1)!;
        },
        async (below) => {
          await Promise.resolve();
          layers.push(new CountingLayer(below, "outer", order));
          return layers.at(-1)!;
        },
      ],
    });
    const { cid } = await kit.add("through the layers");
    assert.equal(await new Response(kit.cat(cid)).text(), "through the layers");
    assert.deepEqual(order, ["cat outer", "cat cache"]);
    assert.deepEqual(layers.map((layer) => layer.cats), [1, 1]);
    await kit.block.get(cid);
    assert.deepEqual(layers.map((layer) => layer.blockGets), [1, 1]);
    // The backend itself bypasses the layers.
    await kit.store.block.get(cid);
    assert.deepEqual(layers.map((layer) => layer.blockGets), [1, 1]);
    await kit.close();
    assert.deepEqual(order.slice(2), ["close outer", "close cache"]);
    assert.ok(kit.closed);
    assert.equal((await kit.store.health()).ok, false);
    await kit.close(); // idempotent
    // The repository is free again.
    await using again = await Kit.open({ repo });
    assert.equal(await new Response(again.cat(cid)).text(), "through the layers");
  });
});

testEachStrategy("Kit layers: a layer that fails to open closes the backend", async () => {
  await withTempDir(async (repo) => {
    const failure = new Error("layer failed");
    await assert.rejects(
      Kit.open({
        repo,
        layers: [() => {
          throw failure;
        }],
      }),
      (error) => error === failure,
    );
    await using kit = await Kit.open({ repo }); // not locked: the backend was closed
    assert.equal(kit.backend, "embedded");
  });
});

testEachStrategy("Kit.open: layers must be functions", async () => {
  await assert.rejects(
    Kit.open({ repo: "/nowhere", layers: ["cache" as never] }),
    InvalidInputError,
  );
});

testEachStrategy("Kit over a daemon: add and cat round trip with api as a URL", async () => {
  const bytes = randomBytes(300_000);
  await using kit = await Kit.open({ api: kubo.url, kubo: { timeoutMs: 30_000 } });
  assert.equal(kit.backend, "kubo");
  assert.equal(kit.location, `${kubo.url}/api/v0`);
  const { cid } = await kit.add(bytes, { pin: false });
  assert.deepEqual(await readAll(kit.cat(cid)), bytes);
  assert.equal((await kit.version()).backend, "kubo");
  // The same bytes give the same CID on the embedded node.
  await withTempDir(async (repo) => {
    await using local = await Kit.open({ repo, sync: false });
    assert.equal(`${(await local.add(bytes)).cid}`, `${cid}`);
  });
}, { ignore: kubo.ignore });

testEachStrategy("Kit over a daemon: api as a multiaddr, a Kubo repository, or true", async () => {
  const url = new URL(kubo.url);
  const multiaddr = `/ip4/${url.hostname}/tcp/${url.port}`;
  {
    await using kit = await Kit.open({ api: multiaddr, kubo: { timeoutMs: 30_000 } });
    assert.equal(kit.location, `${kubo.url}/api/v0`);
    assert.equal(await new Response(kit.cat((await kit.add("m")).cid)).text(), "m");
  }
  await withTempDir(async (ipfsPath) => {
    await Deno.writeTextFile(`${ipfsPath}/api`, `${multiaddr}\n`);
    for (const api of [ipfsPath, `${ipfsPath}/api`]) {
      await using kit = await Kit.open({ api, kubo: { timeoutMs: 30_000 } });
      assert.equal(kit.backend, "kubo");
      assert.equal(kit.location, `${kubo.url}/api/v0`);
      assert.equal((await kit.version()).backend, "kubo");
    }
    await withEnv({ IPFS_PATH: ipfsPath }, async () => {
      await using kit = await Kit.open({ api: true, kubo: { timeoutMs: 30_000 } });
      assert.equal(kit.location, `${kubo.url}/api/v0`);
    });
    await Deno.writeTextFile(`${ipfsPath}/config`, "{}");
    await assert.rejects(Kit.open({ api: `${ipfsPath}/config` }), InvalidInputError);
  });
}, { ignore: kubo.ignore });
