import assert from "node:assert/strict";
import { Event } from "../runtime/event.ts";
import { sleep } from "../runtime/sleep.ts";
import { taskGroup } from "../runtime/task_group.ts";
import { testEachStrategy } from "../runtime/testing.ts";
import { failAfter } from "../runtime/timeouts.ts";
import { serveWal, type WalServer } from "./http_server.ts";
import type { WalEvent, WalEventSource } from "./types.ts";
import { NO_STORE, processUntilIdle, UNKNOWN_ID, withWal } from "../tests/_wal.ts";
import { clientFrame, openRawWebSocket } from "../tests/_http.ts";

const TOKEN = "feed-token-0123456789abcdef";

/** A message as received: see `FeedMessage` in ws_feed.ts for the shapes. */
// deno-lint-ignore no-explicit-any
type Message = Record<string, any>;

/** A real WebSocket client that keeps every message and lets the test wait for one. */
class FeedClient {
  readonly messages: Message[] = [];
  readonly socket: WebSocket;
  #changed = new Event();
  #closed = new Event();
  closeCode: number | undefined;
  closeReason: string | undefined;
  #cursor = 0;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.onmessage = (event) => {
      this.messages.push(JSON.parse(event.data));
      this.#wake();
    };
    socket.onclose = (event) => {
      this.closeCode = event.code;
      this.closeReason = event.reason;
      this.#closed.set();
      this.#wake();
    };
  }

  /** Connects and waits for the server's hello. */
  static async open(url: string, headers?: Record<string, string>): Promise<FeedClient> {
    const socket = new WebSocket(url, headers === undefined ? undefined : { headers } as never);
    const client = new FeedClient(socket);
    const hello = await client.next((m) => m.type === "hello", "hello");
    assert.equal(hello.version, 1);
    return client;
  }

  #wake(): void {
    const changed = this.#changed;
    this.#changed = new Event();
    changed.set();
  }

  send(message: unknown): void {
    this.socket.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** The next message (after the last one taken) that matches; fails after 5 s. */
  next(match: (message: Message) => boolean, what: string): Promise<Message> {
    return failAfter(5000, async () => {
      for (;;) {
        while (this.#cursor < this.messages.length) {
          const message = this.messages[this.#cursor++];
          if (match(message)) return message;
        }
        if (this.#closed.isSet) {
          throw new Error(`closed (${this.closeCode}) while waiting for ${what}`);
        }
        await this.#changed.wait();
      }
    }).catch((error) => {
      throw new Error(`waiting for ${what}: ${error}; got ${JSON.stringify(this.messages)}`);
    });
  }

  /** Waits until the messages received so far satisfy `done`. */
  until(done: (messages: Message[]) => boolean, what: string): Promise<void> {
    return failAfter(5000, async () => {
      while (!done(this.messages)) {
        if (this.#closed.isSet) throw new Error(`closed while waiting for ${what}`);
        await this.#changed.wait();
      }
    }).catch((error) => {
      throw new Error(`waiting for ${what}: ${error}; got ${JSON.stringify(this.messages)}`);
    });
  }

  /** Sends a message and returns the answer to it (the next message that is not an event). */
  async ask(message: unknown): Promise<Message> {
    this.send(message);
    return await this.next((m) => m.type !== "event", `an answer to ${JSON.stringify(message)}`);
  }

  /** Waits until the server closes the connection. */
  async closedByServer(): Promise<number | undefined> {
    await failAfter(5000, () => this.#closed.wait());
    return this.closeCode;
  }

  async close(): Promise<void> {
    if (!this.#closed.isSet) this.socket.close();
    await failAfter(5000, () => this.#closed.wait());
  }
}

function feedUrl(server: WalServer): string {
  return `${server.url.replace(/^http/, "ws")}/feed`;
}

async function submit(server: WalServer, type: string, params: unknown = {}): Promise<string> {
  const response = await fetch(`${server.url}/operations`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ type, params }),
  });
  const body = await response.json();
  assert.equal(response.status, 201, JSON.stringify(body));
  return body.id;
}

testEachStrategy("operation topics follow real submissions and state changes", async () => {
  await withWal(async (wal) => {
    await using server = serveWal(wal);
    const client = await FeedClient.open(feedUrl(server));
    try {
      assert.deepEqual(client.messages[0].topics, [
        "operations",
        "operation",
        "state-changes",
        "health",
        "metrics",
      ]);
      assert.deepEqual(await client.ask({ op: "subscribe", id: "all", topic: "operations" }), {
        type: "subscribed",
        id: "all",
        topic: "operations",
      });
      assert.equal(
        (await client.ask({ op: "subscribe", id: 2, topic: "state-changes" })).type,
        "subscribed",
      );

      const first = await submit(server, "custom", { n: 1 });
      const second = await submit(server, "custom", { n: 2 });
      const one = await client.ask({
        op: "subscribe",
        id: 3,
        topic: "operation",
        operationId: second,
        params: true,
      });
      assert.equal(one.type, "subscribed");
      assert.equal(one.operation.id, second);
      assert.equal(one.operation.state, "pending");
      assert.deepEqual(one.operation.params, { n: 2 });

      await processUntilIdle(wal, {
        custom: ({ params }) => ({ doubled: (params as { n: number }).n * 2 }),
      });
      const byId = (id: string) => (m: Message) => m.type === "event" && m.data.id === id;
      // Six events on "all" and on 2 (three per operation), two on 3.
      await client.until(
        (messages) => messages.filter((m) => m.type === "event").length >= 14,
        "every event",
      );

      // Every operation: submitted, processing, completed; without parameters.
      const all = client.messages.filter((m) => m.type === "event" && m.id === "all");
      for (const [id, n] of [[first, 1], [second, 2]] as const) {
        const events = all.filter((m) => m.data.operation.id === id);
        assert.deepEqual(
          events.map((m) => [m.data.change, m.data.previous, m.data.operation.state]),
          [
            ["submitted", null, "pending"],
            ["updated", "pending", "processing"],
            ["updated", "processing", "completed"],
          ],
        );
        assert.equal(events[0].topic, "operations");
        assert.equal("params" in events[0].data.operation, false);
        assert.deepEqual(events[2].data.operation.result, { doubled: n * 2 });
      }
      // State changes, compact.
      const changes = client.messages.filter((m) => m.type === "event" && m.id === 2);
      assert.deepEqual(
        changes.filter(byId(first)).map((m) => [m.data.from, m.data.to, m.data.type]),
        [[null, "pending", "custom"], ["pending", "processing", "custom"], [
          "processing",
          "completed",
          "custom",
        ]],
      );
      assert.equal(changes.filter(byId(second)).length, 3);
      assert.equal(changes[0].data.attempts, 0);
      // One operation: only the second, with its parameters.
      const mine = client.messages.filter((m) => m.type === "event" && m.id === 3);
      assert.deepEqual(mine.map((m) => m.data.operation.state), ["processing", "completed"]);
      assert.ok(mine.every((m) => m.data.operation.id === second && m.topic === "operation"));
      assert.deepEqual(mine[1].data.operation.params, { n: 2 });

      // Cancel and retry over HTTP show up too; after unsubscribing, nothing more.
      assert.deepEqual(await client.ask({ op: "unsubscribe", id: "all" }), {
        type: "unsubscribed",
        id: "all",
      });
      const third = await submit(server, "custom");
      await fetch(`${server.url}/operations/${third}/cancel`, { method: "POST" }).then((r) =>
        r.body?.cancel()
      );
      const cancelled = await client.next(
        (m) => m.id === 2 && m.data?.id === third && m.data.to === "cancelled",
        "the cancellation",
      );
      assert.equal(cancelled.data.from, "pending");
      assert.equal(
        client.messages.filter((m) => m.id === "all" && m.data?.operation.id === third).length,
        0,
      );
    } finally {
      await client.close();
    }
  });
});

testEachStrategy("health and metrics topics: now, on change and every intervalMs", async () => {
  await withWal(async (wal) => {
    await using server = serveWal(wal);
    const client = await FeedClient.open(feedUrl(server));
    try {
      await client.ask({ op: "subscribe", id: "h", topic: "health", intervalMs: 100 });
      const initial = await client.next((m) => m.id === "h" && m.type === "event", "health");
      assert.deepEqual(initial.data, { status: "ok", closed: false, backend: null });

      await taskGroup(async (tg) => {
        // A processor with a health monitor: the backend is online while it runs.
        tg.spawn(() =>
          wal.process({
            store: NO_STORE,
            builtinHandlers: false,
            handlers: { custom: () => 1 },
            health: { probe: () => true, intervalMs: 50 },
          })
        );
        const online = await client.next((m) => m.id === "h" && m.type === "event", "online");
        assert.deepEqual(online.data, { status: "ok", closed: false, backend: "online" });
        tg.cancelScope.cancel();
      });
      const stopped = await client.next((m) => m.id === "h" && m.type === "event", "stopped");
      assert.equal(stopped.data.backend, null);

      await submit(server, "custom");
      await client.ask({ op: "subscribe", id: "m", topic: "metrics", intervalMs: 100 });
      const metrics = await client.next((m) => m.id === "m" && m.type === "event", "metrics");
      assert.equal(metrics.topic, "metrics");
      assert.equal(metrics.data.queue.pending, 1);
      assert.equal(metrics.data.groupSize.buckets.at(-1).le, "+Inf");
      await client.next((m) => m.id === "m" && m.type === "event", "a second snapshot");
      // Health did not change meanwhile: no event for it.
      assert.equal(client.messages.filter((m) => m.id === "h" && m.type === "event").length, 3);

      assert.equal((await client.ask({ op: "unsubscribe", id: "m" })).type, "unsubscribed");
      assert.equal((await client.ask({ op: "ping", id: 1 })).type, "pong");
      const count = client.messages.length;
      await sleep(350);
      assert.deepEqual(await client.ask({ op: "ping", id: 2 }), { type: "pong", id: 2 });
      // Nothing but the pong came after the unsubscription (a tick is every 100 ms).
      assert.equal(client.messages.length, count + 1);
    } finally {
      await client.close();
    }
  });
});

testEachStrategy(
  "bad messages get error messages, never a crash; too big closes with 1009",
  async () => {
    await withWal(async (wal) => {
      const id = (await wal.submit("custom", {})).id;
      await using server = serveWal(wal, { maxSubscriptions: 3, maxMessageBytes: 1024 });
      const client = await FeedClient.open(feedUrl(server));
      try {
        const cases: Array<[unknown, string]> = [
          ["{nope", "bad_json"],
          ["", "bad_json"],
          ["[]", "bad_message"],
          ["42", "bad_message"],
          ["null", "bad_message"],
          [{}, "bad_message"],
          [{ op: 7 }, "bad_message"],
          [{ op: "dance", id: 1 }, "unknown_op"],
          [{ op: "subscribe", topic: "operations" }, "bad_message"],
          [{ op: "subscribe", id: "", topic: "operations" }, "bad_message"],
          [{ op: "subscribe", id: "x".repeat(65), topic: "operations" }, "bad_message"],
          [{ op: "subscribe", id: 1.5, topic: "operations" }, "bad_message"],
          [{ op: "subscribe", id: { a: 1 }, topic: "operations" }, "bad_message"],
          [{ op: "subscribe", id: 1, topic: "weather" }, "unknown_topic"],
          [{ op: "subscribe", id: 1, topic: 5 }, "unknown_topic"],
          [{ op: "subscribe", id: 1, topic: "operations", params: "yes" }, "bad_message"],
          [{ op: "subscribe", id: 1, topic: "operations", colour: "red" }, "bad_message"],
          [{ op: "subscribe", id: 1, topic: "operation" }, "invalid_id"],
          [{ op: "subscribe", id: 1, topic: "operation", operationId: "nope" }, "invalid_id"],
          [{ op: "subscribe", id: 1, topic: "operation", operationId: UNKNOWN_ID }, "not_found"],
          [{ op: "subscribe", id: 1, topic: "metrics", intervalMs: 99 }, "bad_message"],
          [{ op: "subscribe", id: 1, topic: "metrics", intervalMs: 3_600_001 }, "bad_message"],
          [{ op: "subscribe", id: 1, topic: "health", intervalMs: "1000" }, "bad_message"],
          [{ op: "subscribe", id: 1, topic: "health", intervalMs: 150.5 }, "bad_message"],
          [{ op: "unsubscribe", id: 1 }, "unknown_subscription"],
          [{ op: "unsubscribe" }, "bad_message"],
          [{ op: "unsubscribe", id: 1, topic: "health" }, "bad_message"],
          [{ op: "ping", id: [] }, "bad_message"],
        ];
        for (const [message, code] of cases) {
          const answer = await client.ask(message);
          assert.equal(answer.type, "error", JSON.stringify(message));
          assert.equal(answer.code, code, `${JSON.stringify(message)}: ${answer.message}`);
          assert.equal(typeof answer.message, "string");
        }
        // The id of a refused message comes back when it was valid.
        assert.equal((await client.ask({ op: "subscribe", id: 9, topic: "x" })).id, 9);

        client.socket.send(new Uint8Array([1, 2, 3]));
        const refused = await client.next((m) => m.type === "error", "binary refused");
        assert.equal(refused.code, "unsupported_data");

        assert.equal(
          (await client.ask({ op: "subscribe", id: 1, topic: "operation", operationId: id })).type,
          "subscribed",
        );
        assert.equal(
          (await client.ask({ op: "subscribe", id: 1, topic: "operations" })).code,
          "duplicate_id",
        );
        // "1" and 1 are different ids.
        assert.equal(
          (await client.ask({ op: "subscribe", id: "1", topic: "operations" })).type,
          "subscribed",
        );
        assert.equal(
          (await client.ask({ op: "subscribe", id: 3, topic: "health" })).type,
          "subscribed",
        );
        assert.equal(
          (await client.ask({ op: "subscribe", id: 4, topic: "health" })).code,
          "too_many_subscriptions",
        );
        // Still serving.
        assert.deepEqual(await client.ask({ op: "ping" }), { type: "pong" });

        // A message over maxMessageBytes (1024) closes the connection with 1009.
        client.send(JSON.stringify({ op: "ping", id: "\u00e9".repeat(600) }));
        assert.equal(await client.closedByServer(), 1009);
        assert.match(client.closeReason ?? "", /too big/);
      } finally {
        await client.close();
      }
      // The server is fine and serves a new client.
      const other = await FeedClient.open(feedUrl(server));
      try {
        assert.deepEqual(await other.ask({ op: "ping", id: "x" }), { type: "pong", id: "x" });
      } finally {
        await other.close();
      }
    });
  },
);

testEachStrategy("the feed's upgrade needs the token; ?token= works for browsers", async () => {
  await withWal(async (wal) => {
    await using server = serveWal(wal, { token: TOKEN });
    const refused = new WebSocket(feedUrl(server));
    const outcome = await failAfter(5000, () =>
      new Promise<string>((resolve) => {
        refused.onopen = () => resolve("open");
        refused.onerror = () => resolve("error");
      }));
    assert.equal(outcome, "error");
    await failAfter(5000, () =>
      new Promise<void>((resolve) => {
        if (refused.readyState === WebSocket.CLOSED) resolve();
        else refused.onclose = () => resolve();
      }));
    assert.equal(server.handler.connections, 0);

    const withHeader = await FeedClient.open(feedUrl(server), { authorization: `Bearer ${TOKEN}` });
    const withQuery = await FeedClient.open(`${feedUrl(server)}?token=${TOKEN}`);
    try {
      assert.equal(server.handler.connections, 2);
      assert.equal((await withQuery.ask({ op: "ping", id: 1 })).type, "pong");
      assert.equal((await withHeader.ask({ op: "ping", id: 1 })).type, "pong");
    } finally {
      await withHeader.close();
      await withQuery.close();
    }
  });
});

testEachStrategy(
  "limits: connections beyond maxConnections get 503; no source, no live topics",
  async () => {
    await withWal(async (wal) => {
      await using server = serveWal(wal, { maxConnections: 1, events: null });
      const client = await FeedClient.open(feedUrl(server));
      try {
        assert.deepEqual(client.messages[0].topics, ["health", "metrics"]);
        for (const topic of ["operations", "state-changes"]) {
          const answer = await client.ask({ op: "subscribe", id: topic, topic });
          assert.equal(answer.code, "unavailable");
        }
        const port = server.addr.port;
        using conn = await Deno.connect({ hostname: "127.0.0.1", port });
        await conn.write(new TextEncoder().encode(
          `GET /api/v0/wal/feed HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
            `Connection: Upgrade\r\nSec-WebSocket-Key: ${btoa("0123456789abcdef")}\r\n` +
            `Sec-WebSocket-Version: 13\r\n\r\n`,
        ));
        const buffer = new Uint8Array(4096);
        const n = await conn.read(buffer);
        const head = new TextDecoder().decode(buffer.subarray(0, n ?? 0));
        assert.match(head, /^HTTP\/1\.1 503 /);
        assert.match(head, /too_many_connections/);
      } finally {
        await client.close();
      }
    });
  },
);

testEachStrategy(
  "an event source of one's own drives the feed, health events included",
  async () => {
    await withWal(async (wal) => {
      const listeners = new Set<(event: WalEvent) => void>();
      const source: WalEventSource = {
        watch(listener) {
          listeners.add(listener);
          return { [Symbol.dispose]: () => listeners.delete(listener) };
        },
      };
      {
        await using server = serveWal(wal, { events: source });
        assert.equal(listeners.size, 1);
        const client = await FeedClient.open(feedUrl(server));
        try {
          await client.ask({ op: "subscribe", id: 1, topic: "operations" });
          await client.ask({ op: "subscribe", id: 2, topic: "health", intervalMs: 3_600_000 });
          await client.next((m) => m.id === 2 && m.type === "event", "the first health");
          const operation = await wal.submit("custom", { from: "source" });
          for (const listener of listeners) {
            listener({ kind: "operation", change: "submitted", operation, previous: undefined });
          }
          const event = await client.next((m) => m.id === 1, "the operation event");
          assert.equal(event.data.operation.id, operation.id);
          assert.equal(event.data.change, "submitted");
          // A health event makes the health topic look again at once (its interval is an
          // hour); it reports only changes.
          const emitHealth = () => {
            for (const listener of listeners) {
              listener({ kind: "health", state: "online", previous: undefined });
            }
          };
          emitHealth();
          assert.equal((await client.ask({ op: "ping" })).type, "pong");
          assert.equal(client.messages.filter((m) => m.id === 2 && m.type === "event").length, 1);
          await taskGroup(async (tg) => {
            tg.spawn(() =>
              wal.process({
                store: NO_STORE,
                builtinHandlers: false,
                handlers: { other: () => 1 },
                health: { probe: () => true },
              })
            );
            while (wal.telemetry.snapshot().health.state === undefined) await sleep(5);
            emitHealth();
            const online = await client.next((m) => m.id === 2, "health after the event");
            assert.equal(online.data.backend, "online");
            tg.cancelScope.cancel();
          });
        } finally {
          await client.close();
        }
      }
      // Shutting down let go of the source.
      assert.equal(listeners.size, 0);
    });
  },
);

testEachStrategy(
  "shutdown closes every socket with 1001 and ends every connection task",
  async () => {
    await withWal(async (wal) => {
      const stop = new AbortController();
      const server = serveWal(wal, { signal: stop.signal });
      const clients = await Promise.all([1, 2, 3].map(() => FeedClient.open(feedUrl(server))));
      try {
        for (const [i, client] of clients.entries()) {
          await client.ask({ op: "subscribe", id: i, topic: i === 0 ? "metrics" : "operations" });
        }
        assert.equal(server.handler.connections, 3);
        stop.abort();
        for (const client of clients) assert.equal(await client.closedByServer(), 1001);
        await server.finished;
        assert.equal(server.handler.connections, 0);
        assert.equal(server.handler.closed, true);
      } finally {
        for (const client of clients) await client.close();
      }
    });
  },
);

// ---- a client that stops reading ----------------------------------------------------

testEachStrategy(
  "a client that stops reading is disconnected (1013), not buffered without bound",
  async () => {
    await withWal(async (wal) => {
      await using server = serveWal(wal, {
        maxQueuedMessages: 4,
        maxBufferedBytes: 64 * 1024,
        closeTimeoutMs: 100,
        maxBodyBytes: 1 << 20,
      });
      const { conn, frames, answer } = await openRawWebSocket(server.addr.port, "/api/v0/wal/feed");
      using _conn = conn;
      assert.match(answer, /^HTTP\/1\.1 101 /);
      await conn.write(
        clientFrame(JSON.stringify({ op: "subscribe", id: 1, topic: "operations", params: true })),
      );
      const subscribed = await frames.read((texts) =>
        texts.some((t) => t.includes('"subscribed"'))
      );
      assert.equal(subscribed.code, undefined);
      // Events of about 350 KB each; the client reads none of them.
      const bytes = new Uint8Array(256 * 1024).fill(7).toBase64();
      let submitted = 0;
      while (server.handler.connections === 1 && submitted < 400) {
        await submit(server, "big", { bytes: { "/": { bytes } } });
        submitted++;
      }
      await failAfter(5000, async () => {
        while (server.handler.connections > 0) await sleep(10);
      });
      // Dropped well before everything submitted was sent: what reached the socket is bounded.
      assert.ok(submitted < 400, `still connected after ${submitted} events`);
      // The connection counted until its socket was gone, and it is gone without the
      // client answering any close frame: reading now gets what was sent, a 1013
      // close frame if the socket could take it, then the end of the stream.
      const { texts, code } = await frames.read(() => false, { endOk: true });
      assert.ok(code === 1013 || code === undefined, `close code ${code}`);
      assert.ok(texts.length < submitted, `${texts.length} events for ${submitted} submissions`);
      assert.ok(
        texts.every((t) =>
          JSON.parse(t).data.operation.params.bytes["/"].bytes === bytes.replace(/=+$/, "")
        ),
      );
      const rest = new Uint8Array(1024);
      while ((await conn.read(rest)) !== null) { /* the server closed its end */ }
    });
  },
);
