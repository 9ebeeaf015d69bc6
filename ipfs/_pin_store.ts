/**
 * Pins, one file per pinned CID: `<dir>/<CIDv1 in base32>`, holding the pin
 * type (`recursive` or `direct`) on the first line and the CID as pinned on
 * the second. Written atomically (temporary file, sync, rename, directory
 * sync).
 *
 * Pins are keyed by CIDv1 so `Qm...` and its v1 form are one pin; listing
 * gives the CID as it was pinned.
 *
 * @module
 */

import { CID } from "npm:multiformats@14.0.5/cid";
import { syncPath } from "../runtime/sync_path.ts";

/** A stored pin's type. */
export type StoredPinType = "recursive" | "direct";

/** A stored pin. */
export interface StoredPin {
  cid: CID;
  type: StoredPinType;
}

/** The set of pins. */
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

  /** Pins `cid` (replacing a pin of another type). Idempotent. */
  async set(cid: CID, type: StoredPinType): Promise<void> {
    const file = this.#file(cid);
    const tmp = `${this.#tmpDir}/${crypto.randomUUID()}`;
    await Deno.writeTextFile(tmp, `${type}\n${cid}\n`, { createNew: true });
    try {
      if (this.#sync) await syncPath(tmp);
      await Deno.rename(tmp, file);
    } catch (error) {
      await Deno.remove(tmp).catch(() => {});
      throw error;
    }
    if (this.#sync) await syncPath(this.#dir);
  }

  /** Removes the pin of `cid`; returns whether there was one. */
  async remove(cid: CID): Promise<boolean> {
    try {
      await Deno.remove(this.#file(cid));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
    if (this.#sync) await syncPath(this.#dir);
    return true;
  }

  /** How `cid` itself is pinned, or `undefined`. */
  async get(cid: CID): Promise<StoredPinType | undefined> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.#file(cid));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
    return parse(text, cid).type;
  }

  /** Every pin. */
  async list(): Promise<StoredPin[]> {
    const pins: StoredPin[] = [];
    for await (const entry of Deno.readDir(this.#dir)) {
      if (!entry.isFile) continue;
      let key: CID;
      try {
        key = CID.parse(entry.name);
      } catch {
        continue; // not a pin file
      }
      let text: string;
      try {
        text = await Deno.readTextFile(`${this.#dir}/${entry.name}`);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) continue; // removed meanwhile
        throw error;
      }
      pins.push(parse(text, key));
    }
    return pins;
  }

  #file(cid: CID): string {
    return `${this.#dir}/${cid.toV1().toString()}`;
  }
}

function parse(text: string, key: CID): StoredPin {
  const [type, given] = text.split("\n");
  if (type !== "recursive" && type !== "direct") {
    throw new Error(`Cannot read pin: unknown type in the pin file of ${key}: ${type}`);
  }
  let cid = key;
  if (given) {
    try {
      const parsed = CID.parse(given);
      if (parsed.toV1().equals(key.toV1())) cid = parsed;
    } catch {
      // A damaged second line: the file name is the pin.
    }
  }
  return { cid, type };
}
