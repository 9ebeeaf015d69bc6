/**
 * What the prefetcher learns, in bounded memory: first-order Markov
 * successor counts over the keys read, and the DAG structure (each node's
 * links, each link's parent and position) of the blocks seen. Not part of
 * the public API.
 *
 * @module
 */

import { ArcCache } from "./arc_cache.ts";

/** A successor of a key and how often it followed it. */
interface Successor {
  key: string;
  count: number;
}

/** Counts are halved once one reaches this, so that old habits fade. */
const COUNT_CEILING = 64;

/**
 * First-order Markov successor counts: for each key, the keys read right
 * after it, most frequent first. At most `maxKeys` keys are remembered
 * (ARC picks which) and `maxSuccessors` successors per key (a new successor
 * replaces the least frequent one, as in the space-saving algorithm).
 */
export class SuccessorTable {
  readonly #table: ArcCache<string, Successor[]>;
  readonly #maxSuccessors: number;
  #previous: string | undefined;

  constructor(maxKeys: number, maxSuccessors: number) {
    this.#table = new ArcCache({ max: maxKeys });
    this.#maxSuccessors = maxSuccessors;
  }

  /** How many keys have successors. */
  get size(): number {
    return this.#table.size;
  }

  /** Counts `key` as the successor of the key observed before it. */
  observe(key: string): void {
    const previous = this.#previous;
    this.#previous = key;
    if (previous === undefined || previous === key) return;
    let list = this.#table.peek(previous);
    if (list === undefined) {
      list = [];
      this.#table.set(previous, list);
    }
    let i = list.findIndex((successor) => successor.key === key);
    if (i === -1) {
      if (list.length < this.#maxSuccessors) {
        list.push({ key, count: 0 });
        i = list.length - 1;
      } else {
        // Space-saving: the newcomer inherits the least frequent slot's count.
        i = list.length - 1;
        list[i].key = key;
      }
    }
    const entry = list[i];
    entry.count++;
    // Keep the list sorted by count, most frequent first.
    while (i > 0 && list[i - 1].count < entry.count) {
      list[i] = list[i - 1];
      list[i - 1] = entry;
      i--;
    }
    if (entry.count >= COUNT_CEILING) {
      for (const successor of list) successor.count = Math.ceil(successor.count / 2);
    }
  }

  /**
   * The most frequent successor of `key`, if it followed `key` at least
   * `minCount` times and in at least `minShare` of the recorded transitions.
   */
  predict(key: string, minCount: number, minShare: number): string | undefined {
    const list = this.#table.get(key);
    if (list === undefined || list.length === 0) return undefined;
    let total = 0;
    for (const successor of list) total += successor.count;
    const top = list[0];
    return top.count >= minCount && top.count >= minShare * total ? top.key : undefined;
  }
}

/** How a node's links are read: the chunks of a file, or the entries of a directory. */
export type NodeKind = "file" | "directory" | "other";

interface DagNode {
  links: readonly string[];
  kind: NodeKind;
}

interface Position {
  parent: string;
  index: number;
}

/**
 * The DAG structure seen so far: a node's links (at most `maxNodes` nodes
 * with links), and for each link its parent and index (at most
 * `maxPositions`). Nodes without links are remembered too, as such, so
 * that they are decoded once.
 */
export class DagIndex {
  readonly #nodes: ArcCache<string, DagNode>;
  readonly #positions: ArcCache<string, Position>;

  constructor(maxNodes: number, maxPositions: number) {
    this.#nodes = new ArcCache({ max: maxNodes });
    this.#positions = new ArcCache({ max: maxPositions });
  }

  /** How many nodes are remembered. */
  get size(): number {
    return this.#nodes.size;
  }

  /** Whether the links of `key` are known (no side effects). */
  knows(key: string): boolean {
    return this.#nodes.has(key);
  }

  /** Records the links of node `key`. */
  add(key: string, links: readonly string[], kind: NodeKind): void {
    this.#nodes.set(key, { links, kind });
    for (let index = 0; index < links.length; index++) {
      this.#positions.set(links[index], { parent: key, index });
    }
  }

  /**
   * What to read after `key`: its first `chunks` links when it is a file
   * node (reading a file's root or an inner node starts its chunks), and
   * the links after it in its parent: `chunks` of them in a file, `siblings`
   * in a directory.
   */
  next(key: string, chunks: number, siblings: number, out: string[]): void {
    const node = this.#nodes.get(key);
    if (node !== undefined && node.kind === "file") {
      const end = Math.min(node.links.length, chunks);
      for (let i = 0; i < end; i++) out.push(node.links[i]);
    }
    const position = this.#positions.get(key);
    if (position === undefined) return;
    const parent = this.#nodes.get(position.parent);
    if (parent === undefined || parent.links[position.index] !== key) return;
    const ahead = parent.kind === "directory" ? siblings : chunks;
    const end = Math.min(parent.links.length, position.index + 1 + ahead);
    for (let i = position.index + 1; i < end; i++) out.push(parent.links[i]);
    if (parent.kind === "file" && position.index + 1 + ahead > parent.links.length) {
      // Near the end of an inner node of a large file: the next inner node comes next.
      const up = this.#positions.get(position.parent);
      const grandparent = up === undefined ? undefined : this.#nodes.get(up.parent);
      if (grandparent !== undefined && grandparent.links[up!.index] === position.parent) {
        const uncle = grandparent.links[up!.index + 1];
        if (uncle !== undefined) out.push(uncle);
      }
    }
  }
}
