// The network commands (swarm, routing, name, pubsub, id) of the `kit`
// command line, as real subprocesses: against the Kubo-compatible daemon
// (js-ipfs in CI: offline, no swarm listeners, so it answers id, an empty
// swarm, pubsub on one node, and errors for IPNS and routing), through the
// kit's own daemon (its repository's `api` file), and on the embedded node,
// which has no network and says so in one line.

import assert from "node:assert/strict";
import { CLI, kit, KIT_PERMISSIONS, ok, oneLineError, ROOT } from "../tests/_cli.ts";
import { type KuboTarget, kuboTargets, sharedKitDaemon } from "../tests/_kubo_targets.ts";
import { sleep } from "../runtime/sleep.ts";
import { failAfter } from "../runtime/timeouts.ts";

const targets = await kuboTargets();
const PEER = "12D3KooWQsp3wviScPSDQRpb4X27FMLNATzBf3tqEYGjnZFh3AHw";
const CID = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o";

/** How the CLI reaches a target: `--api` for Kubo, the repository for the kit's daemon. */
async function reach(target: KuboTarget): Promise<string[]> {
  if (target.kind === "kit") return ["--repo", (await sharedKitDaemon()).repo];
  return ["--api", target.url];
}

for (const target of targets) {
  Deno.test({
    name: `cli network [${target.label}]: id shows the addresses; swarm peers answers`,
    ignore: target.ignore,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const via = await reach(target);
      const id = ok(await kit([...via, "id"])).text;
      assert.match(id, /^ID: \S+\nPublicKey: \S+\nAgentVersion: \S+\nAddresses: .+\n$/);
      const json = JSON.parse(ok(await kit([...via, "id", "--json"])).text);
      assert(Array.isArray(json.addresses));
      const peers = await kit([...via, "swarm", "peers"]);
      if (target.kind === "kit") {
        // The daemon's node has no network: the daemon's answer, in one line.
        oneLineError(peers, 1, /swarm peers.*not supported|no network/i);
      } else {
        // js-ipfs runs with no swarm listeners and no bootstrap: no peers.
        assert.equal(ok(peers).text, "");
        assert.deepEqual(JSON.parse(ok(await kit([...via, "swarm", "peers", "--json"])).text), {
          Peers: [],
        });
      }
    },
  });

  Deno.test({
    name: `cli network [${target.label}]: routing and IPNS errors are one clear line`,
    ignore: target.ignore,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const via = [...await reach(target), "--timeout", "20s"];
      oneLineError(
        await kit([...via, "routing", "findprovs", CID]),
        1,
        /Cannot find providers|not supported/,
      );
      oneLineError(
        await kit([...via, "routing", "findpeer", PEER]),
        1,
        /Cannot find peer|not supported/,
      );
      oneLineError(
        await kit([...via, "name", "resolve", `/ipns/${PEER}`]),
        1,
        /Cannot resolve name|not supported/,
      );
      // A usage error is told apart (exit 2).
      oneLineError(await kit([...via, "swarm", "connect"]), 2, /swarm connect/);
    },
  });

  Deno.test({
    name: `cli network [${target.label}]: pubsub sub streams what pubsub pub sends, until Ctrl-C`,
    ignore: target.ignore,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const via = await reach(target);
      const topic = `cli-test-${crypto.randomUUID()}`;
      if (target.kind === "kit") {
        oneLineError(
          await kit([...via, "pubsub", "pub", topic], { stdin: new TextEncoder().encode("x") }),
          1,
          /not supported/,
        );
        oneLineError(await kit([...via, "pubsub", "ls"]), 1, /not supported/);
        return;
      }
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", ...KIT_PERMISSIONS, CLI, ...via, "pubsub", "sub", topic],
        cwd: ROOT,
        env: { NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const stderr = new Response(child.stderr).text();
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      try {
        // Subscribed once pubsub ls lists the topic.
        await failAfter(60_000, async () => {
          while (!ok(await kit([...via, "pubsub", "ls"])).text.split("\n").includes(topic)) {
            await sleep(200);
          }
        });
        ok(await kit([...via, "pubsub", "pub", topic], { stdin: new TextEncoder().encode("one") }));
        ok(
          await kit([...via, "pubsub", "pub", topic], { stdin: new TextEncoder().encode("two\n") }),
        );
        await failAfter(60_000, async () => {
          while (!seen.includes("two\n")) {
            const { done, value } = await reader.read();
            if (done) break;
            seen += value;
          }
        });
        assert.equal(seen, "one\ntwo\n");
      } finally {
        child.kill("SIGINT");
        await reader.cancel().catch(() => {});
      }
      const status = await child.status;
      assert.equal(status.code, 130, await stderr);
    },
  });
}

Deno.test("cli network: the embedded node without a network refuses each command in one line", async () => {
  const repo = await Deno.makeTempDir();
  try {
    ok(await kit(["--repo", repo, "init"]));
    const commands = [
      ["swarm", "peers"],
      ["swarm", "connect", `/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`],
      ["swarm", "disconnect", `/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`],
      ["routing", "findprovs", CID],
      ["routing", "findpeer", PEER],
      ["name", "publish", CID],
      ["name", "resolve", PEER],
      ["pubsub", "ls"],
      ["pubsub", "sub", "topic"],
    ];
    for (const command of commands) {
      oneLineError(
        await kit(["--repo", repo, ...command]),
        1,
        new RegExp(
          `Cannot ${command[0]} .*not supported by the embedded node \\(it has no network\\)`,
        ),
      );
    }
    oneLineError(
      await kit(["--repo", repo, "pubsub", "pub", "topic"], {
        stdin: new TextEncoder().encode("hi"),
      }),
      1,
      /not supported by the embedded node/,
    );
    assert.match(ok(await kit(["--repo", repo, "id"])).text, /Addresses: \(none\)/);
  } finally {
    await Deno.remove(repo, { recursive: true });
  }
});
