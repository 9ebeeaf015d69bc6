// The daemon serves its kit over WebRTC: a Deno peer connects through the
// signaling route mounted on the API port (with the daemon's token), streams
// a file and a range of it, verified block by block, and /metrics counts the
// streams and bytes, after the connections closed too. Without the token,
// the route refuses the peer; the token in the query (as browsers send it)
// is taken. (A module of its own process: it loads
// node-datachannel; see tools/run_tests.ts.)

import assert from "node:assert/strict";
import { Daemon } from "../kit/daemon.ts";
import { WEBRTC_SIGNALING_PATH, webrtcExtension } from "../kit/webrtc_extension.ts";
import { testEachStrategy } from "../runtime/testing.ts";
import { connectWebRtc, SignalingError } from "../webrtc/mod.ts";
import { eventually, rejection } from "./_async.ts";
import { readAll, seededBytes } from "./_bytes.ts";
import { withTempDir } from "./_files.ts";
import { sha256Hex } from "./_webrtc.ts";

const TOKEN = "webrtc-daemon-token-0123456789";
const LEAF = 256 * 1024;

/** The value of one sample of `/metrics`. */
function sample(metrics: string, line: string): number {
  const found = metrics.split("\n").find((candidate) => candidate.startsWith(`${line} `));
  assert.ok(found !== undefined, `no ${line} in /metrics`);
  return Number(found.slice(line.length + 1));
}

testEachStrategy(
  "daemon WebRTC: a Deno peer streams a CID through the mounted signaling, verified; metrics count it",
  async () => {
    await withTempDir(async (repo) => {
      await using daemon = await Daemon.start({
        repo,
        port: 0,
        gatewayPort: 0,
        token: TOKEN,
        extensions: [webrtcExtension({ bindAddress: "127.0.0.1" })],
      });
      assert.ok(daemon.features.includes("webrtc"));
      const data = seededBytes(3 * LEAF + 4321, 12);
      const { cid } = await daemon.kit.add(data, { cidVersion: 1 });
      const url = `${daemon.apiUrl.replace(/^http/, "ws")}${WEBRTC_SIGNALING_PATH}`;

      // No token: the upgrade is refused before any session.
      const refused = await rejection(connectWebRtc(url, { bindAddress: "127.0.0.1" }));
      assert.ok(refused instanceof SignalingError, String(refused));

      {
        await using connection = await connectWebRtc(url, {
          token: TOKEN,
          bindAddress: "127.0.0.1",
        });
        assert.equal(sha256Hex(await readAll(connection.open(cid))), sha256Hex(data));
        const range = { offset: LEAF - 10, length: LEAF + 20 };
        const part = await readAll(connection.open(cid, range));
        assert.equal(
          sha256Hex(part),
          sha256Hex(data.subarray(range.offset, range.offset + range.length)),
        );
        const stats = connection.stats();
        assert.equal(stats.blocksRefused, 0);
        // The root and 4 leaves, then the root and the 3 leaves the range meets.
        assert.equal(stats.blocksVerified, 9);
      }

      // The token as a browser's WebSocket sends it: in the query.
      {
        await using connection = await connectWebRtc(`${url}?token=${TOKEN}`, {
          bindAddress: "127.0.0.1",
        });
        const head = await readAll(connection.open(cid, { length: 100 }));
        assert.deepEqual(head, data.subarray(0, 100));
      }

      // The daemon's side ends once it hears the peers closed; what they did stays counted.
      await eventually(
        () => sample(daemon.metrics(), "ipfs_kit_webrtc_connections") === 0,
        "the daemon's connections ended",
        { limitMs: 10_000 },
      );
      const metrics = daemon.metrics();
      assert.equal(sample(metrics, 'ipfs_kit_webrtc_connections_total{outcome="opened"}'), 2);
      assert.equal(sample(metrics, 'ipfs_kit_webrtc_streams_total{outcome="opened"}'), 3);
      // 9 blocks for the first connection, the root and the first leaf for the second.
      assert.equal(sample(metrics, 'ipfs_kit_webrtc_blocks_total{direction="sent"}'), 11);
      assert.ok(sample(metrics, 'ipfs_kit_webrtc_bytes_total{direction="sent"}') > data.length);
      assert.equal(sample(metrics, "ipfs_kit_webrtc_verification_failures_total"), 0);
      const scraped = await fetch(`${daemon.apiUrl}/metrics`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      assert.match(
        await scraped.text(),
        /^ipfs_kit_http_requests_total\{.*route="webrtc".*\} \d+$/m,
      );
    });
  },
);
