/**
 * The daemon's failure answers, mapped to typed errors, and the retry
 * policy, through the real client and real HTTP: a local server answers
 * each command as Kubo does when it fails (HTTP 500 with
 * `{"Message", "Code", "Type": "error"}`, a plain-text 404 for a command it
 * lacks) or as a proxy in front of it does (502, 503).
 */

import assert from "node:assert/strict";
import { TimeoutError } from "../runtime/errors.ts";
import { testEachStrategy } from "../runtime/testing.ts";
import {
  InvalidCidError,
  InvalidInputError,
  KuboRpcError,
  NotFoundError,
  NotSupportedError,
  PinnedError,
  UnreachableError,
} from "./errors.ts";
import { KuboBackend } from "./kubo_backend.ts";
import type { KuboRetryOptions } from "./kubo_options.ts";
import { isRetriable, toTypedError } from "./_kubo_errors.ts";

const CID_V0 = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o";

function isA(type: abstract new (...args: never[]) => unknown): (error: unknown) => boolean {
  return (error) => error instanceof type;
}

type Answer = () => Response;

function kuboError(message: string, status = 500, code = 0): Answer {
  return () =>
    new Response(JSON.stringify({ Message: message, Code: code, Type: "error" }), {
      status,
      headers: { "content-type": "application/json" },
    });
}

function json(value: unknown): Answer {
  return () => Response.json(value);
}

/** A local server answering each command from `answers` (in turn, the last repeating). */
async function withDaemon(
  answers: Record<string, Answer[]>,
  fn: (
    backend: KuboBackend,
    calls: Map<string, number>,
    queries: URLSearchParams[],
  ) => Promise<void>,
  retry?: KuboRetryOptions | false,
): Promise<void> {
  const calls = new Map<string, number>();
  const queries: URLSearchParams[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    await request.body?.cancel();
    const url = new URL(request.url);
    queries.push(url.searchParams);
    const command = url.pathname.replace(/^\/api\/v0\//, "");
    const count = calls.get(command) ?? 0;
    calls.set(command, count + 1);
    const list = answers[command];
    if (list === undefined) return new Response("404 page not found", { status: 404 });
    return list[Math.min(count, list.length - 1)]();
  });
  try {
    await using backend = await KuboBackend.connect({
      api: `http://127.0.0.1:${server.addr.port}`,
      timeoutMs: 5_000,
      retry: retry ?? { attempts: 4, baseDelayMs: 1, maxDelayMs: 5 },
    });
    await fn(backend, calls, queries);
  } finally {
    await server.shutdown();
  }
}

const MAPPED: Array<[string, string, Answer, (error: unknown) => boolean]> = [
  ["a missing block", "block/get", kuboError("merkledag: not found"), isA(NotFoundError)],
  [
    "a missing block offline",
    "block/get",
    kuboError("block was not found locally (offline): ipld: could not find " + CID_V0),
    isA(NotFoundError),
  ],
  [
    "a missing link",
    "block/get",
    kuboError(`no link named "x" under ${CID_V0}`),
    isA(NotFoundError),
  ],
  ["a deadline", "block/get", kuboError("context deadline exceeded"), isA(TimeoutError)],
  ["a bad path", "block/get", kuboError('invalid path "x": invalid cid'), isA(InvalidCidError)],
  [
    "a client error",
    "block/get",
    kuboError('argument "cid" is required', 400, 1),
    isA(InvalidInputError),
  ],
  [
    "a refusal",
    "block/get",
    () => new Response("no", { status: 403 }),
    (error) =>
      error instanceof KuboRpcError && error.status === 403 && error.command === "block/get",
  ],
  [
    "a command it lacks",
    "nothing",
    kuboError("unused"),
    (error) =>
      error instanceof NotSupportedError && error.operation === "block/get" &&
      error.backend === "kubo",
  ],
];

for (const [label, command, answer, check] of MAPPED) {
  testEachStrategy(`Kubo errors: ${label} is typed`, async () => {
    await withDaemon({ [command]: [answer] }, async (backend) => {
      const error = await backend.block.get(CID_V0).catch((error) => error);
      assert.ok(check(error), String(error));
      assert.match(String(error.message), /^Cannot get block: /);
    }, false);
  });
}

testEachStrategy("Kubo errors: pins, directories and pubsub map by message", async () => {
  await withDaemon({
    "pin/rm": [kuboError(`${CID_V0} is pinned recursively`)],
    "pin/add": [kuboError(`${CID_V0} already pinned recursively`)],
    "cat": [kuboError("this dag node is a directory")],
    "pubsub/ls": [kuboError("experimental pubsub feature not enabled")],
    "block/rm": [json({ Hash: CID_V0, Error: `cannot remove ${CID_V0}: pinned: recursive` })],
  }, async (backend) => {
    await assert.rejects(backend.pin.rm(CID_V0, { recursive: false }), PinnedError);
    await assert.rejects(backend.pin.add(CID_V0, { recursive: false }), PinnedError);
    await assert.rejects(new Response(backend.cat(CID_V0)).arrayBuffer(), InvalidInputError);
    await assert.rejects(backend.pubsub.ls(), NotSupportedError);
    await assert.rejects(backend.block.rm(CID_V0), PinnedError);
  }, false);
});

testEachStrategy("Kubo errors: idempotent reads are retried on 5xx, until success", async () => {
  await withDaemon({
    version: [
      () => new Response("bad gateway", { status: 502 }),
      kuboError("daemon is busy", 503),
      json({ Version: "0.30.0", Repo: "16", System: "amd64/linux" }),
    ],
  }, async (backend, calls) => {
    const version = await backend.version();
    assert.deepEqual(version, {
      version: "0.30.0",
      repo: "16",
      system: "amd64/linux",
      backend: "kubo",
    });
    assert.equal(calls.get("version"), 3);
  });
});

testEachStrategy("Kubo errors: writes and the daemon's own answers are not retried", async () => {
  await withDaemon({
    "block/put": [() => new Response("bad gateway", { status: 502 })],
    "block/stat": [kuboError("merkledag: not found")],
    "repo/stat": [kuboError("something the kit has no class for")],
    "pin/ls": [() => new Response("<h1>Internal Server Error</h1>", { status: 500 })],
  }, async (backend, calls) => {
    const unknown = await backend.repo.stat().catch((error) => error);
    assert.ok(unknown instanceof KuboRpcError && unknown.status === 500, String(unknown));
    assert.match(unknown.message, /^Cannot stat repository: something the kit has no class for/);
    assert.equal(calls.get("repo/stat"), 1);
    // A 500 that is not the daemon's JSON answer (a proxy's page) is retried.
    await assert.rejects(backend.pin.ls(), KuboRpcError);
    assert.equal(calls.get("pin/ls"), 4);
    const error = await backend.block.put(new Uint8Array([1, 2, 3])).catch((error) => error);
    assert.ok(error instanceof KuboRpcError && error.status === 502, String(error));
    assert.equal(calls.get("block/put"), 1);
    await assert.rejects(backend.block.stat(CID_V0), NotFoundError);
    assert.equal(calls.get("block/stat"), 1);
  });
});

testEachStrategy(
  "Kubo errors: retries stop at the attempt limit, or with retry: false",
  async () => {
    await withDaemon({ id: [kuboError("overloaded", 503)] }, async (backend, calls) => {
      const error = await backend.id().catch((error) => error);
      assert.ok(error instanceof KuboRpcError && error.status === 503, String(error));
      assert.equal(calls.get("id"), 4);
    });
    await withDaemon({ id: [kuboError("overloaded", 503)] }, async (backend, calls) => {
      await assert.rejects(backend.id(), KuboRpcError);
      assert.equal(calls.get("id"), 1);
    }, false);
  },
);

testEachStrategy("Kubo errors: retries never outlast the deadline", async () => {
  await withDaemon({ id: [kuboError("overloaded", 503)] }, async (backend, calls) => {
    const start = performance.now();
    const error = await backend.id({ timeoutMs: 300 }).catch((error) => error);
    const elapsed = performance.now() - start;
    // The daemon's last failure, not a bare timeout, and by the deadline (300 ms; the bound
    // leaves room for a loaded machine, while retrying on would take 1,000 x 50 ms).
    assert.ok(error instanceof KuboRpcError && error.status === 503, String(error));
    assert.ok(elapsed < 1000, `gave up after ${elapsed.toFixed(0)} ms`);
    assert.ok(calls.get("id")! >= 2);
  }, { attempts: 1000, baseDelayMs: 50, maxDelayMs: 50 });
});

testEachStrategy("Kubo errors: network failures are UnreachableError and retriable", () => {
  const context = {
    what: "read version",
    command: "version",
    address: "http://127.0.0.1:1/api/v0",
  };
  const refused = new TypeError("fetch failed", {
    cause: new Error(
      "error sending request for url (http://127.0.0.1:1/api/v0/version): client error (Connect): tcp connect error: Connection refused (os error 111)",
    ),
  });
  const typed = toTypedError(refused, context);
  assert.ok(typed instanceof UnreachableError);
  assert.equal(typed.address, context.address);
  assert.match(
    typed.message,
    /^Cannot read version: the daemon at .* is unreachable: .*Connection refused/,
  );
  assert.ok(isRetriable(typed));
  assert.ok(
    toTypedError(new Deno.errors.ConnectionReset("reset"), context) instanceof UnreachableError,
  );
  // Errors that are not about the network pass through untouched.
  const bug = new TypeError("x is not a function");
  assert.equal(toTypedError(bug, context), bug);
  assert.ok(!isRetriable(new NotFoundError("gone", CID_V0)));
  assert.ok(!isRetriable(new KuboRpcError("refused", "id", 403)));
});

testEachStrategy("Kubo errors: the daemon gets the time left as a Go duration", async () => {
  const dir = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
  await withDaemon({
    "files/stat": [json({ Type: "directory", Hash: dir, Size: 0, CumulativeSize: 10, Blocks: 3 })],
    "ls": [json({
      Objects: [{
        Hash: `/ipfs/${dir}`,
        Links: [
          { Name: "a.txt", Hash: CID_V0, Size: 12, Type: 2 },
          { Name: "link", Hash: CID_V0, Size: 0, Type: 4 },
          { Name: "shard", Hash: CID_V0, Size: 0, Type: 5 },
          { Name: "raw", Hash: CID_V0, Size: 3, Type: 0 },
        ],
      }],
    })],
    "block/get": [() => new Response(new Uint8Array([1, 2, 3]))],
  }, async (backend, _calls, queries) => {
    const entries = await backend.ls(dir, { timeoutMs: 4_000 });
    assert.deepEqual(
      entries.map((entry) => [entry.name, entry.type, entry.size, entry.path]),
      [
        ["a.txt", "file", 12, `${dir}/a.txt`],
        ["link", "symlink", 0, `${dir}/link`],
        ["shard", "directory", 0, `${dir}/shard`],
        ["raw", "file", 3, `${dir}/raw`],
      ],
    );
    assert.deepEqual(
      await backend.block.get(CID_V0, { timeoutMs: 4_000 }),
      new Uint8Array([1, 2, 3]),
    );
    await backend.block.get(CID_V0, { timeoutMs: Infinity });
    const timeouts = queries.map((query) => query.get("timeout"));
    // files/stat and block/get (typed client), ls (raw): "<ms>ms", as Kubo parses it.
    for (const value of timeouts.slice(0, 3)) assert.match(String(value), /^[1-9][0-9]*ms$/);
    assert.ok(timeouts.slice(0, 3).every((value) => parseInt(String(value)) <= 4_000));
    assert.equal(timeouts[3], null); // no deadline, no timeout
    assert.deepEqual(queries[1].getAll("arg"), [`/ipfs/${dir}`]);
  }, false);
});

testEachStrategy("Kubo errors: cat is retried until its first byte, not after", async () => {
  await withDaemon({
    "cat": [
      () => new Response("bad gateway", { status: 502 }),
      () => new Response("hello"),
    ],
  }, async (backend, calls) => {
    assert.equal(await new Response(backend.cat(CID_V0)).text(), "hello");
    assert.equal(calls.get("cat"), 2);
  });
});
