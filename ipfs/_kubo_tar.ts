/**
 * Writes the tar stream of Kubo's `get` to the local file system, as it
 * arrives: one block of 512 bytes of header at a time, file contents
 * streamed to disk chunk by chunk.
 *
 * The daemon names the archive's root after the path asked for (the CID, or
 * the last name of the path); the root becomes the target. The tree is
 * written under a temporary name beside the target and renamed into place
 * when complete (`prepareTarget` in `_fs_export.ts`); on failure it is removed.
 *
 * What is checked, since the archive comes from the network:
 * - every header's checksum; the end-of-archive marker must be there (a
 *   daemon that fails half way cuts the stream short);
 * - every name below the root, as the embedded node's `get` does
 *   ({@linkcode checkName}): no empty names, `.`, `..`, `\` or NUL, and every
 *   entry lies below the root;
 * - an entry's parent must be a directory this extraction made, files are
 *   created with `createNew` and directories without `recursive`: nothing is
 *   written through a symbolic link, and duplicates fail;
 * - only files, directories and symbolic links (UnixFS has nothing else).
 *
 * Formats: POSIX ustar with its name prefix, PAX extended headers (`path`,
 * `linkpath`, `size`) and GNU long names, which covers Go's `archive/tar`
 * (Kubo) and js-ipfs.
 *
 * @module
 */

import type { CID } from "npm:multiformats@14.0.5/cid";
import type { GetResult } from "./content_store.ts";
import { InvalidInputError } from "./errors.ts";
import { checkName } from "./_fs_export.ts";

const BLOCK = 512;
const decoder = new TextDecoder();

/** Reads exact byte counts from a stream of chunks. */
class ByteReader {
  #iterator: AsyncIterator<Uint8Array>;
  #chunk: Uint8Array = new Uint8Array(0);
  #ended = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#iterator = source[Symbol.asyncIterator]();
  }

  /** The next chunk into `#chunk`; false at the end of the stream. */
  async #more(): Promise<boolean> {
    while (!this.#ended) {
      const result = await this.#iterator.next();
      if (result.done) {
        this.#ended = true;
        return false;
      }
      if (result.value.length > 0) {
        this.#chunk = result.value;
        return true;
      }
    }
    return false;
  }

  /** Exactly `n` bytes, or fewer only at the end of the stream. */
  async read(n: number): Promise<Uint8Array> {
    if (this.#chunk.length >= n) {
      const out = this.#chunk.subarray(0, n);
      this.#chunk = this.#chunk.subarray(n);
      return out;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (this.#chunk.length === 0 && !(await this.#more())) return out.subarray(0, filled);
      const take = Math.min(n - filled, this.#chunk.length);
      out.set(this.#chunk.subarray(0, take), filled);
      this.#chunk = this.#chunk.subarray(take);
      filled += take;
    }
    return out;
  }

  /** `n` bytes as they arrive, without joining chunks. */
  async *stream(n: number): AsyncGenerator<Uint8Array, void, undefined> {
    let left = n;
    while (left > 0) {
      if (this.#chunk.length === 0 && !(await this.#more())) throw truncated();
      const take = Math.min(left, this.#chunk.length);
      yield this.#chunk.subarray(0, take);
      this.#chunk = this.#chunk.subarray(take);
      left -= take;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.stream(n)) { /* discard */ }
  }

  /** Reads to the end of the stream, discarding. */
  async drain(): Promise<void> {
    this.#chunk = new Uint8Array(0);
    while (await this.#more()) { /* discard */ }
  }

  /** Stops reading: lets the source release its resources. */
  async close(): Promise<void> {
    if (!this.#ended) {
      this.#ended = true;
      await this.#iterator.return?.();
    }
  }
}

function truncated(): InvalidInputError {
  return new InvalidInputError(
    "Cannot get: the daemon's archive ended early (the daemon failed while sending it)",
  );
}

interface Header {
  name: string;
  size: number;
  type: string;
  linkname: string;
}

function text(block: Uint8Array, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  return decoder.decode(end === -1 ? field : field.subarray(0, end));
}

function number(block: Uint8Array, start: number, length: number, what: string): number {
  const field = block.subarray(start, start + length);
  if ((field[0] & 0x80) !== 0) {
    // GNU base-256: big-endian two's complement in the remaining bits.
    let value = field[0] & 0x7f;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i];
    if (!Number.isSafeInteger(value)) throw corrupt(`${what} is too large`);
    return value;
  }
  const digits = decoder.decode(field).replace(/[\0 ]+$/, "").replace(/^ +/, "");
  if (digits === "") return 0;
  if (!/^[0-7]+$/.test(digits)) throw corrupt(`${what} is not an octal number`);
  return parseInt(digits, 8);
}

function corrupt(why: string): InvalidInputError {
  return new InvalidInputError(`Cannot get: the daemon's archive is corrupt: ${why}`);
}

function parseHeader(block: Uint8Array): Header | undefined {
  if (block.every((byte) => byte === 0)) return undefined;
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
  if (number(block, 148, 8, "the checksum") !== sum) throw corrupt("a header's checksum is wrong");
  const magic = text(block, 257, 6);
  const prefix = magic === "ustar" ? text(block, 345, 155) : "";
  const name = text(block, 0, 100);
  return {
    name: prefix === "" ? name : `${prefix}/${name}`,
    size: number(block, 124, 12, "a size"),
    type: block[156] === 0 ? "0" : String.fromCharCode(block[156]),
    linkname: text(block, 157, 100),
  };
}

/** PAX records: `"<length> <key>=<value>\n"`, repeated. */
function parsePax(data: Uint8Array): Map<string, string> {
  const records = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space === -1) break;
    const length = Number(decoder.decode(data.subarray(at, space)));
    if (!Number.isSafeInteger(length) || length <= 0 || at + length > data.length) {
      throw corrupt("a PAX record's length is wrong");
    }
    const record = decoder.decode(data.subarray(space + 1, at + length - 1));
    const equals = record.indexOf("=");
    if (equals === -1) throw corrupt("a PAX record has no '='");
    records.set(record.slice(0, equals), record.slice(equals + 1));
    at += length;
  }
  return records;
}

const MAX_META = 1_048_576;

/**
 * Extracts a tar stream to `dest`: the archive's root entry becomes `dest`.
 * The counts go into `result`. `checkpoint` is called per chunk (a
 * cancellation check).
 *
 * @throws {InvalidInputError} The archive is corrupt or cut short, a name is
 * unsafe or repeated, or an entry is not a file, directory or symlink.
 */
export async function extractTar(
  source: AsyncIterable<Uint8Array>,
  dest: string,
  result: GetResult,
  checkpoint: () => void,
): Promise<void> {
  const reader = new ByteReader(source);
  try {
    let root: string[] | undefined;
    const directories = new Set<string>();
    let pax = new Map<string, string>();
    let longName: string | undefined;
    let longLink: string | undefined;
    while (true) {
      checkpoint();
      const block = await reader.read(BLOCK);
      if (block.length < BLOCK) throw truncated();
      const header = parseHeader(block);
      if (header === undefined) {
        // End of archive: a second zero block follows (tolerated missing at EOF).
        await reader.drain();
        break;
      }
      const size = pax.has("size") ? Number(pax.get("size")) : header.size;
      if (!Number.isSafeInteger(size) || size < 0) throw corrupt("an entry's size is wrong");
      const padding = (BLOCK - (size % BLOCK)) % BLOCK;
      if (
        header.type === "x" || header.type === "g" || header.type === "L" || header.type === "K"
      ) {
        if (size > MAX_META) throw corrupt("an extended header is larger than 1 MiB");
        const data = await reader.read(size);
        if (data.length < size) throw truncated();
        await reader.skip(padding);
        if (header.type === "x") pax = parsePax(data);
        else if (header.type === "L") longName = text(data, 0, data.length);
        else if (header.type === "K") longLink = text(data, 0, data.length);
        continue;
      }
      const name = pax.get("path") ?? longName ?? header.name;
      const linkname = pax.get("linkpath") ?? longLink ?? header.linkname;
      pax = new Map();
      longName = undefined;
      longLink = undefined;
      const parts = name.split("/").filter((part) => part !== "" && part !== ".");
      if (parts.length === 0) throw corrupt(`an entry has no name: ${JSON.stringify(name)}`);
      // The first entry is the root, whatever its name: Kubo names it after
      // the last component of the path asked for, js-ipfs after the whole path.
      root ??= parts;
      if (parts.length < root.length || root.some((part, i) => parts[i] !== part)) {
        throw new InvalidInputError(
          `Cannot get: the archive holds an entry outside its root ${root.join("/")}: ${
            JSON.stringify(name)
          }`,
        );
      }
      const below = parts.slice(root.length);
      for (let i = 0; i < below.length; i++) {
        checkName(below[i], [...root, ...below.slice(0, i)].join("/"));
      }
      const path = [dest, ...below].join("/");
      if (below.length > 0) {
        const parent = [dest, ...below.slice(0, -1)].join("/");
        if (!directories.has(parent)) {
          throw new InvalidInputError(
            `Cannot get: the archive holds ${
              JSON.stringify(name)
            } before (or without) its directory`,
          );
        }
      } else if (result.files + result.directories > 0) {
        throw new InvalidInputError(`Cannot get: the archive holds its root twice`);
      }
      try {
        switch (header.type) {
          case "0":
          case "7": {
            const file = await Deno.open(path, { write: true, createNew: true });
            try {
              for await (const chunk of reader.stream(size)) {
                checkpoint();
                for (let at = 0; at < chunk.length;) at += await file.write(chunk.subarray(at));
                result.bytes += chunk.length;
              }
            } finally {
              file.close();
            }
            result.files++;
            break;
          }
          case "5":
            await Deno.mkdir(path);
            directories.add(path);
            result.directories++;
            await reader.skip(size);
            break;
          case "2":
            if (linkname === "") throw corrupt(`the symbolic link ${name} has no target`);
            await Deno.symlink(linkname, path);
            result.files++;
            await reader.skip(size);
            break;
          default:
            throw new InvalidInputError(
              `Cannot get: unsupported entry type ${JSON.stringify(header.type)} in the archive: ${
                JSON.stringify(name)
              }`,
            );
        }
      } catch (error) {
        if (error instanceof Deno.errors.AlreadyExists) {
          throw new InvalidInputError(
            `Cannot get: the archive holds ${JSON.stringify(name)} twice`,
            { cause: error },
          );
        }
        throw error;
      }
      await reader.skip(padding);
    }
    if (root === undefined) {
      throw new InvalidInputError("Cannot get: the daemon's archive is empty");
    }
  } finally {
    await reader.close();
  }
}

/** Re-exported for the backend: the counts start at zero for `cid`. */
export function emptyResult(cid: CID): GetResult {
  return { cid, files: 0, directories: 0, bytes: 0 };
}
