/**
 * Adding files and directories to the embedded node's repository:
 * `ipfs-unixfs-importer` chunks and encodes them (Kubo's layout, so Kubo's
 * CIDs), its blocks are written to the blockstore as it goes, and the roots
 * are pinned.
 *
 * @module
 */

import { type ImportCandidate, importer, type ImportResult } from "npm:ipfs-unixfs-importer@17.1.1";
import type { CID } from "npm:multiformats@14.0.5/cid";
import { Semaphore } from "../runtime/semaphore.ts";
import type {
  AddAllEntry,
  AddAllOptions,
  AddAllResult,
  AddInput,
  AddOptions,
  AddResult,
} from "./content_store.ts";
import { InvalidInputError } from "./errors.ts";
import { checkFlag, entryPath } from "./_arguments.ts";
import { importerOptions, type ResolvedLayout, resolveLayout } from "./_importer_options.ts";
import { byteSource } from "./_input.ts";
import type { Repository } from "./_repository.ts";
import { resolveUnixFsPath } from "./_unixfs_path.ts";

/**
 * How many block writes an add keeps in flight: each holds one block's bytes
 * and an open file until its sync and rename are done.
 */
const WRITES_IN_FLIGHT = 32;

/**
 * Adds one file and (unless `pin: false`) pins its root. Runs inside
 * `Repository.run`, holding the lock shared.
 *
 * @param repo The repository.
 * @param input The content.
 * @param options Layout, pinning, progress.
 * @param signal The operation's signal.
 * @returns The root CID and the DAG's cumulative size.
 */
export async function importFile(
  repo: Repository,
  input: AddInput,
  options: AddOptions,
  signal: AbortSignal,
): Promise<AddResult> {
  const layout = resolveLayout(options, "add");
  const pin = checkFlag(options.pin, true, "add", "pin");
  const results = await runImporter(
    repo,
    (inputSignal) => [{
      content: byteSource(input, "", options.onProgress, "add", inputSignal),
    }],
    layout,
    signal,
  );
  const root = results.at(-1)!;
  if (pin) await repo.pins.set(root.cid, "recursive");
  await repo.blocks.flush();
  return { cid: root.cid, size: Number(root.size) };
}

/**
 * Imports entries (as `addAll`), then pins the roots: each top-level entry,
 * or the wrapping directory. Runs inside `Repository.run`, holding the lock
 * shared.
 *
 * @param repo The repository.
 * @param makeEntries The entries, given the inputs' signal.
 * @param options Layout, wrapping, pinning, progress.
 * @param signal The operation's signal.
 * @returns Every entry created, parents after children, roots last.
 */
export async function importEntries(
  repo: Repository,
  makeEntries: (
    inputSignal: AbortSignal,
  ) => Iterable<AddAllEntry> | AsyncIterable<AddAllEntry>,
  options: AddAllOptions,
  signal: AbortSignal,
): Promise<AddAllResult[]> {
  const layout = resolveLayout(options, "add");
  const pin = checkFlag(options.pin, true, "add", "pin");
  const directories: string[] = [];
  const results = await runImporter(
    repo,
    (inputSignal) =>
      toCandidates(makeEntries(inputSignal), directories, options.onProgress, inputSignal),
    layout,
    signal,
  );
  const out: AddAllResult[] = results.map((entry) => ({
    path: entry.path ?? entry.cid.toString(),
    cid: entry.cid,
    size: Number(entry.size),
  }));
  await addEmptyDirectories(repo, out, directories, layout.wrapWithDirectory);
  if (pin) {
    const roots = layout.wrapWithDirectory
      ? out.filter((entry) => entry.path === "")
      : out.filter((entry) => !entry.path.includes("/"));
    for (const root of roots) await repo.pins.set(root.cid, "recursive");
  }
  await repo.blocks.flush();
  return out;
}

/**
 * Runs the importer over the candidates `makeCandidates` gives. A block
 * write (create, write, sync, rename) runs in the background: the
 * importer's `put` returns as soon as one of {@linkcode WRITES_IN_FLIGHT}
 * write slots is free, so it goes on hashing while earlier blocks sync,
 * and a file's root block is written together with its last leaves rather
 * than after them. Every write is joined before this returns, even on
 * failure; the first failed write fails the import (later puts throw it),
 * and the inputs' signal aborts then, cancelling any stream input still
 * being read.
 */
async function runImporter(
  repo: Repository,
  makeCandidates: (
    inputSignal: AbortSignal,
  ) => Iterable<ImportCandidate> | AsyncIterable<ImportCandidate>,
  layout: ResolvedLayout,
  signal: AbortSignal,
): Promise<ImportResult[]> {
  const ended = new AbortController();
  const candidates = makeCandidates(AbortSignal.any([signal, ended.signal]));
  const pending = new Set<Promise<void>>();
  const slots = new Semaphore(WRITES_IN_FLIGHT);
  let failure: { error: unknown } | undefined;
  let finished = false;
  const blocks = repo.blocks;
  const storage = {
    async put(
      cid: CID,
      bytes: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
    ): Promise<CID> {
      if (finished) throw new Error("Cannot put block: the import has ended");
      if (failure !== undefined) throw failure.error;
      const data = await concat(bytes);
      const slot = await slots.acquire();
      const write = (async () => {
        try {
          await blocks.put(cid, data, { signal });
        } catch (error) {
          failure ??= { error };
        } finally {
          slot.release();
        }
      })();
      pending.add(write);
      void write.then(() => pending.delete(write)); // never rejects; joined through `pending`
      return cid;
    },
  };
  const results: ImportResult[] = [];
  try {
    for await (const entry of importer(candidates, storage, importerOptions(layout))) {
      results.push(entry);
    }
  } finally {
    finished = true;
    while (pending.size > 0) await Promise.all([...pending]);
    ended.abort(new Error("Cannot read input: the import has ended"));
  }
  if (failure !== undefined) throw failure.error;
  if (results.length === 0) throw new InvalidInputError("Cannot add: nothing to add");
  return results;
}

/**
 * Puts the empty directories among the entries into the results. The
 * importer stores and links them but does not report them; Kubo does.
 * Each is resolved below its nearest reported parent and listed just
 * before it.
 */
async function addEmptyDirectories(
  repo: Repository,
  out: AddAllResult[],
  directories: string[],
  wrapped: boolean,
): Promise<void> {
  const reported = new Set(out.map((entry) => entry.path));
  for (const path of directories) {
    if (reported.has(path)) continue;
    const parts = path.split("/");
    for (let depth = parts.length - 1; depth >= (wrapped ? 0 : 1); depth--) {
      const parent = parts.slice(0, depth).join("/");
      const at = out.findIndex((entry) => entry.path === parent);
      if (at === -1) continue;
      const cid = await resolveUnixFsPath(
        (cid) => repo.blocks.get(cid),
        `${out[at].cid}/${parts.slice(depth).join("/")}`,
        "add",
      );
      out.splice(at, 0, { path, cid, size: await repo.blocks.size(cid) });
      reported.add(path);
      break;
    }
  }
}

/**
 * The importer's candidates for the entries, with normalized paths
 * (`"/a//b/"` is `"a/b"`). Directory paths are collected in `directories`.
 */
async function* toCandidates(
  entries: Iterable<AddAllEntry> | AsyncIterable<AddAllEntry>,
  directories: string[],
  onProgress: AddAllOptions["onProgress"],
  signal: AbortSignal,
): AsyncGenerator<ImportCandidate, void, undefined> {
  for await (const entry of entries) {
    const path = entryPath(entry);
    if (entry.link !== undefined) yield { path, link: entry.link };
    else if (entry.content === undefined) {
      directories.push(path);
      yield { path };
    } else yield { path, content: byteSource(entry.content, path, onProgress, "add", signal) };
  }
}

/** The bytes of a block the importer gives, in one array. */
async function concat(
  bytes: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<Uint8Array> {
  if (bytes instanceof Uint8Array) return bytes;
  const parts: Uint8Array[] = [];
  let length = 0;
  for await (const part of bytes) {
    parts.push(part);
    length += part.length;
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
