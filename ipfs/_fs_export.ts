/**
 * Writes a UnixFS file or directory tree to the local file system, for
 * `get`. The tree is written to a temporary name beside the target and
 * renamed into place when complete; on failure the temporary tree is
 * removed, so nothing is left at the target.
 *
 * Names from the DAG are checked before anything is made from them: empty
 * names, `.`, `..`, and names holding `/`, `\` or NUL fail. Files are made
 * with `createNew` and directories without `recursive`, so no write follows
 * a symbolic link written earlier.
 *
 * @module
 */

import type { CID } from "npm:multiformats@14.0.5/cid";
import { checkpointIfCancelled } from "../runtime/checkpoint.ts";
import type { GetResult } from "./content_store.ts";
import { InvalidInputError } from "./errors.ts";
import type { GetBlock } from "./_dag_walk.ts";
import type { ReadAheadSource } from "./_read_ahead.ts";
import { openFile, readRange } from "./_unixfs_reader.ts";
import { directoryEntries, inspect } from "./_unixfs_node.ts";
import { exists } from "./_fs.ts";

/**
 * Writes the tree at `cid` to `target`.
 *
 * @throws {InvalidInputError} `target` exists, its parent does not, or a name is unsafe.
 */
export async function writeTree(
  get: GetBlock,
  cid: CID,
  target: string,
  signal: AbortSignal,
  readAhead?: ReadAheadSource,
): Promise<GetResult> {
  return await writeToTarget(target, async (tmp) => {
    const result: GetResult = { cid, files: 0, directories: 0, bytes: 0 };
    await write({ get, signal, readAhead }, cid, tmp, result, cid.toString());
    return result;
  });
}

/**
 * Checks `target` ({@linkcode prepareTarget}), has `fill` write the tree to
 * the temporary name beside it, then renames it into place; on any failure
 * (cancellation included) the temporary tree is removed.
 *
 * @throws {InvalidInputError} `target` is not a new name in an existing directory.
 */
export async function writeToTarget<T>(
  target: unknown,
  fill: (tmp: string) => Promise<T>,
): Promise<T> {
  const prepared = await prepareTarget(target);
  try {
    const result = await fill(prepared.tmp);
    checkpointIfCancelled();
    await finishTarget(prepared);
    return result;
  } catch (error) {
    await discardTarget(prepared);
    throw error;
  }
}

/** Where a `get` writes: the target and the temporary name beside it. */
export interface PreparedTarget {
  /** The target as given, for messages. */
  target: string;
  /** The target, without trailing slashes. */
  path: string;
  /** The temporary name the tree is written to. */
  tmp: string;
}

/**
 * Checks a `get` target: a new name in an existing directory.
 *
 * @throws {InvalidInputError} The target exists, or its directory does not.
 */
export async function prepareTarget(target: unknown): Promise<PreparedTarget> {
  if (typeof target !== "string" || target === "") {
    throw new InvalidInputError(
      `Cannot get: target must be a non-empty path: received ${typeof target}`,
    );
  }
  const path = target.length > 1 ? target.replace(/\/+$/, "") : target;
  const slash = path.lastIndexOf("/");
  const parent = slash === -1 ? "." : slash === 0 ? "/" : path.slice(0, slash);
  const base = path.slice(slash + 1);
  if (base === "" || base === "." || base === "..") {
    throw new InvalidInputError(`Cannot get: target must name a new file: received ${target}`);
  }
  if (await exists(path)) {
    throw new InvalidInputError(`Cannot get: target already exists: ${target}`);
  }
  try {
    if (!(await Deno.stat(parent)).isDirectory) throw new Deno.errors.NotADirectory(parent);
  } catch (error) {
    throw new InvalidInputError(`Cannot get: the target's directory does not exist: ${parent}`, {
      cause: error,
    });
  }
  return { target, path, tmp: `${parent}/.${base}.ipfs-kit-get-${crypto.randomUUID()}` };
}

/**
 * Moves a complete tree from its temporary name to the target.
 *
 * @throws {InvalidInputError} Something appeared at the target meanwhile.
 */
export async function finishTarget(prepared: PreparedTarget): Promise<void> {
  if (await exists(prepared.path)) {
    throw new InvalidInputError(`Cannot get: target already exists: ${prepared.target}`);
  }
  await Deno.rename(prepared.tmp, prepared.path);
}

/** Removes a partial tree; never throws. */
export async function discardTarget(prepared: PreparedTarget): Promise<void> {
  await Deno.remove(prepared.tmp, { recursive: true }).catch(() => {});
}

/** How `write` reads blocks. */
interface Reading {
  get: GetBlock;
  signal: AbortSignal;
  readAhead: ReadAheadSource | undefined;
}

async function write(
  reading: Reading,
  cid: CID,
  path: string,
  result: GetResult,
  dagPath: string,
): Promise<void> {
  const { get, signal, readAhead } = reading;
  checkpointIfCancelled();
  const node = await inspect(get, cid, "get");
  if (node.type === "symlink") {
    await Deno.symlink(node.target!, path);
    result.files++;
    return;
  }
  if (node.type === "file") {
    const root = await openFile(get, cid, "get");
    const file = await Deno.open(path, { write: true, createNew: true });
    try {
      for await (const chunk of readRange(get, root, 0, root.size, readAhead)) {
        checkpointIfCancelled();
        for (let at = 0; at < chunk.length;) at += await file.write(chunk.subarray(at));
        result.bytes += chunk.length;
      }
    } finally {
      file.close();
    }
    result.files++;
    return;
  }
  await Deno.mkdir(path);
  result.directories++;
  const seen = new Set<string>();
  for await (const entry of directoryEntries(get, node, signal)) {
    checkName(entry.name, dagPath);
    if (seen.has(entry.name)) {
      throw new InvalidInputError(
        `Cannot get: the directory ${dagPath} holds ${JSON.stringify(entry.name)} twice`,
      );
    }
    seen.add(entry.name);
    await write(reading, entry.cid, `${path}/${entry.name}`, result, `${dagPath}/${entry.name}`);
  }
}

/**
 * Checks a name from the DAG before a file is made from it.
 *
 * @throws {InvalidInputError} It is empty, `.` or `..`, or holds `/`, `\` or NUL.
 */
export function checkName(name: string, dagPath: string): void {
  if (name === "" || name === "." || name === ".." || /[/\\\0]/.test(name)) {
    throw new InvalidInputError(
      `Cannot get: unsafe name in the directory ${dagPath}: received ${JSON.stringify(name)}`,
    );
  }
}
