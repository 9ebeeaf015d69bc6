/**
 * The `kit` command line, run as a real subprocess with the permissions of
 * the `deno task kit` line, on temporary repositories; `--api` against a
 * daemon when `IPFS_KIT_KUBO_API` names one (see `tests/_services.ts`).
 */

import assert from "node:assert/strict";
import { sleep } from "../runtime/sleep.ts";
import { CID } from "npm:multiformats@14.0.5/cid";
import { sha256 } from "npm:multiformats@14.0.5/hashes/sha2";
import * as dagPb from "npm:@ipld/dag-pb@4.2.0";
import { UnixFS } from "npm:ipfs-unixfs@13.1.1";
import { probeKubo, requireService } from "../tests/_services.ts";
import { EmbeddedNode } from "../ipfs/embedded_node.ts";
import { parseCommandLine, UsageError } from "./_cli_args.ts";
import { COMMANDS, GLOBAL_OPTIONS } from "./_cli_commands.ts";
import { formatBytes, ProgressBar } from "./_progress.ts";
import { randomBytes } from "../tests/_bytes.ts";
import { withTempDir } from "../tests/_files.ts";
import { withNode } from "../tests/_node.ts";
import { CLI, kit, KIT_PERMISSIONS, ok, oneLineError, ROOT, runDeno } from "../tests/_cli.ts";

const kubo = await requireService("kubo", probeKubo);

const decoder = new TextDecoder();

/** The `added <cid> <name>` lines of an add, as [cid, name] pairs. */
function addedLines(text: string): Array<[string, string]> {
  return text.trimEnd().split("\n").map((line) => {
    const match = /^added (\S+) (.+)$/.exec(line);
    assert.ok(match, `not an added line: ${JSON.stringify(line)}`);
    return [match[1], match[2]];
  });
}

/** The CID the embedded node gives the bytes, computed in this process. */
async function expectedCid(bytes: Uint8Array, cidVersion: 0 | 1 = 0): Promise<string> {
  return await withNode(async (node) => (await node.add(bytes, { cidVersion })).cid.toString());
}

/** The multihash of a CID string, to compare CIDs across versions and codecs. */
function multihash(cid: string): string {
  return CID.parse(cid).multihash.bytes.join();
}

Deno.test("cli: add then cat gives back the same bytes", async () => {
  await withTempDir(async (dir) => {
    const repo = `${dir}/repo`;
    const bytes = randomBytes(2 * 1024 * 1024 + 12_345);
    await Deno.writeFile(`${dir}/data.bin`, bytes);
    const added = ok(await kit(["add", `${dir}/data.bin`], { repo }));
    const [[cid, name]] = addedLines(added.text);
    assert.equal(name, "data.bin");
    assert.equal(cid, await expectedCid(bytes));
    assert.equal(added.stderr, "", "no progress bar when standard error is not a terminal");
    const cat = ok(await kit(["cat", cid], { repo }));
    assert.deepEqual(cat.stdout, bytes);
    // A range, and a path given as /ipfs/<cid>.
    const range = ok(
      await kit(["cat", "--offset", "1000", "--length=300000", `/ipfs/${cid}`], {
        repo,
      }),
    );
    assert.deepEqual(range.stdout, bytes.subarray(1000, 301_000));
  });
});

Deno.test("cli: add options: --cid-version 1, --raw-leaves, -Q, --json, standard input", async () => {
  await withTempDir(async (dir) => {
    const repo = `${dir}/repo`;
    const bytes = randomBytes(600_000);
    await Deno.writeFile(`${dir}/f.bin`, bytes);
    const v1 = ok(await kit(["add", "--cid-version", "1", "-Q", `${dir}/f.bin`], { repo }));
    assert.equal(v1.text, `${await expectedCid(bytes, 1)}\n`);
    const json = ok(await kit(["add", "--json", "--raw-leaves=false", `${dir}/f.bin`], { repo }));
    const results = JSON.parse(json.text) as Array<{ path: string; cid: string; size: number }>;
    assert.equal(results.length, 1);
    assert.equal(results[0].path, "f.bin");
    assert.equal(results[0].cid, await expectedCid(bytes));
    assert.ok(results[0].size > bytes.length);
    // Without a path, content comes on standard input; Kubo names it by its CID.
    const piped = ok(await kit(["add"], { repo, stdin: bytes }));
    const [[cid, name]] = addedLines(piped.text);
    assert.equal(cid, results[0].cid);
    assert.equal(name, cid);
    // -w wraps the file in a directory, printed last and without a name, as Kubo does.
    const wrapped = ok(await kit(["add", "-w", `${dir}/f.bin`], { repo })).text.split("\n");
    assert.equal(wrapped[0], `added ${results[0].cid} f.bin`);
    assert.match(wrapped[1], /^added Qm\w+$/);
    const listed = ok(await kit(["ls", wrapped[1].slice("added ".length)], { repo })).text;
    assert.equal(listed, `${results[0].cid} ${bytes.length} f.bin\n`);
    const dash = ok(await kit(["add", "-q", "-"], { repo, stdin: new Uint8Array([1, 2, 3]) }));
    assert.equal(dash.text, `${await expectedCid(new Uint8Array([1, 2, 3]))}\n`);
  });
});

Deno.test("cli: a directory: add (recursive), ls, stat and get", async () => {
  await withTempDir(async (dir) => {
    const repo = `${dir}/repo`;
    const tree = `${dir}/site`;
    await Deno.mkdir(`${tree}/img/icons`, { recursive: true });
    await Deno.mkdir(`${tree}/empty`);
    const files: Record<string, Uint8Array> = {
      "index.html": new TextEncoder().encode("<h1>hi</h1>\n"),
      "img/photo.bin": randomBytes(400_000),
      "img/icons/a.bin": randomBytes(10),
    };
    for (const [path, bytes] of Object.entries(files)) {
      await Deno.writeFile(`${tree}/${path}`, bytes);
    }
    await Deno.writeTextFile(`${tree}/.secret`, "hidden files are left out by default");

    const added = addedLines(ok(await kit(["add", tree], { repo })).text);
    const byName = new Map(added.map(([cid, name]) => [name, cid]));
    assert.equal(added.at(-1)![1], "site", "the root comes last");
    for (const name of ["site/index.html", "site/img/photo.bin", "site/img/icons", "site/empty"]) {
      assert.ok(byName.has(name), `${name} in ${JSON.stringify(added)}`);
    }
    assert.ok(!byName.has("site/.secret"));
    const root = byName.get("site")!;

    const ls = ok(await kit(["ls", root], { repo })).text.trimEnd().split("\n");
    assert.deepEqual(ls.map((line) => line.split(" ").slice(1).join(" ")), [
      "- empty/",
      "- img/",
      `${files["index.html"].length} index.html`,
    ]);
    assert.equal(ls[1].split(" ")[0], byName.get("site/img"));
    const lsJson = JSON.parse(ok(await kit(["ls", "--json", `${root}/img`], { repo })).text);
    assert.deepEqual(
      lsJson.map((entry: { name: string; type: string; size: number }) =>
        `${entry.name}:${entry.type}:${entry.size}`
      ),
      ["icons:directory:0", "photo.bin:file:400000"],
    );

    const stat = ok(await kit(["stat", `${root}/img/photo.bin`], { repo })).text;
    assert.match(stat, new RegExp(`^${byName.get("site/img/photo.bin")}\nSize: 400000\n`));
    assert.match(stat, /\nType: file\n$/);

    // get -o, and get without -o (named after the last name of the path, in the working folder).
    const out = `${dir}/out`;
    const get = ok(await kit(["get", root, "-o", out], { repo }));
    assert.match(get.text, /^saved \S+ to .*out \(3 files, 4 directories, /);
    for (const [path, bytes] of Object.entries(files)) {
      assert.deepEqual(await Deno.readFile(`${out}/${path}`), bytes, path);
    }
    assert.ok((await Deno.stat(`${out}/empty`)).isDirectory);
    await assert.rejects(Deno.stat(`${out}/.secret`), Deno.errors.NotFound);
    ok(await kit(["get", `/ipfs/${root}/img/photo.bin`], { repo, cwd: dir }));
    assert.deepEqual(await Deno.readFile(`${dir}/photo.bin`), files["img/photo.bin"]);
    // The target exists now: one line, exit 1.
    oneLineError(await kit(["get", root, "-o", out], { repo }), 1, /exist/);

    // --hidden includes dot files: another root.
    const hidden = addedLines(ok(await kit(["add", "-r", "--hidden", tree], { repo })).text);
    assert.ok(hidden.some(([, name]) => name === "site/.secret"));
    assert.notEqual(hidden.at(-1)![0], root);
  });
});

Deno.test("cli: pin ls, pin rm, pin add and gc", async () => {
  await withTempDir(async (dir) => {
    const repo = `${dir}/repo`;
    const kept = randomBytes(300_000);
    const dropped = randomBytes(300_000);
    await Deno.writeFile(`${dir}/kept.bin`, kept);
    await Deno.writeFile(`${dir}/dropped.bin`, dropped);
    const [[keptCid]] = addedLines(ok(await kit(["add", `${dir}/kept.bin`], { repo })).text);
    const [[droppedCid]] = addedLines(
      ok(await kit(["add", "--pin=false", `${dir}/dropped.bin`], { repo })).text,
    );

    assert.equal(
      ok(await kit(["pin", "ls", "--type", "recursive"], { repo })).text,
      `${keptCid} recursive\n`,
    );
    const all = ok(await kit(["pin", "ls"], { repo })).text.trimEnd().split("\n");
    assert.equal(all.filter((line) => line.endsWith(" indirect")).length, 2, "two leaves below");
    const json = JSON.parse(
      ok(await kit(["pin", "ls", "--json", "-t", "recursive"], { repo })).text,
    );
    assert.deepEqual(json, [{ cid: keptCid, type: "recursive" }]);

    // gc removes the unpinned file's blocks (root and 2 leaves) and keeps the pinned one.
    const removed = ok(await kit(["gc"], { repo })).text.trimEnd().split("\n");
    assert.equal(removed.length, 3, removed.join("\n"));
    assert.ok(removed.every((line) => line.startsWith("removed ")));
    assert.ok(removed.some((line) => multihash(line.slice(8)) === multihash(droppedCid)));
    assert.deepEqual(ok(await kit(["cat", keptCid], { repo })).stdout, kept);
    oneLineError(await kit(["cat", droppedCid], { repo }), 1, /not found/);

    // Unpinned, the other file goes too.
    assert.equal(ok(await kit(["pin", "rm", keptCid], { repo })).text, `unpinned ${keptCid}\n`);
    assert.equal(ok(await kit(["pin", "ls"], { repo })).text, "");
    oneLineError(await kit(["pin", "rm", keptCid], { repo }), 1, /not pinned/);
    assert.equal(ok(await kit(["gc", "-q"], { repo })).text.trimEnd().split("\n").length, 3);
    assert.equal(ok(await kit(["gc"], { repo })).text, "");

    // pin add needs the blocks: missing now.
    oneLineError(await kit(["pin", "add", keptCid], { repo }), 1, /^error: Cannot pin/);
    const [[again]] = addedLines(
      ok(await kit(["add", "--pin=false", `${dir}/kept.bin`], { repo })).text,
    );
    assert.equal(again, keptCid);
    assert.equal(
      ok(await kit(["pin", "add", keptCid], { repo })).text,
      `pinned ${keptCid} recursively\n`,
    );
    assert.equal(ok(await kit(["gc"], { repo })).text, "");
  });
});

Deno.test("cli: errors are one line with exit 1; usage errors exit 2", async () => {
  await withTempDir(async (dir) => {
    const repo = `${dir}/repo`;
    ok(await kit(["init"], { repo })); // read-only commands need one
    oneLineError(await kit(["cat", "not-a-cid"], { repo }), 1, /not a valid CID/);
    oneLineError(await kit(["ls", "QmNope"], { repo }), 1, /CID/);
    oneLineError(await kit(["add", `${dir}/missing.txt`], { repo }), 1, /no such file/);
    oneLineError(await kit(["frobnicate"], { repo }), 2, /unknown command "frobnicate"/);
    oneLineError(await kit(["pin", "frob"], { repo }), 2, /unknown command "pin frob"/);
    oneLineError(await kit(["pin"], { repo }), 2, /pin needs a subcommand: add, rm, ls/);
    oneLineError(await kit(["add", "--bogus", "x"], { repo }), 2, /unknown option --bogus/);
    oneLineError(await kit(["cat"], { repo }), 2, /cat needs <path>/);
    oneLineError(await kit(["gc", "extra"], { repo }), 2, /gc takes no arguments/);
    oneLineError(await kit(["cat", "--offset", "-1", "x"], { repo }), 2, /non-negative integer/);
    oneLineError(await kit(["add", "--pin=maybe", "x"], { repo }), 2, /true or false/);
    oneLineError(await kit(["pin", "ls", "--type", "some"], { repo }), 2, /must be one of/);
    oneLineError(await kit(["--repo", repo, "--api", "http://127.0.0.1:1", "id"]), 2, /exclude/);
    oneLineError(await kit(["--timeout", "soon", "id"], { repo }), 2, /duration/);
    // No command: the help, on standard error, exit 2.
    const none = await kit([], { repo });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^Usage: kit <command>/);
    // A lock held by another process: one line.
    {
      await using _node = await EmbeddedNode.open({ repo });
      oneLineError(await kit(["id"], { repo }), 1, /another node has it open/);
    }
    // IPFS_KIT_DEBUG=1 adds the stack.
    const debug = await kit(["cat", "not-a-cid"], { repo, env: { IPFS_KIT_DEBUG: "1" } });
    assert.equal(debug.code, 1);
    assert.match(debug.stderr, /^error: Cannot cat: not a valid CID[^\n]*\n/);
    assert.match(debug.stderr, /\n\s+at /);
  });
});

Deno.test("cli: --help for the program, a group and every command", async () => {
  const general = ok(await kit(["--help"]));
  for (
    const name of ["add", "cat", "get", "ls", "stat", "pin add", "pin rm", "pin ls", "gc", "id"]
  ) {
    assert.match(general.text, new RegExp(`\n  ${name} `), name);
  }
  assert.match(general.text, /--api <addr>/);
  assert.equal(ok(await kit(["help"])).text, general.text);
  assert.match(ok(await kit(["pin", "--help"])).text, /^Usage: kit pin <add\|rm\|ls>/);
  for (const command of COMMANDS) {
    const help = ok(await kit([...command.name.split(" "), "--help"]));
    assert.match(help.text, new RegExp(`^Usage: kit ${command.name}`), command.name);
    for (const option of command.options) assert.match(help.text, new RegExp(`--${option.name}`));
  }
  assert.match(ok(await kit(["help", "add"])).text, /--cid-version/);
  assert.match(ok(await kit(["add", "-h", "--bogus"])).text, /^Usage: kit add/);
});

Deno.test("cli: id, version and repo stat, as text and JSON", async () => {
  await withTempDir(async (dir) => {
    const repo = `${dir}/repo`;
    ok(await kit(["init"], { repo })); // id is read-only: it needs one
    const id = ok(await kit(["id"], { repo })).text;
    const json = JSON.parse(ok(await kit(["id", "--json"], { repo })).text);
    assert.match(json.id, /^12D3KooW/);
    assert.match(id, new RegExp(`^ID: ${json.id}\n`), "the same identity on each run");
    assert.match(ok(await kit(["version"], { repo })).text, /^ipfs-kit \d+\.\d+\.\d+ \(embedded/);
    assert.equal(
      JSON.parse(ok(await kit(["--version", "--json"], { repo })).text).backend,
      "embedded",
    );
    await Deno.writeTextFile(`${dir}/a.txt`, "abc");
    ok(await kit(["add", `${dir}/a.txt`], { repo }));
    const stat = JSON.parse(ok(await kit(["repo", "stat", "--json"], { repo })).text);
    assert.equal(stat.numObjects, 1);
    assert.equal(stat.repoPath, repo);
  });
});

Deno.test("cli: --repo, and the per-user data folder by default", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a.txt`, "where does it go?");
    // --repo wins over IPFS_KIT_REPO.
    const [[cid]] = addedLines(
      ok(await kit(["--repo", `${dir}/explicit`, "add", `${dir}/a.txt`], { repo: `${dir}/env` }))
        .text,
    );
    assert.ok((await Deno.stat(`${dir}/explicit/blocks`)).isDirectory);
    await assert.rejects(Deno.stat(`${dir}/env`), Deno.errors.NotFound);
    // Neither: the XDG data folder, created on first use.
    if (Deno.build.os === "linux") {
      const env = { IPFS_KIT_REPO: "", XDG_DATA_HOME: `${dir}/data` };
      ok(await kit(["add", `${dir}/a.txt`], { env }));
      assert.equal(ok(await kit(["cat", cid], { env })).text, "where does it go?");
      assert.ok((await Deno.stat(`${dir}/data/ipfs-kit/blocks`)).isDirectory);
    }
  });
});

Deno.test("cli: --progress draws a bar on standard error", async () => {
  await withTempDir(async (dir) => {
    const repo = `${dir}/repo`;
    await Deno.writeFile(`${dir}/big.bin`, randomBytes(3 * 1024 * 1024));
    const run = ok(await kit(["add", "--progress", `${dir}/big.bin`], { repo }));
    assert.equal(addedLines(run.text).length, 1);
    assert.match(run.stderr, /adding \S+ \S+ \/ 3\.0 MiB \[=+\] 100%/);
    assert.ok(run.stderr.endsWith("\r\x1b[2K"), "the line is cleared at the end");
    const off = ok(await kit(["add", "--progress=false", `${dir}/big.bin`], { repo }));
    assert.equal(off.stderr, "");
  });
});

Deno.test("cli: Ctrl-C (SIGINT) cancels a running add cleanly", {
  ignore: Deno.build.os === "windows",
}, async () => {
  await withTempDir(async (dir) => {
    const repo = `${dir}/repo`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...KIT_PERMISSIONS, CLI, "add", "-"],
      cwd: ROOT,
      env: { NO_COLOR: "1", IPFS_KIT_REPO: repo },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    // Standard input stays open: the add waits for more until interrupted.
    await writer.write(randomBytes(100_000));
    // The signal listener is in place before the repository is opened.
    for (let i = 0; i < 200; i++) {
      if (await Deno.stat(`${repo}/repo.lock`).then(() => true, () => false)) break;
      await sleep(25);
    }
    await sleep(100);
    child.kill("SIGINT");
    const output = await child.output();
    await writer.close().catch(() => {});
    assert.equal(output.code, 130, decoder.decode(output.stderr));
    assert.equal(
      decoder.decode(output.stderr),
      "error: interrupted: nothing was pinned; the blocks written so far stay in the repository " +
        "unpinned until `kit gc` removes them\n",
    );
    assert.equal(decoder.decode(output.stdout), "");
    // Nothing pinned, and the repository is free again.
    assert.equal(ok(await kit(["pin", "ls"], { repo })).text, "");
  });
});

Deno.test("cli: deno.json's kit task runs the CLI from the caller's folder", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  assert.equal(
    config.tasks?.kit,
    `deno run ${KIT_PERMISSIONS.join(" ")} kit/cli.ts`,
    "deno.json needs the kit task with the permissions these tests use",
  );
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/relative.txt`, "relative to where the task was run");
    const env = { IPFS_KIT_REPO: `${dir}/repo` };
    const run = ok(
      await runDeno(["task", "--config", `${ROOT}/deno.json`, "kit", "add", "relative.txt"], {
        cwd: dir,
        env,
      }),
    );
    const [[cid, name]] = addedLines(run.text);
    assert.equal(name, "relative.txt");
    const cat = ok(
      await runDeno(["task", "--config", `${ROOT}/deno.json`, "kit", "cat", cid], { env }),
    );
    assert.equal(cat.text, "relative to where the task was run");
  });
});

Deno.test("quick start: deno task quickstart adds, reads back and prints what to try next", async () => {
  await withTempDir(async (dir) => {
    const env = { IPFS_KIT_REPO: `${dir}/repo` };
    const run = ok(
      await runDeno(["task", "--config", `${ROOT}/deno.json`, "quickstart"], { env, cwd: dir }),
    );
    const cid = /CID: (\S+)/.exec(run.text)?.[1];
    assert.ok(cid, run.text);
    assert.match(run.text, /read it back: \d+ bytes, identical/);
    assert.match(run.text, new RegExp(`deno task kit cat ${cid}`));
    assert.match(run.text, /deno task kit add <path>/);
    // The commands it prints work on the repository it used.
    assert.match(ok(await kit(["cat", cid], { env })).text, /^Hello from ipfs-kit!/);
    // --temp leaves nothing behind in the default repository.
    const temp = ok(
      await runDeno(["task", "--config", `${ROOT}/deno.json`, "quickstart", "--temp"], {
        env: { IPFS_KIT_REPO: `${dir}/untouched` },
      }),
    );
    assert.match(temp.text, /\(temporary\)/);
    await assert.rejects(Deno.stat(`${dir}/untouched`), Deno.errors.NotFound);
  });
});

Deno.test({
  name: "cli: --api uses the daemon: add, cat, ls, pin ls, errors",
  ignore: kubo.ignore,
  fn: async () => {
    await withTempDir(async (dir) => {
      const bytes = randomBytes(1_500_000);
      await Deno.mkdir(`${dir}/d`);
      await Deno.writeFile(`${dir}/d/blob.bin`, bytes);
      await Deno.writeTextFile(`${dir}/d/note.txt`, "via the daemon");
      const api = ["--api", kubo.url, "--timeout", "60s"];
      const added = addedLines(ok(await kit([...api, "add", `${dir}/d`])).text);
      const root = added.at(-1)![0];
      const blob = added.find(([, name]) => name === "d/blob.bin")![0];
      assert.equal(blob, await expectedCid(bytes), "the daemon's CID is the embedded node's");
      assert.deepEqual(ok(await kit([...api, "cat", `${root}/blob.bin`])).stdout, bytes);
      const ls = ok(await kit([...api, "ls", root])).text;
      assert.match(ls, new RegExp(`^${blob} ${bytes.length} blob\\.bin\n`));
      assert.ok(ok(await kit([...api, "pin", "ls", "-q"])).text.split("\n").includes(root));
      assert.equal(JSON.parse(ok(await kit([...api, "version", "--json"])).text).backend, "kubo");
      oneLineError(await kit([...api, "cat", "not-a-cid"]), 1, /CID/);
      const url = new URL(kubo.url);
      const multiaddr = `/ip4/${url.hostname}/tcp/${url.port}`;
      assert.equal(
        ok(await kit(["--api", multiaddr, "cat", `${root}/note.txt`])).text,
        "via the daemon",
      );
      // Nothing listens here: one line, exit 1.
      const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = closed.addr.port;
      closed.close();
      oneLineError(
        await kit(["--api", `http://127.0.0.1:${port}`, "--timeout", "5s", "id"]),
        1,
        /^error: /,
      );
    });
  },
});

Deno.test("cli arguments: options in Kubo's forms, globals anywhere, --", () => {
  const parse = (args: string[]) => parseCommandLine(args, COMMANDS, GLOBAL_OPTIONS);
  const add = parse(["--repo", "/r", "add", "-rHq", "--pin=false", "--cid-version=1", "a", "b"]);
  assert.equal(add.command?.name, "add");
  assert.deepEqual(add.args, ["a", "b"]);
  assert.deepEqual(add.values, {
    repo: "/r",
    recursive: true,
    hidden: true,
    quiet: true,
    pin: false,
    "cid-version": 1,
  });
  const cat = parse(["cat", "--json", "-o", "5", "--", "--not-an-option"]);
  assert.deepEqual(cat.args, ["--not-an-option"]);
  assert.deepEqual(cat.values, { json: true, offset: 5 });
  const pin = parse(["pin", "ls", "--api", "http://x", "-t", "direct"]);
  assert.equal(pin.command?.name, "pin ls");
  assert.deepEqual(pin.values, { api: "http://x", type: "direct" });
  assert.throws(() => parse(["--pin=false", "add", "x"]), UsageError, "add's options after add");
  assert.throws(() => parse(["get"]), UsageError);
  assert.throws(() => parse(["get", "a", "b"]), UsageError);
  assert.throws(() => parse(["cat", "--length"]), UsageError);
  assert.equal(parse(["get", "--help"]).help, true);
  assert.equal(parse(["pin", "-h"]).group, "pin");
});

Deno.test("progress bar: figures, bar, rate and redraw interval", () => {
  let now = 0;
  const written: string[] = [];
  const bar = new ProgressBar({
    total: 4 * 1024 * 1024,
    label: "adding",
    intervalMs: 100,
    output: { write: (text) => written.push(text), columns: () => 80, now: () => now },
  });
  now = 1000;
  bar.update(1024 * 1024);
  assert.equal(written.length, 1);
  assert.ok(written[0].startsWith("\r\x1b[2K"), "redrawn in place");
  assert.match(
    written[0].slice(5),
    /^adding 1\.0 MiB \/ 4\.0 MiB \[=+> +\] {2}25% {2}1\.0 MiB\/s$/,
  );
  now = 1050;
  bar.update(2 * 1024 * 1024);
  assert.equal(written.length, 1, "no redraw within the interval");
  now = 2000;
  bar.update(4 * 1024 * 1024);
  assert.match(written[1], /\[=+\] 100% {2}2\.0 MiB\/s$/);
  assert.ok(written[1].length - 5 <= 80, "fits the line");
  bar.done();
  assert.equal(written.at(-1), "\r\x1b[2K");
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(3 * 1024 ** 3), "3.00 GiB");
  const quiet = new ProgressBar({
    output: { write: () => written.push("x"), columns: () => 80, now: () => 0 },
  });
  quiet.done();
  assert.ok(!written.includes("x"), "done() without updates draws nothing");
});

Deno.test("cli: a --repo that is a file, or lies under one, is one clear line", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/file`, "not a repository");
    oneLineError(
      await kit(["--repo", `${dir}/file`, "add", `${dir}/file`]),
      1,
      /^error: Cannot open repository: \S+\/file is a file, not a directory\n$/,
    );
    oneLineError(
      await kit(["--repo", `${dir}/file/repo`, "pin", "ls"]),
      1,
      /Cannot open repository: \S+\/file\/repo (lies under a file|is a file)/,
    );
    assert.equal(await Deno.readTextFile(`${dir}/file`), "not a repository");
  });
});

Deno.test("cli: a directory of other files is refused until init --force", async () => {
  await withTempDir(async (dir) => {
    const home = `${dir}/home`;
    await Deno.mkdir(home);
    await Deno.writeTextFile(`${home}/notes.txt`, "mine");
    oneLineError(
      await kit(["--repo", home, "add", `${home}/notes.txt`]),
      1,
      /holds other files and no repository .*kit init --force/,
    );
    assert.deepEqual([...Deno.readDirSync(home)].map((e) => e.name), ["notes.txt"]);
    const made = ok(await kit(["--repo", home, "init", "--force"]));
    assert.match(made.text, /^repository at \S+, peer ID 12D3KooW\w+\n$/);
    ok(await kit(["--repo", home, "add", `${home}/notes.txt`]));
    // An existing repository is left as it is: the same peer.
    assert.equal(ok(await kit(["--repo", home, "init"])).text, made.text);
    assert.equal(await Deno.readTextFile(`${home}/notes.txt`), "mine");
  });
});

Deno.test("cli: read-only commands never create a repository", async () => {
  await withTempDir(async (dir) => {
    const repo = `${dir}/none`;
    for (
      const args of [
        ["pin", "ls"],
        ["ls", "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"],
        ["cat", "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"],
        ["stat", "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"],
        ["id"],
      ]
    ) {
      oneLineError(
        await kit(["--repo", repo, ...args]),
        1,
        /Cannot open repository: there is none at \S+ \(`kit init` creates one/,
      );
    }
    assert.equal(await Deno.stat(repo).then(() => true, () => false), false);
    // An empty directory is no repository either, and stays empty.
    await Deno.mkdir(repo);
    oneLineError(await kit(["--repo", repo, "pin", "ls"]), 1, /there is none/);
    assert.deepEqual([...Deno.readDirSync(repo)], []);
  });
});

Deno.test("cli: a missing CID is quoted as it was typed, not in another form", async () => {
  await withTempDir(async (dir) => {
    const repo = `${dir}/repo`;
    ok(await kit(["init"], { repo }));
    const v0 = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o";
    for (const args of [["cat", v0], ["cat", `/ipfs/${v0}/a`], ["ls", v0], ["stat", v0]]) {
      const run = await kit(args, { repo });
      oneLineError(run, 1, new RegExp(v0));
      assert.doesNotMatch(run.stderr, /bafy/, run.stderr);
    }
  });
});

Deno.test("cli: an HTTP answer that is not Kubo's RPC API is one line, never the body", async () => {
  const page = "<!doctype html><html><body>A SECRET PAGE\nline two</body></html>";
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) =>
      request.url.includes("/proxy/")
        ? new Response(`<html>${page}</html>`, {
          status: 502,
          headers: { "content-type": "text/html" },
        })
        : new Response(page, { headers: { "content-type": "text/html; charset=utf-8" } }),
  );
  const api = `http://127.0.0.1:${server.addr.port}`;
  for (
    const [args, status] of [
      [["--api", api, "id"], "200 OK"],
      [["--api", api, "cat", "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"], "200 OK"],
      [["--api", `${api}/proxy`, "pin", "ls"], "502 Bad Gateway"],
    ] as const
  ) {
    const run = await kit([...args]);
    oneLineError(
      run,
      1,
      new RegExp(`is not Kubo's RPC API: it answered an HTML page \\(HTTP ${status}\\)`),
    );
    assert.doesNotMatch(run.stderr + run.text, /SECRET|html>/);
    assert.equal(run.text, "");
  }
});

Deno.test("cli: add stores symbolic links as Kubo does, or follows them with --follow-symlinks", async () => {
  await withTempDir(async (dir) => {
    const repo = `${dir}/repo`;
    await Deno.mkdir(`${dir}/tree/sub`, { recursive: true });
    await Deno.writeTextFile(`${dir}/tree/sub/a.txt`, "hello\n");
    await Deno.symlink("sub/a.txt", `${dir}/tree/link`);
    const added = new Map(
      addedLines(ok(await kit(["add", `${dir}/tree`], { repo })).text).map(([c, n]) => [n, c]),
    );
    // A symlink node as the UnixFS spec has it: type Symlink, the target as data, no links.
    assert.equal(added.get("tree/link"), await symlinkCid("sub/a.txt"));
    const listed = ok(await kit(["ls", added.get("tree")!], { repo })).text;
    assert.match(listed, /link/);
    // Fetched back, it is a link again.
    ok(await kit(["get", added.get("tree")!, "-o", `${dir}/back`], { repo }));
    assert.equal(await Deno.readLink(`${dir}/back/link`), "sub/a.txt");
    const followed = new Map(
      addedLines(ok(await kit(["add", "--follow-symlinks", `${dir}/tree`], { repo })).text)
        .map(([c, n]) => [n, c]),
    );
    assert.equal(followed.get("tree/link"), followed.get("tree/sub/a.txt"));
  });
});

Deno.test({
  name: "cli: the Kubo backend refuses a symbolic link, naming the flag that follows it",
  ignore: kubo.ignore,
  fn: async () => {
    await withTempDir(async (dir) => {
      await Deno.mkdir(`${dir}/tree`);
      await Deno.writeTextFile(`${dir}/tree/a.txt`, "a");
      await Deno.symlink("a.txt", `${dir}/tree/link`);
      oneLineError(
        await kit(["--api", kubo.url, "add", `${dir}/tree`]),
        1,
        /tree\/link is a symbolic link.*--follow-symlinks/,
      );
      const run = ok(await kit(["--api", kubo.url, "add", "--follow-symlinks", `${dir}/tree`]));
      assert.equal(addedLines(run.text).length, 3);
    });
  },
});

/** The CID of a UnixFS symlink node to `target`, built from the spec's parts. */
async function symlinkCid(target: string): Promise<string> {
  const data = new UnixFS({ type: "symlink", data: new TextEncoder().encode(target) }).marshal();
  const bytes = dagPb.encode({ Data: data, Links: [] });
  return CID.createV0(await sha256.digest(bytes)).toString();
}

Deno.test("cli: files write, ls, stat, read, cp, mv, rm as Kubo's ipfs files", async () => {
  await withTempDir(async (repo) => {
    const input = new TextEncoder().encode("hello world\n");
    ok(await kit(["files", "write", "--create", "-p", "/docs/a.txt"], { repo, stdin: input }));
    assert.equal(ok(await kit(["files", "ls"], { repo })).text, "docs/\n");
    assert.equal(
      ok(await kit(["files", "ls", "-l", "/docs"], { repo })).text,
      "a.txt\tQmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\t12\n",
    );
    assert.match(
      ok(await kit(["files", "stat", "/docs/a.txt"], { repo })).text,
      /^QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\nSize: 12\n.*Type: file\n$/s,
    );
    assert.equal(
      ok(await kit(["files", "read", "-o", "6", "/docs/a.txt"], { repo })).text,
      "world\n",
    );
    ok(await kit(["files", "cp", "/docs/a.txt", "/b.txt"], { repo }));
    ok(await kit(["files", "mv", "/b.txt", "/c.txt"], { repo }));
    ok(await kit(["files", "mkdir", "/empty"], { repo }));
    assert.equal(ok(await kit(["files", "ls"], { repo })).text, "c.txt\ndocs/\nempty/\n");
    oneLineError(
      await kit(["files", "rm", "/docs"], { repo }),
      1,
      /^error: Cannot remove file: \/docs is a directory, use -r to remove directories\n$/,
    );
    ok(await kit(["files", "rm", "-r", "/docs", "/empty"], { repo }));
    assert.equal(ok(await kit(["files", "ls"], { repo })).text, "c.txt\n");
    // gc keeps what MFS references.
    ok(await kit(["gc"], { repo }));
    assert.equal(ok(await kit(["files", "read", "/c.txt"], { repo })).text, "hello world\n");
    oneLineError(
      await kit(["files", "write", "/x/y", "-"], { repo, stdin: input }),
      1,
      /^error: Cannot write file: \/x\/y: parent directory \/x does not exist\n$/,
    );
  });
});
