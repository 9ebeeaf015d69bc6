/**
 * Checks of the arguments both backends take, with the same typed errors and
 * messages on either.
 *
 * @module
 */

import { CID } from "npm:multiformats@14.0.5/cid";
import type { AddAllEntry, CidLike, PinLsOptions, PinType } from "./content_store.ts";
import { InvalidInputError } from "./errors.ts";

/** A path argument as a string without `/ipfs/` and trailing slashes. */
export function pathString(path: CidLike): string {
  const cid = CID.asCID(path);
  if (cid !== null) return cid.toString();
  return String(path).replace(/^\/ipfs\//, "").replace(/\/+$/, "");
}

/**
 * A boolean option, `fallback` when left out.
 *
 * @throws {InvalidInputError} Given, but not a boolean.
 */
export function checkFlag(value: unknown, fallback: boolean, what: string, name: string): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") {
    throw new InvalidInputError(
      `Cannot ${what}: ${name} must be a boolean: received ${typeof value}`,
    );
  }
  return value;
}

/**
 * A `cat` offset or length.
 *
 * @throws {InvalidInputError} Not a non-negative safe integer.
 */
export function checkCount(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidInputError(
      `Cannot cat: ${name} must be a non-negative integer: received ${String(value)}`,
    );
  }
  return value;
}

/** An error's message, or the thrown value as text. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Checks the entries of `addAll`: an iterable, sync or async.
 *
 * @throws {InvalidInputError} Not an iterable.
 */
export function checkEntries(entries: unknown): void {
  if (
    entries === null || typeof entries !== "object" ||
    !(Symbol.iterator in entries || Symbol.asyncIterator in entries)
  ) {
    throw new InvalidInputError(
      `Cannot add: entries must be an iterable of { path, content? }: received ${typeof entries}`,
    );
  }
}

/**
 * An `addAll` entry's path, normalized: `"/a//b/"` is `"a/b"`.
 *
 * @throws {InvalidInputError} No path, an empty one, or one holding `.` or `..`.
 */
export function entryPath(entry: AddAllEntry): string {
  const given = entry?.path;
  if (typeof given !== "string") {
    throw new InvalidInputError(
      `Cannot add: every entry needs a path: received ${given === null ? "null" : typeof given}`,
    );
  }
  const parts = given.split("/").filter((part) => part !== "");
  if (parts.length === 0) {
    throw new InvalidInputError(
      `Cannot add: every entry needs a non-empty path: received ${JSON.stringify(given)}`,
    );
  }
  if (parts.some((part) => part === "." || part === "..")) {
    throw new InvalidInputError(`Cannot add: paths must not hold . or ..: received ${given}`);
  }
  const link = entry.link;
  if (link !== undefined) {
    if (typeof link !== "string" || link === "") {
      throw new InvalidInputError(
        `Cannot add: a link must be a non-empty target: received ${
          JSON.stringify(link)
        } at ${given}`,
      );
    }
    if (entry.content !== undefined) {
      throw new InvalidInputError(`Cannot add: ${given} has both content and a link`);
    }
  }
  return parts.join("/");
}

/**
 * The options of `pin.ls`, checked: which pins, and which CIDs or paths.
 *
 * @throws {InvalidInputError} An unknown `type`, or `paths` not an array.
 */
export function checkPinLs(
  options: PinLsOptions,
): { type: PinType | "all"; paths: CidLike[] | undefined } {
  const type = options.type ?? "all";
  if (!["all", "recursive", "direct", "indirect"].includes(type)) {
    throw new InvalidInputError(
      `Cannot list pins: type must be all, recursive, direct or indirect: received ${String(type)}`,
    );
  }
  if (options.paths !== undefined && !Array.isArray(options.paths)) {
    throw new InvalidInputError(
      `Cannot list pins: paths must be an array: received ${typeof options.paths}`,
    );
  }
  return { type, paths: options.paths };
}
