/**
 * Reads a file or directory tree from the local file system into `addAll`
 * entries, for `addPath`.
 *
 * The tree is scanned first (every directory listed, every file opened and
 * closed once), so a missing, unreadable or unsupported entry fails the add
 * before a block is written. File contents are then read one file at a time,
 * as the importer asks for them, in chunks, and each file is closed as soon
 * as it is read or the add stops.
 *
 * @module
 */

import type { AddAllEntry } from "./content_store.ts";
import { InvalidInputError, NotFoundError } from "./errors.ts";

/** Options for {@linkcode scanPath}. */
export interface ScanOptions {
  hidden: boolean;
  followSymlinks: boolean;
}

/** One entry found: a file (with its path on disk), a symbolic link or an empty directory. */
export interface ScannedEntry {
  /** Its path in the DAG: the root's name, then names below it. */
  path: string;
  /** The file on disk; `undefined` for an empty directory or a link. */
  file?: string;
  /** A symbolic link's target (not followed). */
  link?: string;
}

const READ_SIZE = 262_144;

/**
 * Scans `path`: a file gives one entry; a directory gives its files and its
 * empty directories (recursively), named below the directory's own name.
 *
 * @throws {NotFoundError} `path` does not exist.
 * @throws {InvalidInputError} Something cannot be read, or is not a file, a
 * directory or a symbolic link.
 */
export async function scanPath(
  path: string,
  options: ScanOptions,
  checkpoint: () => void,
): Promise<ScannedEntry[]> {
  if (typeof path !== "string" || path === "") {
    throw new InvalidInputError(
      `Cannot add: path must be a non-empty string: received ${typeof path}`,
    );
  }
  let real: string;
  let info: Deno.FileInfo;
  try {
    real = await Deno.realPath(path);
    info = await Deno.stat(real);
  } catch (error) {
    throw fsError(error, path);
  }
  // Named as given (a symbolic link keeps its own name, as in Kubo); `.`
  // and `..` are named by what they are.
  const given = path.split("/").filter((part) => part !== "").at(-1);
  const name = given !== undefined && given !== "." && given !== ".."
    ? given
    : real.split("/").filter((part) => part !== "").at(-1);
  if (name === undefined) {
    throw new InvalidInputError(`Cannot add: the file system root has no name: received ${path}`);
  }
  const entries: ScannedEntry[] = [];
  if (info.isFile) {
    await checkReadable(real, path);
    entries.push({ path: name, file: real });
  } else if (info.isDirectory) {
    await scanDirectory(real, name, options, entries, new Set([real]), checkpoint);
  } else {
    throw new InvalidInputError(`Cannot add: not a file or a directory: ${path}`);
  }
  return entries;
}

async function scanDirectory(
  dir: string,
  dagPath: string,
  options: ScanOptions,
  entries: ScannedEntry[],
  ancestors: Set<string>,
  checkpoint: () => void,
): Promise<void> {
  checkpoint();
  const children: Deno.DirEntry[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) children.push(entry);
  } catch (error) {
    throw fsError(error, dir);
  }
  children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let added = 0;
  for (const child of children) {
    if (!options.hidden && child.name.startsWith(".")) continue;
    const diskPath = `${dir}/${child.name}`;
    const childPath = `${dagPath}/${child.name}`;
    let isFile = child.isFile;
    let isDirectory = child.isDirectory;
    let realDir = diskPath;
    if (child.isSymlink) {
      if (!options.followSymlinks) {
        // Stored as a symlink node, as Kubo's `ipfs add -r` does.
        try {
          entries.push({ path: childPath, link: await Deno.readLink(diskPath) });
        } catch (error) {
          throw fsError(error, diskPath);
        }
        added++;
        continue;
      }
      try {
        realDir = await Deno.realPath(diskPath);
        const info = await Deno.stat(realDir);
        isFile = info.isFile;
        isDirectory = info.isDirectory;
      } catch (error) {
        throw fsError(error, diskPath);
      }
    }
    if (isFile) {
      await checkReadable(diskPath, diskPath);
      entries.push({ path: childPath, file: diskPath });
    } else if (isDirectory) {
      if (ancestors.has(realDir)) {
        throw new InvalidInputError(`Cannot add: ${diskPath} links back to ${realDir}: a loop`);
      }
      ancestors.add(realDir);
      await scanDirectory(diskPath, childPath, options, entries, ancestors, checkpoint);
      ancestors.delete(realDir);
    } else {
      throw new InvalidInputError(`Cannot add: not a file or a directory: ${diskPath}`);
    }
    added++;
  }
  if (added === 0) entries.push({ path: dagPath });
}

async function checkReadable(file: string, given: string): Promise<void> {
  try {
    (await Deno.open(file, { read: true })).close();
  } catch (error) {
    throw fsError(error, given);
  }
}

/** The typed error for a file system failure at `path`. */
function fsError(error: unknown, path: string): Error {
  if (error instanceof NotFoundError || error instanceof InvalidInputError) return error;
  if (error instanceof Deno.errors.NotFound) {
    return new NotFoundError(`Cannot add: no such file or directory: ${path}`, path);
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new InvalidInputError(`Cannot add: cannot read ${path}: ${reason}`, { cause: error });
}

/**
 * The `addAll` entries for scanned ones. Each file is opened when its
 * content is first read and closed when it is read to the end, when its
 * reader stops, or when `signal` aborts (the importer may abandon a file
 * without stopping its reader).
 */
export function toEntries(scanned: ScannedEntry[], signal: AbortSignal): AddAllEntry[] {
  return scanned.map((entry) => {
    if (entry.link !== undefined) return { path: entry.path, link: entry.link };
    if (entry.file === undefined) return { path: entry.path };
    return { path: entry.path, content: readFile(entry.file, signal) };
  });
}

/** A file's bytes in chunks; the file is open only while it is being read. */
async function* readFile(
  path: string,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array, void, undefined> {
  signal.throwIfAborted();
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    throw fsError(error, path);
  }
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    file.close();
  };
  signal.addEventListener("abort", close, { once: true });
  try {
    while (true) {
      signal.throwIfAborted();
      const buffer = new Uint8Array(READ_SIZE);
      const read = await file.read(buffer);
      if (read === null) return;
      if (read > 0) yield buffer.subarray(0, read);
    }
  } finally {
    signal.removeEventListener("abort", close);
    close();
  }
}
