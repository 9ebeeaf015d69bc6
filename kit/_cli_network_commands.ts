/**
 * The command line's network commands, as Kubo's: `swarm peers|connect|
 * disconnect`, `routing findprovs|findpeer`, `name publish|resolve`,
 * `pubsub pub|sub|ls`. They work against a Kubo daemon (`--api`) and
 * through a running kit daemon; the embedded node without a network
 * answers them with its one-line `NotSupportedError`.
 *
 * Output follows Kubo's command line: `swarm peers` prints
 * `<addr>/p2p/<peer>` lines, `swarm connect` prints `connect <peer>
 * success`, `name publish` prints `Published to <name>: <path>`, `pubsub
 * sub` writes each message's data as it arrives (a newline added where the
 * data has none) until Ctrl-C.
 *
 * @module
 */

import type { Command } from "./_cli_command.ts";
import { UsageError } from "./_cli_args.ts";

const MAX_PUBSUB_MESSAGE = 1024 * 1024;

/** The peer ID at the end of a multiaddress (`.../p2p/<id>`), or the address itself. */
function peerOf(addr: string): string {
  const match = /\/(?:p2p|ipfs)\/([^/]+)$/.exec(addr);
  return match === null ? addr : match[1];
}

const swarmPeers: Command = {
  repository: "read",
  name: "swarm peers",
  args: "",
  summary: "List the peers the node is connected to",
  minArgs: 0,
  maxArgs: 0,
  options: [],
  async run({ kit, json, signal, out }) {
    const peers = await kit.swarm.peers({ signal });
    if (json) {
      await out.json({ Peers: peers.map((p) => ({ Peer: p.peer, Addr: p.addr })) });
      return;
    }
    for (const { peer, addr } of peers) await out.line(`${addr}/p2p/${peer}`);
  },
};

function swarmChange(action: "connect" | "disconnect"): Command {
  return {
    repository: "read",
    name: `swarm ${action}`,
    args: "<address>...",
    summary: action === "connect"
      ? "Open a connection to a peer (a multiaddress ending in /p2p/<peer-id>)"
      : "Close the connections to a peer (a multiaddress ending in /p2p/<peer-id>)",
    minArgs: 1,
    maxArgs: Infinity,
    options: [],
    async run({ kit, args, json, signal, out }) {
      const done: string[] = [];
      for (const addr of args) {
        await kit.swarm[action](addr, { signal });
        done.push(`${action} ${peerOf(addr)} success`);
      }
      if (json) await out.json({ Strings: done });
      else for (const line of done) await out.line(line);
    },
  };
}

const routingFindprovs: Command = {
  repository: "read",
  name: "routing findprovs",
  args: "<cid>",
  summary: "Find the peers that provide a CID",
  minArgs: 1,
  maxArgs: 1,
  options: [
    {
      name: "num-providers",
      short: "n",
      kind: "integer",
      value: "<n>",
      help: "stop after this many providers (default 20)",
    },
  ],
  async run({ kit, args, values, json, signal, out }) {
    const numProviders = values["num-providers"] as number | undefined;
    if (numProviders !== undefined && numProviders < 1) {
      throw new UsageError(`--num-providers must be at least 1: received ${numProviders}`);
    }
    const peers = await kit.routing.findProvs(args[0], {
      signal,
      ...(numProviders === undefined ? {} : { numProviders }),
    });
    if (json) {
      await out.json(peers.map((p) => ({ ID: p.id, Addrs: p.addrs })));
      return;
    }
    for (const peer of peers) await out.line(peer.id);
  },
};

const routingFindpeer: Command = {
  repository: "read",
  name: "routing findpeer",
  args: "<peer-id>",
  summary: "Find a peer's addresses",
  minArgs: 1,
  maxArgs: 1,
  options: [],
  async run({ kit, args, json, signal, out }) {
    const peer = await kit.routing.findPeer(args[0], { signal });
    if (json) {
      await out.json({ ID: peer.id, Addrs: peer.addrs });
      return;
    }
    for (const addr of peer.addrs) await out.line(addr);
  },
};

const namePublish: Command = {
  repository: "read",
  name: "name publish",
  args: "<path>",
  summary: "Publish a path (/ipfs/<cid> or a CID) under the node's IPNS name",
  minArgs: 1,
  maxArgs: 1,
  options: [
    { name: "key", short: "k", kind: "string", value: "<name>", help: "the key (default self)" },
    { name: "lifetime", kind: "string", value: "<duration>", help: "record lifetime (24h)" },
    { name: "ttl", kind: "string", value: "<duration>", help: "how long it may be cached" },
    { name: "allow-offline", kind: "boolean", help: "publish without a network" },
  ],
  async run({ kit, args, values, json, signal, out }) {
    const result = await kit.name.publish(args[0], {
      signal,
      ...(values.key === undefined ? {} : { key: values.key as string }),
      ...(values.lifetime === undefined ? {} : { lifetime: values.lifetime as string }),
      ...(values.ttl === undefined ? {} : { ttl: values.ttl as string }),
      ...(values["allow-offline"] === undefined
        ? {}
        : { allowOffline: values["allow-offline"] as boolean }),
    });
    if (json) await out.json({ Name: result.name, Value: result.value });
    else await out.line(`Published to ${result.name}: ${result.value}`);
  },
};

const nameResolve: Command = {
  repository: "read",
  name: "name resolve",
  args: "<name>",
  summary: "Resolve an IPNS name (/ipns/<name> or the bare name) to the path it points to",
  minArgs: 1,
  maxArgs: 1,
  options: [
    {
      name: "recursive",
      short: "r",
      kind: "boolean",
      help: "resolve until the result is not an IPNS name (default true)",
    },
    { name: "nocache", short: "n", kind: "boolean", help: "do not use cached entries" },
  ],
  async run({ kit, args, values, json, signal, out }) {
    const path = await kit.name.resolve(args[0], {
      signal,
      ...(values.recursive === undefined ? {} : { recursive: values.recursive as boolean }),
      ...(values.nocache === undefined ? {} : { nocache: values.nocache as boolean }),
    });
    if (json) await out.json({ Path: path });
    else await out.line(path);
  },
};

const pubsubPub: Command = {
  repository: "read",
  name: "pubsub pub",
  args: "<topic> [<data-file>]",
  summary: "Publish a message on a topic: the file's bytes, or standard input's",
  details: "A message is at most 1 MiB.",
  minArgs: 1,
  maxArgs: 2,
  options: [],
  async run({ kit, args, signal }) {
    const [topic, file] = args;
    if (file === undefined && Deno.stdin.isTerminal()) {
      throw new UsageError("pubsub pub needs <data-file> or the message on standard input");
    }
    const data = file === undefined || file === "-"
      ? await readBounded(Deno.stdin.readable, signal)
      : await readFile(file);
    await kit.pubsub.publish(topic, data, { signal });
  },
};

async function readFile(path: string): Promise<Uint8Array> {
  const info = await Deno.stat(path);
  if (info.size > MAX_PUBSUB_MESSAGE) {
    throw new UsageError(
      `Cannot publish: ${path} is ${info.size} bytes, limit ${MAX_PUBSUB_MESSAGE}`,
    );
  }
  return await Deno.readFile(path);
}

async function readBounded(
  stream: ReadableStream<Uint8Array>,
  signal: AbortSignal,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  const cancel = () => void reader.cancel().catch(() => {});
  signal.addEventListener("abort", cancel, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      signal.throwIfAborted();
      if (done) break;
      total += value.length;
      if (total > MAX_PUBSUB_MESSAGE) {
        throw new UsageError(`Cannot publish: the message passes ${MAX_PUBSUB_MESSAGE} bytes`);
      }
      parts.push(value);
    }
  } finally {
    signal.removeEventListener("abort", cancel);
    reader.releaseLock();
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}

const pubsubSub: Command = {
  repository: "read",
  name: "pubsub sub",
  args: "<topic>",
  summary: "Print the messages of a topic as they arrive, until Ctrl-C",
  details: "Each message's data, a newline added where it has none; --json: one object a line.",
  minArgs: 1,
  maxArgs: 1,
  options: [],
  async run({ kit, args, json, signal, out }) {
    const messages = kit.pubsub.subscribe(args[0], { signal });
    const decoder = new TextDecoder();
    for await (const message of messages) {
      if (json) {
        await out.json({
          from: message.from,
          topic: message.topic,
          data: btoa(String.fromCharCode(...message.data)),
          ...(message.sequenceNumber === undefined
            ? {}
            : { seqno: message.sequenceNumber.toString() }),
        });
      } else {
        const text = decoder.decode(message.data);
        await out.line(text.endsWith("\n") ? text.slice(0, -1) : text);
      }
    }
  },
};

const pubsubLs: Command = {
  repository: "read",
  name: "pubsub ls",
  args: "",
  summary: "List the topics the node is subscribed to",
  minArgs: 0,
  maxArgs: 0,
  options: [],
  async run({ kit, json, signal, out }) {
    const topics = await kit.pubsub.ls({ signal });
    if (json) await out.json({ Strings: topics });
    else for (const topic of topics) await out.line(topic);
  },
};

/** The network commands, in the order the help lists them. */
export const NETWORK_COMMANDS: readonly Command[] = [
  swarmPeers,
  swarmChange("connect"),
  swarmChange("disconnect"),
  routingFindprovs,
  routingFindpeer,
  namePublish,
  nameResolve,
  pubsubPub,
  pubsubSub,
  pubsubLs,
];
