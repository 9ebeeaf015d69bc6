/**
 * The command line's `daemon` command (`deno task start`): runs a
 * {@linkcode Daemon} on the repository until Ctrl-C or SIGTERM, printing
 * where everything listens. The API token, when the RPC API must listen
 * beyond this machine, comes from `IPFS_KIT_API_TOKEN` (never from the
 * command line, where other users could read it).
 *
 * @module
 */

import { Kit } from "./kit.ts";
import { Daemon, type DaemonOptions } from "./daemon.ts";
import { WEBRTC_SIGNALING_PATH, webrtcExtension } from "./webrtc_extension.ts";
import { type OptionValues, UsageError } from "./_cli_args.ts";
import type { Command } from "./_cli_command.ts";

/** The environment variable that holds the API token, for the daemon and the commands that go through it. */
export const TOKEN_ENV = "IPFS_KIT_API_TOKEN";

/** The API token from the environment, if set. */
export function tokenFromEnv(): string | undefined {
  try {
    const token = Deno.env.get(TOKEN_ENV);
    return token === undefined || token === "" ? undefined : token;
  } catch {
    return undefined;
  }
}

const encoder = new TextEncoder();

/** `kit daemon`. */
export const DAEMON_COMMAND: Command = {
  name: "daemon",
  args: "",
  summary: "Run the node: the RPC API, the gateway, the WAL, WebRTC and a web page (until Ctrl-C)",
  details: [
    "Serves Kubo's RPC API, the WAL API and feed, WebRTC signaling (verified content streams",
    `to browsers and Deno peers, at ${WEBRTC_SIGNALING_PATH}), /metrics and a web page on`,
    "the API port, and a read-only gateway on its own port. Writes the RPC API's address to <repo>/api and",
    "the gateway's URL to <repo>/gateway while it runs; other kit commands given the same",
    "repository go through it. Loopback only unless IPFS_KIT_API_TOKEN holds a token (16 to",
    "1024 visible ASCII characters), which every request to the API port must then carry.",
  ].join("\n"),
  minArgs: 0,
  maxArgs: 0,
  local: "the daemon opens the repository itself",
  options: [
    {
      name: "port",
      kind: "integer",
      value: "<port>",
      help: "the API port (default 5001; 0: a free one)",
    },
    {
      name: "gateway-port",
      kind: "integer",
      value: "<port>",
      help: "the gateway's port (default 8080; 0: a free one)",
    },
    {
      name: "host",
      kind: "string",
      value: "<address>",
      help: "the API port's address (default 127.0.0.1; others need IPFS_KIT_API_TOKEN)",
    },
    {
      name: "gateway-host",
      kind: "string",
      value: "<address>",
      help: "the gateway's address (default 127.0.0.1; it is read-only and public)",
    },
    {
      name: "allow-origin",
      kind: "string",
      value: "<origins>",
      help: "browser origins allowed to call the API (comma-separated; default none)",
    },
    {
      name: "no-webrtc",
      kind: "boolean",
      help: "serve no WebRTC signaling (no node-datachannel, no --allow-ffi needed)",
    },
  ],
  main: runDaemon,
};

async function runDaemon(values: OptionValues, signal: AbortSignal): Promise<number> {
  const options: DaemonOptions = { signal };
  options.repo = (values.repo as string | undefined) ?? Kit.defaultRepo();
  if (values.port !== undefined) options.port = checkPort("--port", values.port as number);
  if (values["gateway-port"] !== undefined) {
    options.gatewayPort = checkPort("--gateway-port", values["gateway-port"] as number);
  }
  if (values.host !== undefined) options.hostname = values.host as string;
  if (values["gateway-host"] !== undefined) {
    options.gatewayHostname = values["gateway-host"] as string;
  }
  if (values["allow-origin"] !== undefined) {
    options.allowedOrigins = (values["allow-origin"] as string).split(",").map((o) => o.trim())
      .filter((origin) => origin !== "");
  }
  const token = tokenFromEnv();
  if (token !== undefined) options.token = token;
  if (values["no-webrtc"] !== true) options.extensions = [webrtcExtension()];

  const daemon = await Daemon.start(options);
  const api = daemon.apiUrl;
  const lines = [
    `ipfs-kit daemon, peer ID ${daemon.peerId}`,
    `Repository: ${daemon.repo}${
      daemon.replacedStaleFiles ? " (replaced the api file a stopped daemon left)" : ""
    }`,
    `RPC API:    ${api}/api/v0/  (${daemon.apiMultiaddr}, in ${daemon.repo}/api)`,
    `WAL API:    ${api}/api/v0/wal/  (live feed: ${api.replace(/^http/, "ws")}/api/v0/wal/feed)`,
    `Metrics:    ${api}/metrics`,
    ...(daemon.features.includes("webrtc")
      ? [`WebRTC:     ${api.replace(/^http/, "ws")}${WEBRTC_SIGNALING_PATH}  (signaling)`]
      : []),
    `Gateway:    ${daemon.gatewayUrl}/ipfs/<cid>  (in ${daemon.repo}/gateway)`,
    `Web page:   open ${api}/ in a browser${token === undefined ? "" : " (it asks for the token)"}`,
    `Features:   ${
      daemon.features.length === 0
        ? "none beyond the above (no network yet)"
        : daemon.features.join(", ")
    }`,
    "Daemon is ready: Ctrl-C or SIGTERM stops it",
  ];
  await write(lines.join("\n") + "\n");
  const stopping = () => void write("Stopping: requests in flight get a few seconds to finish\n");
  signal.addEventListener("abort", stopping, { once: true });
  try {
    await daemon.finished;
  } finally {
    signal.removeEventListener("abort", stopping);
  }
  await write("Daemon stopped\n");
  return 0;
}

function checkPort(flag: string, port: number): number {
  if (port > 65535) {
    throw new UsageError(`${flag} must be a port from 0 to 65535: received ${port}`);
  }
  return port;
}

async function write(text: string): Promise<void> {
  const bytes = encoder.encode(text);
  try {
    for (let at = 0; at < bytes.length;) at += await Deno.stdout.write(bytes.subarray(at));
  } catch {
    // Nobody reads our output any more: carry on serving.
  }
}
