/**
 * The tar archive of the RPC API's `get`, written as it is read: POSIX
 * ustar headers (a PAX `path`/`linkpath` record before an entry whose name
 * does not fit), file contents streamed through, the end-of-archive marker
 * last. The archive's root is named after the path asked for (its last
 * name, or the CID), as Kubo names it.
 *
 * @module
 */

import type { ContentStore } from "../ipfs/content_store.ts";

const BLOCK = 512;
const encoder = new TextEncoder();

/** What {@linkcode tarEntries} needs of the store: listing and reading. */
type Reader = Pick<ContentStore, "ls" | "stat" | "cat">;

/**
 * The archive's bytes for `path` (a CID or an IPFS path), as the stream is
 * read.
 *
 * @param store Where the content is.
 * @param path What to archive.
 * @param name The root entry's name.
 * @param signal Aborts the reads.
 */
export async function* tarEntries(
  store: Reader,
  path: string,
  name: string,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array, void, undefined> {
  yield* entry(store, path, name, signal);
  yield new Uint8Array(BLOCK * 2);
}

async function* entry(
  store: Reader,
  path: string,
  name: string,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array, void, undefined> {
  const stat = await store.stat(path, { signal });
  if (stat.type === "directory") {
    yield* header(name, "5", 0, "");
    for (const child of await store.ls(path, { signal })) {
      yield* entry(store, `${path}/${child.name}`, `${name}/${child.name}`, signal);
    }
    return;
  }
  if (stat.type === "symlink") {
    const target = await new Response(store.cat(path, { signal })).text().catch(() => "");
    yield* header(name, "2", 0, target);
    return;
  }
  yield* header(name, "0", stat.size, "");
  let written = 0;
  for await (const chunk of store.cat(path, { signal })) {
    written += chunk.length;
    yield chunk;
  }
  if (written !== stat.size) {
    throw new Error(`Cannot get: ${path} read ${written} bytes, expected ${stat.size}`);
  }
  const pad = (BLOCK - (stat.size % BLOCK)) % BLOCK;
  if (pad > 0) yield new Uint8Array(pad);
}

/** A header block (with a PAX record before it when a name is too long). */
function* header(
  name: string,
  type: "0" | "2" | "5",
  size: number,
  linkname: string,
): Generator<Uint8Array, void, undefined> {
  const fullName = type === "5" ? `${name}/` : name;
  const nameBytes = encoder.encode(fullName);
  const linkBytes = encoder.encode(linkname);
  if (nameBytes.length > 100 || linkBytes.length > 100) {
    const records = [
      ...(nameBytes.length > 100 ? [paxRecord("path", fullName)] : []),
      ...(linkBytes.length > 100 ? [paxRecord("linkpath", linkname)] : []),
    ];
    const data = encoder.encode(records.join(""));
    yield block("PaxHeader", "x", data.length, "");
    yield data;
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (pad > 0) yield new Uint8Array(pad);
  }
  yield block(
    nameBytes.length > 100 ? fullName.slice(-90) : fullName,
    type,
    size,
    linkBytes.length > 100 ? "" : linkname,
  );
}

/** A PAX record: `<length> <key>=<value>\n`, the length counting itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLength = encoder.encode(body).length;
  let length = bodyLength + String(bodyLength).length;
  if (String(length).length !== String(bodyLength).length) length++;
  return `${length}${body}`;
}

function block(name: string, type: string, size: number, linkname: string): Uint8Array {
  const out = new Uint8Array(BLOCK);
  const put = (text: string, at: number, length: number) => {
    out.set(encoder.encode(text).subarray(0, length), at);
  };
  const octal = (value: number, length: number) => value.toString(8).padStart(length - 1, "0");
  put(name, 0, 100);
  put(octal(type === "5" ? 0o755 : 0o644, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(size, 12), 124, 12);
  put(octal(0, 12), 136, 12);
  put("        ", 148, 8);
  put(type, 156, 1);
  put(linkname, 157, 100);
  put("ustar\0", 257, 6);
  put("00", 263, 2);
  let sum = 0;
  for (const byte of out) sum += byte;
  put(`${octal(sum, 7)}\0 `, 148, 8);
  return out;
}
