// Macrotask yields shared by every strategy that needs them.

/**
 * The settled promise a strategy returns for a plain microtask hop. Channels
 * compare against it: when `yield()` returns it, the caller's own `await` is
 * the hop, so they can hand back `Promise.resolve(value)` directly.
 */
export const MICROTASK_HOP: Promise<void> = Promise.resolve();

let pending = 0;
let waiting: Promise<void> | undefined;
let release: (() => void) | undefined;
let requestedAt = 0;
let delaySink: ((ms: number) => void) | undefined;

/** How many tasks are waiting for a macrotask turn right now. */
export function pendingMacrotaskYields(): number {
  return pending;
}

function onImmediate(): void {
  const done = release!;
  const sink = delaySink;
  waiting = undefined;
  release = undefined;
  delaySink = undefined;
  pending = 0;
  if (sink !== undefined) sink(performance.now() - requestedAt);
  done();
}

/**
 * Resolves after one macrotask turn (timers and I/O run first). Every task
 * yielding in the same turn shares one `setImmediate`.
 */
export function macrotaskYield(onDelay?: (ms: number) => void): Promise<void> {
  pending++;
  if (waiting === undefined) {
    const { promise, resolve } = Promise.withResolvers<void>();
    waiting = promise;
    release = resolve;
    requestedAt = performance.now();
    delaySink = onDelay;
    setImmediate(onImmediate);
  }
  return waiting;
}
