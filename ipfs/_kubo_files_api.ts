/**
 * The Kubo backend's MFS: Kubo's `ipfs files` commands through the client's
 * `files.*` (`files chcid` as a raw command: the client has none). Paths are
 * checked here first, with the embedded node's messages; the daemon's
 * failures come back as the kit's typed errors.
 *
 * @module
 */

import { CID as Cid } from "npm:multiformats@14.0.5/cid";
import type { CID, FilesApi, FilesEntry, StatResult } from "./content_store.ts";
import { InvalidInputError } from "./errors.ts";
import type { KuboCallOptions } from "./kubo_options.ts";
import { checkCount, checkFlag } from "./_arguments.ts";
import { checkTimeout, deadlineFor, streamStep } from "./_kubo_call.ts";
import type { KuboConnection } from "./_kubo_connection.ts";
import { byteSource } from "./_input.ts";
import { isIpfsPath, mfsNames } from "./_mfs_paths.ts";
import { clientTimeout, ipfsPath, rpcTimeout } from "./_kubo_wire.ts";

/**
 * The `files` API of a Kubo backend.
 *
 * @param kubo The backend's connection.
 * @returns The API.
 */
export function kuboFilesApi(kubo: KuboConnection): FilesApi<KuboCallOptions> {
  const files = () => kubo.rpc.client.files;
  return {
    async ls(path = "/", options = {}): Promise<FilesEntry[]> {
      const what = "list files";
      mfsNames(path, what);
      return await kubo.call(
        { what, command: "files/ls", subject: path, idempotent: true },
        options,
        async (signal, left) => {
          const stat = await files().stat(path, { signal, ...clientTimeout(left) });
          if (stat.type !== "directory") {
            const name = path.split("/").filter((part) => part !== "").at(-1) ?? "";
            return [{ name, type: "file", size: Number(stat.size), cid: stat.cid }];
          }
          const out: FilesEntry[] = [];
          for await (
            const entry of files().ls(path, { long: true, signal, ...clientTimeout(left) })
          ) {
            const type = entry.type === "directory" ? "directory" : "file";
            out.push({
              name: entry.name,
              type,
              size: type === "directory" ? 0 : Number(entry.size ?? 0),
              cid: entry.cid,
            });
          }
          return out;
        },
      );
    },

    async stat(path, options = {}): Promise<StatResult> {
      const what = "stat file";
      mfsNames(path, what);
      return await kubo.call(
        { what, command: "files/stat", subject: path, idempotent: true },
        options,
        async (signal, left) => {
          const stat = await files().stat(path, { signal, ...clientTimeout(left) });
          return {
            cid: stat.cid,
            type: stat.type === "directory" ? "directory" : "file",
            size: Number(stat.size),
            cumulativeSize: Number(stat.cumulativeSize),
            blocks: Number(stat.blocks),
          };
        },
      );
    },

    async mkdir(path, options = {}): Promise<void> {
      const what = "make directory";
      mfsNames(path, what);
      const parents = checkFlag(options.parents, false, what, "parents");
      const cidVersion = checkVersion(options.cidVersion, what);
      await kubo.call(
        { what, command: "files/mkdir", subject: path },
        options,
        (signal, left) =>
          files().mkdir(path, {
            parents,
            ...(cidVersion === undefined ? {} : { cidVersion }),
            signal,
            ...clientTimeout(left),
          }),
      );
    },

    async write(path, content, options = {}): Promise<void> {
      const what = "write file";
      mfsNames(path, what);
      const create = checkFlag(options.create, false, what, "create");
      const parents = checkFlag(options.parents, false, what, "parents");
      const truncate = checkFlag(options.truncate, false, what, "truncate");
      const offset = checkCount(options.offset ?? 0, "offset");
      const length = options.length === undefined
        ? undefined
        : checkCount(options.length, "length");
      const cidVersion = checkVersion(options.cidVersion, what);
      await kubo.call(
        { what, command: "files/write", subject: path },
        options,
        async (signal, left) => {
          const ended = new AbortController();
          try {
            await files().write(
              path,
              byteSource(content, path, undefined, what, AbortSignal.any([signal, ended.signal])),
              {
                create,
                parents,
                truncate,
                offset,
                ...(length === undefined ? {} : { length }),
                ...(cidVersion === undefined ? {} : { cidVersion }),
                ...(options.rawLeaves === undefined ? {} : { rawLeaves: options.rawLeaves }),
                ...(options.chunkSize === undefined
                  ? {}
                  : { chunker: `size-${options.chunkSize}` }),
                signal,
                ...clientTimeout(left),
              } as Parameters<ReturnType<typeof files>["write"]>[2],
            );
          } finally {
            ended.abort(new Error("Cannot read input: the write has ended"));
          }
        },
      );
    },

    read(path, options = {}): ReadableStream<Uint8Array> {
      const what = "read file";
      mfsNames(path, what);
      kubo.checkOpen(what);
      const offset = checkCount(options.offset ?? 0, "offset");
      const length = options.length === undefined
        ? undefined
        : checkCount(options.length, "length");
      const timeoutMs = checkTimeout(options.timeoutMs ?? kubo.timeoutMs, what);
      const deadline = deadlineFor(timeoutMs);
      const request = new AbortController();
      let iterator: AsyncIterator<Uint8Array> | undefined;
      let started = false;
      const close = async () => {
        request.abort(new Error("Cannot read file: the stream has ended"));
        const open = iterator;
        iterator = undefined;
        await open?.return?.().catch(() => {});
      };
      return new ReadableStream<Uint8Array>({
        pull: async (controller) => {
          let result: IteratorResult<Uint8Array>;
          try {
            result = await streamStep(
              { what, command: "files/read", subject: path, idempotent: !started },
              kubo.settings,
              options.signal,
              deadline,
              timeoutMs,
              request,
              async (left) => {
                iterator ??= files().read(path, {
                  offset,
                  ...(length === undefined ? {} : { length }),
                  signal: request.signal,
                  ...clientTimeout(left),
                })[Symbol.asyncIterator]();
                try {
                  return await iterator.next();
                } catch (error) {
                  if (!started) iterator = undefined;
                  throw error;
                }
              },
            );
          } catch (error) {
            await close();
            throw error;
          }
          if (result.done) {
            await close();
            controller.close();
          } else {
            started = true;
            controller.enqueue(result.value);
          }
        },
        cancel: close,
      }, { highWaterMark: 0 });
    },

    async cp(from, to, options = {}): Promise<void> {
      const what = "copy file";
      const source = isIpfsPath(from) ? ipfsPath(from, what).arg : from;
      if (!isIpfsPath(from)) mfsNames(from, what);
      mfsNames(to, what);
      const parents = checkFlag(options.parents, false, what, "parents");
      await kubo.call(
        { what, command: "files/cp", subject: from },
        options,
        (signal, left) => files().cp(source, to, { parents, signal, ...clientTimeout(left) }),
      );
    },

    async mv(from, to, options = {}): Promise<void> {
      const what = "move file";
      mfsNames(from, what);
      mfsNames(to, what);
      await kubo.call(
        { what, command: "files/mv", subject: from },
        options,
        (signal, left) => files().mv(from, to, { signal, ...clientTimeout(left) }),
      );
    },

    async rm(path, options = {}): Promise<void> {
      const what = "remove file";
      if (mfsNames(path, what).length === 0) {
        throw new InvalidInputError(`Cannot ${what}: cannot delete root`);
      }
      const recursive = checkFlag(options.recursive, false, what, "recursive");
      const force = checkFlag(options.force, false, what, "force");
      await kubo.call(
        { what, command: "files/rm", subject: path },
        options,
        (signal, left) =>
          files().rm(
            path,
            {
              recursive,
              ...(force ? { force } : {}),
              signal,
              ...clientTimeout(left),
            } as Parameters<ReturnType<typeof files>["rm"]>[1],
          ),
      );
    },

    async flush(path = "/", options = {}): Promise<CID> {
      const what = "flush files";
      mfsNames(path, what);
      return await kubo.call(
        { what, command: "files/flush", subject: path },
        options,
        async (signal, left) =>
          Cid.asCID(await files().flush(path, { signal, ...clientTimeout(left) }))!,
      );
    },

    async chcid(path = "/", options = {}): Promise<void> {
      const what = "change CID version";
      mfsNames(path, what);
      const cidVersion = checkVersion(options.cidVersion, what);
      await kubo.call(
        { what, command: "files/chcid", subject: path },
        options,
        async (signal, left) => {
          const response = await kubo.rpc.post("files/chcid", {
            args: [path],
            params: {
              ...(cidVersion === undefined ? {} : { "cid-version": cidVersion }),
              ...rpcTimeout(left),
            },
            signal,
          });
          for await (const _ of response.iterator()) { /* an empty answer */ }
        },
      );
    },
  };
}

function checkVersion(value: unknown, what: string): 0 | 1 | undefined {
  if (value === undefined) return undefined;
  if (value !== 0 && value !== 1) {
    throw new InvalidInputError(
      `Cannot ${what}: cidVersion must be 0 or 1: received ${String(value)}`,
    );
  }
  return value;
}
