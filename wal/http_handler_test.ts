import assert from "node:assert/strict";
import { CID } from "npm:multiformats@14.0.5/cid";
import { CancelScope } from "../runtime/cancel_scope.ts";
import { Event } from "../runtime/event.ts";
import { sleep } from "../runtime/sleep.ts";
import { taskGroup } from "../runtime/task_group.ts";
import { testEachStrategy } from "../runtime/testing.ts";
import { createWalHandler } from "./http_handler.ts";
import { serveWal, type WalServer } from "./http_server.ts";
import { processUntilIdle, UNKNOWN_ID, withWal } from "../tests/_wal.ts";
import { rawRequest } from "../tests/_http.ts";
import { withTempDir } from "../tests/_files.ts";
import { WriteAheadLog } from "./write_ahead_log.ts";

const TOKEN = "s3cret-token-0123456789";
const JSON_HEADERS = { "content-type": "application/json" };

interface Answer {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any
  body: any;
  text: string;
}

/** One request; the body is always read. */
async function call(
  server: WalServer | string,
  method: string,
  path: string,
  init: { body?: BodyInit; json?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const base = typeof server === "string" ? server : server.url;
  const headers = { ...(init.json !== undefined ? JSON_HEADERS : {}), ...init.headers };
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    body: init.json !== undefined ? JSON.stringify(init.json) : init.body,
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, body, text };
}

function assertError(answer: Answer, status: number, code: string): void {
  assert.equal(answer.status, status, `expected ${status} ${code}, got ${answer.text}`);
  assert.equal(answer.body?.error?.code, code, answer.text);
  assert.equal(typeof answer.body.error.message, "string");
  assert.match(answer.headers.get("content-type") ?? "", /^application\/json/);
}

testEachStrategy(
  "routes: submit, get, list with filters and pages, stats, health, metrics",
  async () => {
    await withWal(async (wal) => {
      await using server = serveWal(wal);
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/api\/v0\/wal$/);

      const block = await call(server, "POST", "/operations", {
        json: { type: "blockPut", params: { bytes: { "/": { bytes: "AQID/w" } }, codec: "raw" } },
      });
      assert.equal(block.status, 201, block.text);
      assert.equal(block.body.state, "pending");
      assert.equal(block.headers.get("location"), `/api/v0/wal/operations/${block.body.id}`);
      // The bytes reached the log as bytes, and come back in the same form.
      assert.deepEqual(wal.get(block.body.id)?.params, {
        bytes: new Uint8Array([1, 2, 3, 255]),
        codec: "raw",
      });
      assert.deepEqual(block.body.params, { bytes: { "/": { bytes: "AQID/w" } }, codec: "raw" });

      const cid = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
      const dag = await call(server, "POST", "/operations", {
        json: { type: "dagPut", params: { value: { link: { "/": cid }, n: 1 } }, maxAttempts: 3 },
      });
      assert.equal(dag.status, 201, dag.text);
      assert.equal(dag.body.maxAttempts, 3);
      const link = (wal.get(dag.body.id)?.params as { value: { link: unknown } }).value.link;
      assert.equal(CID.asCID(link)?.toString(), cid);

      const customs: string[] = [];
      for (let i = 0; i < 5; i++) {
        const answer = await call(server, "POST", "/operations", {
          json: { type: "custom", params: { i, $tag: "x" } },
        });
        assert.equal(answer.status, 201, answer.text);
        customs.push(answer.body.id);
      }
      await call(server, "POST", `/operations/${customs[4]}/cancel`);

      const one = await call(server, "GET", `/operations/${customs[0]}`);
      assert.equal(one.status, 200);
      assert.deepEqual(one.body.params, { i: 0, $tag: "x" });
      assert.equal(one.body.nextRetryAt, null);
      const bare = await call(server, "GET", `/operations/${customs[0]}?params=false`);
      assert.equal("params" in bare.body, false);

      const all = await call(server, "GET", "/operations");
      assert.equal(all.status, 200);
      assert.deepEqual(
        all.body.operations.map((op: { id: string }) => op.id),
        [block.body.id, dag.body.id, ...customs],
      );
      assert.equal(all.body.next, null);
      assert.equal("params" in all.body.operations[0], false);

      const filtered = await call(
        server,
        "GET",
        "/operations?type=custom&state=pending&params=true",
      );
      assert.deepEqual(
        filtered.body.operations.map((op: { id: string }) => op.id),
        customs.slice(0, 4),
      );
      assert.deepEqual(filtered.body.operations[1].params, { i: 1, $tag: "x" });
      const states = await call(server, "GET", "/operations?state=cancelled,pending&type=dagPut");
      assert.deepEqual(states.body.operations.map((op: { id: string }) => op.id), [dag.body.id]);

      // Pages of two, newest first.
      const seen: string[] = [];
      let after: string | null = null;
      do {
        const page: Answer = await call(
          server,
          "GET",
          `/operations?type=custom&order=desc&limit=2${after === null ? "" : `&after=${after}`}`,
        );
        assert.equal(page.status, 200, page.text);
        assert.ok(page.body.operations.length <= 2);
        seen.push(...page.body.operations.map((op: { id: string }) => op.id));
        after = page.body.next;
      } while (after !== null);
      assert.deepEqual(seen, [...customs].reverse());

      const stats = await call(server, "GET", "/stats");
      assert.equal(stats.status, 200);
      assert.equal(stats.body.queue.pending, 6);
      assert.equal(stats.body.queue.cancelled, 1);
      assert.equal(stats.body.operations.custom.submitted, 5);
      assert.equal(stats.body.append.durable.buckets.at(-1).le, "+Inf");

      const health = await call(server, "GET", "/health");
      assert.equal(health.status, 200);
      assert.deepEqual(health.body, { status: "ok", closed: false, backend: null });

      const metrics = await call(server, "GET", "/metrics");
      assert.equal(metrics.status, 200);
      assert.equal(metrics.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
      assert.match(metrics.text, /^ipfs_kit_wal_operations\{state="pending"\} 6$/m);
      assert.match(metrics.text, /^ipfs_kit_wal_operations_submitted_total\{type="custom"\} 5$/m);
    });
  },
);

testEachStrategy(
  "retry and cancel: transitions, 409 when not allowed, 404 unknown, 400 malformed",
  async () => {
    await withWal(async (wal) => {
      await using server = serveWal(wal);
      const submit = async (type: string) =>
        (await call(server, "POST", "/operations", { json: { type, params: {} } })).body.id;

      const a = await submit("custom");
      const cancelled = await call(server, "POST", `/operations/${a}/cancel`);
      assert.equal(cancelled.status, 200, cancelled.text);
      assert.equal(cancelled.body.state, "cancelled");
      // Cancelling again changes nothing and is not an error.
      assert.equal((await call(server, "POST", `/operations/${a}/cancel`)).body.state, "cancelled");
      const retried = await call(server, "POST", `/operations/${a}/retry`);
      assert.equal(retried.status, 200, retried.text);
      assert.equal(retried.body.state, "pending");
      assert.equal(wal.get(a)?.state, "pending");
      // Retrying a pending operation leaves it pending.
      assert.equal((await call(server, "POST", `/operations/${a}/retry`)).body.state, "pending");

      const b = await submit("broken");
      await processUntilIdle(wal, {
        custom: () => ({ ok: true }),
        broken: () => {
          throw new TypeError("bad input");
        },
      });
      assert.equal(wal.get(a)?.state, "completed");
      assert.equal(wal.get(b)?.state, "failed");

      assertError(await call(server, "POST", `/operations/${a}/cancel`), 409, "invalid_state");
      const conflict = await call(server, "POST", `/operations/${a}/retry`);
      assertError(conflict, 409, "invalid_state");
      assert.equal(conflict.body.error.state, "completed");
      assert.equal(wal.get(a)?.state, "completed");

      const again = await call(server, "POST", `/operations/${b}/retry`);
      assert.equal(again.status, 200, again.text);
      assert.equal(again.body.state, "pending");
      assert.equal(again.body.attempts, 0);

      for (const path of [`/operations/${UNKNOWN_ID}`]) {
        assertError(await call(server, "GET", path), 404, "not_found");
      }
      for (const action of ["retry", "cancel"]) {
        assertError(
          await call(server, "POST", `/operations/${UNKNOWN_ID}/${action}`),
          404,
          "not_found",
        );
        for (const id of ["nope", UNKNOWN_ID.toLowerCase(), "8" + UNKNOWN_ID.slice(1), "%00"]) {
          assertError(await call(server, "POST", `/operations/${id}/${action}`), 400, "invalid_id");
        }
      }
      assertError(await call(server, "GET", "/operations/0123"), 400, "invalid_id");
      assertError(
        await call(server, "POST", `/operations/${a}/cancel`, { body: "{}" }),
        400,
        "unexpected_body",
      );
      assert.equal(wal.get(a)?.state, "completed");
    });
  },
);

testEachStrategy("bad input gets 4xx with a JSON error and leaves the log as it was", async () => {
  await withWal(async (wal) => {
    await using server = serveWal(wal);
    const post = (body: BodyInit, headers: Record<string, string> = JSON_HEADERS) =>
      call(server, "POST", "/operations", { body, headers });

    assertError(await post("{not json"), 400, "bad_json");
    assertError(await post(""), 400, "bad_json");
    assertError(await post(new Uint8Array([0x7b, 0xff, 0x7d])), 400, "bad_json");
    assertError(await post("{}", { "content-type": "text/plain" }), 415, "unsupported_media_type");
    assertError(await post("{}", {}), 415, "unsupported_media_type");
    const invalid: unknown[] = [
      [],
      "add",
      null,
      {},
      { type: "" },
      { type: "x".repeat(257) },
      { type: "a\nb" },
      { type: 7 },
      { type: "custom", extra: 1 },
      { type: "custom", maxAttempts: 0 },
      { type: "custom", maxAttempts: 1.5 },
      { type: "custom", params: { "/": "not a cid" } },
      { type: "custom", params: { x: { "/": { bytes: "***" } } } },
      { type: "custom", params: { x: { "/": { bytes: "AA", extra: 1 } } } },
      { type: "custom", params: { "/": 1 } },
      { type: "add", params: {} },
      { type: "add", params: { content: 5 } },
      { type: "add", params: { content: "x", cidVersion: 2 } },
      { type: "add", params: { content: "x", unknown: true } },
      { type: "pin", params: { cid: "" } },
      { type: "unpin", params: "bafy" },
      { type: "blockPut", params: { bytes: "AQID" } },
      { type: "blockPut", params: { bytes: { "/": { bytes: "AQ" } }, codec: "json" } },
      { type: "dagPut", params: { storeCodec: "raw" } },
    ];
    let deep: unknown = 1;
    for (let i = 0; i < 200; i++) deep = [deep];
    invalid.push({ type: "custom", params: deep });
    for (const body of invalid) {
      const answer = await post(JSON.stringify(body));
      assertError(answer, 400, "invalid_request");
    }
    assert.equal(wal.size, 0);

    for (
      const query of [
        "state=nope",
        "state=pending,",
        "type=",
        "limit=0",
        "limit=10001",
        "limit=1.5",
        "limit=-1",
        "limit=1&limit=2",
        "after=nope",
        "order=up",
        "params=yes",
        "colour=red",
        "token=abc",
      ]
    ) {
      assertError(await call(server, "GET", `/operations?${query}`), 400, "invalid_parameter");
    }
    assertError(await call(server, "GET", "/stats?x=1"), 400, "invalid_parameter");
    assertError(await call(server, "GET", "/metrics?x=1"), 400, "invalid_parameter");

    const wrongMethod = await call(server, "DELETE", "/operations");
    assertError(wrongMethod, 405, "method_not_allowed");
    assert.equal(wrongMethod.headers.get("allow"), "GET, HEAD, POST");
    assertError(await call(server, "POST", "/stats"), 405, "method_not_allowed");
    assertError(
      await call(server, "GET", `/operations/${UNKNOWN_ID}/retry`),
      405,
      "method_not_allowed",
    );
    assertError(await call(server, "GET", "/nothing"), 404, "not_found");
    assertError(await call(server, "GET", "/operations/"), 404, "not_found");
    assertError(await call(server, "GET", `/operations/${UNKNOWN_ID}/retry/x`), 404, "not_found");
    // Outside the base path: 404, so that a parent router can fall through.
    const port = server.addr.port;
    assertError(
      await call(`http://127.0.0.1:${port}`, "GET", "/api/v0/walx/stats"),
      404,
      "not_found",
    );
    assertError(await call(`http://127.0.0.1:${port}`, "GET", "/"), 404, "not_found");
    // The feed wants a WebSocket upgrade.
    const plain = await call(server, "GET", "/feed");
    assertError(plain, 426, "upgrade_required");
    const long = await call(server, "GET", `/operations?type=${"x".repeat(9000)}`);
    assertError(long, 414, "uri_too_long");
    assert.equal(wal.size, 0);

    // The server still works.
    const ok = await call(server, "POST", "/operations", { json: { type: "custom" } });
    assert.equal(ok.status, 201, ok.text);
    assert.deepEqual(wal.get(ok.body.id)?.params, {});
  });
});

testEachStrategy("oversized bodies get 413 and are not read whole", async () => {
  await withWal(async (wal) => {
    await using server = serveWal(wal, { maxBodyBytes: 1024 });
    const fits = JSON.stringify({ type: "custom", params: { s: "x".repeat(900) } });
    assert.ok(fits.length <= 1024);
    assert.equal(
      (await call(server, "POST", "/operations", { body: fits, headers: JSON_HEADERS })).status,
      201,
    );

    // Refused from the Content-Length alone.
    const big = JSON.stringify({ type: "custom", params: { s: "x".repeat(2000) } });
    const declared = await call(server, "POST", "/operations", {
      body: big,
      headers: JSON_HEADERS,
    });
    assertError(declared, 413, "body_too_large");
    assert.match(declared.body.error.message, /exceeds 1024 bytes: received \d+$/);
    assert.equal(declared.body.error.limit, 1024);

    // A streamed body without a length: reading stops at the first chunk past the limit.
    const chunk = new TextEncoder().encode(" ".repeat(16384));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ === 512) controller.close();
        else controller.enqueue(chunk);
      },
    }, { highWaterMark: 0 });
    const response = await fetch(`${server.url}/operations`, {
      method: "POST",
      headers: JSON_HEADERS,
      body,
      duplex: "half",
    } as RequestInit);
    const streamed = await response.json();
    assert.equal(response.status, 413);
    assert.equal(streamed.error.code, "body_too_large");
    const read = Number(/received at least (\d+)$/.exec(streamed.error.message)?.[1]);
    assert.ok(read > 1024 && read <= 1024 + 2 * chunk.length, `read ${read} bytes`);
    assert.equal(wal.size, 1);
  });
});

testEachStrategy(
  "a token is required on every route, feed included, and compared whole",
  async () => {
    await withWal(async (wal) => {
      await using server = serveWal(wal, { token: TOKEN });
      const routes: Array<[string, string]> = [
        ["GET", "/operations"],
        ["POST", "/operations"],
        ["GET", `/operations/${UNKNOWN_ID}`],
        ["POST", `/operations/${UNKNOWN_ID}/retry`],
        ["POST", `/operations/${UNKNOWN_ID}/cancel`],
        ["GET", "/stats"],
        ["GET", "/health"],
        ["GET", "/metrics"],
        ["GET", "/feed"],
        ["GET", "/nothing"],
      ];
      const wrong = [
        undefined,
        "",
        `Bearer ${TOKEN.slice(0, -1)}`,
        `Bearer ${TOKEN}x`,
        `Basic ${TOKEN}`,
        TOKEN,
        `Bearer ${TOKEN.toUpperCase()}`,
      ];
      for (const [method, path] of routes) {
        for (const authorization of wrong) {
          const headers: Record<string, string> = authorization === undefined
            ? {}
            : { authorization };
          const answer = await call(server, method, path, { headers });
          assertError(answer, 401, "unauthorized");
          assert.equal(answer.headers.get("www-authenticate"), 'Bearer realm="ipfs-kit-wal"');
        }
        // ?token= counts only for the feed.
        if (path !== "/feed") {
          assertError(await call(server, method, `${path}?token=${TOKEN}`), 401, "unauthorized");
        }
      }
      assert.equal(wal.size, 0);
      const auth = { authorization: `Bearer ${TOKEN}` };
      const created = await call(server, "POST", "/operations", {
        json: { type: "custom" },
        headers: auth,
      });
      assert.equal(created.status, 201);
      assert.equal((await call(server, "GET", "/stats", { headers: auth })).body.queue.pending, 1);
      assert.equal((await call(server, "GET", "/health", { headers: auth })).status, 200);
      // With the token, any Host is served (the token defeats DNS rebinding).
      const port = server.addr.port;
      const remote = await rawRequest(
        port,
        `GET /api/v0/wal/health HTTP/1.1\r\nHost: wal.example:${port}\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`,
      );
      assert.equal(remote.status, 200);
      const upgrade = (extra: string, path = "/api/v0/wal/feed") =>
        rawRequest(
          port,
          `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
            `Connection: Upgrade\r\nSec-WebSocket-Key: ${btoa("0123456789abcdef")}\r\n` +
            `Sec-WebSocket-Version: 13\r\n${extra}\r\n`,
        );
      assert.equal((await upgrade("")).status, 401);
      assert.equal((await upgrade("Authorization: Bearer wrong-token-0123456789\r\n")).status, 401);
      assert.equal((await upgrade("", `/api/v0/wal/feed?token=${TOKEN}x`)).status, 401);
    });
  },
);

testEachStrategy("loopback only without a token: bind address, peer, Host and Origin", async () => {
  await withWal(async (wal) => {
    for (const hostname of ["0.0.0.0", "::", "192.0.2.1", "wal.example"]) {
      assert.throws(() => serveWal(wal, { hostname }), (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, /is not a loopback address: set a token/);
        return true;
      });
    }
    assert.throws(() => serveWal(wal, { token: "short" }), RangeError);
    assert.throws(() => serveWal(wal, { token: "has space in it 0123456789" }), TypeError);
    assert.throws(() => serveWal(wal, { port: 70000 }), RangeError);
    assert.throws(() => createWalHandler(wal, { basePath: "api/" }), TypeError);
    assert.throws(() => createWalHandler(wal, { maxBodyBytes: 0 }), RangeError);
    assert.throws(() => createWalHandler(wal, { allowedOrigins: ["example.com"] }), TypeError);

    await using server = serveWal(wal, { allowedOrigins: ["https://dash.example"] });
    const port = server.addr.port;
    const get = (headers: string) =>
      rawRequest(port, `GET /api/v0/wal/health HTTP/1.1\r\n${headers}\r\n`);
    // DNS rebinding: a page served as wal.example that resolves to 127.0.0.1.
    const rebound = await get(`Host: wal.example:${port}\r\n`);
    assert.equal(rebound.status, 403);
    assert.equal(JSON.parse(rebound.body).error.code, "forbidden_host");
    assert.equal((await get(`Host: localhost:${port}\r\n`)).status, 200);
    assert.equal((await get(`Host: [::1]:${port}\r\n`)).status, 200);
    // A browser page on another origin.
    const foreign = await call(server, "POST", `/operations`, {
      json: { type: "custom" },
      headers: { origin: "https://evil.example" },
    });
    assertError(foreign, 403, "forbidden_origin");
    assertError(
      await call(server, "GET", "/health", { headers: { origin: "null" } }),
      403,
      "forbidden_origin",
    );
    assert.equal(wal.size, 0);
    // The server's own origin, and an allowed one (with CORS headers).
    const own = await call(server, "GET", "/health", {
      headers: { origin: `http://127.0.0.1:${port}` },
    });
    assert.equal(own.status, 200);
    assert.equal(own.headers.get("access-control-allow-origin"), null);
    const allowed = await call(server, "GET", "/health", {
      headers: { origin: "https://dash.example" },
    });
    assert.equal(allowed.status, 200);
    assert.equal(allowed.headers.get("access-control-allow-origin"), "https://dash.example");
    const preflight = await call(server, "OPTIONS", "/operations", {
      headers: { origin: "https://dash.example", "access-control-request-method": "POST" },
    });
    assert.equal(preflight.status, 204);
    assert.match(preflight.headers.get("access-control-allow-headers") ?? "", /authorization/);
    assertError(await call(server, "OPTIONS", "/operations"), 405, "method_not_allowed");

    // A peer that is not on this machine (as a parent server bound elsewhere would pass it).
    await using handler = createWalHandler(wal);
    const info = (hostname: string): Deno.ServeHandlerInfo => ({
      remoteAddr: { transport: "tcp", hostname, port: 40000 },
      completed: Promise.resolve(),
    });
    const far = await handler(new Request("http://127.0.0.1/api/v0/wal/health"), info("192.0.2.7"));
    assert.equal(far.status, 403);
    assert.equal((await far.json()).error.code, "forbidden_peer");
    const near = await handler(
      new Request("http://127.0.0.1/api/v0/wal/health"),
      info("127.0.0.1"),
    );
    assert.equal(near.status, 200);
    await near.body?.cancel();
  });
});

testEachStrategy("mounted under a base path of its own in a parent server", async () => {
  await withWal(async (wal) => {
    await using handler = createWalHandler(wal, { basePath: "/admin/wal" });
    assert.equal(handler.basePath, "/admin/wal");
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      async (request, info) => {
        const answer = await handler(request, info);
        return answer.status === 404 && !new URL(request.url).pathname.startsWith("/admin/wal/")
          ? new Response("parent", { status: 200 })
          : answer;
      },
    );
    try {
      const base = `http://127.0.0.1:${server.addr.port}`;
      assert.equal((await call(base, "GET", "/elsewhere")).text, "parent");
      const created = await call(`${base}/admin/wal`, "POST", "/operations", {
        json: { type: "t" },
      });
      assert.equal(created.status, 201);
      assert.equal(created.headers.get("location"), `/admin/wal/operations/${created.body.id}`);
      assert.equal(
        (await call(`${base}/admin/wal`, "GET", `/operations/${created.body.id}`)).body.type,
        "t",
      );
      assertError(await call(`${base}/admin/wal`, "GET", "/nothing"), 404, "not_found");
    } finally {
      await handler.close();
      await server.shutdown();
    }
    // Closed: every request gets 503.
    assert.equal(handler.closed, true);
    const late = await handler(new Request("http://127.0.0.1/admin/wal/health"));
    assert.equal(late.status, 503);
    assert.equal((await late.json()).error.code, "shutting_down");
  });
});

testEachStrategy(
  "a slow cancellation answers 202; closing cancels waiting requests with 503",
  async () => {
    await withWal(async (wal) => {
      const released = new Event();
      await taskGroup(async (tg) => {
        await using server = serveWal(wal, { requestTimeoutMs: 100 });
        const { body: op } = await call(server, "POST", "/operations", {
          json: { type: "stubborn" },
        });
        tg.spawn(() =>
          processUntilIdle(wal, {
            // Ignores cancellation until released.
            stubborn: async () => {
              await new CancelScope({ shield: true }).run(async () => {
                while (!released.isSet) await sleep(5);
              });
              throw new Error("stopped at last");
            },
          })
        );
        while (wal.get(op.id)?.state !== "processing") await sleep(5);
        const accepted = await call(server, "POST", `/operations/${op.id}/cancel`);
        assert.equal(accepted.status, 202, accepted.text);
        assert.equal(accepted.body.state, "processing");
        released.set();
        const done = await wal.wait(op.id);
        assert.equal(done.state, "cancelled");
      });

      // A request still waiting on the log when the server shuts down gets 503.
      const stop = new AbortController();
      await taskGroup(async (tg) => {
        const server = serveWal(wal, { requestTimeoutMs: 60_000, signal: stop.signal });
        const { body: op } = await call(server, "POST", "/operations", { json: { type: "stuck" } });
        tg.spawn(() =>
          processUntilIdle(wal, {
            stuck: async () => {
              await new CancelScope({ shield: true }).run(async () => {
                while (!stop.signal.aborted) await sleep(5);
              });
              throw new Error("stopped at last");
            },
          })
        );
        while (wal.get(op.id)?.state !== "processing") await sleep(5);
        const pending = call(server, "POST", `/operations/${op.id}/cancel`);
        await sleep(50);
        stop.abort();
        assertError(await pending, 503, "shutting_down");
        await server.finished;
        assert.equal(server.handler.closed, true);
        await assert.rejects(fetch(`${server.url}/health`), TypeError);
      });
      assert.equal(
        wal.get((await wal.list({ type: "stuck" })).operations[0].id)?.state,
        "cancelled",
      );
    });
  },
);

testEachStrategy("a closed log: health 503, changes 503, reads still answered", async () => {
  await withWal(async (wal) => {
    await using server = serveWal(wal);
    const created = await call(server, "POST", "/operations", { json: { type: "custom" } });
    await wal.close();
    const health = await call(server, "GET", "/health");
    assert.equal(health.status, 503);
    assert.deepEqual(health.body, { status: "unavailable", closed: true, backend: null });
    assertError(
      await call(server, "POST", "/operations", { json: { type: "custom" } }),
      503,
      "closed",
    );
    assertError(await call(server, "POST", `/operations/${created.body.id}/cancel`), 503, "closed");
    assertError(await call(server, "POST", `/operations/${created.body.id}/retry`), 503, "closed");
    assert.equal(
      (await call(server, "GET", `/operations/${created.body.id}`)).body.state,
      "pending",
    );
    assert.equal((await call(server, "GET", "/stats")).body.queue.pending, 1);
    assert.match(
      (await call(server, "GET", "/metrics")).text,
      /ipfs_kit_wal_operations\{state="pending"\} 1/,
    );
  });
});

testEachStrategy(
  "without connection info the peer counts as remote: 403, fail closed",
  async () => {
    await withWal(async (wal) => {
      await using handler = createWalHandler(wal);
      const blind = await handler(new Request("http://127.0.0.1/api/v0/wal/health"));
      assert.equal(blind.status, 403);
      assert.equal((await blind.json()).error.code, "forbidden_peer");
      // With a token the token decides, as for any peer.
      await using guarded = createWalHandler(wal, { token: TOKEN });
      const bearer = await guarded(
        new Request("http://127.0.0.1/api/v0/wal/health", {
          headers: { authorization: `Bearer ${TOKEN}` },
        }),
      );
      assert.equal(bearer.status, 200);
      await bearer.body?.cancel();
    });
  },
);

testEachStrategy("HEAD is answered on every GET route, with the head only", async () => {
  await withWal(async (wal) => {
    await using server = serveWal(wal);
    const { body: op } = await call(server, "POST", "/operations", { json: { type: "custom" } });
    for (const path of ["/operations", `/operations/${op.id}`, "/stats", "/health", "/metrics"]) {
      const get = await fetch(`${server.url}${path}`);
      const length = (await get.arrayBuffer()).byteLength;
      const head = await fetch(`${server.url}${path}`, { method: "HEAD" });
      assert.equal(head.status, 200, path);
      assert.equal(await head.text(), "");
      assert.equal(head.headers.get("content-type"), get.headers.get("content-type"));
      // The metrics' histograms may move between the two requests; the rest is byte-exact.
      if (path !== "/metrics" && path !== "/stats") {
        assert.equal(Number(head.headers.get("content-length")), length, path);
      }
    }
    const wrong = await call(server, "PUT", "/stats");
    assertError(wrong, 405, "method_not_allowed");
    assert.equal(wrong.headers.get("allow"), "GET, HEAD");
  });
});

testEachStrategy("past maxPending a submission gets 503 busy with Retry-After", async () => {
  await withTempDir(async (dir) => {
    await using wal = await WriteAheadLog.open(dir, { syncPolicy: "none", maxPending: 3 });
    await using server = serveWal(wal);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const answer = await call(server, "POST", "/operations", { json: { type: "custom" } });
      assert.equal(answer.status, 201, answer.text);
      ids.push(answer.body.id);
    }
    const busy = await call(server, "POST", "/operations", { json: { type: "custom" } });
    assertError(busy, 503, "busy");
    assert.equal(busy.headers.get("retry-after"), "1");
    assert.equal(wal.size, 3);
    // A finished operation frees a place.
    assert.equal((await call(server, "POST", `/operations/${ids[0]}/cancel`)).status, 200);
    assert.equal(
      (await call(server, "POST", "/operations", { json: { type: "custom" } })).status,
      201,
    );
  });
});
