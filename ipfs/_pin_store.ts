/**
 * Recursive pins, one file per pinned root: `<dir>/<CIDv1 in base32>`,
 * written atomically (temporary file, sync, rename, directory sync).
 *
 * Pins are kept by CIDv1 so `Qm...` and its v1 form are one pin.
 *
 * @module
 */

import * as dagPb from "npm:@ipld/dag-pb@4.2.0";
import { CID } from "npm:multiformats@14.0.5/cid";
import type { GetBlock } from "./_unixfs_reader.ts";
import { NotFoundError } from "./errors.ts";

/** The set of recursive pins. */
export class PinStore {
  #dir: string;
  #tmpDir: string;
  #sync: boolean;

  private constructor(dir: string, tmpDir: string, sync: boolean) {
    this.#dir = dir;
    this.#tmpDir = tmpDir;
    this.#sync = sync;
  }

  /** Opens (creating) the pin directory. */
  static async open(dir: string, tmpDir: string, sync: boolean): Promise<PinStore> {
    await Deno.mkdir(dir, { recursive: true });
    return new PinStore(dir, tmpDir, sync);
  }

  /** Pins `cid` recursively. Idempotent. */
  async add(cid: CID): Promise<void> {
    const file = `${this.#dir}/${cid.toV1().toString()}`;
    const tmp = `${this.#tmpDir}/${crypto.randomUUID()}`;
    await Deno.writeTextFile(tmp, "recursive\n", { createNew: true });
    try {
      if (this.#sync) await syncPath(tmp);
      await Deno.rename(tmp, file);
    } catch (error) {
      await Deno.remove(tmp).catch(() => {});
      throw error;
    }
    if (this.#sync) await syncPath(this.#dir);
  }

  /** Whether `cid` is a pinned root. */
  async has(cid: CID): Promise<boolean> {
    try {
      await Deno.lstat(`${this.#dir}/${cid.toV1().toString()}`);
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
  }

  /** Every pinned root. */
  async list(): Promise<CID[]> {
    const roots: CID[] = [];
    for await (const entry of Deno.readDir(this.#dir)) {
      if (entry.isFile) roots.push(CID.parse(entry.name));
    }
    return roots;
  }

  /**
   * The pinned root that holds `cid` (the root itself, or a root whose DAG
   * contains it), or `undefined`. Walks the dag-pb links of every pin, as
   * Kubo's `block rm` does; blocks missing from the store are skipped.
   */
  async pinnedBy(cid: CID, get: GetBlock): Promise<CID | undefined> {
    const roots = await this.list();
    const target = cid.multihash.bytes;
    const seen = new Set<string>();
    for (const root of roots) {
      const stack: CID[] = [root];
      while (stack.length > 0) {
        const next = stack.pop()!;
        if (equalBytes(next.multihash.bytes, target)) return root;
        const key = next.multihash.bytes.toString();
        if (seen.has(key) || next.code !== dagPb.code) continue;
        seen.add(key);
        let block: Uint8Array;
        try {
          block = await get(next);
        } catch (error) {
          if (error instanceof NotFoundError) continue;
          throw error;
        }
        for (const link of dagPb.decode(block).Links) stack.push(link.Hash);
      }
    }
    return undefined;
  }
}

async function syncPath(path: string): Promise<void> {
  const handle = await Deno.open(path, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
