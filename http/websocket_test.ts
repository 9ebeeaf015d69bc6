import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Event } from "../runtime/event.ts";
import { testEachStrategy } from "../runtime/testing.ts";
import { failAfter } from "../runtime/timeouts.ts";
import { eventually } from "../tests/_async.ts";
import { clientFrame, connect, openRawWebSocket, readToEnd, upgradeHead } from "../tests/_http.ts";
import { serve } from "./server.ts";
import type { WebSocketUpgradeOptions } from "./websocket.ts";

const MAX = 1000;

/** A server whose `/ws` echoes every message (text as `echo <text>`), with the given options. */
function echoServer(options: Partial<WebSocketUpgradeOptions> = {}, serveOptions = {}) {
  return serve((_request, info) =>
    info.upgradeWebSocket({
      maxMessageBytes: MAX,
      closeTimeoutMs: 300,
      ...options,
      onSocket: options.onSocket ?? (async (socket) => {
        for await (const message of socket) {
          socket.send(typeof message === "string" ? `echo ${message}` : message);
        }
      }),
    }), serveOptions);
}

testEachStrategy("a WebSocket echoes text and bytes; pings get pongs", async () => {
  await using server = echoServer();
  const client = new WebSocket(`${server.url.replace("http", "ws")}/ws`);
  client.binaryType = "arraybuffer";
  const got: unknown[] = [];
  const all = new Event();
  const closed = new Event();
  client.onmessage = (event) => {
    got.push(typeof event.data === "string" ? event.data : [...new Uint8Array(event.data)]);
    if (got.length === 2) all.set();
  };
  client.onclose = () => closed.set();
  client.onopen = () => {
    client.send("hi");
    client.send(new Uint8Array([1, 2, 3]));
  };
  await failAfter(5000, () => all.wait());
  assert.deepEqual(got, ["echo hi", [1, 2, 3]]);
  client.close(1000);
  await failAfter(5000, () => closed.wait());
  await eventually(() => server.connections === 0, "the socket gone");
  // A raw ping.
  const { conn, frames, answer } = await openRawWebSocket(server.addr.port, "/ws");
  using _ = conn;
  assert.match(answer, /^HTTP\/1\.1 101 /);
  const accept = createHash("sha1")
    .update(btoa("0123456789abcdef") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
    .digest("base64");
  assert.ok(answer.toLowerCase().includes(`sec-websocket-accept: ${accept.toLowerCase()}`), answer);
  await conn.write(clientFrame("ping!", { opcode: 0x9 }));
  await conn.write(clientFrame("after"));
  const { texts } = await frames.read((t) => t.length === 1);
  assert.deepEqual(texts, ["echo after"]);
  await conn.write(clientFrame(new Uint8Array([0x03, 0xe8]), { opcode: 0x8 }));
  const closing = await frames.read(() => false);
  assert.equal(closing.code, 1000);
});

testEachStrategy(
  "an oversized frame is refused from its header, before it is read (1009)",
  async () => {
    await using server = echoServer();
    const { conn, frames } = await openRawWebSocket(server.addr.port, "/ws");
    using _ = conn;
    // A header announcing 60 MB, and only 1 KB after it: nothing waits for the rest.
    const frame = clientFrame(new Uint8Array(1024), { declaredLength: 60_000_000, opcode: 0x2 });
    await conn.write(frame);
    const { code, reason } = await failAfter(2000, () => frames.read(() => false));
    assert.equal(code, 1009);
    assert.match(reason, /the limit is 1000 bytes/);
    // The server closes its socket (it does not wait for 60 MB).
    await failAfter(3000, () => readToEnd(conn));
    await eventually(() => server.connections === 0, "the socket gone");
  },
);

testEachStrategy(
  "fragments count together: a message past the limit is refused (1009)",
  async () => {
    await using server = echoServer();
    const { conn, frames } = await openRawWebSocket(server.addr.port, "/ws");
    using _ = conn;
    await conn.write(clientFrame("a".repeat(600), { fin: false }));
    await conn.write(clientFrame("b".repeat(600), { opcode: 0x0, fin: false }));
    const { code, texts } = await frames.read(() => false);
    assert.equal(code, 1009);
    assert.deepEqual(texts, []);
    // The client answers the close: the handshake ends and the socket closes.
    await conn.write(clientFrame(new Uint8Array([0x03, 0xf1]), { opcode: 0x8 }));
    await readToEnd(conn);
  },
);

testEachStrategy(
  "a text message that is not UTF-8 gets a 1007 close, not a dropped socket",
  async () => {
    await using server = echoServer();
    const { conn, frames } = await openRawWebSocket(server.addr.port, "/ws");
    using _ = conn;
    await conn.write(clientFrame(new Uint8Array([0x68, 0xff, 0xfe, 0x69])));
    const { code } = await frames.read(() => false);
    assert.equal(code, 1007);
    await failAfter(3000, () => readToEnd(conn));
  },
);

testEachStrategy(
  "protocol violations close with 1002: unmasked frames, reserved bits",
  async () => {
    await using server = echoServer();
    for (
      const bad of [clientFrame("x", { masked: false }), new Uint8Array([0xc1, 0x80, 0, 0, 0, 0])]
    ) {
      const { conn, frames } = await openRawWebSocket(server.addr.port, "/ws");
      using _ = conn;
      await conn.write(bad);
      const { code } = await frames.read(() => false);
      assert.equal(code, 1002);
    }
  },
);

testEachStrategy(
  "a client that stops reading is closed (1013) and its socket with it",
  async () => {
    let closedSessions = 0;
    const payload = "z".repeat(64 * 1024);
    await using server = echoServer({
      maxQueuedBytes: 256 * 1024,
      maxQueuedMessages: 64,
      onClosed: () => closedSessions++,
      onSocket: async (socket) => {
        // Sends as fast as it can; the client reads nothing.
        while (socket.send(payload)) await Promise.resolve();
        assert.equal(socket.closeCode, 1013);
        await socket.closed();
      },
    });
    const { conn, answer } = await openRawWebSocket(server.addr.port, "/ws");
    using _ = conn;
    assert.match(answer, /^HTTP\/1\.1 101 /);
    // The server's side is gone within closeTimeoutMs, with the client never reading.
    await eventually(() => server.connections === 0, "the slow client's socket closed", {
      limitMs: 5000,
    });
    assert.equal(closedSessions, 1);
    // What the kernel took is bounded; then the end of the stream.
    const total = await readToEnd(conn);
    assert.ok(total < 16 * 1024 * 1024, `${total} bytes`);
  },
);

testEachStrategy("WebSockets count against maxConnections until their socket is gone", async () => {
  await using server = echoServer({}, { maxConnections: 2 });
  const one = await openRawWebSocket(server.addr.port, "/ws");
  const two = await openRawWebSocket(server.addr.port, "/ws");
  try {
    assert.match(two.answer, /^HTTP\/1\.1 101 /);
    using third = await connect(server.addr.port);
    await third.write(new TextEncoder().encode(upgradeHead(server.addr.port, "/ws")));
    assert.equal(await readToEnd(third), 0); // refused at once
    assert.ok(server.stats().refused >= 1);
  } finally {
    one.conn.close();
    two.conn.close();
  }
  await eventually(() => server.connections === 0, "both gone");
});

testEachStrategy("shutdown tells every WebSocket the server goes away (1001)", async () => {
  const server = echoServer();
  const a = await openRawWebSocket(server.addr.port, "/ws");
  const b = await openRawWebSocket(server.addr.port, "/ws");
  try {
    const stopping = server.shutdown();
    for (const { frames } of [a, b]) assert.equal((await frames.read(() => false)).code, 1001);
    await stopping;
    assert.equal(server.connections, 0);
  } finally {
    a.conn.close();
    b.conn.close();
  }
});

testEachStrategy("an upgrade that is not a WebSocket upgrade gets 426; a bad key 400", async () => {
  await using server = echoServer();
  const plain = await fetch(`${server.url}/ws`);
  assert.equal(plain.status, 426);
  assert.equal((await plain.json()).error.code, "upgrade_required");
  using conn = await connect(server.addr.port);
  await conn.write(
    new TextEncoder().encode(
      upgradeHead(server.addr.port, "/ws").replace(btoa("0123456789abcdef"), "short"),
    ),
  );
  const answer = new TextDecoder().decode(
    await (async () => {
      const buffer = new Uint8Array(4096);
      const n = await conn.read(buffer);
      return buffer.subarray(0, n ?? 0);
    })(),
  );
  assert.match(answer, /^HTTP\/1\.1 400 /);
});
