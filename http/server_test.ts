import assert from "node:assert/strict";
import { CancelScope } from "../runtime/cancel_scope.ts";
import { Event } from "../runtime/event.ts";
import { sleep } from "../runtime/sleep.ts";
import { testEachStrategy } from "../runtime/testing.ts";
import { eventually } from "../tests/_async.ts";
import { connect, rawRequest, readAnswer, readAnswers, readToEnd } from "../tests/_http.ts";
import { HttpError, InsecureBindError } from "./errors.ts";
import { serve } from "./server.ts";

const TOKEN = "http-token-0123456789abcdef";
const encoder = new TextEncoder();

const hello = () => new Response("hello");

testEachStrategy("serves requests, keeps connections alive, reads bodies when pulled", async () => {
  await using server = serve(async (request, info) => {
    const url = new URL(request.url);
    if (url.pathname === "/echo") {
      return new Response(await request.arrayBuffer(), {
        headers: { "x-method": request.method },
      });
    }
    if (url.pathname === "/stream") {
      let i = 0;
      return new Response(
        new ReadableStream<Uint8Array>({
          pull(controller) {
            if (i++ === 3) controller.close();
            else controller.enqueue(new Uint8Array(100_000).fill(i));
          },
        }),
      );
    }
    return new Response(`${request.method} ${url.pathname} ${info.head}`);
  });
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(await (await fetch(`${server.url}/a`)).text(), "GET /a false");
  const echoed = await fetch(`${server.url}/echo`, { method: "PUT", body: "abc" });
  assert.equal(await echoed.text(), "abc");
  assert.equal(echoed.headers.get("x-method"), "PUT");
  // A chunked body.
  const parts = ["x", "yz"];
  const chunked = await fetch(`${server.url}/echo`, {
    method: "POST",
    body: new ReadableStream({
      pull(controller) {
        const next = parts.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(encoder.encode(next));
      },
    }),
    duplex: "half",
  } as RequestInit);
  assert.equal(await chunked.text(), "xyz");
  // A streamed answer goes out chunked.
  const streamed = new Uint8Array(await (await fetch(`${server.url}/stream`)).arrayBuffer());
  assert.equal(streamed.length, 300_000);
  assert.equal(streamed[299_999], 3);
  // HEAD reaches the handler as GET and gets the head only, with GET's length.
  const head = await fetch(`${server.url}/b`, { method: "HEAD" });
  assert.equal(head.headers.get("content-length"), String("GET /b true".length));
  assert.equal(await head.text(), "");
  // Two requests on one connection, the second sent before the first answer (pipelined).
  using conn = await connect(server.addr.port);
  await conn.write(encoder.encode(
    "GET /one HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /two HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
  ));
  const [one, two] = await readAnswers(conn, 2);
  assert.equal(one.body, "GET /one false");
  assert.equal(two.body, "GET /two false");
  assert.equal(server.stats().accepted >= 1, true);
});

testEachStrategy("malformed requests get 4xx/5xx and the connection is closed", async () => {
  await using server = serve(hello, { maxHeaderBytes: 1024, maxUrlLength: 256 });
  const port = server.addr.port;
  const cases: [string, number][] = [
    ["GARBAGE\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\n\r\n", 400], // no Host
    ["GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400],
    ["GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505],
    [`GET /${"x".repeat(300)} HTTP/1.1\r\nHost: a\r\n\r\n`, 414],
    [`GET / HTTP/1.1\r\nHost: a\r\nX: ${"y".repeat(2000)}\r\n\r\n`, 431],
    ["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400],
    [
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
      400,
    ],
    ["POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501],
    ["GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", 400], // a GET with a body
    ["GET / HTTP/1.1\r\nHost: a\r\nBad\x01Name: 1\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400],
    ["TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", 405],
  ];
  for (const [head, status] of cases) {
    using conn = await connect(port);
    await conn.write(encoder.encode(head));
    const answer = await readAnswer(conn);
    assert.equal(answer.status, status, JSON.stringify(head.slice(0, 60)));
    assert.equal(answer.headers.get("connection"), "close");
    assert.equal(typeof JSON.parse(answer.body).error.code, "string");
    await readToEnd(conn); // the server closed its end
  }
  // Still serving.
  assert.equal(await (await fetch(server.url)).text(), "hello");
});

testEachStrategy("bodies past maxBodyBytes get 413: at once by length, else as read", async () => {
  let read = 0;
  await using server = serve(async (request) => {
    const reader = request.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      read += value.length;
    }
    return new Response("read");
  }, { maxBodyBytes: 1000 });
  const declared = await fetch(server.url, { method: "POST", body: "x".repeat(5000) });
  assert.equal(declared.status, 413);
  const error = (await declared.json()).error;
  assert.equal(error.code, "body_too_large");
  assert.equal(error.limit, 1000);
  assert.equal(read, 0); // refused from the Content-Length, before the handler
  const chunk = encoder.encode(" ".repeat(16384));
  let sent = 0;
  const streamed = await fetch(server.url, {
    method: "POST",
    body: new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ === 256) controller.close();
        else controller.enqueue(chunk);
      },
    }, { highWaterMark: 0 }),
    duplex: "half",
  } as RequestInit);
  assert.equal(streamed.status, 413);
  assert.match((await streamed.json()).error.message, /received at least \d+/);
  assert.ok(read <= 1000, `the handler read ${read} bytes`);
  assert.equal(await (await fetch(server.url, { method: "POST", body: "ok" })).text(), "read");
});

testEachStrategy("half-sent heads are closed at headersTimeoutMs; the cap holds", async () => {
  await using server = serve(hello, { maxConnections: 8, headersTimeoutMs: 300 });
  const port = server.addr.port;
  const conns: Deno.TcpConn[] = [];
  try {
    // 20 slow clients, each sending half a head and then nothing.
    for (let i = 0; i < 20; i++) {
      const conn = await connect(port);
      await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "));
      conns.push(conn);
    }
    await eventually(() => server.stats().refused >= 12, "12 refused");
    assert.ok(server.connections <= 8, `${server.connections} open`);
    // Every one ends: refused at once, or closed at its head's deadline.
    const ends = await Promise.all(conns.map((conn) => readToEnd(conn)));
    assert.deepEqual(ends.filter((n) => n > 0), []);
    await eventually(() => server.connections === 0, "every slow connection closed");
    assert.ok(server.stats().timedOut >= 8 - 1, JSON.stringify(server.stats()));
  } finally {
    for (const conn of conns) conn.close();
  }
  // A prompt client is served again.
  assert.equal(await (await fetch(server.url)).text(), "hello");
});

testEachStrategy("a head that trickles in stays bounded by headersTimeoutMs", async () => {
  await using server = serve(hello, { headersTimeoutMs: 300, idleTimeoutMs: 10_000 });
  using conn = await connect(server.addr.port);
  const started = performance.now();
  // One byte every 50 ms: each read is progress, but the head as a whole is late.
  let closed = false;
  for (const byte of "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa") {
    try {
      await conn.write(encoder.encode(byte));
    } catch {
      closed = true;
      break;
    }
    await sleep(50);
    if (server.connections === 0) {
      closed = true;
      break;
    }
  }
  assert.ok(closed, "the trickling client was not closed");
  assert.ok(performance.now() - started < 3000);
});

testEachStrategy("an idle kept-alive connection is closed at idleTimeoutMs", async () => {
  await using server = serve(hello, { idleTimeoutMs: 200 });
  using conn = await connect(server.addr.port);
  await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  assert.equal((await readAnswer(conn)).body, "hello");
  assert.equal(server.connections, 1);
  assert.equal(await readToEnd(conn), 0);
  assert.equal(server.connections, 0);
});

testEachStrategy(
  "a client that stops reading a large answer is closed by the stall timeout",
  async () => {
    const chunk = new Uint8Array(1 << 20);
    await using server = serve(() =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull(controller) {
            controller.enqueue(chunk); // endless
          },
        }),
      ), { idleTimeoutMs: 300 });
    using conn = await connect(server.addr.port);
    await conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    // Reads nothing: the socket buffers fill, the server's write stalls, the deadline closes it.
    await eventually(() => server.connections === 0, "the stalled connection closed", {
      limitMs: 5000,
    });
    assert.ok(server.stats().timedOut >= 1);
  },
);

testEachStrategy(
  "binding beyond loopback needs a token; tokens are checked on every request",
  async () => {
    for (const hostname of ["0.0.0.0", "::", "192.0.2.1"]) {
      assert.throws(() => serve(hello, { hostname }), (error: unknown) => {
        assert.ok(error instanceof InsecureBindError);
        assert.equal(
          error.message.startsWith(`Cannot start server: binding ${hostname} needs a token`),
          true,
        );
        return true;
      });
    }
    assert.throws(() => serve(hello, { token: "short" }), RangeError);
    assert.throws(() => serve(hello, { token: TOKEN, public: true }), TypeError);
    assert.throws(() => serve(hello, { maxConnections: 0 }), RangeError);
    await using server = serve(hello, { token: TOKEN });
    for (const authorization of [undefined, `Bearer ${TOKEN}x`, `Basic ${TOKEN}`, TOKEN]) {
      const answer = await fetch(server.url, {
        headers: authorization === undefined ? {} : { authorization },
      });
      assert.equal(answer.status, 401);
      assert.equal((await answer.json()).error.code, "unauthorized");
      assert.equal(answer.headers.get("www-authenticate"), 'Bearer realm="ipfs-kit"');
    }
    // ?token= counts only on a WebSocket upgrade.
    assert.equal(
      (await rawRequest(server.addr.port, `GET /?token=${TOKEN} HTTP/1.1\r\nHost: x\r\n\r\n`))
        .status,
      401,
    );
    const ok = await rawRequest(
      server.addr.port,
      `GET / HTTP/1.1\r\nHost: far.example\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`,
    );
    assert.equal(ok.status, 200); // with a token any Host is served
  },
);

testEachStrategy(
  "without a token: foreign Host and Origin are refused; allowed origins get CORS",
  async () => {
    await using server = serve(hello, { allowedOrigins: ["https://dash.example"] });
    const port = server.addr.port;
    const get = (headers: string) => rawRequest(port, `GET / HTTP/1.1\r\n${headers}\r\n`);
    const rebound = await get(`Host: evil.example:${port}\r\n`);
    assert.equal(rebound.status, 403);
    assert.equal(JSON.parse(rebound.body).error.code, "forbidden_host");
    assert.equal((await get(`Host: localhost:${port}\r\n`)).status, 200);
    const foreign = await get(`Host: 127.0.0.1:${port}\r\nOrigin: https://evil.example\r\n`);
    assert.equal(foreign.status, 403);
    assert.equal(JSON.parse(foreign.body).error.code, "forbidden_origin");
    const own = await get(`Host: 127.0.0.1:${port}\r\nOrigin: http://127.0.0.1:${port}\r\n`);
    assert.equal(own.status, 200);
    assert.equal(own.headers.get("access-control-allow-origin"), undefined);
    const allowed = await get(`Host: 127.0.0.1:${port}\r\nOrigin: https://dash.example\r\n`);
    assert.equal(allowed.status, 200);
    assert.equal(allowed.headers.get("access-control-allow-origin"), "https://dash.example");
    assert.equal(allowed.headers.get("vary"), "Origin");
    const preflight = await get(
      `Host: 127.0.0.1:${port}\r\nOrigin: https://dash.example\r\nAccess-Control-Request-Method: POST\r\n`
        .replace("GET", "OPTIONS"),
    );
    assert.equal(preflight.status, 200); // a GET with those headers is a GET
    const options = await rawRequest(
      port,
      `OPTIONS / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: https://dash.example\r\nAccess-Control-Request-Method: POST\r\n\r\n`,
    );
    assert.equal(options.status, 204);
    assert.match(options.headers.get("access-control-allow-methods") ?? "", /POST/);
    // A public server serves any Host and Origin.
    await using open = serve(hello, { public: true });
    const anyHost = await rawRequest(
      open.addr.port,
      `GET / HTTP/1.1\r\nHost: gateway.example\r\nOrigin: https://site.example\r\n\r\n`,
    );
    assert.equal(anyHost.status, 200);
  },
);

testEachStrategy(
  "openPaths: GET and HEAD of those paths need no token; the other rules hold",
  async () => {
    await using server = serve(hello, { token: TOKEN, openPaths: ["/", "/page.js"] });
    const port = server.addr.port;
    const ask = (line: string, headers = "") =>
      rawRequest(port, `${line} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${headers}\r\n`);
    assert.equal((await ask("GET /")).status, 200);
    const head = await fetch(`${server.url}/page.js`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal((await ask("GET /page.js?x=1")).status, 200);
    assert.equal((await ask("POST /", "content-length: 0\r\n")).status, 401);
    assert.equal((await ask("GET /other")).status, 401);
    assert.equal((await ask("GET /page.js/more")).status, 401);
    const foreign = await ask("GET /", "Origin: https://evil.example\r\n");
    assert.equal(foreign.status, 403);
    assert.throws(() => serve(hello, { openPaths: ["no-slash"] }), TypeError);
    assert.throws(
      () => serve(hello, { openPaths: Array.from({ length: 65 }, (_, i) => `/${i}`) }),
      TypeError,
    );
  },
);

testEachStrategy("handler errors: HttpError keeps its status, anything else is a 500", async () => {
  const errors: unknown[] = [];
  await using server = serve((request) => {
    if (new URL(request.url).pathname === "/teapot") {
      throw new HttpError(418, "teapot", "I am a teapot", { headers: { "x-pot": "1" } });
    }
    throw new Error("boom");
  }, { onError: (error) => errors.push(error) });
  const teapot = await fetch(`${server.url}/teapot`);
  assert.equal(teapot.status, 418);
  assert.equal(teapot.headers.get("x-pot"), "1");
  assert.equal((await teapot.json()).error.code, "teapot");
  const boom = await fetch(`${server.url}/boom`);
  assert.equal(boom.status, 500);
  assert.deepEqual(await boom.json(), {
    error: { code: "internal_error", message: "Cannot serve request: internal error" },
  });
  assert.equal(errors.length, 1);
  assert.equal((errors[0] as Error).message, "boom");
});

testEachStrategy("graceful shutdown: stop accepting, finish in time, cancel the rest", async () => {
  let cancelled = 0;
  let finished = 0;
  const server = serve(async (request) => {
    const ms = Number(new URL(request.url).searchParams.get("ms"));
    try {
      await sleep(ms);
    } catch (error) {
      cancelled++;
      throw error;
    }
    finished++;
    return new Response(`slept ${ms}`);
  }, { shutdownTimeoutMs: 300 });
  const port = server.addr.port;
  using quick = await connect(port);
  using slow = await connect(port);
  using idle = await connect(port);
  await quick.write(encoder.encode("GET /?ms=50 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  await slow.write(encoder.encode("GET /?ms=60000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  await eventually(() => server.connections === 3, "three connections");
  await sleep(10);
  const started = performance.now();
  const stopping = server.shutdown();
  // Not accepting any more.
  await assert.rejects(fetch(`http://127.0.0.1:${port}/`), TypeError);
  const answer = await readAnswer(quick);
  assert.equal(answer.body, "slept 50");
  assert.equal(answer.headers.get("connection"), "close");
  assert.equal(await readToEnd(idle), 0); // closed at once
  await stopping;
  assert.equal(await readToEnd(slow), 0); // cancelled at the deadline, no answer
  const took = performance.now() - started;
  assert.ok(took >= 250 && took < 3000, `shutdown took ${took} ms`);
  assert.equal(finished, 1);
  assert.equal(cancelled, 1);
  assert.equal(server.connections, 0);
  await server.finished;
});

testEachStrategy("a signal shuts the server down; the caller's scope owns its tasks", async () => {
  const stop = new AbortController();
  const server = serve(hello, { signal: stop.signal });
  assert.equal(await (await fetch(server.url)).text(), "hello");
  stop.abort();
  await server.finished;
  await assert.rejects(fetch(server.url), TypeError);
  // Cancelling the scope that started a server ends its tasks and closes its sockets.
  const scope = new CancelScope();
  let url = "";
  await scope.run(async () => {
    const inner = serve(hello);
    url = inner.url;
    assert.equal(await (await fetch(url)).text(), "hello");
    scope.cancel();
    await inner.shutdown();
  });
  await assert.rejects(fetch(url), TypeError);
});

testEachStrategy("a slow stream's chunks go out as they come, none held back", async () => {
  for (const length of [true, false]) await slowStream(length);
});

async function slowStream(length: boolean): Promise<void> {
  const seen = new Event();
  await using server = serve(() => {
    let step = 0;
    return new Response(
      new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (step === 0) controller.enqueue(encoder.encode("first;"));
          else if (step === 1) {
            await seen.wait(); // only once the client has the first chunk
            controller.enqueue(encoder.encode("second"));
          } else controller.close();
          step++;
        },
      }),
      length ? { headers: { "content-length": "12" } } : {},
    );
  });
  const response = await fetch(server.url, { signal: AbortSignal.timeout(5000) });
  const reader = response.body!.getReader();
  const first = await reader.read();
  assert.equal(new TextDecoder().decode(first.value), "first;");
  seen.set();
  let rest = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    rest += new TextDecoder().decode(value);
  }
  assert.equal(rest, "second");
}
