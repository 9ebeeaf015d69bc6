/**
 * The built-in operation handlers: `add`, `pin`, `unpin`, `blockPut` and
 * `dagPut`, each one call of a content store. A processor runs them unless
 * told otherwise (`builtinHandlers: false`); they are idempotent, so an
 * operation applied again after a crash gives the same result.
 *
 * @module
 */

import type {
  AddOperationParams,
  BlockPutOperationParams,
  BuiltinOperations,
  DagPutOperationParams,
  HandlerContext,
  OperationHandler,
  PinOperationParams,
  UnpinOperationParams,
} from "./types.ts";

/**
 * The built-in handlers, by operation type. Results hold CIDs as strings.
 *
 * - `add` ({@linkcode AddOperationParams}): `store.add`; `{ cid, size }`.
 * - `pin` ({@linkcode PinOperationParams}): `store.pin.add`; `{ cid }`.
 * - `unpin` ({@linkcode UnpinOperationParams}): `store.pin.rm`; `{ cid, unpinned }`,
 *   `unpinned: false` when it was not pinned (so a replay succeeds too).
 * - `blockPut` ({@linkcode BlockPutOperationParams}): `store.block.put`; `{ cid, size }`.
 * - `dagPut` ({@linkcode DagPutOperationParams}): `store.dag.put`; `{ cid }`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { builtinHandlers } from "@ipfs-kit/kit/wal";
 *
 * assert.equal(Object.keys(builtinHandlers).join(), "add,pin,unpin,blockPut,dagPut");
 * ```
 */
export const builtinHandlers: {
  readonly [K in keyof BuiltinOperations]: OperationHandler<BuiltinOperations[K]>;
} = Object.freeze({
  add: async ({ params, store, signal }: HandlerContext<AddOperationParams>) => {
    const content = params?.content;
    if (!(content instanceof Uint8Array) && typeof content !== "string") {
      throw new TypeError(
        `Cannot add: content must be a Uint8Array or a string: received ${typeof content}`,
      );
    }
    const { cid, size } = await store.add(content, {
      cidVersion: params.cidVersion,
      rawLeaves: params.rawLeaves,
      chunkSize: params.chunkSize,
      pin: params.pin,
      signal,
    });
    return { cid: cid.toString(), size };
  },
  pin: async ({ params, store, signal }: HandlerContext<PinOperationParams>) => {
    const cid = await store.pin.add(checkCid(params, "pin"), {
      recursive: params.recursive,
      signal,
    });
    return { cid: cid.toString() };
  },
  unpin: async ({ params, store, signal }: HandlerContext<UnpinOperationParams>) => {
    const path = checkCid(params, "unpin");
    try {
      const cid = await store.pin.rm(path, { recursive: params.recursive, signal });
      return { cid: cid.toString(), unpinned: true };
    } catch (error) {
      if ((error as Error)?.name !== "NotFoundError") throw error;
      return { cid: path, unpinned: false };
    }
  },
  blockPut: async ({ params, store, signal }: HandlerContext<BlockPutOperationParams>) => {
    const bytes = params?.bytes;
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(`Cannot put block: bytes must be a Uint8Array: received ${typeof bytes}`);
    }
    const cid = await store.block.put(bytes, {
      codec: params.codec,
      cidVersion: params.cidVersion,
      pin: params.pin,
      signal,
    });
    return { cid: cid.toString(), size: bytes.length };
  },
  dagPut: async ({ params, store, signal }: HandlerContext<DagPutOperationParams>) => {
    if (params === null || typeof params !== "object" || !("value" in params)) {
      throw new TypeError("Cannot put DAG node: params must hold a value");
    }
    const cid = await store.dag.put(params.value, {
      storeCodec: params.storeCodec,
      inputCodec: params.inputCodec,
      pin: params.pin,
      signal,
    });
    return { cid: cid.toString() };
  },
});

function checkCid(params: { cid?: unknown } | undefined, what: string): string {
  const cid = params?.cid;
  if (typeof cid !== "string" || cid === "") {
    throw new TypeError(`Cannot ${what}: cid must be a non-empty string: received ${typeof cid}`);
  }
  return cid;
}
