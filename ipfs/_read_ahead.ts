/**
 * Reading a file's blocks ahead of its reader, from the network.
 *
 * The reader ({@linkcode readRange}'s walk) pulls one block at a time: one
 * bitswap round trip per block would bound a remote read by the latency, not
 * the bandwidth. A {@linkcode ReadAhead} walks the same part of the same DAG
 * in the same order, in a task of its own, and starts fetching each block
 * whose bytes begin less than {@linkcode ReadAheadSource.window} bytes past
 * the reader's position; the reader takes the blocks from it. So the first
 * bytes are yielded as soon as their block arrives, a range read fetches only
 * the blocks of its range, and memory is bounded by the window.
 *
 * Lifetime: the walker and the fetches are tasks of a task group that
 * {@linkcode ReadAhead.close} cancels and joins; the read's signal cancels
 * it too. A block the read-ahead failed to fetch is read again by the reader
 * itself, so its error (a timeout, a cancellation) is the reader's own.
 *
 * @module
 */

import * as dagPb from "npm:@ipld/dag-pb@4.2.0";
import { UnixFS } from "npm:ipfs-unixfs@13.1.1";
import type { CID } from "npm:multiformats@14.0.5/cid";
import { CancelScope } from "../runtime/cancel_scope.ts";
import { Event } from "../runtime/event.ts";
import { TaskGroup } from "../runtime/task_group.ts";
import type { GetBlock } from "./_dag_walk.ts";

/** Where a read-ahead reads blocks: the repository, then the network. */
export interface ReadAheadSource {
  /** Whether the block is local (then the reader reads it itself). */
  has(cid: CID, signal: AbortSignal): Promise<boolean>;
  /** The block, local or fetched (verified and stored). */
  get(cid: CID, signal: AbortSignal): Promise<Uint8Array>;
  /**
   * Fetches a block `has` found missing (verified, then stored), calling
   * `onVerified` with its bytes before they are stored.
   */
  fetch(
    cid: CID,
    signal: AbortSignal,
    onVerified: (bytes: Uint8Array) => void,
  ): Promise<Uint8Array>;
  /** How many bytes of the file may be fetched past the reader. */
  window: number;
  /** Cancels the read-ahead (the read's own signal). */
  signal?: AbortSignal;
}

/** The default window: 128 chunks of 256 KiB (a smaller one was slower here: bench/README.md). */
export const READ_AHEAD_WINDOW = 32 * 1024 * 1024;

/**
 * How many dag-pb children of a node may be in flight before the walker
 * waits for the first to learn whether it has children (CIDv0 leaves are
 * dag-pb too: only their bytes tell).
 */
const LOOKAHEAD = 128;

interface Entry {
  done: Event;
  /** Where the part of the file under the block ends: passed, it is dropped. */
  end: number;
  bytes?: Uint8Array;
  local?: boolean;
  failed?: boolean;
}

interface FileNode {
  pb: dagPb.PBNode;
  fs: UnixFS;
}

/** A read-ahead over `[start, end)` of one file. */
export class ReadAhead {
  #source: ReadAheadSource;
  #start: number;
  #end: number;
  #group: TaskGroup;
  #entries = new Map<string, Entry>();
  #order: Entry[] = [];
  #position: number;
  #progress = new Event();
  #onAbort = () => this.#group.cancelScope.cancel("the read was cancelled");

  /** Starts reading ahead under `root` (a dag-pb file node) for `[start, end)`. */
  constructor(source: ReadAheadSource, root: FileNode, start: number, end: number) {
    this.#source = source;
    this.#start = start;
    this.#end = end;
    this.#position = start;
    this.#group = new TaskGroup();
    source.signal?.addEventListener("abort", this.#onAbort, { once: true });
    if (source.signal?.aborted) this.#onAbort();
    this.#group.spawn(async () => {
      try {
        await this.#walk(root, 0);
      } catch {
        // The reader meets any error itself when it reads the block.
      }
    }, { name: "read ahead" });
  }

  /**
   * The reader's `get`: takes a block from the read-ahead when it has it,
   * else reads it through `get`.
   */
  wrap(get: GetBlock): GetBlock {
    return async (cid) => {
      const entry = this.#entries.get(cid.toString());
      if (entry !== undefined) {
        await entry.done.wait();
        if (entry.bytes !== undefined) return entry.bytes;
      }
      return await get(cid);
    };
  }

  /** The reader has read up to `position`: blocks before it are dropped, the walker moves on. */
  advance(position: number): void {
    this.#position = position;
    while (this.#order.length > 0 && this.#order[0].end <= position) {
      const entry = this.#order.shift()!;
      entry.bytes = undefined;
    }
    // Dropped entries stay in the map only while referenced; prune it lazily.
    if (this.#entries.size > 4 * this.#order.length + 64) {
      for (const [key, entry] of this.#entries) {
        if (entry.end <= position) this.#entries.delete(key);
      }
    }
    const progress = this.#progress;
    this.#progress = new Event();
    progress.set();
  }

  /** Cancels and joins the walker and every fetch. */
  async close(): Promise<void> {
    this.#source.signal?.removeEventListener("abort", this.#onAbort);
    this.#group.cancelScope.cancel("the read ended");
    // Shielded: the read may end by its own cancellation, and the join must
    // still happen (it is quick: every task was just cancelled).
    await new CancelScope({ shield: true, name: "read ahead close" }).run(() => this.#group.join());
    this.#entries.clear();
    this.#order = [];
  }

  /** Walks the children of `node` (at `position` in the file) in the reader's order. */
  async #walk(node: FileNode, position: number): Promise<void> {
    const { pb, fs } = node;
    if (pb.Links.length !== fs.blockSizes.length) return; // corrupt: the reader reports it
    let at = position + (fs.data?.length ?? 0);
    const pending: Array<{ cid: CID; at: number }> = [];
    for (let i = 0; i < pb.Links.length && at < this.#end; i++) {
      const childStart = at;
      at += Number(fs.blockSizes[i]);
      if (at <= this.#start) continue;
      const cid = pb.Links[i].Hash;
      // Earlier siblings' subtrees come first in the reader's order.
      while (!this.#inWindow(childStart) && pending.length > 0) {
        await this.#descend(pending.shift()!);
      }
      if (!this.#inWindow(childStart)) {
        // The window is full: wait until a quarter of it is free, so wants
        // leave in batches rather than one block at a time.
        const batch = this.#source.window / 4;
        while (!this.#inWindow(childStart + batch)) await this.#progress.wait();
      }
      this.#fetch(cid, at);
      if (cid.code === dagPb.code) pending.push({ cid, at: childStart });
      while (pending.length > LOOKAHEAD) await this.#descend(pending.shift()!);
    }
    while (pending.length > 0) await this.#descend(pending.shift()!);
  }

  /** Waits for a dag-pb child and walks its children, if it has any. */
  async #descend(child: { cid: CID; at: number }): Promise<void> {
    const entry = this.#entries.get(child.cid.toString());
    if (entry === undefined) return;
    await entry.done.wait();
    let bytes = entry.bytes;
    if (bytes === undefined && entry.local) {
      bytes = await this.#source.get(child.cid, this.#group.signal);
    }
    if (bytes === undefined) return;
    let node: FileNode;
    try {
      const pb = dagPb.decode(bytes);
      if (pb.Links.length === 0 || pb.Data === undefined) return;
      node = { pb, fs: UnixFS.unmarshal(pb.Data) };
    } catch {
      return; // not a file node: the reader reports it
    }
    await this.#walk(node, child.at);
  }

  #inWindow(position: number): boolean {
    return position < this.#position + this.#source.window;
  }

  /** Starts fetching a block unless it is being fetched already. */
  #fetch(cid: CID, end: number): void {
    const key = cid.toString();
    const known = this.#entries.get(key);
    if (known !== undefined && known.end > this.#position) {
      known.end = Math.max(known.end, end);
      return;
    }
    const entry: Entry = { done: new Event(), end };
    this.#entries.set(key, entry);
    this.#order.push(entry);
    this.#group.spawn(async () => {
      const signal = this.#group.signal;
      try {
        if (await this.#source.has(cid, signal)) entry.local = true;
        else {
          // The reader gets the bytes once verified; the task stores them after.
          await this.#source.fetch(cid, signal, (bytes) => {
            // Passed while it was on its way: not kept.
            if (entry.end > this.#position) entry.bytes = bytes;
            entry.done.set();
          });
        }
      } catch {
        entry.failed = true;
      } finally {
        entry.done.set();
      }
    }, { name: "read ahead block" });
  }
}
