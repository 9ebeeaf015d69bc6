/**
 * The daemon's access rules on every route (WebRTC signaling's included), on real sockets: with a token,
 * every route of the API port refuses a missing or wrong token (the page's
 * three static files excepted: they hold no secret); without one, a foreign
 * `Host` (DNS rebinding) and a foreign `Origin` (a web page elsewhere) are
 * refused on every route; the gateway is public and read-only; oversized and
 * malformed bodies; slow clients (a trickled head, a stalled upload: the add
 * pins nothing); a non-loopback address without a token.
 */

import assert from "node:assert/strict";
import { testEachStrategy } from "../runtime/testing.ts";
import { Daemon, type DaemonOptions } from "../kit/daemon.ts";
import { DaemonError } from "../kit/daemon_errors.ts";
import { RPC_COMMANDS } from "../kit/_rpc_commands.ts";
import { WEBRTC_SIGNALING_PATH, webrtcExtension } from "../kit/webrtc_extension.ts";
import { connect, rawRequest, readToEnd } from "./_http.ts";
import { withTempDir } from "./_files.ts";

const TOKEN = "daemon-token-0123456789abcdef";
const encoder = new TextEncoder();
const OPEN = ["/", "/page.js", "/page.css"];
const WAL_ID = "01JAAAAAAAAAAAAAAAAAAAAAAA";

/** Every route of the API port: method and path. */
function apiRoutes(): [string, string][] {
  return [
    ...OPEN.map((path) => ["GET", path] as [string, string]),
    ["GET", "/metrics"],
    ["GET", "/daemon/info"],
    ["GET", "/daemon/recent"],
    ["GET", "/no/such/route"],
    ...[...RPC_COMMANDS.keys()].map((command) =>
      ["POST", `/api/v0/${command}`] as [string, string]
    ),
    ["POST", "/api/v0/no-such-command"],
    ["GET", "/api/v0/wal/operations"],
    ["POST", "/api/v0/wal/operations"],
    ["GET", `/api/v0/wal/operations/${WAL_ID}`],
    ["POST", `/api/v0/wal/operations/${WAL_ID}/retry`],
    ["POST", `/api/v0/wal/operations/${WAL_ID}/cancel`],
    ["GET", "/api/v0/wal/stats"],
    ["GET", "/api/v0/wal/health"],
    ["GET", "/api/v0/wal/metrics"],
    ["GET", "/api/v0/wal/feed"],
    // Refused before any session starts (none may here: node-datachannel is for isolated tests).
    ["GET", WEBRTC_SIGNALING_PATH],
  ];
}

async function withDaemon(
  options: DaemonOptions,
  fn: (daemon: Daemon) => Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    await using daemon = await Daemon.start({
      repo: dir,
      port: 0,
      gatewayPort: 0,
      extensions: [webrtcExtension()],
      ...options,
    });
    await fn(daemon);
  });
}

/** One request on a raw connection, so that Host and Origin are what the test says. */
function request(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body = "",
) {
  const lines = [`${method} ${path} HTTP/1.1`, "connection: close"];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (method === "POST") lines.push(`content-length: ${encoder.encode(body).length}`);
  return rawRequest(port, lines.join("\r\n") + "\r\n\r\n", encoder.encode(body));
}

testEachStrategy(
  "daemon security: with a token, every API route refuses a missing or wrong one; the page's files are open",
  async () => {
    await withDaemon({ token: TOKEN }, async (daemon) => {
      const port = daemon.apiAddr.port;
      const host = `127.0.0.1:${port}`;
      for (const [method, path] of apiRoutes()) {
        for (
          const authorization of [undefined, "Bearer wrong-token-0123456789", `Basic ${TOKEN}`]
        ) {
          const answer = await request(port, method, path, {
            host,
            ...(authorization === undefined ? {} : { authorization }),
          });
          if (OPEN.includes(path)) {
            assert.equal(answer.status, 200, `${method} ${path} is open`);
          } else {
            assert.equal(answer.status, 401, `${method} ${path} with ${authorization}`);
            assert.match(answer.headers.get("www-authenticate") ?? "", /^Bearer realm=/);
          }
        }
        // The right token passes the rules (what the route answers is its business).
        const answer = await request(port, method, path, {
          host,
          authorization: `Bearer ${TOKEN}`,
        });
        assert.ok(![401, 403].includes(answer.status), `${method} ${path}: ${answer.status}`);
      }
      // The feed's token may come as ?token= (a browser's WebSocket sends no header), only there.
      const feed = await request(port, "GET", `/api/v0/wal/feed?token=wrong-token-0123456789`, {
        host,
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-key": btoa("0123456789abcdef"),
        "sec-websocket-version": "13",
      });
      assert.equal(feed.status, 401);
      // So may signaling's, and a wrong one is refused there the same way.
      const signaling = await request(
        port,
        "GET",
        `${WEBRTC_SIGNALING_PATH}?token=wrong-token-0123456789`,
        {
          host,
          upgrade: "websocket",
          connection: "Upgrade",
          "sec-websocket-key": btoa("0123456789abcdef"),
          "sec-websocket-version": "13",
        },
      );
      assert.equal(signaling.status, 401);
      const query = await request(port, "GET", `/daemon/info?token=${TOKEN}`, { host });
      assert.equal(query.status, 401);
    });
  },
);

testEachStrategy(
  "daemon security: without a token, a foreign Host or Origin is refused on every API route",
  async () => {
    await withDaemon({}, async (daemon) => {
      const port = daemon.apiAddr.port;
      for (const [method, path] of apiRoutes()) {
        const rebound = await request(port, method, path, { host: `evil.example:${port}` });
        assert.equal(rebound.status, 403, `${method} ${path} with a foreign Host`);
        assert.match(rebound.body, /forbidden_host/);
        const foreign = await request(port, method, path, {
          host: `127.0.0.1:${port}`,
          origin: "https://evil.example",
        });
        assert.equal(foreign.status, 403, `${method} ${path} from a foreign Origin`);
        assert.match(foreign.body, /forbidden_origin/);
        assert.equal(foreign.headers.get("access-control-allow-origin"), undefined);
      }
      // The page's own origin is served (it is how the page calls the API), with no CORS headers.
      const own = await request(port, "POST", "/api/v0/version", {
        host: `127.0.0.1:${port}`,
        origin: `http://127.0.0.1:${port}`,
      });
      assert.equal(own.status, 200);
      assert.equal(own.headers.get("access-control-allow-origin"), undefined);
      // The page forbids framing and loads nothing from elsewhere but the gateway.
      const page = await request(port, "GET", "/", { host: `localhost:${port}` });
      assert.equal(page.headers.get("x-frame-options"), "DENY");
      assert.match(page.headers.get("content-security-policy")!, /default-src 'none'/);
      assert.match(page.headers.get("content-security-policy")!, /frame-ancestors 'none'/);
    });
  },
);

testEachStrategy(
  "daemon security: allowed origins get CORS on the API; the gateway is public and read-only",
  async () => {
    await withDaemon({ allowedOrigins: ["https://app.example"] }, async (daemon) => {
      const port = daemon.apiAddr.port;
      const allowed = await request(port, "POST", "/api/v0/version", {
        host: `127.0.0.1:${port}`,
        origin: "https://app.example",
      });
      assert.equal(allowed.status, 200);
      assert.equal(allowed.headers.get("access-control-allow-origin"), "https://app.example");
      const gateway = daemon.gatewayAddr.port;
      const { cid } = await daemon.kit.add("public\n");
      const read = await request(gateway, "GET", `/ipfs/${cid}`, {
        host: "ipfs.example.org",
        origin: "https://anywhere.example",
      });
      assert.equal(read.status, 200);
      assert.equal(read.body, "public\n");
      assert.equal(read.headers.get("access-control-allow-origin"), "https://anywhere.example");
      // Read-only: no method but GET and HEAD, no body (the HTTP layer refuses a GET with one;
      // the gateway takes none at all), no RPC API, no WAL, no metrics.
      assert.equal((await request(gateway, "POST", `/ipfs/${cid}`, { host: "x" })).status, 405);
      const withBody = await rawRequest(
        gateway,
        `GET /ipfs/${cid} HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nconnection: close\r\n\r\n`,
        encoder.encode("hello"),
      );
      assert.equal(withBody.status, 400);
      assert.match(withBody.body, /must have no body/);
      for (const path of ["/api/v0/add", "/api/v0/wal/operations", "/metrics", "/"]) {
        const answer = await request(gateway, "POST", path, { host: "x" });
        assert.ok([404, 405].includes(answer.status), `${path}: ${answer.status}`);
      }
    });
  },
);

testEachStrategy("daemon security: oversized and malformed bodies and heads", async () => {
  await withDaemon({}, async (daemon) => {
    const port = daemon.apiAddr.port;
    const host = { host: `127.0.0.1:${port}` };
    const json = { ...host, "content-type": "application/json" };
    // The WAL takes at most 64 KiB of JSON; malformed JSON and unknown fields are 400.
    const big = JSON.stringify({ type: "pin", params: { cid: "x".repeat(70_000) } });
    assert.equal((await request(port, "POST", "/api/v0/wal/operations", json, big)).status, 413);
    const bad = await request(port, "POST", "/api/v0/wal/operations", json, "{not json");
    assert.equal(bad.status, 400);
    assert.match(bad.body, /bad_json/);
    const unknown = await request(
      port,
      "POST",
      "/api/v0/wal/operations",
      json,
      JSON.stringify({ type: "pin", params: { cid: "bafy" }, extra: 1 }),
    );
    assert.equal(unknown.status, 400);
    // RPC: a block over 1 MiB, a multipart body without its boundary, JSON that is not.
    const block = "-".repeat(1_100_000);
    const form = (content: string) =>
      `--b\r\ncontent-disposition: form-data; name="file"\r\n\r\n${content}\r\n--b--\r\n`;
    const multipart = { ...host, "content-type": "multipart/form-data; boundary=b" };
    const oversized = await request(port, "POST", "/api/v0/block/put", multipart, form(block));
    assert.ok(oversized.status >= 400 && oversized.status < 500, `${oversized.status}`);
    const noBoundary = await request(port, "POST", "/api/v0/add", {
      ...host,
      "content-type": "multipart/form-data",
    }, "x");
    assert.ok(noBoundary.status >= 400 && noBoundary.status < 500, `${noBoundary.status}`);
    const truncated = await request(port, "POST", "/api/v0/add", multipart, "--b\r\nnot a part");
    assert.ok(truncated.status >= 400, `${truncated.status}: ${truncated.body}`);
    const dag = await request(port, "POST", "/api/v0/dag/put", multipart, form("{not json"));
    assert.ok(dag.status >= 400 && dag.status < 500, `${dag.status}`);
    // Heads: too long a target (414), too many header bytes (431), bad framing (400).
    assert.equal(
      (await rawRequest(port, `GET /${"a".repeat(9000)} HTTP/1.1\r\nhost: x\r\n\r\n`)).status,
      414,
    );
    assert.equal(
      (await rawRequest(port, `GET / HTTP/1.1\r\nhost: x\r\nx-big: ${"b".repeat(17_000)}\r\n\r\n`))
        .status,
      431,
    );
    assert.equal(
      (await rawRequest(
        port,
        `POST /api/v0/add HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n`,
      )).status,
      400,
    );
    // Nothing of it was added: no pin.
    assert.deepEqual(await daemon.kit.pin.ls({ type: "recursive" }), []);
  });
});

testEachStrategy(
  "daemon security: slow clients are cut off (a trickled head, a stalled upload that pins nothing)",
  async () => {
    await withDaemon({ limits: { headersTimeoutMs: 300, idleTimeoutMs: 400 } }, async (daemon) => {
      for (const port of [daemon.apiAddr.port, daemon.gatewayAddr.port]) {
        // A head sent a byte at a time, never finished: closed at the head deadline.
        const conn = await connect(port);
        const started = performance.now();
        await conn.write(encoder.encode("GET / HT"));
        const read = await readToEnd(conn);
        conn.close();
        const took = performance.now() - started;
        assert.ok(took >= 250 && took < 3000, `closed after ${took.toFixed(0)} ms`);
        assert.ok(read >= 0);
      }
      // An add whose body stalls: the connection is closed after the idle timeout, the add pins nothing.
      const conn = await connect(daemon.apiAddr.port);
      await conn.write(encoder.encode(
        "POST /api/v0/add HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: multipart/form-data; boundary=b\r\n" +
          'content-length: 1000000\r\n\r\n--b\r\ncontent-disposition: form-data; name="file"; filename="a"\r\n\r\nstart',
      ));
      const started = performance.now();
      await readToEnd(conn);
      conn.close();
      const took = performance.now() - started;
      assert.ok(took >= 300 && took < 5000, `stalled upload closed after ${took.toFixed(0)} ms`);
      assert.deepEqual(await daemon.kit.pin.ls({ type: "recursive" }), []);
      const metrics = await (await fetch(`${daemon.apiUrl}/metrics`)).text();
      assert.match(metrics, /^ipfs_kit_http_connections_timed_out_total\{listener="api"\} [1-9]/m);
    });
  },
);

Deno.test("daemon security: a non-loopback API address needs a token; the gateway may face the world", async () => {
  await withTempDir(async (dir) => {
    for (const hostname of ["0.0.0.0", "::", "192.0.2.10"]) {
      const error = await Daemon.start({ repo: dir, hostname, port: 0, gatewayPort: 0 })
        .catch((e) => e);
      assert.ok(error instanceof DaemonError, String(error));
      assert.equal(error.reason, "insecure_bind");
    }
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});
