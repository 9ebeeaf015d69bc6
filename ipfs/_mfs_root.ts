/**
 * Where the embedded node keeps its MFS root: one small file in the
 * repository, `files-root`, holding the root CID as text.
 *
 * A new root is written crash-safely: to a temporary file in the
 * repository's directory, synced, renamed over `files-root`, and the
 * directory synced, so after a crash the file names either the old root or
 * the new one, never a torn mix. The blocks the root references are synced
 * (the blockstore's flush) before the root that names them is written.
 *
 * @module
 */

import { CID } from "npm:multiformats@14.0.5/cid";
import { syncPath } from "../runtime/sync_path.ts";
import { InvalidInputError } from "./errors.ts";
import { ignoreNotFound } from "./_fs_blockstore.ts";

/** The file's name in the repository. */
export const MFS_ROOT_FILE = "files-root";

/** The MFS root of one repository: read at open, replaced durably. */
export class MfsRoot {
  #dir: string;
  #sync: boolean;
  #cid: CID | undefined;

  private constructor(dir: string, sync: boolean, cid: CID | undefined) {
    this.#dir = dir;
    this.#sync = sync;
    this.#cid = cid;
  }

  /**
   * Reads the root of the repository at `dir`; a repository without one
   * has no root yet (`current` is `undefined`). Temporary files a crash left
   * are removed.
   *
   * @throws {InvalidInputError} The file does not hold a CID.
   */
  static async open(dir: string, sync: boolean): Promise<MfsRoot> {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name.startsWith(`.${MFS_ROOT_FILE}-`) && entry.name.endsWith(".tmp")) {
        await Deno.remove(`${dir}/${entry.name}`).catch(ignoreNotFound);
      }
    }
    let text: string | undefined;
    try {
      text = await Deno.readTextFile(`${dir}/${MFS_ROOT_FILE}`);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    let cid: CID | undefined;
    if (text !== undefined) {
      try {
        cid = CID.parse(text.trim());
      } catch (error) {
        throw new InvalidInputError(
          `Cannot open repository: ${dir}/${MFS_ROOT_FILE} does not hold a CID: received ${
            JSON.stringify(text.slice(0, 100))
          }`,
          { cause: error },
        );
      }
    }
    return new MfsRoot(dir, sync, cid);
  }

  /** The root CID, or `undefined` before the first change. */
  get current(): CID | undefined {
    return this.#cid;
  }

  /**
   * Replaces the root: temporary file, sync, rename, directory sync.
   *
   * @param cid The new root (its blocks already durable).
   */
  async set(cid: CID): Promise<void> {
    if (this.#cid?.equals(cid)) return;
    const temporary = `${this.#dir}/.${MFS_ROOT_FILE}-${crypto.randomUUID()}.tmp`;
    try {
      await Deno.writeTextFile(temporary, `${cid}\n`);
      if (this.#sync) await syncPath(temporary);
      await Deno.rename(temporary, `${this.#dir}/${MFS_ROOT_FILE}`);
    } catch (error) {
      await Deno.remove(temporary).catch(() => {});
      throw error;
    }
    if (this.#sync) await syncPath(this.#dir);
    this.#cid = cid;
  }
}
