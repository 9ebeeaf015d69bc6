// A Node module loader hook for js-ipfs 0.66.1 (`node --import
// ./multiaddr_hook.mjs`, which tools/start_js_ipfs.sh passes in NODE_OPTIONS
// when JS_IPFS_SWARM=1).
//
// Why: as installed, js-ipfs cannot use TCP. Its @libp2p/tcp 6.2.2 checks
// addresses with @multiformats/mafmt, which imports the top-level
// @multiformats/multiaddr (12.5.1), while libp2p 0.42.2 makes and hands it
// @multiformats/multiaddr 11.6.1 objects: every address fails the check
// (dialling: "no valid addresses"; listening on a swarm address: start-up
// fails). This hook resolves every import of the top-level copy (mafmt's and
// @libp2p/peer-record's included) to libp2p's own 11.6.1 copy, so one
// multiaddr class is used throughout, and js-ipfs dials and listens on
// /ip4/127.0.0.1/tcp/0.
import { realpathSync } from "node:fs";
import { register } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

if (!import.meta.url.includes("?resolve")) {
  // The entry point: install this same file as the resolve hook.
  register(`${import.meta.url}?resolve`, import.meta.url);
}

// Node resolves symbolic links: compare with the real path of node_modules.
const modules = pathToFileURL(
  realpathSync(fileURLToPath(new URL("./node_modules/", import.meta.url))) + "/",
).href;
const from = `${modules}@multiformats/multiaddr/`;
const to = `${modules}libp2p/node_modules/@multiformats/multiaddr/`;

/** Node's resolve hook: the top-level multiaddr copy becomes libp2p's. */
// deno-lint-ignore explicit-module-boundary-types
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (resolved.url.startsWith(from)) {
    return { ...resolved, url: to + resolved.url.slice(from.length) };
  }
  return resolved;
}
