// An append on its way to the disk (with the log's own copy of its payload,
// taken at the call): queued, taken into a group, done; and
// how its caller learns the outcome (woken, or a deferred promise when its
// wait was cancelled while its group was in flight). Private to the WAL.

import type { Waiter } from "../runtime/park.ts";
import { frameSize } from "./_frame.ts";
import type { AppendResult } from "./types.ts";

/** Waiting in the queue. */
export const QUEUED = 0;
/** Taken into a group being written. */
export const TAKEN = 1;
/** Its group is done: `result` or `error` is set. */
export const DONE = 2;

/** An append on its way to the disk. */
export class Pending {
  readonly type: number;
  readonly payload: Uint8Array;
  readonly durable: boolean;
  readonly size: number;
  state = QUEUED;
  /** Woken with the result, or with the record itself when it is to lead the next group. */
  waiter: Waiter<AppendResult | Pending> | undefined;
  result: AppendResult | undefined;
  error: unknown;
  /** Created when the append's wait was cancelled while its group was in flight. */
  deferred: PromiseWithResolvers<AppendResult> | undefined;

  constructor(type: number, payload: Uint8Array, durable: boolean) {
    this.type = type;
    this.payload = payload;
    this.durable = durable;
    this.size = frameSize(payload.length);
  }
}

/** The append's outcome, once its group is done (waiting for it if needed). */
export function settled(record: Pending): Promise<AppendResult> {
  if (record.state === DONE) {
    return record.error === undefined
      ? Promise.resolve(record.result!)
      : Promise.reject(record.error);
  }
  record.deferred = Promise.withResolvers<AppendResult>();
  return record.deferred.promise;
}

/** Its group is done: the append succeeded. */
export function deliver(record: Pending, result: AppendResult): void {
  record.state = DONE;
  record.result = result;
  if (record.waiter !== undefined) {
    if (!record.waiter.wake(result)) record.deferred?.resolve(result);
  } else record.deferred?.resolve(result);
}

/** Its group failed: the append rejects with `error`. */
export function reject(record: Pending, error: unknown): void {
  record.state = DONE;
  record.error = error;
  if (record.waiter !== undefined) {
    if (!record.waiter.fail(error)) record.deferred?.reject(error);
  } else record.deferred?.reject(error);
}
