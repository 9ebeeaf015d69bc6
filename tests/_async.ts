/**
 * Test fixtures for asynchronous code: a promise's rejection, and waiting
 * for other tasks or for a condition.
 *
 * @module
 */

import assert from "node:assert/strict";
import { checkpoint } from "../runtime/checkpoint.ts";
import { sleep } from "../runtime/sleep.ts";

/** The rejection of `promise`, or a failure if it fulfils. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new assert.AssertionError({ message: "expected the promise to reject" });
}

/** On a virtual clock with autojump 0: returns once every other task is blocked. */
export function settle(): Promise<void> {
  return sleep(1);
}

/**
 * Lets other tasks run (a checkpoint at a time, no time passing) until
 * `condition` holds; gives up after 10,000 checkpoints.
 */
export async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (condition()) return;
    await checkpoint();
  }
  throw new Error(`Gave up waiting for ${what}`);
}

/** Options for {@linkcode eventually}. */
export interface EventuallyOptions {
  /** How long to wait at most, in ms of real time. Default 5000. */
  limitMs?: number;
  /** How long to sleep between two checks, in ms of the runtime's clock. Default 5. */
  stepMs?: number;
}

/** Checks `condition` every `stepMs` until it holds; fails after `limitMs` of real time. */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  what: string,
  options: EventuallyOptions = {},
): Promise<void> {
  const { limitMs = 5000, stepMs = 5 } = options;
  const deadline = performance.now() + limitMs;
  while (!(await condition())) {
    if (performance.now() > deadline) assert.fail(`timed out after ${limitMs} ms waiting: ${what}`);
    await sleep(stepMs);
  }
}
