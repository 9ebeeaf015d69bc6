/**
 * What the daemon's page lists as "recent adds and pins": a kit layer that
 * notes every add and every pin change that goes through the daemon's kit
 * (the RPC API, the WAL's processor, the page), newest first, in a ring of
 * bounded size. Nothing of it is kept on disk: it starts empty with the
 * daemon.
 *
 * @module
 */

import type {
  AddAllEntry,
  AddAllOptions,
  AddAllResult,
  AddInput,
  AddOptions,
  AddPathOptions,
  AddResult,
  CidLike,
  ContentStore,
  PinAddOptions,
  PinApi,
  PinRmOptions,
} from "../ipfs/content_store.ts";
import { ForwardingStore } from "../ipfs/forwarding_store.ts";

/** One change the page lists. */
export interface RecentEntry {
  /** `add` (a root that was added), `pin` or `unpin`. */
  kind: "add" | "pin" | "unpin";
  /** The CID, as a string. */
  cid: string;
  /** The name it was added under (`""` for unnamed content or a pin). */
  name: string;
  /** Its size in bytes, for an add. */
  size?: number;
  /** Whether the add pinned it. */
  pinned?: boolean;
  /** When, in ms since the epoch. */
  at: number;
}

/** The most entries kept. */
export const RECENT_LIMIT = 100;

/** The ring of recent changes, and the layer that fills it. */
export class RecentActivity {
  readonly #entries: RecentEntry[] = [];
  readonly #limit: number;

  constructor(limit = RECENT_LIMIT) {
    this.#limit = limit;
  }

  /** The entries, newest first. */
  list(): RecentEntry[] {
    return this.#entries.slice().reverse();
  }

  note(entry: Omit<RecentEntry, "at">): void {
    this.#entries.push({ ...entry, at: Date.now() });
    if (this.#entries.length > this.#limit) this.#entries.shift();
  }

  /** A kit layer over `below` that notes into this ring. */
  layer(below: ContentStore): ContentStore {
    return new RecentLayer(below, this);
  }
}

class RecentLayer extends ForwardingStore {
  readonly #recent: RecentActivity;
  override readonly pin: PinApi;

  constructor(below: ContentStore, recent: RecentActivity) {
    super(below);
    this.#recent = recent;
    const pins = below.pin;
    this.pin = {
      add: async (path: CidLike, options?: PinAddOptions) => {
        const cid = await pins.add(path, options);
        recent.note({ kind: "pin", cid: cid.toString(), name: "" });
        return cid;
      },
      rm: async (path: CidLike, options?: PinRmOptions) => {
        const cid = await pins.rm(path, options);
        recent.note({ kind: "unpin", cid: cid.toString(), name: "" });
        return cid;
      },
      ls: (options) => pins.ls(options),
    };
  }

  override async add(input: AddInput, options?: AddOptions): Promise<AddResult> {
    const result = await super.add(input, options);
    this.#recent.note({
      kind: "add",
      cid: result.cid.toString(),
      name: "",
      size: result.size,
      pinned: options?.pin ?? true,
    });
    return result;
  }

  override async addAll(
    entries: Iterable<AddAllEntry> | AsyncIterable<AddAllEntry>,
    options?: AddAllOptions,
  ): Promise<AddAllResult[]> {
    return this.#roots(await super.addAll(entries, options), options?.pin);
  }

  override async addPath(path: string, options?: AddPathOptions): Promise<AddAllResult[]> {
    return this.#roots(await super.addPath(path, options), options?.pin);
  }

  /** Notes the roots of an `addAll` (the entries no other entry is below). */
  #roots(results: AddAllResult[], pin: boolean | undefined): AddAllResult[] {
    for (const result of results) {
      if (result.path.includes("/")) continue;
      this.#recent.note({
        kind: "add",
        cid: result.cid.toString(),
        name: result.path,
        size: result.size,
        pinned: pin ?? true,
      });
    }
    return results;
  }
}
