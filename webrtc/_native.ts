// node-datachannel (libdatachannel's bindings; its binary ships in an npm
// package), loaded on first use so that importing the kit needs no
// --allow-ffi. Two rules for every callback handed to it: it must never
// throw (a JS exception inside a native event aborts the whole process), so
// each is wrapped in `guard`; and every native object a callback may still
// reach must stay referenced from JS (a collected DataChannel wrapper closes
// its channel), so connections keep their channels in a set.

import type * as NodeDataChannel from "npm:node-datachannel@0.33.4";

/** The module's types. */
export type Ndc = typeof NodeDataChannel;
/** A native peer connection. */
export type NativePeerConnection = NodeDataChannel.PeerConnection;
/** A native data channel. */
export type NativeDataChannel = NodeDataChannel.DataChannel;

let loading: Promise<Ndc> | undefined;

/**
 * Loads node-datachannel once.
 *
 * @throws {Error} It cannot be loaded (no `--allow-ffi`, no binary for this platform).
 */
export function loadNodeDataChannel(): Promise<Ndc> {
  loading ??= import("npm:node-datachannel@0.33.4").then(
    (module) => module as Ndc,
    (error) => {
      loading = undefined;
      throw new Error(
        `Cannot load node-datachannel, WebRTC for Deno: ${
          error instanceof Error ? error.message : String(error)
        } (it needs --allow-ffi, --allow-read, --allow-env and --allow-sys)`,
        { cause: error },
      );
    },
  );
  return loading;
}

/**
 * Wraps a callback for a native event: whatever it throws is handed to
 * `onError` (which must not throw either) instead of reaching libdatachannel.
 */
export function guard<A extends unknown[]>(
  fn: (...args: A) => void,
  onError: (error: unknown) => void,
): (...args: A) => void {
  return (...args: A) => {
    try {
      fn(...args);
    } catch (error) {
      try {
        onError(error);
      } catch {
        // Nothing may reach the native side.
      }
    }
  };
}
