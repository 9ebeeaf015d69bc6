/**
 * `deno task quickstart`: a quick start on the embedded IPFS node, with no daemon
 * and no set-up.
 *
 * Opens a kit on the repository in the per-user data folder (the one
 * `deno task kit` uses), adds a small generated file, reads it back and
 * checks it, then prints its CID and the commands to try next. Pass `--temp`
 * to use a temporary repository, removed at the end.
 *
 * @module
 */

import { Kit } from "../kit/kit.ts";

const temp = Deno.args.includes("--temp");
const unknown = Deno.args.filter((arg) => arg !== "--temp");
if (unknown.length > 0) {
  console.error(`error: unknown argument ${JSON.stringify(unknown[0])} (only --temp is known)`);
  Deno.exit(2);
}

try {
  await quickStart();
} catch (error) {
  console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
  Deno.exit(1);
}

async function quickStart(): Promise<void> {
  const repo = temp
    ? await Deno.makeTempDir({ prefix: "ipfs-kit-quick-start-" })
    : Kit.defaultRepo();
  const scratch = await Deno.makeTempDir({ prefix: "ipfs-kit-quick-start-file-" });
  let cid: string;
  try {
    console.log("ipfs-kit quick start: the embedded IPFS node, no daemon\n");
    console.log(`repository: ${repo}${temp ? " (temporary)" : ""}`);
    await using kit = await Kit.open({ repo });

    // 1. A small generated file, added from disk as `deno task kit add` does.
    const file = `${scratch}/hello-ipfs-kit.txt`;
    const content = generate();
    await Deno.writeTextFile(file, content);
    const started = performance.now();
    const root = (await kit.addPath(file)).at(-1)!;
    cid = root.cid.toString();
    const bytes = new TextEncoder().encode(content);
    console.log(
      `1. added ${root.path} (${bytes.length} bytes) in ${
        (performance.now() - started).toFixed(1)
      } ms and pinned it`,
    );
    console.log(`   CID: ${cid}`);

    // 2. Read it back by its CID and check every byte.
    const back = new Uint8Array(await new Response(kit.cat(root.cid)).arrayBuffer());
    if (back.length !== bytes.length || back.some((byte, i) => byte !== bytes[i])) {
      throw new Error(`Cannot verify ${cid}: the bytes read back differ from those added`);
    }
    console.log(`2. read it back: ${back.length} bytes, identical to the file`);

    // 3. What the node knows about it.
    const stat = await kit.stat(root.cid);
    console.log(
      `3. stat: a ${stat.type} of ${stat.size} bytes, ${stat.cumulativeSize} with its UnixFS ` +
        "encoding\n   (the same CID as Kubo's `ipfs add` of the same bytes)",
    );
  } finally {
    await Deno.remove(scratch, { recursive: true });
    if (temp) await Deno.remove(repo, { recursive: true });
  }

  console.log(`\nNext, on the same repository:`);
  const next: Array<[string, string]> = [
    [`deno task kit cat ${cid}`, "print the file"],
    [`deno task kit stat ${cid}`, "its type and sizes"],
    ["deno task kit add <path>", "add a file or a directory"],
    ["deno task kit ls <cid>", "list a directory"],
    ["deno task kit get <cid> -o <path>", "save it to disk"],
    ["deno task kit pin ls", "what gc keeps"],
    ["deno task kit --help", "every command; --api <url> for a daemon"],
    ["deno task start", "run the daemon: RPC API, gateway, web page"],
  ];
  const width = Math.max(...next.map(([command]) => command.length));
  for (const [command, what] of next) console.log(`  ${command.padEnd(width)}  # ${what}`);
  if (temp) {
    console.log(
      `\n(--temp: that repository was removed; run without --temp to keep the file in ${safeDefaultRepo()})`,
    );
  }
}

/** A small text file: a greeting and a multiplication table, the same every run. */
function generate(): string {
  const lines = ["Hello from ipfs-kit!", "", "A multiplication table, content-addressed:", ""];
  for (let row = 1; row <= 12; row++) {
    const cells = [];
    for (let column = 1; column <= 12; column++) cells.push(String(row * column).padStart(4));
    lines.push(cells.join(""));
  }
  return `${lines.join("\n")}\n`;
}

function safeDefaultRepo(): string {
  try {
    return Kit.defaultRepo();
  } catch {
    return "the per-user data folder";
  }
}
