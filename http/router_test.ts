import assert from "node:assert/strict";
import { testEachStrategy } from "../runtime/testing.ts";
import { Router } from "./router.ts";
import { serve } from "./server.ts";

testEachStrategy("routes by path and method, mounts by prefix, longest first", async () => {
  const router = new Router()
    .route("GET", "/health", () => new Response("ok"))
    .route("POST", "/health", () => new Response("posted"))
    .mount("/api/v0", (request) => new Response(`api ${new URL(request.url).pathname}`))
    .mount("/api/v0/wal", (request) => new Response(`wal ${new URL(request.url).pathname}`));
  await using server = serve(router.handler);
  const text = async (path: string, init?: RequestInit) =>
    await (await fetch(`${server.url}${path}`, init)).text();
  assert.equal(await text("/health"), "ok");
  assert.equal(await text("/health", { method: "POST" }), "posted");
  assert.equal(await text("/api/v0/wal"), "wal /api/v0/wal");
  assert.equal(await text("/api/v0/wal/stats"), "wal /api/v0/wal/stats");
  assert.equal(await text("/api/v0/walx"), "api /api/v0/walx");
  assert.equal(await text("/api/v0/add?x=1"), "api /api/v0/add");
  const missing = await fetch(`${server.url}/nothing`);
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.code, "not_found");
  const wrong = await fetch(`${server.url}/health`, { method: "DELETE" });
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get("allow"), "GET, HEAD, POST");
  await wrong.body?.cancel();
  // HEAD on a GET route: the head, with GET's length.
  const head = await fetch(`${server.url}/health`, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), "2");
  assert.equal(await head.text(), "");
});

testEachStrategy("a fallback takes what nothing else does; bad routes are refused", async () => {
  const router = new Router().fallback(() => new Response("home"));
  assert.throws(() => router.route("get", "/x", () => new Response()), TypeError);
  assert.throws(() => router.route("GET", "x", () => new Response()), TypeError);
  assert.throws(() => router.mount("/a/", () => new Response()), TypeError);
  router.mount("/a", () => new Response("a"));
  assert.throws(() => router.mount("/a", () => new Response()), TypeError);
  await using server = serve(router.handler);
  assert.equal(await (await fetch(`${server.url}/elsewhere`)).text(), "home");
  assert.equal(await (await fetch(`${server.url}/a/b`)).text(), "a");
});
