/**
 * The servers `http_bench.ts` measures, one per process: run with a kind and
 * a file to serve; prints the port on its first line and serves until its
 * standard input closes. Each serves the same four routes:
 * `GET /file` (the file, streamed from disk), `GET /blocks` (the same bytes
 * from memory as a stream of 256 KiB chunks, as blocks come from a store),
 * `GET /file-1m` (the file read 1 MiB at a time into a stream), `GET /small`
 * (`hello`) and `GET /ws` (a WebSocket that echoes every message).
 *
 * - `deno-serve`: bare `Deno.serve` (no header timeout, idle timeout or
 *   connection cap), `Deno.upgradeWebSocket` (no message bound).
 * - `ipfs-kit`: `serve()` of `http/`, with its defaults (cap, deadlines,
 *   bounded WebSockets).
 * - `node-http`: `node:http` with `headersTimeout`, `requestTimeout`,
 *   `keepAliveTimeout`, `maxConnections` and `connectionsCheckingInterval`
 *   set (no WebSocket: `npm:ws` is not a dependency of the kit).
 * - `deno-servehttp`: an accept loop over `Deno.listen` and `Deno.serveHttp`
 *   (absent from Deno's types), a header deadline per request and a
 *   connection cap; `Deno.upgradeWebSocket` for the WebSocket.
 *
 * @module
 */

import { createServer } from "node:http";
import { createReadStream } from "node:fs";
import { serve } from "../http/server.ts";

const [kind, file] = Deno.args;
const stop = new AbortController();
const BLOCK = 256 * 1024;
const bytes = Deno.readFileSync(file);

/** The file's bytes from memory, a block at a time. */
function blocks(): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(offset, offset += BLOCK));
    },
  });
}

/** The file read 1 MiB at a time (`file.readable` reads 64 KiB at a time). */
async function fileChunks(): Promise<ReadableStream<Uint8Array>> {
  const f = await Deno.open(file);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const buffer = new Uint8Array(1 << 20);
      const n = await f.read(buffer);
      if (n === null) {
        f.close();
        controller.close();
      } else controller.enqueue(buffer.subarray(0, n));
    },
    cancel() {
      f.close();
    },
  });
}

async function fileChunksResponse(): Promise<Response> {
  return new Response(await fileChunks(), {
    headers: { "content-length": String(bytes.length) },
  });
}

function blocksResponse(): Response {
  return new Response(blocks(), { headers: { "content-length": String(bytes.length) } });
}

function say(port: number): void {
  console.log(port);
  // The parent closes our standard input to stop us.
  void (async () => {
    for await (const _ of Deno.stdin.readable) { /* drain */ }
    stop.abort();
  })();
}

function echoDeno(request: Request): Response {
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.onmessage = (event) => socket.send(event.data);
  return response;
}

switch (kind) {
  case "deno-serve": {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      signal: stop.signal,
      onListen: ({ port }) => say(port),
    }, async (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/small") return new Response("hello");
      if (path === "/blocks") return blocksResponse();
      if (path === "/file-1m") return await fileChunksResponse();
      if (path === "/ws") return echoDeno(request);
      const f = await Deno.open(file);
      return new Response(f.readable, {
        headers: { "content-length": String((await f.stat()).size) },
      });
    });
    await server.finished;
    break;
  }
  case "ipfs-kit": {
    const server = serve(async (request, info) => {
      const path = new URL(request.url).pathname;
      if (path === "/small") return new Response("hello");
      if (path === "/blocks") return blocksResponse();
      if (path === "/file-1m") return await fileChunksResponse();
      if (path === "/ws") {
        return info.upgradeWebSocket({
          onSocket: async (socket) => {
            for await (const message of socket) socket.send(message);
          },
        });
      }
      const f = await Deno.open(file);
      return new Response(f.readable, {
        headers: { "content-length": String((await f.stat()).size) },
      });
    }, { signal: stop.signal, maxConnections: 4096 });
    say(server.addr.port);
    await server.finished;
    break;
  }
  case "node-http": {
    const server = createServer({
      headersTimeout: 10_000,
      requestTimeout: 30_000,
      keepAliveTimeout: 30_000,
      connectionsCheckingInterval: 1000,
    }, (req, res) => {
      if (req.url === "/small") {
        res.writeHead(200, { "content-type": "text/plain;charset=UTF-8", "content-length": "5" });
        res.end("hello");
        return;
      }
      const size = Deno.statSync(file).size;
      res.writeHead(200, { "content-length": String(size) });
      if (req.url === "/file-1m") {
        return void createReadStream(file, { highWaterMark: 1 << 20 }).pipe(res);
      }
      if (req.url === "/blocks") {
        let offset = 0;
        const next = () => {
          while (offset < bytes.length) {
            const ok = res.write(bytes.subarray(offset, offset += BLOCK));
            if (!ok) return void res.once("drain", next);
          }
          res.end();
        };
        return next();
      }
      createReadStream(file, { highWaterMark: 1 << 20 }).pipe(res);
    });
    server.maxConnections = 4096;
    server.listen(0, "127.0.0.1", () => say((server.address() as { port: number }).port));
    stop.signal.addEventListener("abort", () => {
      server.closeAllConnections();
      server.close();
    });
    break;
  }
  case "deno-servehttp": {
    // deno-lint-ignore no-explicit-any
    const serveHttp = (Deno as any).serveHttp as (conn: Deno.Conn) => {
      nextRequest(): Promise<{ request: Request; respondWith(r: Response): Promise<void> } | null>;
      close(): void;
    };
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    say(listener.addr.port);
    stop.signal.addEventListener("abort", () => listener.close());
    let open = 0;
    for await (const conn of listener) {
      if (open >= 4096) {
        conn.close();
        continue;
      }
      open++;
      void (async () => {
        const http = serveHttp(conn);
        try {
          for (;;) {
            // A header deadline: the connection is closed if no request comes in time.
            const timer = AbortSignal.timeout(10_000);
            const onTimeout = () => http.close();
            timer.addEventListener("abort", onTimeout);
            const event = await http.nextRequest().finally(() =>
              timer.removeEventListener("abort", onTimeout)
            );
            if (event === null) break;
            const path = new URL(event.request.url).pathname;
            if (path === "/small") await event.respondWith(new Response("hello"));
            else if (path === "/blocks") await event.respondWith(blocksResponse());
            else if (path === "/file-1m") await event.respondWith(await fileChunksResponse());
            else if (path === "/ws") await event.respondWith(echoDeno(event.request));
            else {
              const f = await Deno.open(file);
              await event.respondWith(
                new Response(f.readable, {
                  headers: { "content-length": String((await f.stat()).size) },
                }),
              );
            }
          }
        } catch {
          // closed
        } finally {
          open--;
          try {
            http.close();
          } catch { /* closed */ }
        }
      })();
    }
    break;
  }
  default:
    throw new Error(`unknown kind ${kind}`);
}
