/**
 * MFS paths as both backends check them: absolute, `/`-separated, no `.` or
 * `..`, no empty names; split into names.
 *
 * @module
 */

import { InvalidInputError } from "./errors.ts";

/**
 * Checks an MFS path and returns its names (`[]` for the root `/`).
 *
 * @param path The path, e.g. `/docs/a.txt` (a trailing `/` is allowed).
 * @param what The operation, for "Cannot <what>: ...".
 * @throws {InvalidInputError} Not a string, not absolute, or holding `.` or `..`.
 */
export function mfsNames(path: unknown, what: string): string[] {
  if (typeof path !== "string" || !path.startsWith("/")) {
    throw new InvalidInputError(
      `Cannot ${what}: paths must start with a leading slash: received ${
        typeof path === "string" ? JSON.stringify(path) : typeof path
      }`,
    );
  }
  const names = path.split("/").filter((name) => name !== "");
  if (names.some((name) => name === "." || name === ".." || name.includes("\0"))) {
    throw new InvalidInputError(
      `Cannot ${what}: ${path}: a path must not hold . or .. or NUL`,
    );
  }
  return names;
}

/** The path of `names`, `/` for none. */
export function mfsPath(names: readonly string[]): string {
  return `/${names.join("/")}`;
}

/** Whether `path` names IPFS content (`/ipfs/<cid>/...`) rather than an MFS path. */
export function isIpfsPath(path: string): boolean {
  return path.startsWith("/ipfs/");
}
