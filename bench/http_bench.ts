/**
 * Benchmarks of the kit's HTTP layer (`http/`) against bare `Deno.serve`
 * and the other designs it was chosen over, in one run. Each server runs in
 * a process of its own (`_http_servers.ts`), so that the client here and
 * the server under test each have a core of the two.
 *
 * - Group `stream-64MiB`: `GET` of a 64 MiB file, streamed from disk by the
 *   server (`file.readable`; `Deno.serve` pipes such a stream in Rust), read
 *   whole by `fetch`. Baseline `deno-serve`: the gateway's target is at
 *   least half of it.
 * - Group `file-1MiB-reads`: the same file, read 1 MiB at a time into a
 *   stream by the handler (`node-http`: `createReadStream` with 1 MiB
 *   reads). Baseline `deno-serve`.
 * - Group `blocks-64MiB`: the same 64 MiB from memory as a stream of 256 KiB
 *   chunks (the way blocks come out of a store). Baseline `deno-serve`.
 * - Group `small-2000`: 2,000 `GET /small` (`hello`) over 16 kept-alive
 *   connections of a raw HTTP/1.1 client (125 requests each, one at a time
 *   per connection), so the client's cost stays small. Baseline
 *   `deno-serve`.
 * - Group `websocket-10000`: 10,000 text messages of 64 bytes echoed over
 *   one WebSocket, 64 in flight at most. Baseline `deno-serve`
 *   (`Deno.upgradeWebSocket`).
 *
 * Entries: `deno-serve` (bare `Deno.serve`, no header timeout, idle timeout
 * or connection cap), `ipfs-kit` (`serve()` with its defaults: cap,
 * deadlines, bounded WebSockets), `node-http` (`node:http` with its
 * timeouts and cap set), `deno-servehttp` (an accept loop over
 * `Deno.serveHttp`, with a header deadline and a cap). Every entry checks the
 * bytes, answers or echoes it got and throws otherwise.
 *
 * ```sh
 * deno bench --allow-all bench/http_bench.ts
 * ```
 *
 * @module
 */

const KINDS = ["deno-serve", "ipfs-kit", "node-http", "deno-servehttp"] as const;
const FILE_SIZE = 64 * 1024 * 1024;
const SMALL_REQUESTS = 2000;
const SMALL_CONNECTIONS = 16;
const MESSAGES = 10_000;
const WINDOW = 64;

const dir = Deno.makeTempDirSync({ prefix: "http-bench-" });
const file = `${dir}/file.bin`;
{
  const bytes = new Uint8Array(FILE_SIZE);
  for (let i = 0; i < bytes.length; i += 4096) bytes[i] = i & 0xff;
  Deno.writeFileSync(file, bytes);
}

interface Running {
  port: number;
  child: Deno.ChildProcess;
}

const servers = new Map<string, Running>();
for (const kind of KINDS) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("./_http_servers.ts", import.meta.url).pathname,
      kind,
      file,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${kind} did not start`);
    text += value;
  }
  reader.releaseLock();
  void child.stdout.cancel().catch(() => {});
  servers.set(kind, { port: Number(text.trim()), child });
}

globalThis.addEventListener("unload", () => {
  for (const { child } of servers.values()) {
    try {
      child.kill("SIGKILL");
    } catch {
      // gone
    }
  }
  Deno.removeSync(dir, { recursive: true });
});

async function streamFile(port: number, path = "/file"): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  let total = 0;
  for await (const chunk of response.body!) total += chunk.length;
  if (response.status !== 200 || total !== FILE_SIZE) {
    throw new Error(`stream: status ${response.status}, ${total} bytes`);
  }
}

const REQUEST = new TextEncoder().encode("GET /small HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n");
const decoder = new TextDecoder();

/** One kept-alive connection sending `count` requests one after the other. */
async function smallRequests(port: number, count: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const buffer = new Uint8Array(4096);
  try {
    for (let i = 0; i < count; i++) {
      await conn.write(REQUEST);
      let text = "";
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) throw new Error("closed early");
        text += decoder.decode(buffer.subarray(0, n));
        const end = text.indexOf("\r\n\r\n");
        if (end >= 0 && text.length >= end + 4 + 5) break;
      }
      if (!text.startsWith("HTTP/1.1 200") || !text.endsWith("hello")) {
        throw new Error(`small: unexpected answer ${text.slice(0, 100)}`);
      }
    }
  } finally {
    conn.close();
  }
}

async function small(port: number): Promise<void> {
  await Promise.all(
    Array.from(
      { length: SMALL_CONNECTIONS },
      () => smallRequests(port, SMALL_REQUESTS / SMALL_CONNECTIONS),
    ),
  );
}

const MESSAGE = "m".repeat(64);

async function websocket(port: number): Promise<void> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  const opened = Promise.withResolvers<void>();
  const finished = Promise.withResolvers<void>();
  let sent = 0;
  let received = 0;
  socket.onopen = () => opened.resolve();
  socket.onerror = () => opened.reject(new Error("websocket failed"));
  socket.onmessage = (event) => {
    if (event.data !== MESSAGE) finished.reject(new Error("websocket: wrong echo"));
    received++;
    if (received === MESSAGES) finished.resolve();
    else if (sent < MESSAGES) {
      socket.send(MESSAGE);
      sent++;
    }
  };
  await opened.promise;
  for (; sent < WINDOW; sent++) socket.send(MESSAGE);
  await finished.promise;
  const closed = Promise.withResolvers<void>();
  socket.onclose = () => closed.resolve();
  socket.close();
  await closed.promise;
}

for (const kind of KINDS) {
  const { port } = servers.get(kind)!;
  Deno.bench({
    name: kind,
    group: "stream-64MiB",
    baseline: kind === "deno-serve",
    n: 20,
    warmup: 3,
    fn: async () => {
      await streamFile(port);
    },
  });
  Deno.bench({
    name: kind,
    group: "file-1MiB-reads",
    baseline: kind === "deno-serve",
    n: 20,
    warmup: 3,
    fn: async () => {
      await streamFile(port, "/file-1m");
    },
  });
  Deno.bench({
    name: kind,
    group: "blocks-64MiB",
    baseline: kind === "deno-serve",
    n: 20,
    warmup: 3,
    fn: async () => {
      await streamFile(port, "/blocks");
    },
  });
  Deno.bench({
    name: kind,
    group: "small-2000",
    baseline: kind === "deno-serve",
    n: 20,
    warmup: 3,
    fn: async () => {
      await small(port);
    },
  });
  if (kind !== "node-http") {
    Deno.bench({
      name: kind,
      group: "websocket-10000",
      baseline: kind === "deno-serve",
      n: 10,
      warmup: 2,
      fn: async () => {
        await websocket(port);
      },
    });
  }
}
