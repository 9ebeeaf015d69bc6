/**
 * The files a running daemon leaves in its repository, as Kubo's daemon
 * does: `api` (the RPC API's multiaddress, `/ip4/127.0.0.1/tcp/5001`) and
 * `gateway` (the gateway's URL). They are written once the daemon listens
 * and removed when it stops. A crashed daemon leaves them behind: the
 * repository's lock (`repo.lock`, held by the process that has the
 * repository open and released by the kernel when it dies) tells a live
 * daemon's files from stale ones.
 *
 * @module
 */

/** The RPC API's address file in a repository. */
export const API_FILE = "api";
/** The gateway's URL file in a repository. */
export const GATEWAY_FILE = "gateway";
const LOCK_FILE = "repo.lock";

/** What {@linkcode findDaemon} found in a repository. */
export type DaemonFiles =
  | { state: "none" }
  | { state: "stale"; api: string }
  | { state: "running"; api: string; gateway: string | undefined };

/** `/ip4/<host>/tcp/<port>` (or `/ip6/`) for a listening address; a wildcard becomes loopback. */
export function multiaddrOf(addr: Deno.NetAddr): string {
  let host = addr.hostname;
  if (host === "0.0.0.0") host = "127.0.0.1";
  if (host === "::") host = "::1";
  return `/${host.includes(":") ? "ip6" : "ip4"}/${host}/tcp/${addr.port}`;
}

/** `http://<host>:<port>` for a listening address; a wildcard becomes loopback. */
export function urlOf(addr: Deno.NetAddr): string {
  let host = addr.hostname;
  if (host === "0.0.0.0") host = "127.0.0.1";
  if (host === "::") host = "::1";
  return `http://${host.includes(":") ? `[${host}]` : host}:${addr.port}`;
}

/** Writes `text` to `path` whole or not at all: a temporary file renamed over it. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const temp = `${path}.${Deno.pid}.tmp`;
  try {
    await Deno.writeTextFile(temp, text, { mode: 0o644 });
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

/** Removes the daemon's files from `repo`; missing ones are fine. */
export async function removeDaemonFiles(repo: string): Promise<void> {
  for (const name of [API_FILE, GATEWAY_FILE]) {
    await Deno.remove(`${repo}/${name}`).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
}

/** The trimmed text of `path`, or `undefined` when it does not exist. */
async function readIfThere(path: string): Promise<string | undefined> {
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw error;
  }
}

/**
 * Whether a daemon runs on `repo`: its `api` file is there and the
 * repository's lock is held (one non-blocking try, released at once). An
 * `api` file without a held lock is a crashed daemon's: `stale`.
 *
 * @param repo The repository.
 * @returns What was found.
 */
export async function findDaemon(repo: string): Promise<DaemonFiles> {
  const api = await readIfThere(`${repo}/${API_FILE}`);
  if (api === undefined || api === "") return { state: "none" };
  let lock: Deno.FsFile;
  try {
    lock = await Deno.open(`${repo}/${LOCK_FILE}`, { read: true, write: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { state: "stale", api };
    throw error;
  }
  try {
    if (await lock.tryLock(true)) return { state: "stale", api };
  } finally {
    lock.close();
  }
  return { state: "running", api, gateway: await readIfThere(`${repo}/${GATEWAY_FILE}`) };
}
