/**
 * The command line's commands: their options and help (specs for
 * `_cli_args.ts`) and what each does with an open {@linkcode Kit}.
 *
 * Output follows Kubo's command line where it has the command (`added <cid>
 * <name>`, `removed <cid>`, `ipfs ls` columns); `--json` prints one JSON
 * value instead, with CIDs as strings.
 *
 * @module
 */

import type { AddAllResult, AddPathOptions, PinType } from "../ipfs/content_store.ts";
import type { OptionSpec } from "./_cli_args.ts";
import { UsageError } from "./_cli_args.ts";
import { formatBytes, ProgressBar } from "./_progress.ts";
import { FILES_COMMANDS } from "./_cli_files_commands.ts";
import { DAEMON_COMMAND } from "./_cli_daemon.ts";
import { NETWORK_COMMANDS } from "./_cli_network_commands.ts";

/** The program's name in help and messages. */
export const PROGRAM = "kit";

export type { Command, CommandContext } from "./_cli_command.ts";
import type { Command } from "./_cli_command.ts";

/** Options every command takes. */
export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  {
    name: "repo",
    kind: "string",
    value: "<path>",
    help: "the embedded node's repository (default: the per-user data folder)",
  },
  {
    name: "api",
    kind: "string",
    value: "<addr>",
    help: "use a Kubo daemon: a URL, a multiaddr, or its repository",
  },
  { name: "json", kind: "boolean", help: "print the result as JSON" },
  {
    name: "timeout",
    kind: "string",
    value: "<duration>",
    help: "give up after this long, e.g. 30s, 500ms, 2m",
  },
  { name: "help", short: "h", kind: "boolean", help: "show help" },
  { name: "version", kind: "boolean", help: "show the version (as the version command)" },
];

const MIB = 1024 * 1024;
const PROGRESS_THRESHOLD = MIB;

const add: Command = {
  name: "add",
  args: "[<path>...]",
  summary: "Add files or directories (directories recursively) and pin them",
  details: [
    "Prints `added <cid> <name>` for every file and directory, the root last.",
    "Without a path, or with `-`, adds what comes on standard input.",
    "The default layout gives the CIDs Kubo's `ipfs add` gives: CIDv0, 256 KiB chunks.",
  ].join("\n"),
  minArgs: 0,
  maxArgs: Infinity,
  options: [
    {
      name: "cid-version",
      kind: "integer",
      value: "<0|1>",
      help: "CID version; 1 also turns on raw leaves (default 0)",
    },
    { name: "raw-leaves", kind: "boolean", help: "store file chunks as raw blocks" },
    { name: "chunker", kind: "string", value: "size-<bytes>", help: "chunk size (size-262144)" },
    { name: "pin", kind: "boolean", help: "pin what is added (default true; --pin=false)" },
    { name: "recursive", short: "r", kind: "boolean", help: "accepted; directories always are" },
    { name: "hidden", short: "H", kind: "boolean", help: "include files whose names start with ." },
    {
      name: "follow-symlinks",
      kind: "boolean",
      help: "add what symbolic links point to (default: store them as links, as Kubo)",
    },
    {
      name: "wrap-with-directory",
      short: "w",
      kind: "boolean",
      help: "wrap the path in a directory (one path only)",
    },
    { name: "quiet", short: "q", kind: "boolean", help: "print only the CIDs" },
    { name: "quieter", short: "Q", kind: "boolean", help: "print only the root CID" },
    {
      name: "progress",
      kind: "boolean",
      help: "show a progress bar (default: on a terminal, for more than 1 MiB)",
    },
  ],
  async run({ kit, args, values, json, signal, out }) {
    const paths = args.length === 0 ? ["-"] : args;
    if (args.length === 0 && Deno.stdin.isTerminal()) {
      throw new UsageError(`add needs <path>... or content on standard input`);
    }
    if (paths.filter((path) => path === "-").length > 1) {
      throw new UsageError("add reads standard input (-) once");
    }
    if (values["wrap-with-directory"] === true && paths.length > 1) {
      throw new UsageError("--wrap-with-directory takes one path");
    }
    const options: AddPathOptions = { signal };
    const cidVersion = values["cid-version"];
    if (cidVersion !== undefined) {
      if (cidVersion !== 0 && cidVersion !== 1) {
        throw new UsageError(`--cid-version must be 0 or 1: received ${cidVersion}`);
      }
      options.cidVersion = cidVersion;
    }
    if (values["raw-leaves"] !== undefined) options.rawLeaves = values["raw-leaves"] as boolean;
    if (values.pin !== undefined) options.pin = values.pin as boolean;
    if (values.hidden !== undefined) options.hidden = values.hidden as boolean;
    if (values["follow-symlinks"] !== undefined) {
      options.followSymlinks = values["follow-symlinks"] as boolean;
    }
    if (values["wrap-with-directory"] !== undefined) {
      options.wrapWithDirectory = values["wrap-with-directory"] as boolean;
    }
    if (values.chunker !== undefined) {
      const match = /^size-([0-9]+)$/.exec(values.chunker as string);
      if (match === null) {
        throw new UsageError(`--chunker must be size-<bytes>: received "${values.chunker}"`);
      }
      options.chunkSize = Number(match[1]);
    }

    const forced = values.progress as boolean | undefined;
    const wanted = forced ?? Deno.stderr.isTerminal();
    let bar: ProgressBar | undefined;
    let base = 0;
    const current = new Map<string, number>();
    if (wanted) {
      const total = paths.includes("-")
        ? undefined
        : await totalSize(paths, options.hidden ?? false, signal);
      const show = forced === true || total === undefined || total > PROGRESS_THRESHOLD;
      if (show) {
        const bar_ = new ProgressBar({
          ...(total === undefined ? {} : { total }),
          label: "adding",
        });
        bar = bar_;
        options.onProgress = (bytes, path) => {
          current.set(path, bytes);
          let sum = base;
          for (const value of current.values()) sum += value;
          // Standard input's size is unknown: show it once it passes the threshold.
          if (total !== undefined || forced === true || sum > PROGRESS_THRESHOLD) bar_.update(sum);
        };
      }
    }

    const results: AddAllResult[] = [];
    try {
      for (const path of paths) {
        if (path === "-") {
          const { wrapWithDirectory: _, hidden: __, ...single } = options;
          const result = await kit.add(Deno.stdin.readable, single);
          results.push({ path: result.cid.toString(), cid: result.cid, size: result.size });
        } else {
          results.push(...await kit.addPath(path, options));
        }
        for (const value of current.values()) base += value;
        current.clear();
      }
    } finally {
      bar?.done();
    }

    if (json) {
      await out.json(results);
    } else if (values.quieter === true) {
      const root = results.at(-1);
      if (root !== undefined) await out.line(root.cid.toString());
    } else if (values.quiet === true) {
      for (const result of results) await out.line(result.cid.toString());
    } else {
      for (const result of results) {
        // The wrapping directory (-w) has no name: `added <cid>`, as Kubo prints it.
        await out.line(`added ${result.cid}${result.path === "" ? "" : ` ${result.path}`}`);
      }
    }
  },
};

const cat: Command = {
  repository: "read",
  name: "cat",
  args: "<path>...",
  summary: "Write a file's bytes to standard output",
  details: "A path is a CID, or a CID with names below it (<cid>/dir/file.txt), or /ipfs/<cid>.",
  minArgs: 1,
  maxArgs: Infinity,
  options: [
    { name: "offset", short: "o", kind: "integer", value: "<bytes>", help: "start at this byte" },
    {
      name: "length",
      short: "l",
      kind: "integer",
      value: "<bytes>",
      help: "read at most this many",
    },
  ],
  async run({ kit, args, values, signal, out }) {
    const range = values.offset !== undefined || values.length !== undefined;
    if (range && args.length > 1) throw new UsageError("--offset and --length take one path");
    for (const path of args) {
      const stream = kit.cat(path, {
        signal,
        ...(values.offset === undefined ? {} : { offset: values.offset as number }),
        ...(values.length === undefined ? {} : { length: values.length as number }),
      });
      const reader = stream.getReader();
      let finished = false;
      try {
        while (true) {
          const { done, value } = await reader.read();
          if (done) break;
          await out.bytes(value);
        }
        finished = true;
      } finally {
        if (!finished) await reader.cancel().catch(() => {});
        reader.releaseLock();
      }
    }
  },
};

const get: Command = {
  repository: "read",
  name: "get",
  args: "<path>",
  summary: "Save a file or a directory tree to disk",
  details: "Writes to ./<last name of the path> unless -o says where; that must not exist yet.",
  minArgs: 1,
  maxArgs: 1,
  options: [
    { name: "output", short: "o", kind: "string", value: "<path>", help: "where to save it" },
  ],
  async run({ kit, args, values, json, signal, out }) {
    const path = args[0];
    const target = (values.output as string | undefined) ?? defaultTarget(path);
    const result = await kit.get(path, target, { signal });
    if (json) {
      await out.json({ ...result, target });
      return;
    }
    const parts = [
      `${result.files} ${result.files === 1 ? "file" : "files"}`,
      ...(result.directories > 0
        ? [`${result.directories} ${result.directories === 1 ? "directory" : "directories"}`]
        : []),
      formatBytes(result.bytes),
    ];
    await out.line(`saved ${result.cid} to ${target} (${parts.join(", ")})`);
  },
};

const ls: Command = {
  repository: "read",
  name: "ls",
  args: "<path>...",
  summary: "List a directory: CID, size and name of each entry",
  details: "Directories show - as their size and a / after their name, as Kubo's ipfs ls.",
  minArgs: 1,
  maxArgs: Infinity,
  options: [],
  async run({ kit, args, json, signal, out }) {
    const all = [];
    for (const [i, path] of args.entries()) {
      const entries = await kit.ls(path, { signal });
      if (json) {
        all.push(...entries);
        continue;
      }
      if (args.length > 1) await out.line(`${i > 0 ? "\n" : ""}${path}:`);
      for (const entry of entries) {
        const directory = entry.type === "directory";
        await out.line(
          `${entry.cid} ${directory ? "-" : entry.size} ${entry.name}${directory ? "/" : ""}`,
        );
      }
    }
    if (json) await out.json(all);
  },
};

const stat: Command = {
  repository: "read",
  name: "stat",
  args: "<path>",
  summary: "Show a file's or directory's CID, type and sizes",
  minArgs: 1,
  maxArgs: 1,
  options: [],
  async run({ kit, args, json, signal, out }) {
    const result = await kit.stat(args[0], { signal });
    if (json) {
      await out.json(result);
      return;
    }
    await out.line(
      [
        `${result.cid}`,
        `Size: ${result.size}`,
        `CumulativeSize: ${result.cumulativeSize}`,
        `ChildBlocks: ${result.blocks}`,
        `Type: ${result.type}`,
      ].join("\n"),
    );
  },
};

const pinAdd: Command = {
  name: "pin add",
  args: "<path>...",
  summary: "Pin files or directories so that gc keeps them",
  minArgs: 1,
  maxArgs: Infinity,
  options: [
    {
      name: "recursive",
      short: "r",
      kind: "boolean",
      help: "pin the whole DAG (default true; --recursive=false pins the block alone)",
    },
  ],
  async run({ kit, args, values, json, signal, out }) {
    const recursive = (values.recursive as boolean | undefined) ?? true;
    const pinned = [];
    for (const path of args) {
      const cid = await kit.pin.add(path, { recursive, signal });
      pinned.push({ cid, type: recursive ? "recursive" : "direct" });
      if (!json) await out.line(`pinned ${cid} ${recursive ? "recursively" : "directly"}`);
    }
    if (json) await out.json(pinned);
  },
};

const pinRm: Command = {
  name: "pin rm",
  args: "<path>...",
  summary: "Unpin files or directories (gc then removes them)",
  minArgs: 1,
  maxArgs: Infinity,
  options: [
    {
      name: "recursive",
      short: "r",
      kind: "boolean",
      help: "also remove a recursive pin (default true)",
    },
  ],
  async run({ kit, args, values, json, signal, out }) {
    const recursive = (values.recursive as boolean | undefined) ?? true;
    const removed = [];
    for (const path of args) {
      const cid = await kit.pin.rm(path, { recursive, signal });
      removed.push({ cid });
      if (!json) await out.line(`unpinned ${cid}`);
    }
    if (json) await out.json(removed);
  },
};

const PIN_TYPES = ["all", "recursive", "direct", "indirect"] as const;

const pinLs: Command = {
  repository: "read",
  name: "pin ls",
  args: "[<path>...]",
  summary: "List pins: CID and type",
  minArgs: 0,
  maxArgs: Infinity,
  options: [
    {
      name: "type",
      short: "t",
      kind: "string",
      value: "<type>",
      choices: PIN_TYPES,
      help: "all (default), recursive, direct or indirect",
    },
    { name: "quiet", short: "q", kind: "boolean", help: "print only the CIDs" },
  ],
  async run({ kit, args, values, json, signal, out }) {
    const type = (values.type as PinType | "all" | undefined) ?? "all";
    const pins = await kit.pin.ls({ type, signal, ...(args.length > 0 ? { paths: args } : {}) });
    if (json) {
      await out.json(pins);
      return;
    }
    for (const pin of pins) {
      await out.line(values.quiet === true ? `${pin.cid}` : `${pin.cid} ${pin.type}`);
    }
  },
};

const gc: Command = {
  repository: "read",
  name: "gc",
  args: "",
  summary: "Delete every block that no pin holds",
  minArgs: 0,
  maxArgs: 0,
  options: [{ name: "quiet", short: "q", kind: "boolean", help: "print only the CIDs" }],
  async run({ kit, values, json, signal, out }) {
    const removed = await kit.repo.gc({ signal });
    if (json) {
      await out.json(removed);
      return;
    }
    for (const cid of removed) await out.line(values.quiet === true ? `${cid}` : `removed ${cid}`);
  },
};

const repoStat: Command = {
  repository: "read",
  name: "repo stat",
  args: "",
  summary: "Count the repository's blocks and bytes",
  minArgs: 0,
  maxArgs: 0,
  options: [],
  async run({ kit, json, signal, out }) {
    const result = await kit.repo.stat({ signal });
    if (json) {
      await out.json(result);
      return;
    }
    await out.line(
      [
        `NumObjects: ${result.numObjects}`,
        `RepoSize: ${result.repoSize}`,
        `RepoPath: ${result.repoPath}`,
      ].join("\n"),
    );
  },
};

const id: Command = {
  repository: "read",
  name: "id",
  args: "",
  summary: "Show the node's peer ID, public key and addresses",
  minArgs: 0,
  maxArgs: 0,
  options: [],
  async run({ kit, json, signal, out }) {
    const result = await kit.id({ signal });
    if (json) {
      await out.json(result);
      return;
    }
    await out.line(
      [
        `ID: ${result.id}`,
        `PublicKey: ${result.publicKey}`,
        `AgentVersion: ${result.agentVersion}`,
        `Addresses: ${result.addresses.length === 0 ? "(none)" : result.addresses.join(" ")}`,
      ].join("\n"),
    );
  },
};

const version: Command = {
  name: "version",
  args: "",
  summary: "Show the versions of the kit (or the daemon) and the repository",
  minArgs: 0,
  maxArgs: 0,
  options: [],
  async run({ kit, json, signal, out }) {
    const result = await kit.version({ signal });
    if (json) {
      await out.json(result);
      return;
    }
    const details = result.backend === "embedded"
      ? ["embedded node", `repo format ${result.repo}`, result.system]
      : [`Kubo RPC at ${kit.location}`, `repo ${result.repo}`, result.system];
    const name = result.backend === "embedded" ? "ipfs-kit " : "daemon ";
    await out.line(
      `${name}${result.version} (${details.filter((part) => part !== "").join(", ")})`,
    );
  },
};

const init: Command = {
  name: "init",
  args: "",
  summary: "Create the embedded node's repository (other commands that write create it too)",
  details: [
    "An existing repository is left as it is. A directory that holds other files is refused,",
    "as it is most likely the wrong path, unless --force is given.",
  ].join("\n"),
  repository: "init",
  local: "the daemon has the repository open, so it exists already",
  minArgs: 0,
  maxArgs: 0,
  options: [
    { name: "force", kind: "boolean", help: "create it in a directory that holds other files" },
  ],
  async run({ kit, json, signal, out }) {
    if (kit.backend !== "embedded") {
      throw new UsageError("init makes an embedded node's repository: leave out --api");
    }
    const { id } = await kit.id({ signal });
    if (json) await out.json({ repo: kit.location, id });
    else await out.line(`repository at ${kit.location}, peer ID ${id}`);
  },
};

/** Every command, in the order the help lists them. */
export const COMMANDS: readonly Command[] = [
  init,
  DAEMON_COMMAND,
  add,
  cat,
  get,
  ls,
  stat,
  pinAdd,
  pinRm,
  pinLs,
  gc,
  repoStat,
  ...FILES_COMMANDS,
  ...NETWORK_COMMANDS,
  id,
  version,
];

/** `./<last name>` for a path: the CID, or the last name below it. */
function defaultTarget(path: string): string {
  const name = path.replace(/^\/ipfs\//, "").split("/").filter((part) => part !== "").at(-1);
  if (name === undefined || name === "." || name === "..") {
    throw new UsageError(`get cannot name the output after ${JSON.stringify(path)}: pass -o`);
  }
  return name;
}

/** The bytes of the files below `paths` (what `add` will read), for the progress bar. */
async function totalSize(paths: string[], hidden: boolean, signal: AbortSignal): Promise<number> {
  let total = 0;
  const walk = async (path: string, top: boolean): Promise<void> => {
    signal.throwIfAborted();
    let info: Deno.FileInfo;
    try {
      info = top ? await Deno.stat(path) : await Deno.lstat(path);
    } catch {
      return; // the add itself reports it
    }
    if (info.isFile) total += info.size;
    else if (info.isDirectory) {
      for await (const entry of Deno.readDir(path)) {
        if (!hidden && entry.name.startsWith(".")) continue;
        await walk(`${path}/${entry.name}`, false);
      }
    }
  };
  for (const path of paths) await walk(path, true);
  return total;
}
