/**
 * Where the kit keeps its data by default: one folder per user, in the place
 * each operating system sets aside for application data.
 *
 * @module
 */

import { InvalidInputError } from "../ipfs/errors.ts";

/** The folder's name inside the per-user data folder. */
export const APP_NAME = "ipfs-kit";

/** What {@linkcode defaultRepoPath} looks at; Deno's by default. */
export interface DataDirContext {
  /** The operating system, as `Deno.build.os`. */
  os: typeof Deno.build.os;
  /** Reads an environment variable. */
  env: (name: string) => string | undefined;
}

/** The running process's context: `Deno.build.os` and `Deno.env`. */
export function denoContext(): DataDirContext {
  return { os: Deno.build.os, env: (name) => Deno.env.get(name) };
}

/**
 * The default repository of the embedded node:
 * - `$IPFS_KIT_REPO` when set;
 * - Linux and other Unix systems: `$XDG_DATA_HOME/ipfs-kit` when
 *   `XDG_DATA_HOME` is an absolute path, else `~/.local/share/ipfs-kit`;
 * - macOS: `~/Library/Application Support/ipfs-kit`;
 * - Windows: `%LOCALAPPDATA%\ipfs-kit`, else
 *   `%USERPROFILE%\AppData\Local\ipfs-kit`.
 *
 * @throws {InvalidInputError} The home folder is unknown (no `HOME`, no
 * `LOCALAPPDATA` or `USERPROFILE` on Windows) and `IPFS_KIT_REPO` is unset.
 */
export function defaultRepoPath(context: DataDirContext = denoContext()): string {
  const { os, env } = context;
  const set = (name: string): string | undefined => {
    const value = env(name);
    return value === undefined || value === "" ? undefined : value;
  };
  const explicit = set("IPFS_KIT_REPO");
  if (explicit !== undefined) return explicit;
  if (os === "windows") {
    const local = set("LOCALAPPDATA");
    if (local !== undefined) return `${trimEnd(local, "\\/")}\\${APP_NAME}`;
    const profile = set("USERPROFILE");
    if (profile !== undefined) return `${trimEnd(profile, "\\/")}\\AppData\\Local\\${APP_NAME}`;
    throw new InvalidInputError(
      "Cannot find the data folder: LOCALAPPDATA and USERPROFILE are unset (set IPFS_KIT_REPO)",
    );
  }
  if (os !== "darwin") {
    const xdg = set("XDG_DATA_HOME");
    // The XDG spec: a relative path is invalid and must be ignored.
    if (xdg !== undefined && xdg.startsWith("/")) return `${trimEnd(xdg, "/")}/${APP_NAME}`;
  }
  const home = set("HOME");
  if (home === undefined) {
    throw new InvalidInputError("Cannot find the data folder: HOME is unset (set IPFS_KIT_REPO)");
  }
  const base = trimEnd(home, "/");
  return os === "darwin"
    ? `${base}/Library/Application Support/${APP_NAME}`
    : `${base}/.local/share/${APP_NAME}`;
}

function trimEnd(text: string, characters: string): string {
  let end = text.length;
  while (end > 1 && characters.includes(text[end - 1])) end--;
  return text.slice(0, end);
}
