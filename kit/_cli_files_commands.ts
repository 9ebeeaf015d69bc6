/**
 * The command line's MFS commands, as Kubo's `ipfs files ...`: `kit files
 * ls|stat|mkdir|write|read|cp|mv|rm` on the kit's `files` API. Kept apart
 * from `_cli_commands.ts`; its `COMMANDS` lists them.
 *
 * @module
 */

import type { Command } from "./_cli_command.ts";
import { UsageError } from "./_cli_args.ts";

const filesLs: Command = {
  repository: "read",
  name: "files ls",
  args: "[<path>]",
  summary: "List an MFS directory (default /)",
  details: "With -l, each entry's name, CID and size, tab-separated (as Kubo's ipfs files ls -l).",
  minArgs: 0,
  maxArgs: 1,
  options: [{ name: "long", short: "l", kind: "boolean", help: "show CIDs and sizes" }],
  async run({ kit, args, values, json, signal, out }) {
    const entries = await kit.files.ls(args[0] ?? "/", { signal });
    if (json) {
      await out.json(entries);
      return;
    }
    for (const entry of entries) {
      const name = entry.type === "directory" ? `${entry.name}/` : entry.name;
      await out.line(values.long === true ? `${name}\t${entry.cid}\t${entry.size}` : name);
    }
  },
};

const filesStat: Command = {
  repository: "read",
  name: "files stat",
  args: "<path>",
  summary: "Show an MFS file's or directory's CID, type and sizes",
  minArgs: 1,
  maxArgs: 1,
  options: [{ name: "hash", kind: "boolean", help: "print only the CID" }],
  async run({ kit, args, values, json, signal, out }) {
    const result = await kit.files.stat(args[0], { signal });
    if (json) await out.json(result);
    else if (values.hash === true) await out.line(`${result.cid}`);
    else {
      await out.line(
        [
          `${result.cid}`,
          `Size: ${result.size}`,
          `CumulativeSize: ${result.cumulativeSize}`,
          `ChildBlocks: ${result.blocks}`,
          `Type: ${result.type}`,
        ].join("\n"),
      );
    }
  },
};

const filesMkdir: Command = {
  name: "files mkdir",
  args: "<path>",
  summary: "Make an MFS directory",
  minArgs: 1,
  maxArgs: 1,
  options: [
    {
      name: "parents",
      short: "p",
      kind: "boolean",
      help: "make parents too; no error if it exists",
    },
    {
      name: "cid-version",
      kind: "integer",
      value: "<0|1>",
      help: "the new directories' CID version",
    },
  ],
  async run({ kit, args, values, signal }) {
    const cidVersion = version(values["cid-version"]);
    await kit.files.mkdir(args[0], {
      parents: values.parents === true,
      ...(cidVersion === undefined ? {} : { cidVersion }),
      signal,
    });
  },
};

const filesWrite: Command = {
  name: "files write",
  args: "<path> [<file>]",
  summary: "Write a local file (or standard input) into an MFS file",
  details: "As Kubo's ipfs files write: --create to make the file, --truncate to drop old bytes.",
  minArgs: 1,
  maxArgs: 2,
  options: [
    { name: "create", short: "e", kind: "boolean", help: "create the file if it does not exist" },
    { name: "parents", short: "p", kind: "boolean", help: "make parent directories" },
    { name: "truncate", short: "t", kind: "boolean", help: "cut the file to what is written" },
    { name: "offset", short: "o", kind: "integer", value: "<bytes>", help: "where to write" },
    {
      name: "count",
      short: "n",
      kind: "integer",
      value: "<bytes>",
      help: "write at most this many",
    },
    { name: "cid-version", kind: "integer", value: "<0|1>", help: "the file's CID version" },
    { name: "raw-leaves", kind: "boolean", help: "store leaves as raw blocks" },
  ],
  async run({ kit, args, values, signal }) {
    const source = args[1];
    if (source === undefined && Deno.stdin.isTerminal()) {
      throw new UsageError("files write needs <file> or content on standard input");
    }
    const cidVersion = version(values["cid-version"]);
    const file = source === undefined || source === "-" ? undefined : await Deno.open(source);
    try {
      await kit.files.write(args[0], file?.readable ?? Deno.stdin.readable, {
        create: values.create === true,
        parents: values.parents === true,
        truncate: values.truncate === true,
        ...(values.offset === undefined ? {} : { offset: values.offset as number }),
        ...(values.count === undefined ? {} : { length: values.count as number }),
        ...(cidVersion === undefined ? {} : { cidVersion }),
        ...(values["raw-leaves"] === undefined
          ? {}
          : { rawLeaves: values["raw-leaves"] as boolean }),
        signal,
      });
    } finally {
      try {
        file?.close();
      } catch { /* closed with its stream */ }
    }
  },
};

const filesRead: Command = {
  repository: "read",
  name: "files read",
  args: "<path>",
  summary: "Write an MFS file's bytes to standard output",
  minArgs: 1,
  maxArgs: 1,
  options: [
    { name: "offset", short: "o", kind: "integer", value: "<bytes>", help: "start at this byte" },
    {
      name: "count",
      short: "n",
      kind: "integer",
      value: "<bytes>",
      help: "read at most this many",
    },
  ],
  async run({ kit, args, values, signal, out }) {
    const stream = kit.files.read(args[0], {
      ...(values.offset === undefined ? {} : { offset: values.offset as number }),
      ...(values.count === undefined ? {} : { length: values.count as number }),
      signal,
    });
    for await (const chunk of stream) await out.bytes(chunk);
  },
};

const filesCp: Command = {
  name: "files cp",
  args: "<source> <dest>",
  summary: "Copy an MFS path or /ipfs/<cid> into MFS",
  minArgs: 2,
  maxArgs: 2,
  options: [{ name: "parents", short: "p", kind: "boolean", help: "make parent directories" }],
  async run({ kit, args, values, signal }) {
    await kit.files.cp(args[0], args[1], { parents: values.parents === true, signal });
  },
};

const filesMv: Command = {
  name: "files mv",
  args: "<source> <dest>",
  summary: "Move (rename) an MFS file or directory",
  minArgs: 2,
  maxArgs: 2,
  options: [],
  async run({ kit, args, signal }) {
    await kit.files.mv(args[0], args[1], { signal });
  },
};

const filesRm: Command = {
  name: "files rm",
  args: "<path>...",
  summary: "Remove MFS files (directories with -r)",
  minArgs: 1,
  maxArgs: Infinity,
  options: [
    {
      name: "recursive",
      short: "r",
      kind: "boolean",
      help: "remove directories and what they hold",
    },
    { name: "force", kind: "boolean", help: "no error for a missing path" },
  ],
  async run({ kit, args, values, signal }) {
    for (const path of args) {
      await kit.files.rm(path, {
        recursive: values.recursive === true,
        force: values.force === true,
        signal,
      });
    }
  },
};

function version(value: unknown): 0 | 1 | undefined {
  if (value === undefined) return undefined;
  if (value !== 0 && value !== 1) {
    throw new UsageError(`--cid-version must be 0 or 1: received ${value}`);
  }
  return value;
}

/** The `files` commands, in the order the help lists them. */
export const FILES_COMMANDS: readonly Command[] = [
  filesLs,
  filesStat,
  filesMkdir,
  filesWrite,
  filesRead,
  filesCp,
  filesMv,
  filesRm,
];
