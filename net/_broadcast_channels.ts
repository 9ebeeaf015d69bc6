/**
 * Tracking the `BroadcastChannel`s libp2p opens, so a node's stop can close
 * them.
 *
 * `@libp2p/peer-store` locks with `mortice`, which opens a
 * `BroadcastChannel` (to serve worker threads) and calls `unref()` on it, a
 * method Deno's channels lack: an open channel keeps a `deno run` process
 * alive after the node stopped. The main thread's locks never use the
 * channel, so closing it when the node stops is safe.
 *
 * @module
 */

/**
 * Runs `fn` with `globalThis.BroadcastChannel` wrapped to record every
 * channel opened meanwhile; returns what `fn` returns and those channels.
 * Only one wrapping at a time: nested or concurrent calls share the outer
 * record.
 */
export async function trackBroadcastChannels<T>(
  fn: () => Promise<T>,
): Promise<{ value: T; channels: BroadcastChannel[] }> {
  const channels: BroadcastChannel[] = [];
  const original = globalThis.BroadcastChannel;
  if (active !== undefined) {
    const value = await fn();
    return { value, channels };
  }
  active = channels;
  class Tracked extends original {
    constructor(name: string) {
      super(name);
      active?.push(this);
    }
  }
  globalThis.BroadcastChannel = Tracked;
  try {
    return { value: await fn(), channels };
  } finally {
    globalThis.BroadcastChannel = original;
    active = undefined;
  }
}

let active: BroadcastChannel[] | undefined;
