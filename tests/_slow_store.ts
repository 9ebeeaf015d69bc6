/**
 * Test fixture: the embedded node as a remote backend would be, slow to
 * answer reads, counting them.
 *
 * @module
 */

import { CID } from "npm:multiformats@14.0.5/cid";
import { Event } from "../runtime/event.ts";
import { sleep } from "../runtime/sleep.ts";
import { withSignal } from "../runtime/timeouts.ts";
import type { CatOptions, CidLike, ContentStore, SignalOptions } from "../ipfs/content_store.ts";
import type { EmbeddedNode } from "../ipfs/embedded_node.ts";

/** What {@linkcode slow} returns: the slow store and what it counts. */
export interface SlowStore {
  store: ContentStore;
  /** Reads that reached the backend. */
  calls: number;
  /** Reads cancelled while waiting. */
  cancelled: number;
  /** Blocks whose reads wait for `gate` (CID strings). */
  held: Set<string>;
  gate: Event;
}

/**
 * The embedded node behind `latency` ms of the runtime's clock per read
 * (`block.get` and `cat`), as a remote backend would be. A test-only
 * wrapper: every other call goes to the node as is.
 */
export function slow(node: EmbeddedNode, latency: number): SlowStore {
  const slowStore: SlowStore = {
    store: undefined as unknown as ContentStore,
    calls: 0,
    cancelled: 0,
    held: new Set(),
    gate: new Event(),
  };
  const wait = async (cid: CidLike, signal: AbortSignal | undefined) => {
    slowStore.calls++;
    try {
      await withSignal(signal, async () => {
        if (slowStore.held.has(String(CID.asCID(cid) ?? cid))) await slowStore.gate.wait();
        await sleep(latency);
      });
    } catch (error) {
      slowStore.cancelled++;
      throw error;
    }
  };
  const block = {
    ...node.block,
    get: async (cid: CidLike, options?: SignalOptions) => {
      await wait(cid, options?.signal);
      return await node.block.get(cid, options);
    },
  };
  const cat = (path: CidLike, options: CatOptions = {}) =>
    ReadableStream.from((async function* () {
      await wait(path, options.signal);
      yield* node.cat(path, options);
    })());
  slowStore.store = new Proxy(node, {
    get(target, property) {
      if (property === "block") return block;
      if (property === "cat") return cat;
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as unknown as ContentStore;
  return slowStore;
}
