// Deno to Deno between two processes over loopback: a 64 MiB file, a path
// below a directory and a range, then the serving process is killed in the
// middle of a stream: the reader gets a typed error and its connection ends.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { testEachStrategy } from "../runtime/testing.ts";
import { connectWebRtc, StreamClosedError } from "../webrtc/mod.ts";
import { eventually, rejection } from "./_async.ts";
import { readAll } from "./_bytes.ts";

const script = new URL("./_webrtc_peer_child.ts", import.meta.url).pathname;

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The first line a child prints. */
async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  try {
    while (!text.includes("\n")) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`the peer process ended before it was ready: ${text}`);
      text += value;
    }
  } finally {
    await reader.cancel();
  }
  return text.slice(0, text.indexOf("\n"));
}

testEachStrategy(
  "another process serves; its death mid-stream fails the reader",
  async ({ strategy }) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, strategy],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    try {
      const peer = JSON.parse(await firstLine(child.stdout));
      await using connection = await connectWebRtc(peer.url, { bindAddress: "127.0.0.1" });
      assert.equal(sha256(await readAll(connection.open(peer.cid))), peer.sha256);
      assert.equal(sha256(await readAll(connection.open(peer.cid, peer.range))), peer.rangeSha256);
      assert.equal(
        sha256(await readAll(connection.open(peer.dir, { path: "a/b/photo.jpg" }))),
        peer.photoSha256,
      );
      assert.equal(
        new TextDecoder().decode(await readAll(connection.open(peer.dir, { path: "notes.txt" }))),
        "two processes",
      );
      const reader = connection.open(peer.cid).getReader();
      assert.equal((await reader.read()).done, false);
      child.kill("SIGKILL");
      const error = await rejection((async () => {
        for (;;) if ((await reader.read()).done) return;
      })());
      assert(error instanceof StreamClosedError, String(error));
      await eventually(() => connection.closed, "the connection to end", { limitMs: 10_000 });
    } finally {
      try {
        child.kill("SIGKILL");
      } catch {
        // Killed already.
      }
      await child.stdin.close().catch(() => {});
      await child.status;
    }
  },
);
