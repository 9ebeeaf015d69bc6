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
import { Daemon, type DaemonExtensionFactory, type DaemonOptions } from "./daemon.ts";
import { DISCOVERY_PATH, discoveryExtension } from "./discovery_extension.ts";
import type { Libp2pNetworkOptions } from "../net/libp2p_network.ts";
import { PEER_ROLES, type PeerRole } from "../net/peer_info.ts";
import { WEBRTC_SIGNALING_PATH, webrtcExtension } from "./webrtc_extension.ts";
import { type OptionValues, UsageError } from "./_cli_args.ts";
import type { Command } from "./_cli_command.ts";

/** The environment variable that holds the API token, for the daemon and the commands that go through it. */
export const TOKEN_ENV = "IPFS_KIT_API_TOKEN";

/** The environment variable that holds the token of the discovery server `--discover` names. */
export const DISCOVERY_TOKEN_ENV = "IPFS_KIT_DISCOVERY_TOKEN";

/** The swarm address `kit daemon` listens on by default: loopback, Kubo's port. */
export const DEFAULT_LISTEN = "/ip4/127.0.0.1/tcp/4001";

function discoveryTokenFromEnv(): string | undefined {
  try {
    const token = Deno.env.get(DISCOVERY_TOKEN_ENV);
    return token === undefined || token === "" ? undefined : token;
  } catch {
    return undefined;
  }
}

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
  summary:
    "Run the networked node: the RPC API, the gateway, the WAL, discovery, WebRTC and a web page (until Ctrl-C)",
  details: [
    "Runs the embedded node as a libp2p peer (TCP and WebSockets, bitswap, the DHT) on",
    `${DEFAULT_LISTEN} unless told otherwise (--listen; --no-network keeps it offline), with no`,
    "bootstrap peers unless asked (--bootstrap default: Kubo's public list, with the DHT as a client).",
    `Serves peer discovery at ${DISCOVERY_PATH} (--no-discovery: not); --discover <ws-url> announces`,
    "the node to a discovery server (its token in IPFS_KIT_DISCOVERY_TOKEN) and connects to the peers it names.",
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
      name: "no-network",
      kind: "boolean",
      help: "keep the node offline: no libp2p, no swarm, no peer fetches",
    },
    {
      name: "listen",
      kind: "string",
      value: "<multiaddr>",
      repeatable: true,
      help: `the node's swarm address (repeatable; default ${DEFAULT_LISTEN}; ` +
        "0.0.0.0 exposes the node's blocks beyond this machine)",
    },
    {
      name: "bootstrap",
      kind: "string",
      value: "default|<multiaddr>",
      repeatable: true,
      help: "peers dialed at start (repeatable; default none; `default`: Kubo's public list)",
    },
    {
      name: "dht",
      kind: "string",
      value: "lan|wan|client|off",
      choices: ["lan", "wan", "client", "off"],
      help: "the DHT (default lan; client with --bootstrap default)",
    },
    {
      name: "pubsub",
      kind: "boolean",
      help: "run gossipsub (off by default, as in Kubo)",
    },
    {
      name: "no-discovery",
      kind: "boolean",
      help: `serve no peer discovery route (${DISCOVERY_PATH})`,
    },
    {
      name: "discover",
      kind: "string",
      value: "<ws-url>",
      help: "announce the node to this discovery server and connect to the peers it names",
    },
    {
      name: "role",
      kind: "string",
      value: "<role>",
      choices: PEER_ROLES,
      help: "the role the node announces (default worker)",
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
  const network = networkOptions(values);
  if (network !== undefined) options.kit = { network };
  const extensions: DaemonExtensionFactory[] = [];
  const discover = values.discover as string | undefined;
  if (discover !== undefined && network === undefined) {
    throw new UsageError("--discover needs the network: drop --no-network");
  }
  if (values["no-discovery"] !== true || discover !== undefined) {
    const discoveryToken = discoveryTokenFromEnv();
    extensions.push(discoveryExtension({
      server: values["no-discovery"] !== true,
      role: (values.role as PeerRole | undefined) ?? "worker",
      ...(discover === undefined ? {} : {
        connect: {
          url: checkWsUrl(discover),
          ...(discoveryToken === undefined ? {} : { token: discoveryToken }),
        },
      }),
    }));
  }
  if (values["no-webrtc"] !== true) extensions.push(webrtcExtension());
  options.extensions = extensions;

  const daemon = await Daemon.start(options);
  const api = daemon.apiUrl;
  const lines = [
    `ipfs-kit daemon, peer ID ${daemon.peerId}`,
    `Repository: ${daemon.repo}${
      daemon.replacedStaleFiles ? " (replaced the api file a stopped daemon left)" : ""
    }`,
    ...(daemon.features.includes("network")
      ? daemon.swarmAddresses.map((addr, i) => `${i === 0 ? "Swarm:     " : "           "} ${addr}`)
      : ["Swarm:      offline (--no-network)"]),
    ...(network?.listen?.some((addr) => !/^\/(ip4\/127\.|ip6\/::1\/)/.test(addr))
      ? ["            (beyond loopback: peers anywhere can connect and fetch what this node holds)"]
      : []),
    `RPC API:    ${api}/api/v0/  (${daemon.apiMultiaddr}, in ${daemon.repo}/api)`,
    `WAL API:    ${api}/api/v0/wal/  (live feed: ${api.replace(/^http/, "ws")}/api/v0/wal/feed)`,
    `Metrics:    ${api}/metrics`,
    ...(values["no-discovery"] === true
      ? []
      : [`Discovery:  ${api.replace(/^http/, "ws")}${DISCOVERY_PATH}  (peers announce here)`]),
    ...(discover === undefined
      ? []
      : [`Discovers:  through ${discover} as ${(values.role as string | undefined) ?? "worker"}`]),
    ...(daemon.features.includes("webrtc")
      ? [`WebRTC:     ${api.replace(/^http/, "ws")}${WEBRTC_SIGNALING_PATH}  (signaling)`]
      : []),
    `Gateway:    ${daemon.gatewayUrl}/ipfs/<cid>  (in ${daemon.repo}/gateway)`,
    `Web page:   open ${api}/ in a browser${token === undefined ? "" : " (it asks for the token)"}`,
    `Features:   ${
      daemon.features.length === 0 ? "none beyond the above" : daemon.features.join(", ")
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

/**
 * The node's network from the flags: `undefined` with `--no-network`. The
 * default listens on loopback only (the project's rule: nothing beyond this
 * machine unless asked); Kubo's `--listen` is every interface.
 */
function networkOptions(values: OptionValues): Libp2pNetworkOptions | undefined {
  const list = (name: string) =>
    values[name] === undefined
      ? undefined
      : (values[name] as string).split(",").map((item) => item.trim()).filter((item) =>
        item !== ""
      );
  const listen = list("listen");
  const bootstrap = list("bootstrap");
  if (values["no-network"] === true) {
    for (const flag of ["listen", "bootstrap", "dht", "pubsub"]) {
      if (values[flag] !== undefined) {
        throw new UsageError(`--${flag} sets up the network: it cannot go with --no-network`);
      }
    }
    return undefined;
  }
  const publicBootstrap = bootstrap?.includes("default") === true;
  if (publicBootstrap && bootstrap!.length > 1) {
    throw new UsageError("--bootstrap default cannot be mixed with addresses of your own");
  }
  const dht = (values.dht as string | undefined) ?? (publicBootstrap ? "client" : "lan");
  return {
    listen: listen ?? [DEFAULT_LISTEN],
    bootstrap: publicBootstrap ? "default" : bootstrap ?? [],
    dht: dht === "off" ? false : dht as "lan" | "wan" | "client",
    pubsub: values.pubsub === true,
  };
}

function checkWsUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--discover must be a ws: or wss: URL: received ${JSON.stringify(text)}`);
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new UsageError(`--discover must be a ws: or wss: URL: received ${url.protocol}`);
  }
  return url.href;
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
