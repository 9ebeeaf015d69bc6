// Signaling: malformed and out-of-order messages, floods, oversized
// messages, a client that never answers, candidates before the offer,
// limits, tokens, origins and hosts.

import assert from "node:assert/strict";
import { createMemoryChannel } from "../runtime/memory_channel.ts";
import { testEachStrategy } from "../runtime/testing.ts";
import { failAfter, moveOnAfter } from "../runtime/timeouts.ts";
import { eventually, rejection } from "../tests/_async.ts";
import { withNode } from "../tests/_node.ts";
import type { EmbeddedNode } from "../ipfs/embedded_node.ts";
import { connectWebRtc } from "./signaling_client.ts";
import {
  serveSignaling,
  type ServeSignalingOptions,
  type SignalingServer,
} from "./signaling_server.ts";
import { StreamingManager, type StreamingManagerOptions } from "./streaming_manager.ts";
import { SignalingError } from "./errors.ts";
import { Peer } from "./_peer.ts";
import { CONTROL_ID, CONTROL_LABEL } from "./_wire.ts";

const TOKEN = "a-test-token-of-enough-length";

async function withSignaling<T>(
  fn: (server: SignalingServer, manager: StreamingManager, node: EmbeddedNode) => Promise<T>,
  managerOptions: StreamingManagerOptions = {},
  serverOptions: ServeSignalingOptions = {},
): Promise<T> {
  return await withNode(async (node) => {
    await using manager = new StreamingManager(node, {
      bindAddress: "127.0.0.1",
      ...managerOptions,
    });
    await using server = serveSignaling(manager, serverOptions);
    return await fn(server, manager, node);
  });
}

/** A WebSocket client that speaks the protocol by hand. */
class RawClient {
  readonly socket: WebSocket;
  readonly #messages = createMemoryChannel<Record<string, unknown>>(Infinity);
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(url: string) {
    this.socket = new WebSocket(url);
    const [send] = this.#messages;
    this.socket.onmessage = (event) => send.sendNowait(JSON.parse(String(event.data)));
    this.closed = new Promise((resolve) => {
      this.socket.onclose = (event) => {
        send.close();
        resolve({ code: event.code, reason: event.reason });
      };
    });
  }

  /** The next message of `type` (others are skipped), within 5 s. */
  next(type?: string): Promise<Record<string, unknown>> {
    return failAfter(5000, async () => {
      for (;;) {
        const message = await this.#messages[1].receive();
        if (type === undefined || message.type === type) return message;
      }
    });
  }

  send(value: unknown): void {
    this.socket.send(
      typeof value === "string" || value instanceof Uint8Array ? value : JSON.stringify(value),
    );
  }

  async close(): Promise<void> {
    if (this.socket.readyState <= WebSocket.OPEN) this.socket.close();
    await this.closed;
    this.#messages[1].close();
  }
}

testEachStrategy(
  "malformed and out-of-order messages get typed errors, then the socket closes",
  async () => {
    await withSignaling(async (server) => {
      const client = new RawClient(server.url);
      const welcome = await client.next("welcome");
      assert.equal(welcome.version, 1);
      assert.equal(welcome.offerer, "server");
      assert.equal(typeof (await client.next("offer")).sdp, "string");
      const cases: [unknown, string][] = [
        ["not json", "bad_json"],
        [[1, 2], "bad_message"],
        [{ type: "teleport" }, "unknown_type"],
        [{ type: "answer" }, "bad_message"],
        [{ type: "answer", sdp: "v=0", extra: 1 }, "bad_message"],
        [new Uint8Array([1, 2, 3]), "unsupported_data"],
        [{ type: "offer", sdp: "v=0" }, "out_of_order"], // the server makes the offer
      ];
      for (const [message, code] of cases) {
        client.send(message);
        const error = await client.next("error");
        assert.equal(error.code, code, JSON.stringify(message));
      }
      client.send({ type: "stats_request", id: 7 });
      const stats = await client.next("stats");
      assert.equal(stats.id, 7);
      assert.equal((stats.stats as { connectionState: string }).connectionState, "connecting");
      // Two more refusals pass the limit of 8: the server ends the session.
      client.send("x");
      client.send("y");
      assert.deepEqual((await client.closed).code, 1008);
      await client.close();
    });
  },
);

testEachStrategy(
  "a client that never answers: the server gives up and frees the slot",
  async () => {
    await withSignaling(async (server, manager) => {
      const client = new RawClient(server.url);
      await client.next("offer");
      assert.equal(manager.size, 1);
      const error = await client.next("error");
      assert.equal(error.code, "timeout");
      assert.equal((await client.closed).code, 1008);
      await eventually(() => manager.size === 0, "the session to end");
      await client.close();
    }, { negotiationTimeoutMs: 200 });
  },
);

testEachStrategy(
  "a flood is cut off at the rate limit; an oversized message closes with 1009",
  async () => {
    await withSignaling(async (server, manager) => {
      const flooder = new RawClient(server.url);
      await flooder.next("welcome");
      for (let i = 0; i < 200; i++) flooder.send({ type: "stats_request", id: i });
      let answered = 0;
      let refusal: Record<string, unknown> | undefined;
      for (;;) {
        const message = await flooder.next().catch(() => undefined);
        if (message === undefined) break;
        if (message.type === "stats") answered++;
        if (message.type === "error") refusal = message;
      }
      assert.equal(refusal?.code, "rate_limited");
      assert(answered <= 10, `the server answered ${answered} of 200 requests`);
      // The server closes with 1008; Deno's client, still sending, may see the reset (0) instead.
      assert([1008, 0].includes((await flooder.closed).code));
      await flooder.close();

      const big = new RawClient(server.url);
      await big.next("welcome");
      big.send({ type: "answer", sdp: "x".repeat(70_000) });
      assert.equal((await big.closed).code, 1009);
      await big.close();
      await eventually(() => manager.size === 0, "both sessions to end");
    }, { signalingBurst: 10, signalingRatePerSecond: 5 });
  },
);

testEachStrategy("candidates sent before the offer wait for it (the client offers)", async () => {
  await withSignaling(async (server, manager) => {
    const client = new RawClient(server.url);
    assert.equal((await client.next("welcome")).offerer, "client");
    await using peer = {
      peer: await Peer.create({
        iceServers: [],
        bindAddress: "127.0.0.1",
        highWaterMark: 1 << 20,
        pollMs: 2,
        maxPendingIncoming: 8,
      }),
      [Symbol.asyncDispose]() {
        this.peer.close();
        return Promise.resolve();
      },
    };
    const control = peer.peer.createChannel(CONTROL_LABEL, {
      maxQueuedCost: 65536,
      highWaterMark: 1 << 20,
      pollMs: 2,
    }, CONTROL_ID);
    // Gather everything first (until 300 ms pass without a new candidate),
    // then send the candidates ahead of the offer.
    let offer: string | undefined;
    const candidates: unknown[] = [];
    for (;;) {
      const signal = await moveOnAfter(300, () => peer.peer.localSignals.receive());
      if (signal === undefined) break;
      if (signal.type === "offer") offer = signal.sdp;
      else if (signal.type === "candidate") candidates.push(signal);
    }
    assert(offer !== undefined && candidates.length > 0);
    for (const candidate of candidates) client.send(candidate);
    client.send({ type: "offer", sdp: offer });
    const answer = await client.next("answer");
    peer.peer.setRemoteDescription("answer", answer.sdp as string);
    await failAfter(5000, () => control.waitOpen());
    await eventually(() => manager.connections()[0]?.connectionState === "connected", "connected");
    client.send({ type: "close", reason: "done" });
    await client.closed;
    await eventually(() => manager.size === 0, "the session to end");
    await client.close();
  }, { offerer: "client" });
});

testEachStrategy("a full manager refuses with too_many_connections", async () => {
  await withSignaling(async (server, manager) => {
    await using first = await connectWebRtc(server.url, { bindAddress: "127.0.0.1" });
    assert(first.connected);
    const error = await rejection(connectWebRtc(server.url, { bindAddress: "127.0.0.1" }));
    assert(error instanceof SignalingError, String(error));
    assert.equal(error.code, "too_many_connections");
    assert.match(error.message, /limit of 1 connections reached/);
    const raw = new RawClient(server.url);
    assert.equal((await raw.next("error")).code, "too_many_connections");
    assert.equal((await raw.closed).code, 1013);
    await raw.close();
    assert.equal(manager.size, 1);
  }, { maxConnections: 1 });
});

testEachStrategy("tokens, origins and hosts are checked before the upgrade", async () => {
  await withSignaling(
    async (server, manager, node) => {
      const http = server.url.replace("ws://", "http://");
      const upgrade = { upgrade: "websocket", connection: "upgrade" };
      const status = async (url: string, headers: Record<string, string> = {}) => {
        const response = await fetch(url, { headers });
        await response.body?.cancel();
        return response.status;
      };
      assert.equal(await status(http, upgrade), 401);
      assert.equal(
        await status(http, { ...upgrade, authorization: "Bearer wrong-token-of-length" }),
        401,
      );
      assert.equal(await status(http, { authorization: `Bearer ${TOKEN}` }), 426);
      assert.equal(
        await status(http.replace("/webrtc/signaling", "/other"), {
          ...upgrade,
          authorization: `Bearer ${TOKEN}`,
        }),
        404,
      );
      assert.equal(
        await status(http, {
          ...upgrade,
          authorization: `Bearer ${TOKEN}`,
          origin: "https://evil.example",
        }),
        403,
      );
      const { cid } = await node.add("authorized");
      await using connection = await connectWebRtc(server.url, {
        token: TOKEN,
        bindAddress: "127.0.0.1",
      });
      assert.equal(await new Response(connection.open(cid)).text(), "authorized");
      const query = new RawClient(`${server.url}?token=${TOKEN}`);
      assert.equal((await query.next("welcome")).type, "welcome");
      await query.close();
      assert(
        await rejection(connectWebRtc(server.url, { bindAddress: "127.0.0.1" })) instanceof
          SignalingError,
      );
      assert.equal(manager.maxConnections, 16);
    },
    {},
    { token: TOKEN },
  );
  await withSignaling(async (server) => {
    // Without a token only loopback Host names are served (no DNS rebinding).
    // fetch() sets Host itself: a request written by hand sets another.
    const http = server.url.replace("ws://", "http://");
    const socket = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await socket.write(new TextEncoder().encode(
      "GET /webrtc/signaling HTTP/1.1\r\nHost: rebound.example\r\nConnection: close\r\n\r\n",
    ));
    const answer = new TextDecoder().decode(await new Response(socket.readable).bytes());
    assert.match(answer, /^HTTP\/1\.1 403/);
    assert.match(answer, /forbidden_host/);
    const own = await fetch(http, { headers: { origin: http.replace("/webrtc/signaling", "") } });
    assert.equal(own.status, 426); // the server's own origin passes the origin check
    await own.body?.cancel();
  });
});
