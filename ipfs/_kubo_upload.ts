/**
 * Uploads to a Kubo daemon (`add`, `addAll`, `addPath`): entries streamed to
 * the client's `addAll`, contents read as they are sent, never held whole.
 *
 * The client swallows an input's failure and aborts the request instead, so
 * the first failure of an entry or its content is kept aside and rethrown in
 * place of the abort.
 *
 * @module
 */

import type {
  AddAllEntry,
  AddAllOptions,
  AddAllResult,
  AddInput,
  AddOptions,
} from "./content_store.ts";
import { InvalidInputError } from "./errors.ts";
import type { KuboCallOptions } from "./kubo_options.ts";
import { checkFlag, entryPath } from "./_arguments.ts";
import { resolveLayout } from "./_importer_options.ts";
import { byteSource } from "./_input.ts";
import type { KuboConnection } from "./_kubo_connection.ts";
import { clientTimeout } from "./_kubo_wire.ts";

/** An entry for the client's `addAll`: a file (`path` optional for `add`) or a directory. */
export type UploadEntry =
  | { path?: string; content: AsyncIterable<Uint8Array> }
  | { path: string; content?: undefined };

/** The entries of one upload. */
export type UploadEntries = Iterable<UploadEntry> | AsyncIterable<UploadEntry>;

/** The first failure of an input, which the client swallows. */
interface Failure {
  error?: unknown;
}

/**
 * Uploads entries through `addAll`. An input that fails mid-way makes the
 * client abort the request; that failure (not the abort) is rethrown. The
 * inputs' signal aborts when the call ends, closing files and cancelling
 * streams still being read; a `ReadableStream` `input` the upload never
 * started reading is cancelled on failure.
 *
 * @param kubo The backend's connection.
 * @param makeEntries The entries, given the inputs' signal.
 * @param options Layout, wrapping, pinning, signal, timeout.
 * @param many Whether this is `addAll` or `addPath` (may wrap) rather than `add`.
 * @param input The content of `add`, to release on failure.
 * @returns What the daemon reports, the root (or roots) last.
 */
export async function upload(
  kubo: KuboConnection,
  makeEntries: (signal: AbortSignal) => UploadEntries | Promise<UploadEntries>,
  options: AddAllOptions & KuboCallOptions,
  many: boolean,
  input?: AddInput,
): Promise<AddAllResult[]> {
  try {
    const layout = resolveLayout(options, "add");
    const pin = checkFlag(options.pin, true, "add", "pin");
    return await kubo.call({ what: "add", command: "add" }, options, async (signal, left) => {
      const ended = new AbortController();
      const inputSignal = AbortSignal.any([signal, ended.signal]);
      const failure: Failure = {};
      const results: AddAllResult[] = [];
      try {
        const entries = recordFailures(await makeEntries(inputSignal), failure);
        // No request for nothing (the daemon would refuse an empty upload).
        const first = await entries.next();
        if (first.done) throw new InvalidInputError("Cannot add: nothing to add");
        try {
          for await (
            const entry of kubo.rpc.client.addAll(prepend(first.value, entries), {
              cidVersion: layout.cidVersion,
              rawLeaves: layout.rawLeaves,
              chunker: `size-${layout.chunkSize}`,
              hashAlg: "sha2-256",
              pin,
              wrapWithDirectory: many && layout.wrapWithDirectory,
              signal,
              ...clientTimeout(left),
            })
          ) {
            results.push({ path: entry.path, cid: entry.cid, size: Number(entry.size) });
          }
        } catch (error) {
          // The client aborts the request when an input fails: the input's
          // failure is what the caller needs.
          throw failure.error ?? error;
        }
      } finally {
        ended.abort(new Error("Cannot read input: the add has ended"));
      }
      if (failure.error !== undefined) throw failure.error;
      if (results.length === 0) throw new InvalidInputError("Cannot add: nothing to add");
      return results;
    });
  } catch (error) {
    // A stream the add never started reading is released.
    if (input instanceof ReadableStream && !input.locked) {
      await input.cancel(error).catch(() => {});
    }
    throw error;
  }
}

/**
 * The entries of `addAll` with checked, normalized paths and counted contents.
 *
 * @param entries What the caller gave.
 * @param onProgress Called with the bytes read so far of each file.
 * @param signal Cancels a pending read of a stream content.
 */
export async function* uploadEntries(
  entries: Iterable<AddAllEntry> | AsyncIterable<AddAllEntry>,
  onProgress: AddOptions["onProgress"],
  signal: AbortSignal,
): AsyncGenerator<UploadEntry, void, undefined> {
  for await (const entry of entries) {
    const path = entryPath(entry);
    if (entry.link !== undefined) throw symlinkRefused(path);
    if (entry.content === undefined) yield { path };
    else yield { path, content: byteSource(entry.content, path, onProgress, "add", signal) };
  }
}

/**
 * Refuses a scanned tree that holds a symbolic link, before any request: an
 * upload the client aborts half way leaves js-ipfs holding its
 * garbage-collection lock for good (see tests/kubo_backend_exclusive_test.ts).
 *
 * @param entries The entries `scanPath` found.
 * @throws {InvalidInputError} An entry is a symbolic link.
 */
export function refuseLinks(entries: readonly { path: string; link?: string }[]): void {
  const link = entries.find((entry) => entry.link !== undefined);
  if (link !== undefined) throw symlinkRefused(link.path);
}

/** Why the Kubo backend cannot add a symbolic link at `path`. */
function symlinkRefused(path: string): InvalidInputError {
  return new InvalidInputError(
    `Cannot add: ${path} is a symbolic link, which the Kubo backend cannot upload ` +
      "(kubo-rpc-client sends no symlink parts): follow links to add their targets " +
      "(followSymlinks; --follow-symlinks in the CLI), or add on the embedded node",
  );
}

/**
 * Passes entries (and their contents) through, keeping the first failure:
 * the client swallows it and aborts the request instead.
 */
async function* recordFailures(
  entries: UploadEntries,
  failure: Failure,
): AsyncGenerator<UploadEntry, void, undefined> {
  try {
    for await (const entry of entries) {
      if (entry.content === undefined) yield { path: entry.path };
      else {
        yield {
          ...(entry.path === undefined ? {} : { path: entry.path }),
          content: recordContent(entry.content, failure),
        };
      }
    }
  } catch (error) {
    failure.error ??= error;
    throw error;
  }
}

async function* recordContent(
  content: AsyncIterable<Uint8Array>,
  failure: Failure,
): AsyncGenerator<Uint8Array, void, undefined> {
  try {
    yield* content;
  } catch (error) {
    failure.error ??= error;
    throw error;
  }
}

/** `first`, then the rest of `rest`. */
async function* prepend<T>(first: T, rest: AsyncIterator<T>): AsyncGenerator<T, void, undefined> {
  let done = false;
  try {
    yield first;
    while (true) {
      const next = await rest.next();
      if (next.done) {
        done = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!done) await rest.return?.();
  }
}
